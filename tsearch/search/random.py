"""Random search (best-of-N): independent Gaussian noises, keep the best (Ma et al. 2025)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tsearch.search.base import Asked, BestOf, Costs, Gaussian, Integrate, Proposal, check_budget, option


@dataclass(frozen=True)
class Options:
    per_round: int = option(16, "candidates proposed per round; only changes how often the engine reports",
                             label="candidates per round", minimum=1,
                             maximum=10**6)


class RandomSearch:
    """Spend the budget on as many full-length candidates as it buys; best over the whole run."""

    Options = Options
    in_brief = "try many independent noises and keep the one whose image scores best"
    anytime = True   # first k candidates = a k-candidate search (base.is_anytime)

    def __init__(self, budget: int, costs: Costs, steps: int, seed: int = 0, options: Options = Options()):
        if options.per_round < 1:
            raise ValueError(f"per_round must be at least 1, got {options.per_round}")
        self.cost = check_budget(budget, costs.full(steps), steps)
        self.total = budget // self.cost
        self.steps, self.options = steps, options
        self.rng = np.random.default_rng(seed)
        self.asked = 0
        self.results, self.pending = BestOf(), Asked()

    @property
    def done(self) -> bool:
        return self.asked >= self.total

    def ask(self) -> list[Proposal]:
        n = min(self.options.per_round, self.total - self.asked)
        round_ = self.asked // self.options.per_round
        proposals = [
            Proposal(id=self.asked + i, parent=None, round=round_,
                     ops=(Gaussian(int(self.rng.integers(2**31))), Integrate(1.0, 0.0, self.steps)))
            for i in range(n)
        ]
        self.asked += n
        return self.pending.record(proposals)

    def tell(self, proposals: list[Proposal], scores: list[float]) -> None:
        self.pending.check(proposals, scores)
        for proposal, score in zip(proposals, scores):
            self.results.add(proposal.id, score)

    @property
    def best(self) -> tuple[int, float] | None:
        return self.results.best
