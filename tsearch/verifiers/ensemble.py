"""Several verifiers combined by mean rank (PAPER.md: the ensemble over aesthetic, CLIP, ImageReward).

Ranks need no calibration between verifiers' scales. A candidate's rank under a verifier is its
percentile among every candidate of the run scored so far (ties count half), and the ensemble score
is the mean percentile over verifiers. A NaN score ranks last.

Percentiles move as the pool grows, and with two or more verifiers the order of two candidates can
flip. So the scores told to an algorithm are `Rank`s: live values that compare by their percentile
over the whole pool at the moment they are compared. Every comparison an algorithm makes during one
`tell` sees one snapshot, and its "best" is the top mean percentile whenever it is read.
"""

from __future__ import annotations

import functools

import numpy as np
import torch


class MeanRank:
    def __init__(self, count: int):
        self.count = count
        self.pool = np.empty((0, count), dtype=np.float64)
        self._sorted: np.ndarray | None = None   # each column sorted, for the pool as it is now

    def add(self, raw: torch.Tensor) -> list["Rank"]:
        """raw [b, V] scores of a new batch -> one live Rank per row."""
        raw = torch.as_tensor(raw).to(torch.float64).cpu().numpy()
        raw = np.where(np.isnan(raw), -np.inf, raw)   # NaN ranks last; +-inf keep their place
        start = len(self.pool)
        self.pool = np.concatenate([self.pool, raw.reshape(-1, self.count)])
        self._sorted = None
        return [Rank(self, i) for i in range(start, len(self.pool))]

    def update(self, raw: torch.Tensor) -> torch.Tensor:
        """raw [b, V] -> [b] mean percentiles against the pool so far (this batch included), as numbers."""
        return torch.tensor([float(r) for r in self.add(raw)], dtype=torch.float64)

    def percentile(self, rows: np.ndarray) -> np.ndarray:
        """Mean percentile over verifiers of raw score rows [k, V] against the pool as it is now."""
        if self._sorted is None:
            self._sorted = np.sort(self.pool, axis=0)
        n = len(self.pool)
        ranks = [(np.searchsorted(self._sorted[:, v], rows[:, v], "left")
                  + np.searchsorted(self._sorted[:, v], rows[:, v], "right")) / (2.0 * n)
                 for v in range(self.count)]
        return np.mean(ranks, axis=0)

    def value(self, index: int) -> float:
        return float(self.percentile(self.pool[index:index + 1])[0])


@functools.total_ordering
class Rank:
    """One candidate's mean percentile, read from the pool whenever it is used."""

    __slots__ = ("pool", "index")

    def __init__(self, pool: MeanRank, index: int):
        self.pool, self.index = pool, index

    def __float__(self) -> float:
        return self.pool.value(self.index)

    def __neg__(self) -> float:
        return -float(self)

    def __eq__(self, other) -> bool:
        return float(self) == float(other)

    def __lt__(self, other) -> bool:
        return float(self) < float(other)

    def __hash__(self) -> int:
        return hash((id(self.pool), self.index))

    def __repr__(self) -> str:
        return f"Rank(#{self.index}: {float(self):.4f})"
