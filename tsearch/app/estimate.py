"""How long a budget takes here: seconds per NFE, measured rather than guessed.

The first estimate for a model times one small batch through two Euler steps (a tiny calibration);
every finished search then replaces it with what the whole loop really cost per NFE (denoising,
decoding and verifiers), so the estimate improves as the app is used. The more-steps baseline is
timed apart: it denoises one sample at a time, which costs more per NFE than a search's batches. On ZeroGPU the main process
has no GPU, so nothing is timed there: the figure comes from the first search, whose batches each
run as one GPU call (tsearch.app.gpu), and no search is refused for its total length.
"""

from __future__ import annotations

import threading
import time

import torch

from tsearch import noise as noise_lib
from tsearch.app.gpu import ZEROGPU_MAX_SECONDS, on_zerogpu
from tsearch.recipes import Counter
from tsearch.sampling import SOLVERS

CALIBRATION_STEPS = 2
REPEATS = 3


class Estimator:
    """Seconds per NFE per model, for the search (its batches) and for the more-steps baseline (one sample
    at a time, so dearer per NFE): measured by a one-batch calibration, then replaced by real runs."""

    def __init__(self):
        self._per_nfe: dict[tuple[str, str], float] = {}   # (model, "search" | "baseline") -> seconds per NFE
        self._measured: set[tuple[str, str]] = set()       # figures that come from a real run
        self._lock = threading.Lock()

    def calibrate(self, slot, condition, batch_size: int = 8) -> float | None:
        """Seconds per NFE of `slot.model` from one batch of `batch_size` samples over two steps, and for the
        baseline from one sample (None on ZeroGPU, where this process has no GPU to time)."""
        if on_zerogpu():
            return None
        model = slot.model
        with model.encode_lock:
            cond = model.encode(condition)
        figures = {"search": _time(model, cond, batch_size), "baseline": _time(model, cond, 1)}
        with self._lock:
            for kind, per_nfe in figures.items():
                if (slot.name, kind) not in self._measured:
                    self._per_nfe[(slot.name, kind)] = per_nfe
        return figures["search"]

    def observe(self, model: str, seconds: float, nfe: int, baseline: bool = False) -> None:
        """A finished run's real cost per NFE (ignored for tiny runs dominated by start-up)."""
        if nfe >= 50 and seconds > 0:
            key = (model, "baseline" if baseline else "search")
            with self._lock:
                self._per_nfe[key] = seconds / nfe
                self._measured.add(key)

    def per_nfe(self, model: str, baseline: bool = False) -> float | None:
        return self._per_nfe.get((model, "baseline" if baseline else "search"))

    def seconds(self, model: str, budget: int, baseline: bool = False) -> float | None:
        """The whole Run: the search, plus the baseline (which spends up to the same budget) when it runs."""
        per, base = self.per_nfe(model), self.per_nfe(model, baseline=True)
        if per is None or (baseline and base is None):
            return None
        return (per + (base if baseline else 0.0)) * max(int(budget or 0), 0)

    def text(self, model: str, budget: int, baseline: bool = False) -> str:
        per = self.per_nfe(model)
        zero = (f" On ZeroGPU each batch is one GPU call of at most {ZEROGPU_MAX_SECONDS} s, so a long search "
                f"spends your GPU quota rather than hitting one call's limit.") if on_zerogpu() else ""
        if per is None:
            if zero:
                return "Time estimate: measured on the GPU during this model's first search." + zero
            return "Time estimate: not measured yet for this model."
        source = "from the last search" if (model, "search") in self._measured else "from a one-batch calibration"
        text = f"{budget} NFEs take {_about(per * max(int(budget or 0), 0))} here ({per * 1000:.2f} ms per NFE, {source})"
        if baseline:
            total = self.seconds(model, budget, baseline)
            text += f"; with the more-steps baseline (up to {budget} NFEs more, one sample at a time) the Run takes " + \
                (_about(total) if total is not None else "longer (the baseline is not timed yet)")
        return text + "." + zero


def _about(seconds: float) -> str:
    return "under a second" if seconds < 1 else f"about {seconds:.0f} s"


def _time(model, cond, batch_size: int) -> float:
    """Seconds per NFE of one batch of `batch_size` samples over CALIBRATION_STEPS steps, decoded: the quickest
    of REPEATS (a busy machine only ever makes a run slower)."""
    x = torch.stack([noise_lib.gaussian(model.noise_shape, seed) for seed in range(batch_size)])
    x = x.to(model.device) * model.prior_scale
    solve = SOLVERS[model.default_solver]
    counter = Counter()   # this calibration's own NFEs: the model may be serving searches meanwhile
    solve(counter.x0_fn(model, cond), x, model.sigmas(1))   # warm-up: allocation and lazy init
    timings = []
    for _ in range(REPEATS):
        nfe0, t0 = counter.nfe, time.perf_counter()
        model.decode(solve(counter.x0_fn(model, cond), x, model.sigmas(CALIBRATION_STEPS)))
        timings.append((time.perf_counter() - t0) / max(counter.nfe - nfe0, 1))
    return min(timings)
