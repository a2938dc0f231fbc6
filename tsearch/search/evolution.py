"""Evolutionary search over start noises (in the spirit of EvoSearch, Guo et al. 2025; see PEERS.md).

Generation 0 is `population` fresh Gaussian noises. Every later generation is `population` children of
the elites (the best `elites` candidates of the whole run so far, kept without being evaluated again:
the ODE is deterministic). Each child is, with probability `crossover`, an orthogonal mix of two
different elites (the Crossover op: cosine `cross_cos` to the first parent, its norm, turned toward
the second), else a mutation of one elite (the Neighbour op: cosine `lam`, same norm). Both keep
N(0, I): a neighbour of a Gaussian noise is Gaussian, and so is the crossover of two independent ones
(`tsearch.noise.crossover`), so children stay in the typical set. Every choice (parents, operator,
seeds) comes from this algorithm's generator and is written into the child's recipe. Generations run
until the budget is spent; the result is the best candidate of the run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tsearch.search.base import (NOISE_OPS, Asked, BestOf, Costs, Crossover, Gaussian, Integrate, Neighbour, Op,
                                 Proposal, check_budget, option)

MAX_RECIPE_OPS = 512   # a crossover nests its second parent's recipe; past this size a child is mutated instead


@dataclass(frozen=True)
class Options:
    population: int = option(8, "children evaluated per generation (generation 0: fresh noises)",
                              label="population", minimum=1, maximum=10**6)
    elites: int = option(2, "best candidates of the run so far that parent the next generation", label="elites",
                          minimum=1, maximum=10**6)
    lam: float = option(0.9, "mutation: cosine similarity of a child to its parent, in (0, 1)",
                         label="mutation similarity (λ)", minimum=0.0, maximum=1.0, exclusive=(True, True))
    crossover: float = option(0.25, "probability that a child is a crossover of two elites rather than a mutation",
                               label="crossover probability", minimum=0.0, maximum=1.0)
    cross_cos: float = option(0.7071, "crossover: cosine of the child to its first parent, in (0, 1); 0.7071 = halfway",
                               label="crossover similarity", minimum=0.0, maximum=1.0, exclusive=(True, True))


def noise_ops(proposal: Proposal) -> tuple[Op, ...]:
    return tuple(op for op in proposal.ops if isinstance(op, NOISE_OPS))


def recipe_size(ops) -> int:
    """Ops in a noise recipe, counting the ones nested in crossovers."""
    return sum(1 + (recipe_size(op.other) if isinstance(op, Crossover) else 0) for op in ops)


class EvolutionSearch:
    Options = Options
    in_brief = "breed new noises from the best found so far, by small changes and by mixing two of them"
    anytime = True   # first k candidates = a k-candidate search (base.is_anytime)

    def __init__(self, budget: int, costs: Costs, steps: int, seed: int = 0, options: Options = Options()):
        o = options
        if o.population < 1 or o.elites < 1:
            raise ValueError(f"population and elites must be at least 1, got population={o.population}, "
                             f"elites={o.elites}")
        if o.elites > o.population:   # refused, never clamped (issue 21), as cem does
            raise ValueError(f"elites ({o.elites}) cannot exceed population ({o.population}); lower elites or raise "
                             f"population")
        if not 0.0 < o.lam < 1.0 or not 0.0 < o.cross_cos < 1.0:
            raise ValueError(f"lam and cross_cos are cosines and must lie in (0, 1), got lam={o.lam}, "
                             f"cross_cos={o.cross_cos}")
        if not 0.0 <= o.crossover <= 1.0:
            raise ValueError(f"crossover is a probability in [0, 1], got {o.crossover}")
        self.cost = check_budget(budget, costs.full(steps), steps)
        self.left = budget // self.cost
        self.steps, self.options = steps, o
        self.rng = np.random.default_rng(seed)
        self.next_id, self.round = 0, 0
        self.scored: list[tuple[object, Proposal]] = []   # (score, proposal) of every candidate
        self.results, self.pending = BestOf(), Asked()

    @property
    def done(self) -> bool:
        return self.left <= 0

    def _seed(self) -> int:
        return int(self.rng.integers(2**31))

    def elite(self) -> list[Proposal]:
        """The best `elites` candidates so far (scores read now: live ranks may have moved); ties: earlier."""
        order = sorted(range(len(self.scored)), key=lambda i: -float(self.scored[i][0]))
        return [self.scored[i][1] for i in order[: self.options.elites]]

    def _child(self, parents: list[Proposal]) -> tuple[tuple[Op, ...], int]:
        o = self.options
        a = parents[int(self.rng.integers(len(parents)))]
        a_noise = noise_ops(a)
        if len(parents) > 1 and self.rng.random() < o.crossover:
            others = [p for p in parents if noise_ops(p) != a_noise]
            if others:
                b_noise = noise_ops(others[int(self.rng.integers(len(others)))])
                if recipe_size(a_noise) + recipe_size(b_noise) + 1 <= MAX_RECIPE_OPS:
                    return a_noise + (Crossover(o.cross_cos, b_noise),), a.id
        return a_noise + (Neighbour(self._seed(), o.lam),), a.id

    def ask(self) -> list[Proposal]:
        count = min(self.options.population, self.left)
        parents = self.elite()
        proposals = []
        for _ in range(count):
            if parents:
                noise, parent = self._child(parents)
            else:
                noise, parent = (Gaussian(self._seed()),), None
            proposals.append(Proposal(self.next_id, parent, self.round, noise + (Integrate(1.0, 0.0, self.steps),)))
            self.next_id += 1
        self.left -= count
        self.round += 1
        return self.pending.record(proposals)

    def tell(self, proposals: list[Proposal], scores: list[float]) -> None:
        self.pending.check(proposals, scores)
        for proposal, score in zip(proposals, scores):
            self.results.add(proposal.id, score)
            self.scored.append((score, proposal))

    @property
    def best(self) -> tuple[int, float] | None:
        return self.results.best
