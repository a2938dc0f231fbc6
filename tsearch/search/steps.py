"""The baseline the paper searches against: one noise, more denoising steps.

Candidates share one Gaussian noise and double their step count while the budget lasts, so a chart
can place "more steps" beside "more search" at equal NFEs. Its result is the sample with the most
steps, not the best-scoring one: picking by score would itself be a search.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tsearch.search.base import Asked, Costs, Gaussian, Integrate, Proposal, check_budget, option


@dataclass(frozen=True)
class Options:
    growth: float = option(2.0, "factor between successive step counts", label="step growth factor",
                            minimum=1.0, maximum=100.0, exclusive=(True, False))


class StepsBaseline:
    Options = Options
    in_brief = "the comparison point: one noise, denoised with more and more steps instead of searching"
    best_is_latest = True   # its result is the latest sample, not the best-scoring one (base.Algorithm)

    def __init__(self, budget: int, costs: Costs, steps: int, seed: int = 0, options: Options = Options()):
        if options.growth <= 1.0:
            raise ValueError(f"growth must exceed 1, got {options.growth}")
        check_budget(budget, costs.full(steps), steps)
        self.schedule, left, s = [], budget, steps
        while costs.full(s) <= left:
            self.schedule.append(s)
            left -= costs.full(s)
            s = max(s + 1, int(round(s * options.growth)))
        self.seed = int(np.random.default_rng(seed).integers(2**31))
        self.asked = 0
        self.best: tuple[int, float] | None = None   # the latest sample, not the best-scoring one
        self.pending = Asked()

    @property
    def done(self) -> bool:
        return self.asked >= len(self.schedule)

    def ask(self) -> list[Proposal]:
        steps = self.schedule[self.asked]
        proposal = Proposal(self.asked, None, self.asked, (Gaussian(self.seed), Integrate(1.0, 0.0, steps)))
        self.asked += 1
        return self.pending.record([proposal])

    def tell(self, proposals: list[Proposal], scores: list[float]) -> None:
        self.pending.check(proposals, scores)
        self.best = (proposals[-1].id, float(scores[-1]))
