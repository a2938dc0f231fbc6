"""Cross-entropy search over the coarse band of the noise (in the spirit of SES in DiffSynth-Studio; PEERS.md).

The noise is split on a fixed orthonormal basis: its coarse band is the average of each of `grid` x
`grid` spatial cells (per group of channels; `channels` = 1 lets each cell span every channel, which
fits any model), its fine band is the rest. The search keeps a Gaussian N(mean, std^2) over the coarse
coefficients, starting from N(0, 1), so the first noises are exactly N(0, I). Each iteration samples
`population` coefficient vectors, gives each a fresh seeded fine band (the CoarseNoise op stores both:
the coefficient values and the seed), scores each on a cheap preview (`preview_steps` steps, down to
t = 0), keeps the best `elites`, and refits the mean and std (smoothed, the std floored at `min_std`)
(Rubinstein's cross-entropy method). When the budget left buys only the final render, the best
preview's noise is rendered at `steps` (counted in the budget), and that render is the result. When
preview_steps >= steps the previews are already full renders and the best of them is the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tsearch.search.base import Asked, BestOf, CoarseNoise, Costs, Integrate, Proposal, option


MAX_COEFFICIENTS = 2**20   # channels x grid x grid: FLUX at 1024 px has 16 x 128 x 128 = 2^18 noise elements


@dataclass(frozen=True)
class Options:
    population: int = option(8, "coarse noises sampled and previewed per iteration", label="population", minimum=1,
                             maximum=10**6)
    elites: int = option(2, "best previews of each iteration that refit the mean and std", label="elites", minimum=1, maximum=10**6)
    preview_steps: int = option(2, "solver steps of each scored preview; the winner is rendered at the full steps",
                                 label="preview steps", minimum=1, maximum=10**6)
    grid: int = option(4, "coarse cells per side of the noise (the coarse band: channels x grid x grid coefficients)",
                        label="coarse grid", minimum=1, maximum=1024)
    channels: int = option(1, "channel groups of coarse cells; 1 = each cell spans every channel (fits any model)",
                            label="channel groups", minimum=1, maximum=1024)
    smoothing: float = option(0.7, "weight of each new fit against the previous mean and std, in (0, 1]",
                               label="smoothing", minimum=0.0, maximum=1.0, exclusive=(True, False))
    min_std: float = option(0.1, "floor of each coefficient's std, so the search never collapses to one point",
                             label="least spread", minimum=0.0, maximum=10.0)


class CEMSearch:
    Options = Options
    in_brief = ("learn from quick previews which coarse noise patterns score well, draw more like them, and "
                "fully render the best")

    def __init__(self, budget: int, costs: Costs, steps: int, seed: int = 0, options: Options = Options()):
        o = options
        if o.population < 1 or o.elites < 1 or o.preview_steps < 1 or o.grid < 1 or o.channels < 1:
            raise ValueError(f"population, elites, preview_steps, grid and channels must be at least 1, got "
                             f"population={o.population}, elites={o.elites}, preview_steps={o.preview_steps}, "
                             f"grid={o.grid}, channels={o.channels}")
        if o.elites > o.population:
            raise ValueError(f"elites ({o.elites}) cannot exceed population ({o.population})")
        if o.channels * o.grid * o.grid > MAX_COEFFICIENTS:   # before they are allocated; no noise has more elements
            raise ValueError(f"grid={o.grid} and channels={o.channels} ask for a coarse band of "
                             f"{o.channels * o.grid * o.grid} coefficients, more than any model's noise has (at most "
                             f"{MAX_COEFFICIENTS} are taken); lower grid or channels")
        if not 0.0 < o.smoothing <= 1.0 or not o.min_std >= 0.0:
            raise ValueError(f"smoothing must lie in (0, 1] and min_std be >= 0, got smoothing={o.smoothing}, "
                             f"min_std={o.min_std}")
        self.steps, self.options = steps, o
        self.preview_steps = min(o.preview_steps, steps)
        self.renders = self.preview_steps < steps          # else the previews are full renders already
        preview, render = costs.full(self.preview_steps), costs.full(steps) if self.renders else 0
        if budget < preview + render:
            raise ValueError(f"budget of {budget} NFEs is below one {self.preview_steps}-step preview ({preview} NFEs)"
                             + (f" plus the final {steps}-step render ({render} NFEs)" if render else "")
                             + f"; raise the budget to at least {preview + render} or use fewer steps")
        self.previews_left = (budget - render) // preview
        self.rng = np.random.default_rng(seed)
        size = o.channels * o.grid * o.grid
        self.mean, self.std = np.zeros(size), np.ones(size)
        self.next_id, self.round = 0, 0
        self.noises: dict[int, CoarseNoise] = {}           # each preview's noise, to render the winner
        self.rendering = False                              # the last ask was the final render
        self.previews, self.render, self.pending = BestOf(), None, Asked()

    @property
    def done(self) -> bool:
        return self.previews_left <= 0 and (not self.renders or self.render is not None)

    def ask(self) -> list[Proposal]:
        if self.previews_left > 0:
            count = min(self.options.population, self.previews_left)
            proposals = []
            for i in range(count):
                values = self.mean + self.std * self.rng.standard_normal(len(self.mean))
                noise = CoarseNoise(int(self.rng.integers(2**31)), self.options.grid, tuple(values.tolist()))
                proposals.append(Proposal(self.next_id + i, None, self.round,
                                          (noise, Integrate(1.0, 0.0, self.preview_steps))))
            self.previews_left -= count
            self.rendering = False
        else:
            winner, _ = self.previews.best
            noise = self.noises[winner]
            self.rendering = True
            proposals = [Proposal(self.next_id, winner, self.round, (noise, Integrate(1.0, 0.0, self.steps)))]
        self.next_id += len(proposals)
        self.round += 1
        return self.pending.record(proposals)

    def tell(self, proposals: list[Proposal], scores: list[float]) -> None:
        self.pending.check(proposals, scores)
        if self.rendering:
            self.render = (proposals[0].id, scores[0])
            return
        for proposal, score in zip(proposals, scores):
            self.previews.add(proposal.id, score)
            self.noises[proposal.id] = proposal.ops[0]
        order = sorted(range(len(proposals)), key=lambda i: -float(scores[i]))
        elite = np.array([proposals[i].ops[0].coefficients for i in order[: self.options.elites]])
        a = self.options.smoothing
        self.mean = (1 - a) * self.mean + a * elite.mean(0)
        self.std = np.maximum((1 - a) * self.std + a * elite.std(0), self.options.min_std)

    @property
    def best(self) -> tuple[int, float] | None:
        """The full render of the best preview; before it (or without one) the best preview."""
        if self.render is not None:
            return self.render[0], float(self.render[1])
        return self.previews.best
