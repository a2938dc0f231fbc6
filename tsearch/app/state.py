"""Per-session run state: what one browser tab has found so far, and how to stop it.

Every tab gets its own `Session` (a gr.State), so two tabs never see each other's results. A search
keeps one `LiveRun` fed by the engine's events: the `Candidate` records as they come and the
algorithm's best after each round (`RoundDone`); a run loaded from disk becomes the same LiveRun
(`LiveRun.from_run`), so both are drawn by the same code and nothing is derived twice.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass, field

from tsearch.candidate import Candidate
from tsearch.config import SearchConfig
from tsearch.events import (CandidateScored, FinalRendered, RoundDone, SearchDone, SearchStarted, Summary,
                            stored_value)

PENDING_STOP_SECONDS = 120.0   # a Stop pressed while this tab's search waits in the queue stops it when it starts
UPDATE_INTERVAL = 0.25   # seconds between page updates while a search runs (the last is always sent)
CHART_INTERVAL = 1.0     # seconds between chart redraws: a browser redraws a big plotly chart far slower than text


class Throttle:
    """At most one UI update per `interval` seconds; the caller always sends the last one itself."""

    def __init__(self, interval: float = 0.25):
        self.interval, self.last = interval, None

    def ready(self) -> bool:
        now = time.perf_counter()
        if self.last is None or now - self.last >= self.interval:
            self.last = now
            return True
        return False


class Pace:
    """When to update the page: text and gallery every `UPDATE_INTERVAL` s, the chart every `CHART_INTERVAL` s."""

    def __init__(self):
        self.page, self.chart = Throttle(UPDATE_INTERVAL), Throttle(CHART_INTERVAL)


class RunHandle:
    """One search of a session; `stop()` asks it to end at the next batch."""

    def __init__(self):
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()


@dataclass
class Shown:
    """What this tab's charts show, kept so that switching the x axis redraws them without a rerun
    (tsearch.app.axis): the chosen cost of each chart, the Search tab's last run and its more-steps baseline,
    and the Compare tab's runs."""
    cost: str = "nfe"                                 # the Search chart's x axis: "nfe", "seconds" or "calls"
    compare_cost: str = "nfe"                         # the Compare chart's
    run: "LiveRun | None" = None
    baseline: "LiveRun | None" = None
    compared: list = field(default_factory=list)      # the Compare tab's runs (LiveRun), in their order
    by_evaluator: bool = False                        # the Compare chart plots the held-out evaluator


class Session:
    """One tab's state: the search running now (if any), the last run folder (for Export) and what its charts show."""

    def __init__(self):
        self.current: RunHandle | None = None
        self.last_run_dir: str | None = None
        self.loaded_run_dir: str | None = None      # the run this tab unpacked from a zip (one at a time)
        self.stop_requested: float | None = None   # Stop pressed with nothing running (a queued search)
        self.shown = Shown()                          # what the Search and Compare charts show, to redraw
        self._lock = threading.Lock()

    def __deepcopy__(self, memo):  # gr.State deep-copies its value; a fresh session has nothing to copy
        return Session()

    def arm(self) -> None:
        """Run was pressed: a Stop from before it must not stop the search it queues (see `start`)."""
        with self._lock:
            self.stop_requested = None

    def start(self) -> RunHandle:
        """A new search; one still running in this tab is stopped first, so the next Run starts clean.

        A Stop pressed while this search waited in the queue (after Run armed the session, or within
        PENDING_STOP_SECONDS for an API caller) stops it at once: it ends with nothing run."""
        with self._lock:
            if self.current is not None:
                self.current.stop()
            self.current = RunHandle()
            pending, self.stop_requested = self.stop_requested, None
            if pending is not None and time.time() - pending < PENDING_STOP_SECONDS:
                self.current.stop()
            return self.current

    def stop(self) -> bool:
        with self._lock:
            if self.current is None:
                self.stop_requested = time.time()
                return False
            if self.current.stopped:
                return False
            self.current.stop()
            return True

    def finish(self, handle: RunHandle) -> None:
        with self._lock:
            if self.current is handle:
                self.current = None


@dataclass
class LiveRun:
    """A run as the app shows it, built from engine events (or from a run folder)."""
    run_dir: str | None = None
    model: str = ""
    condition: object = None
    algorithm: str = ""
    verifiers: tuple[str, ...] = ()
    evaluators: tuple[str, ...] = ()
    budget: int = 0
    steps: int = 0
    seed: int = 0
    candidates: list[Candidate] = field(default_factory=list)
    rounds: list[tuple[int, int | None, float | None]] = field(default_factory=list)  # (nfe_spent, best id, score)
    best_id: int | None = None                         # the algorithm's own best (RoundDone)
    best_score: float | None = None
    final_path: str | None = None                      # the winning noise re-rendered with more steps
    nfe_spent: int = 0
    started: float = field(default_factory=time.perf_counter)
    seconds: float | None = None                       # set when the run has ended
    stopped: bool = False
    error: str | None = None
    label: str = ""                                    # name of this run in a comparison
    summary: Summary | None = None                     # how it ended (SearchDone), None while it runs
    skipped_why: str = ""                              # a loaded run: rows of candidates.jsonl skipped, and why

    def __post_init__(self):
        self._by_id = {c.id: c for c in self.candidates}

    def add(self, event) -> None:
        if isinstance(event, SearchStarted):
            self.run_dir, self.model, self.condition = event.run_dir, event.model, event.condition
            self.algorithm, self.verifiers, self.evaluators = event.algorithm, event.verifiers, event.evaluators
            self.budget, self.steps = event.budget, event.steps
        elif isinstance(event, CandidateScored):
            self.candidates.append(event.candidate)
            self._by_id[event.candidate.id] = event.candidate
            self.nfe_spent = event.candidate.nfe_spent
        elif isinstance(event, RoundDone):
            self.best_id, self.best_score, self.nfe_spent = event.best_id, event.best_score, event.nfe_spent
            self.rounds.append((event.nfe_spent, event.best_id, event.best_score))
        elif isinstance(event, FinalRendered):
            self.final_path = event.image_path
        elif isinstance(event, SearchDone):
            self.summary = event.summary
            self.nfe_spent = event.summary.nfe_spent
            self.seconds = event.summary.seconds
            self.error = event.summary.error

    def end(self, stopped: bool) -> None:
        self.stopped = stopped
        if self.seconds is None:
            self.seconds = time.perf_counter() - self.started

    @property
    def running(self) -> bool:
        return self.seconds is None

    @property
    def elapsed(self) -> float:
        return self.seconds if self.seconds is not None else time.perf_counter() - self.started

    def snapshot(self) -> "LiveRun":
        """A copy whose candidates and rounds stop growing: a running search drawn from another thread."""
        return dataclasses.replace(self, candidates=list(self.candidates), rounds=list(self.rounds))

    def candidate(self, candidate_id: int | None) -> Candidate | None:
        return None if candidate_id is None else self._by_id.get(candidate_id)

    @classmethod
    def from_run(cls, run) -> "LiveRun":
        """A saved run (tsearch.runs.Run) as the app shows it; its best and curve as the algorithm reported them.

        Its config and summary come back as their dataclasses (`SearchConfig.from_row`, `Summary.from_row`); a
        value of the wrong type in run.json or rounds.jsonl is a ValueError naming it."""
        config = SearchConfig.from_row(run.config)
        rounds = [_round(r) for r in run.rounds]
        live = cls(run_dir=str(run.root), model=str(config.model or ""), condition=config.condition,
                   algorithm=config.algorithm, verifiers=config.verifiers, evaluators=config.evaluators,
                   budget=config.budget, steps=config.steps or 0, seed=config.seed, candidates=list(run.candidates),
                   rounds=rounds)
        live.final_path = str(run.root / "final.png") if (run.root / "final.png").exists() else None
        if not run.summary:   # ended before its summary was written: what its rounds and candidates say
            last = rounds[-1] if rounds else (None, None, None)
            live.best_id, live.best_score = last[1], last[2]
            live.nfe_spent = run.candidates[-1].nfe_spent if run.candidates else 0
            live.seconds, live.stopped = 0.0, True
            live.skipped_why = run.skipped_why
            return live
        summary = live.summary = Summary.from_row(run.summary)
        live.best_id, live.best_score = summary.best_id, summary.best_score
        live.nfe_spent = summary.nfe_spent or (run.candidates[-1].nfe_spent if run.candidates else 0)
        live.seconds, live.stopped, live.error = summary.seconds, summary.stopped, summary.error
        live.skipped_why = run.skipped_why
        return live


def _round(row) -> tuple[int, int | None, float | None]:
    """One line of rounds.jsonl: (nfe_spent, best id, best score)."""
    return (stored_value("rounds.jsonl nfe_spent", row.get("nfe_spent"), int),
            stored_value("rounds.jsonl best_id", row.get("best_id"), "id"),
            stored_value("rounds.jsonl best_score", row.get("best_score"), "score"))
