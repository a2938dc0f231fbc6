"""Successive halving on cheap clean-estimate previews (in the spirit of CoDe and TTSnap; see PEERS.md).

N noises are integrated from t = 1 down to the first checkpoint t1 and each is scored on its one-step
clean estimate (one NFE, counted by the engine's rule above t = 0); the top 1/eta continue from their
states to t2, are scored again, and so on; the survivors of the last checkpoint are integrated to
t = 0 and scored as real samples. The result is the best finished sample. Checkpoints snap to the
step grid of `steps` (a checkpoint that falls on the start, the end or another checkpoint is dropped),
so a survivor walks the same grid of `steps` steps as a random-search candidate, in pieces.
N = 0 takes the largest N the budget buys; a fixed N runs successive rounds of N while it lasts.

Default (checkpoints "0.7", eta 4), from a small measurement on the shapes world: 12 captions (two per
category), 10 steps, 120 NFEs, verifier shapes-clip, accuracy by shapes-oracle. "0.7" with eta 4 got
12/12; random search, "0.5"/2, "0.7"/2 and "0.7,0.4"/2 got 11/12; "0.8"/4 got 10/12 (at 320 NFEs
random search and "0.5"/2 both got 6/6). One caption apart, so it is a sensible default, not a tuned
one. An early, aggressive cut spends the budget on more starts; a late preview sees more but saves less.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tsearch.search.base import Asked, BestOf, Costs, Gaussian, Integrate, Proposal, option


@dataclass(frozen=True)
class Options:
    n: int = option(0, "noises started in each round of halving; 0 = as many as the budget buys",
                     label="noises started (n)", minimum=0, maximum=10**6)
    eta: float = option(4.0, "keep the top 1/eta of the candidates at each checkpoint (>= 1)",
                         label="halving rate (η)", minimum=1.0, maximum=1000.0)
    checkpoints: str = option("0.7", "normalised times of the previews, descending and comma-separated, e.g. 0.7,0.4",
                               label="preview times")


def parse_checkpoints(text: str) -> tuple[float, ...]:
    """"0.7,0.4" -> (0.7, 0.4); ValueError unless they are numbers in (0, 1), strictly descending."""
    parts = str(text).split(",")
    if len(parts) > 1 and any(not part.strip() for part in parts):
        raise ValueError(f"checkpoints must be comma-separated numbers such as 0.7,0.4, with no empty item; "
                         f"got {text!r}")
    try:
        values = tuple(float(part) for part in parts if part.strip())
    except ValueError:
        raise ValueError(f"checkpoints must be comma-separated numbers such as 0.7,0.4, got {text!r}") from None
    if not values or any(not 0.0 < v < 1.0 for v in values) or any(a <= b for a, b in zip(values, values[1:])):
        raise ValueError(f"checkpoints must be normalised times in (0, 1), strictly descending, e.g. 0.7,0.4; "
                         f"got {text!r}")
    return values


class PruneSearch:
    Options = Options
    in_brief = "start many noises, preview each part way through, and finish only the most promising ones"

    def __init__(self, budget: int, costs: Costs, steps: int, seed: int = 0, options: Options = Options()):
        o = options
        if o.n < 0:
            raise ValueError(f"n must be >= 0 (0 = as many as the budget buys), got {o.n}")
        if not o.eta >= 1.0 or math.isinf(o.eta):
            raise ValueError(f"eta must be a finite number >= 1 (keep the top 1/eta), got {o.eta}")
        self.costs, self.options = costs, o
        self.times = _snap(parse_checkpoints(o.checkpoints), steps)   # 1 = t_0 > t_1 > ... > 0
        self.legs = [(a, b, round((a - b) * steps)) for a, b in zip(self.times, self.times[1:])]
        self.leg_costs = [costs.of(Proposal(0, None, 0, (Integrate(a, b, n),))) for a, b, n in self.legs]
        self.left = budget
        self._check_n(budget, steps)
        if self._largest(budget) == 0:
            minimum = self._cost(1)
            raise ValueError(f"budget of {budget} NFEs is below one candidate's cost of {minimum} NFEs ({steps} steps, "
                             f"a clean estimate scored at {len(self.legs) - 1} checkpoint(s)); raise the budget "
                             f"to at least {minimum} or use fewer steps")
        self.rng = np.random.default_rng(seed)
        self.next_id, self.round, self.stage = 0, 0, 0
        self.alive: list[Proposal] | None = None   # None: the next ask starts a new round of halving
        self.finished, self.pending = BestOf(), Asked()

    def _check_n(self, budget: int, steps: int) -> None:
        """A round of n noises must fit the budget (n = 0 takes as many as it buys): refused, never clamped."""
        n = self.options.n
        if n and self._cost(n) > budget:
            raise ValueError(f"n={n} noises cost {self._cost(n)} NFEs per round of halving ({steps} steps, previews "
                             f"at {len(self.legs) - 1} checkpoint(s)), more than the budget of {budget} NFEs buys "
                             f"({self._largest(budget)}); raise the budget to at least {self._cost(n)}, lower n, or "
                             f"set n = 0 for as many as the budget buys")

    def survivors(self, n: int) -> list[int]:
        """How many candidates run each leg when n start: n, ceil(n / eta), ..."""
        counts = [n]
        for _ in self.legs[1:]:
            counts.append(max(1, math.ceil(counts[-1] / self.options.eta)))
        return counts

    def _cost(self, n: int) -> int:
        return sum(count * cost for count, cost in zip(self.survivors(n), self.leg_costs))

    def _largest(self, left: int) -> int:
        """The most candidates a round of halving can start with `left` NFEs (capped by n when given)."""
        lo, hi = 0, left // self.leg_costs[0] + 1          # cost(lo) <= left < cost(hi); cost grows with n
        if self.options.n:
            hi = min(hi, self.options.n + 1)
            if self._cost(hi - 1) <= left:
                return hi - 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if self._cost(mid) <= left else (lo, mid)
        return lo

    @property
    def done(self) -> bool:
        return self.alive is None and self._largest(self.left) == 0

    def ask(self) -> list[Proposal]:
        if self.alive is None:
            count = self._largest(self.left)
            self.left -= self._cost(count)   # the whole round of halving is paid for when it starts
            self.stage = 0
            t_from, t_to, n = self.legs[0]
            proposals = [Proposal(self.next_id + i, None, self.round,
                                  (Gaussian(int(self.rng.integers(2**31))), Integrate(t_from, t_to, n)))
                         for i in range(count)]
        else:
            t_from, t_to, n = self.legs[self.stage]
            proposals = [Proposal(self.next_id + i, p.id, self.round, (Integrate(t_from, t_to, n),), p.id)
                         for i, p in enumerate(self.alive)]
        self.next_id += len(proposals)
        self.round += 1
        return self.pending.record(proposals)

    @property
    def best(self) -> tuple[int, float] | None:
        """The best finished sample (previews never count)."""
        return self.finished.best

    def tell(self, proposals: list[Proposal], scores: list[float]) -> None:
        self.pending.check(proposals, scores)
        if self.stage == len(self.legs) - 1:
            for proposal, score in zip(proposals, scores):
                self.finished.add(proposal.id, score)
            self.alive = None
            return
        keep = max(1, math.ceil(len(proposals) / self.options.eta))
        order = sorted(range(len(proposals)), key=lambda i: -float(scores[i]))   # stable: ties keep the earlier
        self.alive = [proposals[i] for i in sorted(order[:keep])]
        self.stage += 1


def _snap(checkpoints: tuple[float, ...], steps: int) -> list[float]:
    """1, the checkpoints on the grid of `steps` steps (duplicates and the ends dropped), 0."""
    nodes = []
    for t in checkpoints:
        k = round((1.0 - t) * steps)
        if 0 < k < steps and k not in nodes:
            nodes.append(k)
    return [1.0] + [1.0 - k / steps for k in nodes] + [0.0]
