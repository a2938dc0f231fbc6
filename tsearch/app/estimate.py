"""How long a Run takes here: measured on the path a Run takes, never guessed.

A Run's time is more than its denoiser: every candidate is decoded, scored by the verifiers and the held-out
evaluator, written as a PNG, and the page is updated while the search waits; the first candidate goes alone
(one network call per step for one sample). So the first estimate for a model comes from a short real search
(`calibrate`): the app's own engine path on the page's default settings, one candidate alone and then two full
batches, timed by the wall clock under whatever load the machine has. It gives

- the seconds to the first candidate (start-up, and one sample alone),
- the seconds per NFE of a full batch (the rest of the search), the quicker of the two: a busy moment of the
  machine that hit one of them is not taken for its rate (taking the quickest of many short timings, an earlier
  version understated a loaded machine's Run),
- the seconds per NFE of one sample alone (the more-steps baseline, which denoises one sample at a time).

Every finished Run of the model in this process then replaces the search's figure with what the whole Run cost
per NFE on the wall clock (page updates included), so the estimate follows the machine's load as it is used.

A machine shared with other work can be several times busier a minute later than while a figure was measured
(on the 2-core machine this was written on, a quiet calibration was followed by a Run 3x slower). Each figure
keeps how shared the CPU was while it was measured (wall-clock over this process's CPU time); when the load
average per core is now higher than that, the page says a range: `about 8-30 s`, from the figure as measured to
the figure slowed by that ratio.
(An earlier version timed two Euler steps of the denoiser alone, the quickest of three: the default Run then took
1.8-2.5x the figure it showed.) On ZeroGPU the main process has no GPU, so nothing is timed there: the figure comes
from the first search, whose batches each run as one GPU call (tsearch.app.gpu).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from dataclasses import dataclass

from tsearch import engine
from tsearch.api import search_events
from tsearch.app.gpu import ZEROGPU_MAX_SECONDS, on_zerogpu
from tsearch.events import CandidateScored

BATCHES = 2             # full batches the calibration times after its first candidate
MIN_OBSERVED_NFE = 50
SPAN_FROM = 1.25        # the machine this much busier than when measured: the estimate becomes a range   # a finished Run shorter than this is mostly start-up: not taken as the rate


@dataclass(frozen=True)
class Figure:
    """seconds(budget) = first + per_nfe * (budget - first_nfe): a first batch apart, then a rate."""
    per_nfe: float
    first: float = 0.0
    first_nfe: int = 0
    source: str = "from a short calibration search"
    busy: float = 1.0   # wall-clock over this process's CPU time while it was measured: how shared the CPU was

    def seconds(self, budget: int) -> float:
        budget = max(int(budget or 0), 0)
        if budget <= self.first_nfe:
            return self.first * budget / max(self.first_nfe, 1)
        return self.first + self.per_nfe * (budget - self.first_nfe)


class Estimator:
    """Per model: the search's Figure and the more-steps baseline's (one sample at a time, so dearer per NFE),
    from a short calibration search, then from this process's finished Runs."""

    def __init__(self):
        self._figures: dict[tuple[str, str], Figure] = {}   # (model, "search" | "baseline") -> Figure
        self._lock = threading.Lock()

    def calibrate(self, plan: engine.Plan) -> float | None:
        """Run `plan` (the page's default settings) on the app's path until one candidate alone and BATCHES full
        batches are scored, timing each; its run folder is removed. Seconds per NFE of the search (None on ZeroGPU)."""
        if on_zerogpu():
            return None
        times, per_candidate, busy = _timed_start(plan)
        first, size = times[0], plan.config.batch_size
        marks = [first] + times[size::size]   # the first candidate alone, then the end of each full batch
        rates = [(b - a) / (size * per_candidate) for a, b in zip(marks, marks[1:])]
        figures = {"baseline": Figure(first / per_candidate),
                   # the quicker batch: a busy moment of the machine hit one of them (it only ever slows a batch)
                   "search": Figure(min(rates), first, per_candidate, busy=busy) if rates else
                   Figure(first / per_candidate, busy=busy)}
        with self._lock:
            for kind, figure in figures.items():
                if (plan.model_name, kind) not in self._figures:   # a real Run's figure is kept over a calibration
                    self._figures[(plan.model_name, kind)] = figure
        return figures["search"].per_nfe

    def observe(self, model: str, seconds: float, nfe: int, baseline: bool = False, cpu: float | None = None) -> None:
        """A finished Run's wall-clock seconds (page updates included) over its NFEs: the model's rate from now on.
        `cpu`: this process's CPU seconds meanwhile (how shared the CPU was)."""
        if nfe >= MIN_OBSERVED_NFE and seconds > 0:
            busy = max(seconds / cpu, 1.0) if cpu else 1.0
            with self._lock:
                self._figures[(model, "baseline" if baseline else "search")] = Figure(
                    seconds / nfe, source="from the last Run", busy=busy)

    def figure(self, model: str, baseline: bool = False) -> Figure | None:
        return self._figures.get((model, "baseline" if baseline else "search"))

    def per_nfe(self, model: str, baseline: bool = False) -> float | None:
        figure = self.figure(model, baseline)
        return None if figure is None else figure.per_nfe

    def seconds(self, model: str, budget: int, baseline: bool = False) -> float | None:
        """The whole Run: the search, plus the baseline (which spends up to the same budget) when it runs."""
        search, more = self.figure(model), self.figure(model, baseline=True)
        if search is None or (baseline and more is None):
            return None
        return search.seconds(budget) + (more.per_nfe * max(int(budget or 0), 0) if baseline else 0.0)

    def span(self, model: str, budget: int, baseline: bool = False) -> tuple[float, float] | None:
        """(as measured, on a machine as busy as now): the figure, and the figure slowed by how much busier the
        machine is now (its load average per core) than while it was measured."""
        low, figure = self.seconds(model, budget, baseline), self.figure(model)
        if low is None:
            return None
        return low, low * max(1.0, busy_now() / figure.busy)

    def text(self, model: str, budget: int, baseline: bool = False) -> str:
        search = self.figure(model)
        zero = (f" On ZeroGPU each batch is one GPU call of at most {ZEROGPU_MAX_SECONDS} s, so a long search "
                f"spends your GPU quota rather than hitting one call's limit.") if on_zerogpu() else ""
        if search is None:
            if zero:
                return "Time estimate: measured on the GPU during this model's first search." + zero
            return "Time estimate: not measured yet for this model."
        text = (f"{budget} NFEs take {_about(*self.span(model, budget))} here ({search.per_nfe * 1000:.1f} ms per NFE "
                f"with scoring and page updates, {search.source}{_busy_note(search)})")
        if baseline:
            span = self.span(model, budget, baseline)
            text += f"; with the more-steps baseline (up to {budget} NFEs more, one sample at a time) the Run takes " + \
                (_about(*span) if span is not None else "longer (the baseline is not timed yet)")
        return text + "." + zero


def busy_now() -> float:
    """How many processes want each core now (the 1-minute load average per core), at least 1."""
    try:
        return max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))
    except (AttributeError, OSError):   # no load average on this system
        return 1.0


def _busy_note(figure: Figure) -> str:
    ahead = busy_now() / figure.busy
    return f"; the machine is busier now, {ahead:.1f}x" if ahead > SPAN_FROM else ""


def _about(low: float, high: float | None = None) -> str:
    """`about 12 s`, or `about 12-30 s` when the machine is busier now than when it was measured."""
    if high is not None and high > SPAN_FROM * low and high >= 1:
        return f"about {low:.0f}-{high:.0f} s"
    return "under a second" if low < 1 else f"about {low:.0f} s"


def _timed_start(plan: engine.Plan) -> tuple[list[float], int, float]:
    """Seconds from the start until each candidate of the first batches (one alone, then BATCHES full ones) was
    scored, on the engine path a Run takes (decoding, verifiers, evaluator, PNGs); the NFEs of one candidate; the
    wall-clock over this process's CPU time meanwhile."""
    wanted = 1 + BATCHES * plan.config.batch_size
    times: list[float] = []
    start, cpu = time.perf_counter(), time.process_time()
    events = search_events(plan, should_stop=lambda: len(times) >= wanted, first_alone=True)
    try:
        for event in events:
            if isinstance(event, CandidateScored):
                times.append(time.perf_counter() - start)
                if len(times) >= wanted:
                    break
    finally:
        events.close()
        if plan.out:
            shutil.rmtree(plan.out, ignore_errors=True)
    if not times:
        raise ValueError("the calibration search scored no candidate")
    busy = max(times[-1] / max(time.process_time() - cpu, 1e-9), 1.0)
    return times, plan.costs.full(plan.steps), busy
