"""The denoiser chunk that runs fastest per sample on this device, measured once and then reused.

A bigger batch is not always faster per sample: on a CPU a batch of 16 through the toy-conv
benchmark network ran slower per sample than one at a time (its activations fall out of cache), so
the engine's batched loop lost to the naive one. Before a search's first batch the engine times
the denoiser (`forward_x0`, a few calls per size, sizes interleaved and the quickest call kept,
since a busy machine only ever makes a call slower; on one CPU thread in CPU time, which other
processes on the machine do not inflate) at powers of two up to the user's `batch_size`
and then denoises in chunks of the fastest size. The result is kept per model, device, noise
shape, batch size and CPU thread count, so it is measured once per process. Its evaluations are
not NFEs of any search (they are not counted, and not charged to a budget).

Chunking never changes results for a batch-invariant model (`models.invariant`: the bundled
models run every network call at their fixed `micro_batch`, padding the last one). Such a model
does the same network work for any chunk: a chunk of 4, 8 or 16 rows is 1, 2 or 4 calls of the
micro-batch. So nothing is measured for it and the chunk is the whole batch. (The micro-batch
itself is not calibrated: a different one gives other bits. Measured on the shapes network without
micro-batching, on one CPU thread: 152, 111, 100, 99, 99 ms per sample at 1, 2, 4, 8, 16 rows;
its micro-batch of 4 runs at 87-101 ms per sample for chunks of 4, 8, 16, the same within noise.)
For a model that is not batch-invariant the chunk, like `batch_size` before it, can change the last
bits of a result; the chunk is recorded in run.json (extra "calibration").
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass, field

import torch

from tsearch.models.batching import is_out_of_memory

CALLS = 3        # timed rounds per size (after one warm-up call), each max_batch rows; the quickest is kept
TOLERANCE = 0.03  # a larger chunk within 3% of the fastest per-sample time wins: fewer calls, less overhead


@dataclass(frozen=True)
class Calibration:
    """The chosen chunk and what each measured size cost per sample."""
    chunk: int
    per_sample: dict = field(default_factory=dict)   # size -> seconds per sample (sizes that ran out of memory absent)
    device: str = "cpu"
    threads: int = 1
    seconds: float = 0.0       # what measuring took
    cached: bool = False       # True when this search reused an earlier measurement

    def to_dict(self) -> dict:
        return {"chunk": self.chunk, "per_sample_seconds": {str(k): v for k, v in sorted(self.per_sample.items())},
                "device": self.device, "threads": self.threads, "seconds": self.seconds, "cached": self.cached}


def sizes(max_batch: int, micro_batch: int | None = None) -> list[int]:
    """The chunk sizes worth timing: powers of two up to `max_batch`, and `max_batch` itself; only
    `max_batch` for a model with a fixed micro-batch, where every chunk does the same network work."""
    if max_batch < 1:
        raise ValueError(f"max_batch must be at least 1, got {max_batch}")
    if micro_batch:
        return [max_batch]
    out, s = [], 1
    while s < max_batch:
        out.append(s)
        s *= 2
    return out + [max_batch]


def samples_measured(max_batch: int, micro_batch: int | None = None, calls: int = CALLS) -> int:
    """How many samples a calibration sends through the denoiser (for a time allowance); 0 when one size fits."""
    candidates = sizes(max_batch, micro_batch)
    if len(candidates) == 1:
        return 0
    return sum(candidates) + calls * sum(-(-max_batch // s) * s for s in candidates)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _clock(device: torch.device):
    """Wall-clock, except on one CPU thread: there this process's CPU time, which other processes sharing
    the CPU do not inflate (with more threads it would add up every thread's time, idle spinning included)."""
    if device.type == "cpu" and torch.get_num_threads() == 1:
        return time.process_time
    return time.perf_counter


def measure(model, cond, max_batch: int, calls: int = CALLS) -> Calibration:
    """Time `model.forward_x0` at each of `sizes(max_batch, model.micro_batch)`; the fastest per sample wins.

    A size that runs out of GPU memory ends the measurement there: larger sizes are not tried."""
    start = time.perf_counter()
    device = torch.device(model.device)
    clock = _clock(device)
    candidates = sizes(max_batch, getattr(model, "micro_batch", None))
    if len(candidates) == 1:
        return Calibration(candidates[0], {}, str(device), torch.get_num_threads(), 0.0)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn((max(candidates), *model.noise_shape), generator=generator).to(device) * model.prior_scale
    sigma = float(model.sigma_at(0.5))
    fits = []
    for size in candidates:   # warm-up: allocations, lazy initialisation, and which sizes fit
        try:
            model.forward_x0(x[:size], cond, sigma)
            _sync(device)
        except Exception as error:  # noqa: BLE001 - only out-of-memory ends the measurement, the rest re-raised
            if not is_out_of_memory(error) or not fits:
                raise
            break
        fits.append(size)
    if device.type == "cuda":
        torch.cuda.empty_cache()
    best, top = {s: float("inf") for s in fits}, max(fits)
    for _ in range(calls):   # interleaved, so a busy moment of the machine hits every size alike
        for size in fits:
            repeats = -(-top // size)   # the same rows at every size: a short call would dodge a busy machine more often
            t0 = clock()
            for _ in range(repeats):
                model.forward_x0(x[:size], cond, sigma)
            _sync(device)
            best[size] = min(best[size], (clock() - t0) / (repeats * size))
    fastest = min(best.values())
    chunk = max(s for s, per in best.items() if per <= fastest * (1 + TOLERANCE))
    return Calibration(chunk, best, str(device), torch.get_num_threads(), time.perf_counter() - start)


_CACHE: "weakref.WeakKeyDictionary[object, dict]" = weakref.WeakKeyDictionary()   # model -> {key: Calibration}
_LOCK = threading.Lock()


def _key(model, max_batch: int) -> tuple:
    return (str(model.device), tuple(model.noise_shape), int(max_batch), torch.get_num_threads())


def calibrated(model, cond, max_batch: int) -> Calibration:
    """The cached calibration of `model` on its device for `max_batch`, measured on first use."""
    key = _key(model, max_batch)
    with _LOCK:
        known = _CACHE.get(model, {}).get(key)
    if known is not None:
        return Calibration(known.chunk, dict(known.per_sample), known.device, known.threads, 0.0, True)
    result = measure(model, cond, max_batch)
    with _LOCK:
        _CACHE.setdefault(model, {})[key] = result
    return result


def forget(model) -> None:
    """Drop `model`'s measurements (after its device or thread count changed, or in tests)."""
    with _LOCK:
        _CACHE.pop(model, None)


if __name__ == "__main__":   # python -m tsearch.models.calibrate [model] [max_batch]
    import sys

    from tsearch.models import load_model

    name, max_batch = (sys.argv[1:2] or ["shapes"])[0], int((sys.argv[2:3] or ["16"])[0])
    torch.set_num_threads(1)
    model = load_model(name)
    cond = model.encode(model.example_conditions()[0] if model.conditioning == "text" else 0)
    result = measure(model, cond, max_batch)
    for size, per in sorted(result.per_sample.items()):
        print(f"{name} chunk {size:4d}: {1000 * per:8.3f} ms per sample" + ("  <- chosen" if size == result.chunk else ""))
