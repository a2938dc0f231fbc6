"""The bootstrap of sweeps and the arena: one mean with its interval, and paired differences over units.

Intervals are 95% percentile bootstraps over units (Efron & Tibshirani 1993, ch. 13). Every interval draws
its units from `resamples`: a paired one applies the same draw to both methods, so the pairing is kept; an
unpaired one (`interval`) is the same draw over one list. The draws come from a seeded generator, so a report
or a leaderboard reads the same twice.
"""

from __future__ import annotations

import math

import numpy as np

LEVEL = (2.5, 97.5)


def resamples(n: int, reps: int = 2000, seed: int = 0) -> np.ndarray:
    """[reps, n] unit indices drawn with replacement (one shared draw keeps every comparison paired)."""
    if n < 1:
        raise ValueError("resamples: need at least one unit")
    return np.random.default_rng(seed).integers(0, n, size=(reps, n))


def interval(values, reps: int = 2000, seed: int = 0) -> tuple[float, float, float] | None:
    """(mean, low, high): the mean of the values (None ones left out) with its 95% bootstrap interval; None
    without values."""
    v = np.asarray([x for x in values if x is not None], dtype=float)
    if v.size == 0:
        return None
    low, high = np.percentile(v[resamples(v.size, reps, seed)].mean(1), LEVEL)
    return float(v.mean()), float(low), float(high)


def paired_difference(a, b, reps: int = 2000, seed: int = 0) -> dict:
    """mean(a - b) over paired units with its bootstrap interval, and wins / losses / ties unit by unit."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError(f"paired_difference: two equal-length, non-empty lists of values, got {a.shape} and {b.shape}")
    d = a - b
    means = d[resamples(d.size, reps, seed)].mean(1)
    low, high = np.percentile(means, LEVEL)
    return {"difference": float(d.mean()), "low": float(low), "high": float(high), "wins": int((d > 0).sum()),
            "losses": int((d < 0).sum()), "ties": int((d == 0).sum()), "units": int(d.size)}


def verdict(diff: dict) -> str:
    """'better', 'worse' (the interval excludes 0), 'reaches' (point >= 0) or 'short' (point < 0, not excluded)."""
    if diff["low"] > 0:
        return "better"
    if diff["high"] < 0:
        return "worse"
    return "reaches" if diff["difference"] >= 0 else "short"


def to_reach(curve: dict, target, costs: dict | None = None, reps: int = 2000, seed: int = 0) -> dict:
    """The smallest budget at which a method's mean reaches the target's mean, with a bootstrap interval.

    `curve`: budget -> the method's values per unit; `target`: the values per unit to reach (random
    search's at its top budget); `costs`: budget -> the method's cost per unit on another axis (seconds),
    whose mean at the reaching budget is reported too. Not reached within the curve: None (the interval's
    bounds likewise, where a resample never reaches it)."""
    budgets = sorted(curve)
    values = np.array([np.asarray(curve[b], dtype=float) for b in budgets])   # [budgets, units]
    target = np.asarray(target, dtype=float)
    if not budgets or values.shape[1] != target.size:
        raise ValueError("to_reach: every budget's values and the target need one value per unit, in the same order")
    cost = np.array([np.asarray(costs[b], dtype=float) for b in budgets]) if costs else values * 0.0
    index = resamples(target.size, reps, seed)

    def first(units) -> tuple[float, float]:
        reached = values[:, units].mean(1) >= target[units].mean() - 1e-12
        if not reached.any():
            return math.inf, math.inf
        i = int(np.argmax(reached))
        return float(budgets[i]), float(cost[i, units].mean())

    point = first(np.arange(target.size))
    draws = np.array([first(units) for units in index])
    out = {}
    for axis, column in (("budget", 0), ("cost", 1)):
        low, high = np.percentile(draws[:, column], LEVEL, method="lower")
        out[axis] = [_finite(point[column]), _finite(float(low)), _finite(float(high))]
    out["reached_share"] = float(np.isfinite(draws[:, 0]).mean())   # how often a resample reaches the target
    return out


def _finite(value: float) -> float | None:
    return None if math.isinf(value) else value
