"""Several verifiers combined by mean rank (PAPER.md: the ensemble over aesthetic, CLIP, ImageReward).

Ranks need no calibration between verifiers' scales. Each candidate's rank under a verifier is its
percentile among every candidate of the run scored so far (ties count half), and the ensemble score
is the mean percentile over verifiers. A NaN score ranks last.
"""

from __future__ import annotations

import torch


class MeanRank:
    def __init__(self, count: int):
        self.pool = torch.empty((0, count), dtype=torch.float64)

    def update(self, raw: torch.Tensor) -> torch.Tensor:
        """raw [b, V] scores of a new batch -> [b] mean percentiles against the pool so far."""
        raw = torch.nan_to_num(raw.to(torch.float64), nan=-float("inf"))
        self.pool = torch.cat([self.pool, raw])
        ranks = []
        for v in range(raw.shape[1]):
            ordered = self.pool[:, v].sort().values
            below = torch.searchsorted(ordered, raw[:, v].contiguous(), right=False)
            not_above = torch.searchsorted(ordered, raw[:, v].contiguous(), right=True)
            ranks.append((below + not_above).to(torch.float64) / (2.0 * len(ordered)))
        return torch.stack(ranks, 1).mean(1)
