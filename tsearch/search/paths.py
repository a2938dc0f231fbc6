"""Search over paths (Paths-N; Ma et al. 2025): branch noisy states, score their clean estimates, keep the top N.

(1) N noises are integrated from t = 1 down to `sigma`; (2) each kept state is branched M times by
re-noising it up by `delta_f`; (3) each branch is integrated down by `delta_b` in `L` steps and scored
on its one-step clean estimate; the top N continue; (2)-(3) repeat until t reaches 0; (4) the best of
the final N wins. Times are normalised (1 = noise, 0 = data). When the budget buys several such
episodes, new episodes start from fresh noises; the best over finished samples is kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tsearch.search.base import Asked, BestOf, Costs, Gaussian, Integrate, Proposal, Renoise, option


MAX_ROUNDS = 10**4   # branching rounds of one episode (the defaults take 4)


def _rounds_needed(sigma: float, delta_f: float, delta_b: float) -> int:
    """About how many branching rounds `_levels` lists (exact up to rounding): only the first can be clamped at
    t = 1, after which each moves down by delta_b - delta_f."""
    t, first = sigma, 0
    if t + delta_f > 1.0:
        t, first = max(1.0 - delta_b, 0.0), 1
    return first + math.ceil(t / (delta_b - delta_f))


@dataclass(frozen=True)
class Options:
    n: int = option(4, "states kept after every round (beam width)", label="paths kept (N)", minimum=1,
                    maximum=10**6)
    m: int = option(8, "branches drawn from each kept state", label="branches per path (M)", minimum=1,
                    maximum=10**6)
    sigma: float = option(0.11, "normalised time where branching starts", label="branching starts at (σ)",
                           minimum=0.0, maximum=1.0, exclusive=(True, True))
    delta_f: float = option(0.78, "how far each branch is re-noised up (forward process)", label="re-noise up (Δf)",
                             minimum=0.0, maximum=1.0, exclusive=(True, False))
    delta_b: float = option(0.81, "how far each branch is then integrated down; must exceed delta_f",
                             label="integrate down (Δb)", minimum=0.0, maximum=1.0, exclusive=(True, False))
    L: int = option(10, "solver steps per backward interval", label="steps per interval (L)", minimum=1,
                    maximum=10**6)


class PathsSearch:
    Options = Options
    in_brief = ("denoise a few noises part way, branch each half-finished image several times, keep the "
                "best-scoring branches, and repeat until the images are done")

    def __init__(self, budget: int, costs: Costs, steps: int, seed: int = 0, options: Options = Options()):
        o = options
        if o.n < 1 or o.m < 1 or o.L < 1:
            raise ValueError(f"n, m and L must be at least 1, got n={o.n}, m={o.m}, L={o.L}")
        if not 0.0 < o.sigma < 1.0:
            raise ValueError(f"sigma must lie in (0, 1) (normalised time), got {o.sigma}")
        if not 0.0 < o.delta_f < o.delta_b:
            raise ValueError(f"need 0 < delta_f < delta_b so each round moves toward the data; got delta_f={o.delta_f}, delta_b={o.delta_b}")
        rounds = _rounds_needed(o.sigma, o.delta_f, o.delta_b)   # closed form, before the loop that lists them
        if rounds > MAX_ROUNDS:
            raise ValueError(f"delta_f={o.delta_f} and delta_b={o.delta_b} move each branching round only "
                             f"{o.delta_b - o.delta_f:.3g} toward the data: about {rounds} rounds from sigma={o.sigma} "
                             f"to t = 0, more than the {MAX_ROUNDS} taken; widen the gap delta_b - delta_f")
        self.costs, self.options = costs, o
        self.first_steps = max(1, round(steps * (1.0 - o.sigma)))
        self.levels = self._levels()
        self.episode_cost = self._episode_cost()
        if budget < self.episode_cost:
            raise ValueError(
                f"budget of {budget} NFEs is below one search over paths with n={o.n}, m={o.m}, L={o.L} and "
                f"steps={steps} ({self.episode_cost} NFEs); raise the budget or lower n, m, L or steps"
            )
        self.episodes = budget // self.episode_cost
        self.rng = np.random.default_rng(seed)
        self.next_id, self.round, self.episode = 0, 0, 0
        self.stage = 0                                   # 0 = fresh noises, k = k-th branching round
        self.beam: list[tuple[float, Proposal]] = []     # (score, proposal) of the states kept
        self.finished, self.pending = BestOf(), Asked()  # the final sample of every episode

    def _levels(self) -> list[tuple[float, float, float]]:
        """(t_from, t_up, t_down) of each branching round, from sigma until t = 0."""
        o, levels, t = self.options, [], self.options.sigma
        while t > 0.0:
            up = min(t + o.delta_f, 1.0)
            down = max(up - o.delta_b, 0.0)
            levels.append((t, up, down))
            t = down
        return levels

    def _episode_cost(self) -> int:
        o, c = self.options, self.costs
        total = o.n * (c.integrate(self.first_steps, False) + c.nfe_per_eval)
        for _, _, down in self.levels:
            per_branch = c.integrate(o.L, down == 0.0) + (0 if down == 0.0 else c.nfe_per_eval)
            total += o.n * o.m * per_branch
        return total

    @property
    def done(self) -> bool:
        return self.episode >= self.episodes

    def _new(self, ops, parent, start) -> Proposal:
        proposal = Proposal(self.next_id, parent, self.round, tuple(ops), start)
        self.next_id += 1
        return proposal

    def _seed(self) -> int:
        return int(self.rng.integers(2**31))

    def ask(self) -> list[Proposal]:
        o = self.options
        if self.stage == 0:
            proposals = [self._new([Gaussian(self._seed()), Integrate(1.0, o.sigma, self.first_steps)], None, None)
                         for _ in range(o.n)]
        else:
            t_from, up, down = self.levels[self.stage - 1]
            proposals = [self._new([Renoise(t_from, up, self._seed()), Integrate(up, down, o.L)], parent.id, parent.id)
                         for _, parent in self.beam for _ in range(o.m)]
        self.round += 1
        return self.pending.record(proposals)

    @property
    def best(self) -> tuple[int, float] | None:
        """The best finished sample over all episodes (clean estimates of noisy states never count)."""
        return self.finished.best

    def tell(self, proposals: list[Proposal], scores: list[float]) -> None:
        self.pending.check(proposals, scores)
        ranked = sorted(zip(scores, proposals), key=lambda pair: -float(pair[0]))
        self.beam = ranked[: self.options.n]
        final = self.stage == len(self.levels)
        if final:
            score, proposal = ranked[0]
            self.finished.add(proposal.id, score)
            self.stage, self.episode, self.beam = 0, self.episode + 1, []
        else:
            self.stage += 1
