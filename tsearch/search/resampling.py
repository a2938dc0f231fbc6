"""Resampling schemes for particle methods (smc): ancestor indices drawn from normalised weights.

Each draws `size` indices whose counts are n w_i in expectation (Douc & Cappe 2005, "Comparison of
resampling schemes for particle filtering"); they differ in variance and in how many uniforms they take
from the caller's generator: multinomial (size iid draws), stratified (one uniform per stratum),
systematic (one uniform for all strata: counts are the floor or ceil of n w_i), residual (floor(n w_i)
copies kept, the rest drawn multinomially).
"""

from __future__ import annotations

import numpy as np

SCHEMES = ("systematic", "multinomial", "stratified", "residual")


def _through_cdf(w: np.ndarray, points: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(w)
    return np.minimum(np.searchsorted(cdf, points, side="right"), len(w) - 1)


def resample(weights, scheme: str, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
    """`size` (default: as many as the weights) ancestor indices, in increasing order."""
    w = np.asarray(weights, dtype=float)
    w = w / w.sum()
    n = len(w) if size is None else int(size)
    if scheme not in SCHEMES:
        raise ValueError(f"resample must be one of {', '.join(SCHEMES)}, got {scheme!r}")
    if n < 1:
        raise ValueError(f"resample: size must be at least 1, got {n}")
    if scheme == "systematic":
        return _through_cdf(w, (float(rng.random()) + np.arange(n)) / n)
    if scheme == "stratified":
        return _through_cdf(w, (rng.random(n) + np.arange(n)) / n)
    if scheme == "multinomial":
        return np.sort(_through_cdf(w, rng.random(n)))
    kept = np.floor(n * w).astype(int)
    rest = n - int(kept.sum())
    indices = np.repeat(np.arange(len(w)), kept)
    if rest:
        residual = n * w - kept
        extra = _through_cdf(residual / residual.sum(), rng.random(rest))
        indices = np.concatenate([indices, extra])
    return np.sort(indices)
