"""Tree search over the denoising steps, in the manner of DTS* (Jain et al., "Diffusion Tree Sampling:
Scalable inference-time alignment of diffusion models", NeurIPS 2025).

What is implemented, in recipe ops: the step grid is cut into `levels` segments (as smc's); a node at
depth 0 is a start noise (a Gaussian seed), a node at depth d is the state after segment d-1's stochastic
move (integrate past the segment's end, re-noise back with its own seed: smc's transition), and the last
segment integrates to t = 0 without noise, so a node at depth levels-1 ends in one finished sample. Each
candidate is one DTS iteration:
- selection: from the root, descend by a UCB-like rule over children, value + c * spread *
  sqrt(ln N / n) (DTS*'s greedy search variant; `spread` is the range of rewards seen so far, which makes
  c free of the verifier's scale);
- expansion: at the first node with fewer than `branch` children (always at the last branching level),
  add a child with a fresh seed;
- rollout: continue to t = 0 with fresh seeds, adding each state of the rollout to the tree;
- backup: the finished sample's reward is the leaf's value; each ancestor's soft value is the soft
  Bellman backup over its children, v = (1/lam) log mean_children exp(lam v_child) (lam = 0: the mean).
Unlike DTS, which caches the tree's states, every candidate is a full recipe from noise: it re-integrates
its shared prefix, so a candidate costs exactly one stochastic trajectory's NFEs (no saving from reuse;
the engine keeps only the last round's states). `per_round` candidates are chosen per round with virtual
visits (counted at ask, valued at tell). Nothing depends on the budget, so the first k candidates are a
k-candidate search (anytime); the result is the best finished sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tsearch.search.base import Asked, BestOf, Costs, Gaussian, Integrate, Proposal, Renoise, check_budget, option
from tsearch.search.smc import _segments


@dataclass(frozen=True)
class Options:
    branch: int = option(4, "children a node gets before selection descends past it (the root: start noises)",
                         label="children per node", minimum=1, maximum=10**6)
    levels: int = option(0, "segments of the trajectory, nodes branching at the end of each but the last "
                            "(at most steps; 0 = 4, or steps when fewer)",
                         label="tree levels", minimum=0, maximum=10**6)
    churn: float = option(0.5, "how far past each segment's end to integrate before re-noising back, in segments",
                          label="overshoot (churn)", minimum=0.0, maximum=1.0)
    lam: float = option(10.0, "soft-value temperature: v = log mean exp(lam v_child) / lam; 0 = the mean",
                        label="soft-value temperature (λ)", minimum=0.0, maximum=1000.0)
    c: float = option(1.0, "exploration weight of the UCB bonus, in units of the reward range seen so far",
                      label="exploration weight (c)", minimum=0.0, maximum=1000.0)
    per_round: int = option(4, "candidates chosen per round (virtual visits keep them apart)",
                            label="candidates per round", minimum=1, maximum=10**6)


@dataclass(eq=False)
class _Node:
    seed: int
    depth: int
    parent: "_Node | None"
    children: list = field(default_factory=list)
    visits: int = 0
    value: float | None = None


class TreeSearch:
    Options = Options
    in_brief = "grow a tree of partly denoised images, spending more tries on the branches that have scored well"
    anytime = True   # first k candidates = a k-candidate search (base.is_anytime)

    def __init__(self, budget: int, costs: Costs, steps: int, seed: int = 0, options: Options = Options()):
        o = options
        if o.branch < 1 or o.levels < 0 or o.per_round < 1:
            raise ValueError(f"branch and per_round must be at least 1 and levels at least 0 (0 = the default), got "
                             f"branch={o.branch}, levels={o.levels}, per_round={o.per_round}")
        if o.levels > steps:
            raise ValueError(f"levels ({o.levels}) cannot exceed steps ({steps}): each segment is at least one step; "
                             f"set levels to at most {steps} (or 0 for the default)")
        if not 0.0 < o.churn <= 1.0 or not o.lam >= 0.0 or not o.c >= 0.0:
            raise ValueError(f"need churn in (0, 1] (0 would make every child the same state), lam >= 0 and "
                             f"c >= 0; got churn={o.churn}, lam={o.lam}, c={o.c}")
        self.options = o
        self.segments = _segments(steps, o.levels or min(4, steps), o.churn)
        self.depth = len(self.segments) - 1   # depth of the nodes whose move ends the sample
        self.cost = check_budget(budget, costs.of(Proposal(0, None, 0, self._ops([0] * len(self.segments)))), steps)
        self.left = budget // self.cost
        self.rng = np.random.default_rng(seed)
        self.root = _Node(-1, -1, None)
        self.next_id, self.round = 0, 0
        self.paths: dict[int, list[_Node]] = {}
        self.low, self.high = math.inf, -math.inf   # the range of finite rewards seen
        self.results, self.pending = BestOf(), Asked()

    @property
    def done(self) -> bool:
        return self.left <= 0

    def _ops(self, seeds: list[int]) -> tuple:
        """A path's recipe: its start noise, then each segment's move with its node's re-noising seed."""
        ops: tuple = (Gaussian(seeds[0]),)
        for j, (t_a, t_low, t_b, n) in enumerate(self.segments):
            ops += (Integrate(t_a, t_low, n),)
            if j < self.depth and t_low < t_b:
                ops += (Renoise(t_low, t_b, seeds[j + 1]),)
        return ops

    def _child(self, node: _Node) -> _Node:
        child = _Node(int(self.rng.integers(2**31)), node.depth + 1, node)
        node.children.append(child)
        return child

    def _ucb(self, node: _Node, child: _Node) -> float:
        if child.value is None:
            return -math.inf
        spread = self.high - self.low if self.high > self.low else 1.0
        return child.value + self.options.c * spread * math.sqrt(math.log(max(node.visits, 1)) / max(child.visits, 1))

    def _select(self) -> list[_Node]:
        """Descend by UCB to the first node that expands, then roll out to the last depth."""
        node, path = self.root, []
        while node.depth < self.depth:
            if len(node.children) < self.options.branch or node.depth == self.depth - 1:
                node = self._child(node)
                path.append(node)
                while node.depth < self.depth:   # rollout: each state joins the tree
                    node = self._child(node)
                    path.append(node)
                break
            scores = [self._ucb(node, c) for c in node.children]
            node = node.children[int(np.argmax(scores))] if max(scores) > -math.inf else \
                min(node.children, key=lambda c: c.visits)
            path.append(node)
        return path

    def ask(self) -> list[Proposal]:
        proposals = []
        for _ in range(min(self.options.per_round, self.left)):
            path = self._select()
            for node in [self.root, *path]:
                node.visits += 1   # a virtual visit until its reward is told
            proposals.append(Proposal(self.next_id, None, self.round, self._ops([n.seed for n in path])))
            self.paths[self.next_id] = path
            self.next_id += 1
        self.left -= len(proposals)
        self.round += 1
        return self.pending.record(proposals)

    def tell(self, proposals: list[Proposal], scores: list[float]) -> None:
        self.pending.check(proposals, scores)
        for proposal, score in zip(proposals, scores):
            self.results.add(proposal.id, score)
            reward = float(score)
            if math.isfinite(reward):
                self.low, self.high = min(self.low, reward), max(self.high, reward)
            path = self.paths.pop(proposal.id)
            path[-1].value = reward
            for node in reversed(path[:-1]):
                node.value = self._soft([c.value for c in node.children if c.value is not None])

    def _soft(self, values: list[float]) -> float:
        """The soft Bellman backup over children: log mean exp(lam v) / lam (the mean at lam = 0)."""
        v = np.asarray(values, dtype=float)
        if self.options.lam == 0.0 or not np.isfinite(v).any():
            return float(v.mean())
        top = v[np.isfinite(v)].max()
        return float(top + np.log(np.mean(np.exp(self.options.lam * (v - top)))) / self.options.lam)

    @property
    def best(self) -> tuple[int, float] | None:
        return self.results.best
