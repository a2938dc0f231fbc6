"""Per-session run state: what one browser tab has found so far, and how to stop it.

Every tab gets its own `Session` (a gr.State), so two tabs never see each other's results. A search
keeps one `LiveRun` fed by the engine's events; its rows have the same keys as candidates.jsonl, so
a run loaded from disk and a run watched live are drawn by the same code.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tsearch.events import CandidateScored, FinalRendered, RoundDone, SearchDone, SearchStarted

KEEP_RUNS_SECONDS = 24 * 3600   # run folders older than this are removed when a new run starts


def runs_root() -> Path:
    """Where the app writes its runs: $TSEARCH_APP_RUNS, else a folder in the system temp dir."""
    return Path(os.environ.get("TSEARCH_APP_RUNS") or Path(tempfile.gettempdir()) / "tsearch-app")


def new_run_dir(label: str = "run") -> Path:
    root = runs_root()
    root.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - KEEP_RUNS_SECONDS
    for old in root.iterdir():   # run folders and their exported zips
        if old.stat().st_mtime < cutoff:
            shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(missing_ok=True)
    return root / f"{time.strftime('%Y%m%d-%H%M%S')}-{label}-{uuid.uuid4().hex[:8]}"


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


class RunHandle:
    """One search of a session; `stop()` asks it to end at the next candidate."""

    def __init__(self):
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()


class Session:
    """One tab's state: the search running now (if any) and the last run folder (for Export)."""

    def __init__(self):
        self.current: RunHandle | None = None
        self.last_run_dir: str | None = None
        self._lock = threading.Lock()

    def __deepcopy__(self, memo):  # gr.State deep-copies its value; a fresh session has nothing to copy
        return Session()

    def start(self) -> RunHandle:
        """A new search; one still running in this tab is stopped first, so the next Run starts clean."""
        with self._lock:
            if self.current is not None:
                self.current.stop()
            self.current = RunHandle()
            return self.current

    def stop(self) -> bool:
        with self._lock:
            if self.current is None or self.current.stopped:
                return False
            self.current.stop()
            return True

    def finish(self, handle: RunHandle) -> None:
        with self._lock:
            if self.current is handle:
                self.current = None


@dataclass
class LiveRun:
    """A run as the app shows it, built from engine events (or from a run folder, see export.py)."""
    run_dir: str | None = None
    model: str = ""
    condition: object = None
    algorithm: str = ""
    verifiers: tuple[str, ...] = ()
    evaluators: tuple[str, ...] = ()
    budget: int = 0
    steps: int = 0
    seed: int = 0
    rows: list[dict] = field(default_factory=list)     # candidates.jsonl rows plus "image_path"
    best_id: int | None = None
    best_score: float | None = None
    final_path: str | None = None                      # the winning noise re-rendered with more steps
    nfe_spent: int = 0
    started: float = field(default_factory=time.perf_counter)
    seconds: float | None = None                       # set when the run has ended
    stopped: bool = False
    label: str = ""                                    # name of this run in a comparison

    def add(self, event) -> None:
        if isinstance(event, SearchStarted):
            self.run_dir, self.model, self.condition = event.run_dir, event.model, event.condition
            self.algorithm, self.verifiers, self.evaluators = event.algorithm, event.verifiers, event.evaluators
            self.budget, self.steps = event.budget, event.steps
        elif isinstance(event, CandidateScored):
            self.rows.append({"id": event.id, "parent": event.parent, "round": event.round, "score": event.score,
                              "scores": dict(zip(self.verifiers, event.scores)),
                              "evals": dict(zip(self.evaluators, event.evals)), "nfe": event.nfe,
                              "nfe_spent": event.nfe_spent, "t_end": event.t_end, "recipe": list(event.recipe),
                              "image_path": event.image_path})
            self.nfe_spent = event.nfe_spent
        elif isinstance(event, RoundDone):
            self.best_id, self.best_score, self.nfe_spent = event.best_id, event.best_score, event.nfe_spent
        elif isinstance(event, FinalRendered):
            self.final_path = event.image_path
        elif isinstance(event, SearchDone):
            self.nfe_spent = event.summary.nfe_spent
            self.seconds = event.summary.seconds

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

    def row(self, candidate_id: int | None) -> dict | None:
        if candidate_id is None:
            return None
        for row in reversed(self.rows):
            if row["id"] == candidate_id:
                return row
        return None
