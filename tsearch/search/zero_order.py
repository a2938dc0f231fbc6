"""Zero-order search (ZO-N; Ma et al. 2025): neighbours of a pivot noise at a fixed cosine, same norm.

Each round evaluates N neighbours y = |n| (lam u + sqrt(1-lam^2) w) of the pivot n; the best one
becomes the pivot if it beats it. When no neighbour improves, `on_stall` decides: "keep" the pivot
(fresh neighbours next round) or "restart" from a fresh Gaussian noise (the first author's later fix).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tsearch.search.base import Asked, BestOf, Costs, Gaussian, Integrate, Neighbour, Op, Proposal, check_budget, option

STALL_POLICIES = ("keep", "restart")


@dataclass(frozen=True)
class Options:
    n: int = option(4, "neighbours per round (N = 4 is already good on ImageNet)", label="neighbours per round (N)",
                     minimum=1, maximum=10**6)
    lam: float = option(0.95, "cosine similarity of each neighbour to the pivot, in (0, 1)",
                         label="neighbour similarity (λ)", minimum=0.0, maximum=1.0, exclusive=(True, True))
    rounds: int = option(0, "K rounds of neighbours; 0 = as many as the budget buys", label="rounds (K)", minimum=0,
                         maximum=10**9)
    on_stall: str = option("restart", "when no neighbour beats the pivot: keep it, or restart from a fresh noise",
                           choices=STALL_POLICIES, label="when no neighbour is better")


class ZeroOrderSearch:
    Options = Options
    in_brief = ("start from one noise, try a few similar noises around it each round, and move to any that "
                "scores better")
    anytime = True   # first k candidates = a k-candidate search (base.is_anytime)

    def __init__(self, budget: int, costs: Costs, steps: int, seed: int = 0, options: Options = Options()):
        if options.n < 1:
            raise ValueError(f"n (neighbours per round) must be at least 1, got {options.n}")
        if not 0.0 < options.lam < 1.0:
            raise ValueError(f"lam is the cosine between a neighbour and its pivot and must lie in (0, 1), got {options.lam}")
        if options.on_stall not in STALL_POLICIES:
            raise ValueError(f"on_stall must be one of {STALL_POLICIES}, got {options.on_stall!r}")
        if options.rounds < 0:
            raise ValueError(f"rounds must be >= 0 (0 = until the budget is spent), got {options.rounds}")
        self.cost = check_budget(budget, costs.full(steps), steps)
        self.left = budget // self.cost   # candidates the budget still buys
        self.steps, self.options = steps, options
        self.rng = np.random.default_rng(seed)
        self.next_id, self.round = 0, 0
        self.pivot: tuple[int, tuple[Op, ...], float | None] | None = None  # (id, noise ops, score)
        self.results, self.pending = BestOf(), Asked()

    @property
    def done(self) -> bool:
        rounds_over = self.options.rounds and self.round >= self.options.rounds
        return self.left <= 0 or bool(rounds_over)

    def _proposal(self, noise_ops: tuple[Op, ...], parent: int | None) -> Proposal:
        proposal = Proposal(self.next_id, parent, self.round, noise_ops + (Integrate(1.0, 0.0, self.steps),))
        self.next_id += 1
        self.left -= 1
        return proposal

    def _seed(self) -> int:
        return int(self.rng.integers(2**31))

    def ask(self) -> list[Proposal]:
        proposals = []
        if self.pivot is None:  # first round, or a restart: the fresh pivot is evaluated with its neighbours
            first = self._proposal((Gaussian(self._seed()),), None)
            self.pivot = (first.id, noise_ops(first), None)
            proposals.append(first)
        pivot_id, pivot_ops, _ = self.pivot
        for _ in range(min(self.options.n, self.left)):
            proposals.append(self._proposal(pivot_ops + (Neighbour(self._seed(), self.options.lam),), pivot_id))
        self.round += 1
        return self.pending.record(proposals)

    @property
    def best(self) -> tuple[int, float] | None:
        return self.results.best

    def tell(self, proposals: list[Proposal], scores: list[float]) -> None:
        """The pivot's and the neighbours' scores are compared on one snapshot (live ensemble ranks included)."""
        self.pending.check(proposals, scores)
        pivot_id, pivot_ops, pivot_score = self.pivot
        for proposal, score in zip(proposals, scores):
            self.results.add(proposal.id, score)
            if proposal.id == pivot_id:
                pivot_score = score
        neighbours = [(s, p) for p, s in zip(proposals, scores) if p.id != pivot_id]
        if not neighbours:
            self.pivot = (pivot_id, pivot_ops, pivot_score)
            return
        score, winner = max(neighbours, key=lambda pair: pair[0])
        if pivot_score is None or score > pivot_score:
            self.pivot = (winner.id, noise_ops(winner), score)
        elif self.options.on_stall == "restart":
            self.pivot = None
        else:
            self.pivot = (pivot_id, pivot_ops, pivot_score)


def noise_ops(proposal: Proposal) -> tuple[Op, ...]:
    return tuple(op for op in proposal.ops if isinstance(op, (Gaussian, Neighbour)))
