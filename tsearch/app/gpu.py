"""ZeroGPU on Hugging Face Spaces: `spaces.GPU` when the `spaces` package is importable, a no-op otherwise.

ZeroGPU lends a GPU for the length of one decorated call, up to a per-call limit; the duration asked
for is the measured estimate of the search (estimate.py) with headroom, capped at that limit.
"""

from __future__ import annotations

import importlib.util

ZEROGPU_MAX_SECONDS = 120   # the per-call limit asked for; longer searches should lower the budget


def available() -> bool:
    return importlib.util.find_spec("spaces") is not None


def gpu(duration):
    """Decorator: run `fn` on a ZeroGPU device for `duration(*args, **kwargs)` seconds, or leave it as is."""
    if not available():
        return lambda fn: fn
    import spaces

    return spaces.GPU(duration=duration)


def device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
