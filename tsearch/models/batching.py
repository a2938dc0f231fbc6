"""Memory-safe batching for real pipelines: run a function over chunks, halving the chunk on OOM.

Peers leave out-of-memory handling to the user (PEERS.md: "clear out-of-memory guidance" is a
repeated request). Here every denoiser evaluation and every VAE decode goes through a `Batcher`:
it splits the batch into chunks of at most `max_batch` samples and, when CUDA runs out of memory,
halves the chunk, frees the cache and retries, remembering the smaller size for later calls.
"""

from __future__ import annotations

import gc
from typing import Callable

import torch

DTYPES = {"fp32": torch.float32, "float32": torch.float32, "fp16": torch.float16, "float16": torch.float16,
          "bf16": torch.bfloat16, "bfloat16": torch.bfloat16}


def is_out_of_memory(error: BaseException) -> bool:
    """CUDA's OutOfMemoryError, or the RuntimeError some kernels raise with the same message."""
    return isinstance(error, torch.OutOfMemoryError) or (
        isinstance(error, RuntimeError) and "out of memory" in str(error).lower())


class Batcher:
    """Calls fn(*chunks) over dim 0 of `tensors` in chunks of at most `max_batch`; concatenates the results."""

    def __init__(self, max_batch: int, what: str = "the denoiser"):
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self.max_batch = int(max_batch)
        self.what = what
        self.halvings = 0  # how often memory ran out (reported by tests and benchmarks)

    def __call__(self, fn: Callable[..., torch.Tensor], *tensors: torch.Tensor) -> torch.Tensor:
        n = tensors[0].shape[0]
        outputs, start = [], 0
        while start < n:
            size = min(self.max_batch, n - start)
            failed = False
            try:
                outputs.append(fn(*(t[start:start + size] for t in tensors)))
            except Exception as error:  # noqa: BLE001 - only out-of-memory is handled, the rest re-raised
                if not is_out_of_memory(error):
                    raise
                if size == 1:
                    raise torch.OutOfMemoryError(
                        f"{self.what} ran out of GPU memory on a single sample; use a smaller image size, "
                        f"a lower-precision dtype (dtype='bf16' or 'fp16'), or a GPU with more memory") from error
                failed = True
            if failed:
                # Retry outside the except block so the failed attempt's tensors can be freed first.
                self.max_batch = max(1, size // 2)
                self.halvings += 1
                gc.collect()
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                continue
            start += size
        return torch.cat(outputs, dim=0)


def choose_dtype(device: torch.device, dtype: str | torch.dtype | None, gpu_default: torch.dtype) -> torch.dtype:
    """float32 on the CPU, the family's half precision on a GPU, unless the caller names one."""
    if dtype is None:
        return gpu_default if device.type == "cuda" else torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose one of {sorted(DTYPES)}")
    return DTYPES[dtype]
