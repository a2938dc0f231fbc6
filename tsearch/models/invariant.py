"""Batch-invariant network evaluation: every call sees a batch of one fixed size.

On the CPU, oneDNN (convolutions) and MKL (matrix products) pick their kernel, blocking and
reduction order from the shapes of a call, batch size included: a sample's result in a batch of
16 can differ in the last bit from the same sample alone (measured on the bundled shapes and
digits UNets: every Conv2d and every Linear over [batch, features] differs between batch 1 and
batch 16, by up to 1e-5; group norm, attention and the elementwise ops do not). Within one shape
the result of a row depends neither on its position nor on its batch mates. So a model that runs
its network over chunks of exactly `size` rows, padding the last chunk, gives each sample the same
bits whatever batch it was sent in -- which is what exact regeneration of a candidate from its
recipe (batch of one) needs, and what lets the engine choose chunk sizes freely.

The choice of `size` is a speed trade-off, measured by `python -m tsearch.bench.batch_invariance`:
large enough that a full chunk runs at the network's best per-sample speed, no larger, since a
lone sample pays for a whole chunk. Measured on one CPU thread: shapes (4 samples, 8 rows with
guidance) and digits (16) evaluate a batch of 16 as fast as before (x1.00); a lone sample, as in
regeneration, costs about x3 (shapes) and x5 (digits) of an unpadded batch of one. Results are
invariant for a given thread count; 1 and 2 threads do not always give the same bits.

Inside `unpadded()` a call runs as it comes instead: one sample alone then costs what it costs, not a whole
micro-batch, but gets the bits of a batch of one. The engine does it for a watched search's first candidate,
so its image comes after about one candidate's compute, and marks that candidate's integration `unpadded` in
its recipe, so that regeneration (and every descendant's replay) runs it the same way.
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager
from typing import Callable, Iterator

import torch

# set per call and per thread (a context variable): a model serves other searches at once, unpadded or not
_UNPADDED: contextvars.ContextVar[bool] = contextvars.ContextVar("tsearch_unpadded", default=False)


@contextmanager
def unpadded(on: bool = True) -> Iterator[None]:
    """Within it, `fixed_batches` calls its function once on the rows as they come (no padding), in this thread."""
    token = _UNPADDED.set(bool(on))
    try:
        yield
    finally:
        _UNPADDED.reset(token)


def fixed_batches(fn: Callable[..., torch.Tensor], x: torch.Tensor, *per_row: torch.Tensor,
                  size: int | None) -> torch.Tensor:
    """fn(x_chunk, *per_row_chunks) over dim 0 of x in chunks of exactly `size` rows, concatenated.

    The last chunk is padded with zero rows, whose outputs are dropped. Each `per_row` tensor (a
    condition given per sample) is cut and padded alongside x; one with a single row, or none
    (0-d), is passed whole for fn to broadcast. fn must treat rows independently apart from kernel
    choice (a network in eval mode, no batch statistics). size None or 0, or inside `unpadded()`, calls fn
    once, unchanged.
    """
    n = x.shape[0]
    if not size or n == size or n == 0 or _UNPADDED.get():
        return fn(x, *per_row)
    cut = [t.dim() > 0 and t.shape[0] != 1 for t in per_row]
    for t, c in zip(per_row, cut):
        if c and t.shape[0] != n:
            raise ValueError(f"a per-sample condition has {t.shape[0]} rows for a batch of {n}")

    def piece(t: torch.Tensor, start: int) -> torch.Tensor:
        rows = t[start:start + size]
        if rows.shape[0] < size:
            rows = torch.cat([rows, rows.new_zeros((size - rows.shape[0], *rows.shape[1:]))])
        return rows

    outputs = []
    for start in range(0, n, size):
        args = [piece(t, start) if c else t for t, c in zip(per_row, cut)]
        outputs.append(fn(piece(x, start), *args)[:min(size, n - start)])
    return torch.cat(outputs)
