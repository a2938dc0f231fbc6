"""How long a budget takes here: seconds per NFE, measured rather than guessed.

The first estimate for a model times one small batch through two Euler steps (a tiny calibration);
every finished search then replaces it with what the whole loop really cost per NFE (denoising,
decoding and verifiers), so the estimate improves as the app is used. On ZeroGPU the main process
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
    def __init__(self):
        self._per_nfe: dict[str, float] = {}
        self._measured: set[str] = set()   # models whose figure comes from a real search
        self._lock = threading.Lock()

    def calibrate(self, slot, condition, batch_size: int = 8) -> float | None:
        """Seconds per NFE of `slot.model` from one batch of `batch_size` samples over two steps
        (None on ZeroGPU, where this process has no GPU to time)."""
        if on_zerogpu():
            return None
        model = slot.model
        with model.encode_lock:
            cond = model.encode(condition)
        x = torch.stack([noise_lib.gaussian(model.noise_shape, seed) for seed in range(batch_size)])
        x = x.to(model.device) * model.prior_scale
        solve = SOLVERS[model.default_solver]
        counter = Counter()   # this calibration's own NFEs: the model may be serving searches meanwhile
        solve(counter.x0_fn(model, cond), x, model.sigmas(1))   # warm-up: allocation and lazy init
        timings = []
        for _ in range(REPEATS):   # the quickest of a few: a busy machine only ever makes a run slower
            nfe0, t0 = counter.nfe, time.perf_counter()
            model.decode(solve(counter.x0_fn(model, cond), x, model.sigmas(CALIBRATION_STEPS)))
            timings.append((time.perf_counter() - t0) / max(counter.nfe - nfe0, 1))
        per_nfe = min(timings)
        with self._lock:
            if slot.name not in self._measured:
                self._per_nfe[slot.name] = per_nfe
        return per_nfe

    def observe(self, model: str, seconds: float, nfe: int) -> None:
        """A finished search's real cost per NFE (ignored for tiny runs dominated by start-up)."""
        if nfe >= 50 and seconds > 0:
            with self._lock:
                self._per_nfe[model] = seconds / nfe
                self._measured.add(model)

    def per_nfe(self, model: str) -> float | None:
        return self._per_nfe.get(model)

    def text(self, model: str, budget: int) -> str:
        per = self.per_nfe(model)
        zero = (f" On ZeroGPU each batch is one GPU call of at most {ZEROGPU_MAX_SECONDS} s, so a long search "
                f"spends your GPU quota rather than hitting one call's limit.") if on_zerogpu() else ""
        if per is None:
            if zero:
                return "Time estimate: measured on the GPU during this model's first search." + zero
            return "Time estimate: not measured yet for this model."
        seconds = per * max(int(budget or 0), 0)
        when = "under a second" if seconds < 1 else f"about {seconds:.0f} s"
        source = "from the last search" if model in self._measured else "from a one-batch calibration"
        return f"{budget} NFEs take {when} here ({per * 1000:.2f} ms per NFE, {source})." + zero
