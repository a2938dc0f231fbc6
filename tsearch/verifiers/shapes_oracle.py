"""`shapes-oracle`: the shapes world's exact GenEval-style oracle used as a verifier (the upper bound).

Ma et al. 2025 (arXiv 2501.09732), Sec. 5: searching with the evaluation's own judge shows how far
search could go with a perfect verifier. A verdict is pass/fail, which cannot rank two failures,
so the score adds the oracle's partial credit: score = ok + PARTIAL_WEIGHT * partial, which puts
every passing image (1.5) above every failing one (at most 0.475) and near misses above far ones.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from tsearch.worlds.shapes.grammar import Spec, parse
from tsearch.worlds.shapes.oracle import detect, judge
from tsearch.worlds.shapes.render import IMAGE_SIZE

PARTIAL_WEIGHT = 0.5   # a failure scores at most 0.5 * 0.95 (MISS_CAP), a pass at least 1.5
PASS_MARK = 1.0        # a score at or above this is a pass (benchmarks and sweep reports count accuracy by it)


def passed(score) -> bool:
    """Whether an oracle score (None when missing) is a pass."""
    return score is not None and score >= PASS_MARK


class ShapesOracle:
    name = "shapes-oracle"

    def __init__(self):
        self._specs: dict[str, Spec] = {}   # parsed captions, one parse per condition

    def spec(self, condition) -> Spec:
        if not isinstance(condition, str):
            raise ValueError(f"shapes-oracle judges captions of the shapes grammar (e.g. 'a red circle'), got {condition!r}")
        if condition not in self._specs:
            self._specs[condition] = parse(condition)
        return self._specs[condition]

    def check(self, condition) -> None:
        """ValueError before a search starts when the caption is not of the shapes grammar."""
        self.spec(condition)

    def score(self, images: torch.Tensor, condition) -> torch.Tensor:
        spec = self.spec(condition)
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"shapes-oracle takes images [b, 3, H, W] in [0, 1], got shape {tuple(images.shape)}")
        images = images.detach().float().cpu().clamp(0, 1)
        if images.shape[-2:] != (IMAGE_SIZE, IMAGE_SIZE):   # the oracle's scales are the world's 32x32
            images = F.adaptive_avg_pool2d(images, IMAGE_SIZE)
        scores = []
        for image in images.permute(0, 2, 3, 1).numpy():
            verdict = judge(detect(image), spec)
            scores.append(float(verdict.ok) + PARTIAL_WEIGHT * verdict.partial)
        return torch.tensor(scores, dtype=torch.float32)


def build(model=None, device: str = "cpu") -> ShapesOracle:
    """Needs no weights and runs on the CPU whatever `device` says (it is numpy and scipy)."""
    return ShapesOracle()
