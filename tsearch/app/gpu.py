"""ZeroGPU on Hugging Face Spaces: one `spaces.GPU` call per engine batch.

ZeroGPU lends a GPU for one decorated call of at most the `duration` it asks for, and runs the call
in a worker process forked from the app, pickling the arguments in and the result out. So a search
is not one call. The engine keeps the search's state here, in the main process, and hands each
batch to `ZeroGPURunner`, which sends only plain values into `gpu_batch` (a module-level function
wrapped in `spaces.GPU`): the batch's recipe ops and CPU states, the names of the model and the
verifiers, the condition; the states, images and scores come back on the CPU. The model and the
verifiers are never pickled: the worker finds them by key in `POOLS`, this module's registry of
model pools (the app registers its pool as "app" when it is imported, before any fork), loaded
before the fork or, in a worker forked earlier, loaded there on first use.

Each call asks for the batch's planned NFEs times the measured seconds per NFE, with headroom,
capped at ZEROGPU_MAX_SECONDS; so a search is bounded by the visitor's GPU quota, not by one call's
limit, and Stop acts between two calls. Off ZeroGPU (SPACES_ZERO_GPU unset) `spaces.GPU` returns
the function unchanged and the app runs every batch in process (the engine's default runner).
"""

from __future__ import annotations

import math
import os
import threading
from typing import Any, Callable

ZEROGPU_MAX_SECONDS = 120   # the most one call asks for: each batch must fit, the search as a whole need not
HEADROOM_SECONDS = 10       # start-up of the worker (weights onto the GPU) on top of the batch itself
SAFETY = 1.5                # the measured seconds per NFE times this: a busy GPU is slower

POOLS: dict[str, Any] = {}  # key -> model pool (.get(name) -> slot with .model and .load_verifier(name))


def on_zerogpu() -> bool:
    """True on a ZeroGPU Space: `spaces` reads the same variable (spaces.config.Settings.zero_gpu)."""
    return (os.environ.get("SPACES_ZERO_GPU") or "").lower() in ("1", "t", "true")


def device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def register_pool(key: str, pool):
    """Make `pool` findable by `key` in a forked GPU worker; returns it. Register at import time, before a fork."""
    POOLS[key] = pool
    return pool


_CONDS: dict[tuple, Any] = {}   # this process's encoded conditions: a worker reused between calls encodes once
_CONDS_LOCK = threading.Lock()


def _encoded(pool_key: str, name: str, model, condition):
    key = (pool_key, name, id(model), type(condition).__name__, condition)
    with _CONDS_LOCK:
        if key in _CONDS:
            return _CONDS[key]
    with model.encode_lock:
        cond = model.encode(condition)
    with _CONDS_LOCK:
        if len(_CONDS) > 64:
            _CONDS.clear()
        _CONDS[key] = cond
    return cond


def gpu_batch(pool_key: str, model: str, options: dict, verifiers: tuple, evaluators: tuple, condition,
              timeout: float | None, batch, seconds: int):
    """The GPU side of one batch: the model (with its options: the pool's variant) and verifiers by name from
    POOLS[pool_key]; CPU values back. `seconds` is only what the call asked ZeroGPU for (read by `_asked`)."""
    from tsearch.engine.runners import evaluate_batch
    from tsearch.verifiers.deadline import DEFAULT_SECONDS, Caller

    if pool_key not in POOLS:
        raise RuntimeError(f"no model pool is registered as {pool_key!r} in this process: call "
                           f"tsearch.app.gpu.register_pool at import time, before ZeroGPU forks its worker")
    slot = POOLS[pool_key].get(model, options or None)
    cond = _encoded(pool_key, model, slot.model, condition)
    caller = Caller(DEFAULT_SECONDS if timeout is None else timeout)
    try:
        return evaluate_batch(slot.model, cond, condition, tuple(slot.load_verifier(v) for v in verifiers),
                              tuple(slot.load_verifier(v) for v in evaluators), batch, caller, to_cpu=True)
    finally:
        caller.close()


def _asked(*args, **kwargs) -> int:
    """spaces.GPU's duration: the `seconds` argument the runner computed."""
    return int(kwargs["seconds"] if "seconds" in kwargs else args[-1])


def _wrap(fn: Callable) -> Callable:
    try:
        import spaces
    except ImportError:   # not on a Space: requirements.txt installs it, a bare checkout may not
        return fn
    return spaces.GPU(duration=_asked)(fn)


gpu_call = _wrap(gpu_batch)   # module level, decorated at import: ZeroGPU registers it before its first fork


def seconds_for(nfe: int, per_nfe: float | None, calibration_nfe: int = 0) -> int:
    """What a call of `nfe` NFEs asks for: headroom + SAFETY x NFEs x seconds per NFE (the cap if unmeasured);
    ValueError when even that is over ZEROGPU_MAX_SECONDS."""
    if not per_nfe:
        return ZEROGPU_MAX_SECONDS
    need = HEADROOM_SECONDS + SAFETY * (nfe + calibration_nfe) * per_nfe
    if need > ZEROGPU_MAX_SECONDS:
        fits = int((ZEROGPU_MAX_SECONDS - HEADROOM_SECONDS) / (SAFETY * per_nfe))
        raise ValueError(f"one batch of {nfe} NFEs needs about {need:.0f} s of GPU at the measured "
                         f"{1000 * per_nfe:.1f} ms per NFE, over the {ZEROGPU_MAX_SECONDS} s one ZeroGPU call may "
                         f"hold; a batch may spend at most {fits} NFEs: lower the batch size or the steps")
    return int(math.ceil(need))


def check_batch_fits(plan, per_nfe: float | None) -> None:
    """ValueError when the plan's largest batch (batch_size candidates of the full cost) cannot fit one call."""
    if per_nfe:
        seconds_for(plan.config.batch_size * plan.costs.full(plan.config.steps), per_nfe)


class ZeroGPURunner:
    """The engine's batch runner on ZeroGPU: one `gpu_call` per batch, only picklable values across.

    `per_nfe` is the app's measured seconds per NFE (None: not yet measured, the first call asks for
    the cap); after each call the runner uses what that call really took. `call` is the GPU function
    (tests pass a stand-in that runs it in a forked process)."""

    def __init__(self, pool_key: str, plan, per_nfe: float | None = None, timeout: float | None = None,
                 call: Callable | None = None):
        if pool_key not in POOLS:
            raise ValueError(f"no model pool is registered as {pool_key!r}: register it with gpu.register_pool")
        names = [plan.config.model, *plan.config.verifiers, *plan.config.evaluators]
        if not all(isinstance(name, str) for name in names):
            raise ValueError("the ZeroGPU runner finds the model and verifiers by registered name; this plan holds "
                             "objects (give names, or run in process)")
        self.pool_key, self.plan, self.timeout = pool_key, plan, timeout
        self.per_nfe = per_nfe
        self.call = call or gpu_call
        self.asked: list[int] = []   # the seconds each call asked for (shown by tests)

    def __call__(self, batch):
        micro = getattr(self.plan.model, "micro_batch", None)
        calibration_nfe = 0
        if batch.chunk is None and batch.calibrate_up_to:
            from tsearch.models.calibrate import samples_measured

            calibration_nfe = samples_measured(batch.calibrate_up_to, micro) * self.plan.model.nfe_per_eval
        seconds = seconds_for(batch.nfe, self.per_nfe, calibration_nfe)
        self.asked.append(seconds)
        config = self.plan.config
        out = self.call(self.pool_key, config.model, dict(config.model_options), tuple(config.verifiers),
                        tuple(config.evaluators), self.plan.condition, self.timeout, batch, seconds)
        if out.nfe > 0 and out.seconds > 0:
            self.per_nfe = out.seconds / out.nfe
        return out


def batch_runner(plan, pool_key: str = "app", per_nfe: float | None = None):
    """The runner the app gives the engine: ZeroGPURunner on ZeroGPU, None (in process) elsewhere."""
    return ZeroGPURunner(pool_key, plan, per_nfe) if on_zerogpu() else None
