"""A throwaway algorithm, written as a contributor would add one: one file's worth of class, one registry line
(`monkeypatch.setitem(ALGORITHMS, "tiny", TinySearch)`). Also one whose option takes a search setting's name."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tsearch.search.base import Asked, BestOf, Costs, Gaussian, Integrate, Proposal, check_budget, option


@dataclass(frozen=True)
class Options:
    width: int = option(3, "fresh noises tried per round", label="noises per round (w)", minimum=1, maximum=64)


class TinySearch:
    """Tiny search: a few fresh noises per round, keep the best (a test's throwaway algorithm)."""

    Options = Options

    def __init__(self, budget: int, costs: Costs, steps: int, seed: int = 0, options: Options = Options()):
        self.cost = check_budget(budget, costs.full(steps), steps)
        self.total, self.steps, self.options = budget // self.cost, steps, options
        self.rng, self.asked, self.results, self.pending = np.random.default_rng(seed), 0, BestOf(), Asked()

    @property
    def done(self) -> bool:
        return self.asked >= self.total

    def ask(self) -> list[Proposal]:
        n = min(self.options.width, self.total - self.asked)
        proposals = [Proposal(self.asked + i, None, self.asked // self.options.width,
                              (Gaussian(int(self.rng.integers(2**31))), Integrate(1.0, 0.0, self.steps)))
                     for i in range(n)]
        self.asked += n
        return self.pending.record(proposals)

    def tell(self, proposals, scores) -> None:
        self.pending.check(proposals, scores)
        for proposal, score in zip(proposals, scores):
            self.results.add(proposal.id, score)

    @property
    def best(self):
        return self.results.best


@dataclass(frozen=True)
class ClashingOptions:
    steps: int = option(2, "an option named like the search's own steps", label="steps", minimum=1)


class ClashingSearch(TinySearch):
    """An algorithm whose option `steps` clashes with SearchConfig.steps (--steps)."""

    Options = ClashingOptions
