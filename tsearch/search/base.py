"""What search algorithms exchange with the engine: recipes of ops, proposals, and compute costs.

An algorithm never touches a tensor. It proposes *recipes*: tuples of ops that the engine executes
(draw noise, rotate it to a neighbour, integrate an interval of normalised time, re-noise up).
Normalised time t runs from 1 (pure noise) to 0 (data); each model maps t to its own sigma.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Protocol, Sequence, Union, runtime_checkable

from tsearch.sampling import solver_nfes


@dataclass(frozen=True)
class Gaussian:
    """Draw the start noise from N(0, I) with this seed (the state at t = 1)."""
    seed: int


@dataclass(frozen=True)
class Neighbour:
    """Replace the current noise by a neighbour at cosine `cos`, same norm (zero-order search)."""
    seed: int
    cos: float


@dataclass(frozen=True)
class Integrate:
    """Integrate the probability-flow ODE from t_from down to t_to in `steps` solver steps.

    `unpadded`: the network ran on this one sample alone, without the padding of a model that pads every call
    to a fixed micro-batch (`tsearch.models.invariant`); other bits than a padded call, so a replay must run it
    the same way. The engine sets it on a watched search's first candidate only (`engine.run(first_alone=True)`).
    """
    t_from: float
    t_to: float
    steps: int
    unpadded: bool = False


@dataclass(frozen=True)
class Renoise:
    """Run the forward process from t_from up to t_to with fresh noise of this seed (search over paths)."""
    t_from: float
    t_to: float
    seed: int


@dataclass(frozen=True)
class Crossover:
    """Mix the current noise a with the noise b that the ops `other` describe, keeping a's norm (evolution).

    y = |a| (cos u + sqrt(1 - cos^2) w), u = a/|a|, w the unit direction of b's part orthogonal to a:
    for independent a, b ~ N(0, I) this is again exactly N(0, I) (`tsearch.noise.crossover`).
    """
    cos: float
    other: tuple  # noise ops (Gaussian first) that regenerate parent b's noise; nested ops serialise recursively


@dataclass(frozen=True)
class CoarseNoise:
    """Start noise whose coarse band is given and whose fine band is fresh N(0, I) of this seed (cem).

    The coarse band is `grid` x `grid` spatial cells per channel group; `coefficients` (groups * grid * grid
    floats) are the noise's coordinates on the orthonormal cell-average basis (`tsearch.noise.coarse_noise`).
    """
    seed: int
    grid: int
    coefficients: tuple  # floats; N(0, 1) each gives exactly N(0, I) noise


Op = Union[Gaussian, Neighbour, Integrate, Renoise, Crossover, CoarseNoise]
_OPS = {cls.__name__.lower(): cls for cls in (Gaussian, Neighbour, Integrate, Renoise, Crossover, CoarseNoise)}
NOISE_OPS = (Gaussian, Neighbour, Crossover, CoarseNoise)   # ops that build the start noise at t = 1
START_OPS = (Gaussian, CoarseNoise)                         # noise ops that begin from nothing


def op_to_dict(op: Op) -> dict:
    if isinstance(op, Crossover):
        return {"op": "crossover", "cos": op.cos, "other": [op_to_dict(o) for o in op.other]}
    if isinstance(op, CoarseNoise):
        return {"op": "coarsenoise", "seed": op.seed, "grid": op.grid, "coefficients": list(op.coefficients)}
    row = {"op": type(op).__name__.lower(), **asdict(op)}
    if isinstance(op, Integrate) and not op.unpadded:
        del row["unpadded"]   # written only where set: every other recipe reads as it always did
    return row


def op_from_dict(data: dict) -> Op:
    fields = dict(data)
    kind = fields.pop("op")
    if kind not in _OPS:
        raise ValueError(f"unknown recipe op {kind!r}; known: {sorted(_OPS)}")
    if kind == "crossover":
        other = fields.get("other")
        if not isinstance(other, (list, tuple)) or not other or not all(isinstance(o, Mapping) for o in other):
            raise ValueError("a crossover op's `other` is a non-empty list of noise ops")
        fields["other"] = tuple(op_from_dict(o) for o in other)
        if not isinstance(fields["other"][0], START_OPS) or not all(isinstance(o, NOISE_OPS) for o in fields["other"]):
            raise ValueError("a crossover op's `other` must be noise ops that begin with a gaussian or coarsenoise op")
    elif kind == "coarsenoise":
        values = fields.get("coefficients")
        if not isinstance(values, (list, tuple)) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise ValueError("a coarsenoise op's `coefficients` is a list of numbers")
        fields["coefficients"] = tuple(float(v) for v in values)
    elif kind == "integrate" and not isinstance(fields.get("unpadded", False), bool):
        raise ValueError("an integrate op's `unpadded` is true or false")
    return _OPS[kind](**fields)


def t_end(ops) -> float:
    """Normalised time where a recipe's state ends: the last interval's end, 1.0 for pure noise."""
    t = 1.0
    for op in ops:
        if isinstance(op, (Integrate, Renoise)):
            t = op.t_to
    return t


@dataclass(frozen=True)
class Proposal:
    """One candidate to evaluate.

    `start` is None when `ops` begin from nothing (a Gaussian op first), or the id of a candidate
    scored in the previous round whose end state the ops continue from (search over paths).
    """
    id: int
    parent: int | None
    round: int
    ops: tuple[Op, ...]
    start: int | None = None

    @property
    def t_end(self) -> float:
        """Normalised time where this candidate's state ends (1.0 if it never integrates)."""
        return t_end(self.ops)


@dataclass(frozen=True)
class Costs:
    """Exact NFEs of a proposal: one NFE is one denoiser forward pass over one sample.

    `nfe_per_eval` is 2 for two-pass classifier-free guidance, else 1. A candidate whose state ends
    above t = 0 is scored on its one-step clean estimate, which costs one more evaluation.
    """
    solver: str = "euler"
    nfe_per_eval: int = 1

    def integrate(self, steps: int, ends_at_zero: bool = True) -> int:
        return solver_nfes(self.solver, steps, ends_at_zero) * self.nfe_per_eval

    def of(self, proposal: Proposal) -> int:
        total = 0
        for op in proposal.ops:
            if isinstance(op, Integrate):
                total += self.integrate(op.steps, op.t_to == 0.0)
        if proposal.t_end > 0.0:
            total += self.nfe_per_eval
        return total

    def full(self, steps: int) -> int:
        """A candidate denoised from noise to data in `steps` steps."""
        return self.integrate(steps, True)


def check_budget(budget: int, cost: int, steps: int) -> int:
    """ValueError unless the budget buys at least one candidate; returns that candidate's cost."""
    if budget < cost:
        raise ValueError(
            f"budget of {budget} NFEs is below one candidate's cost of {cost} NFEs ({steps} steps); "
            f"raise the budget to at least {cost} or use fewer steps"
        )
    return cost


# --- the algorithm contract ---------------------------------------------------------------------

@runtime_checkable
class Algorithm(Protocol):
    """What the engine needs of a search algorithm (ask/tell, like CMA-ES libraries).

    Built as `Algorithm(budget, costs, steps, seed, options)` with its own `Options` dataclass.
    - `ask()` proposes the next round; every proposal's NFEs fit the budget left.
    - `tell(proposals, scores)` gives back exactly the last `ask`'s proposals with one score each
      (higher is better); scores may be live ensemble ranks, compared at the moment they are read.
    - `done` says the budget or the planned rounds are spent.
    - `best` is (id, score) of the candidate this algorithm returns, by its own rule (best over the
      run, best finished sample, or the latest for the steps baseline), None before there is one.
    An algorithm may declare the class attribute `anytime = True` (see `is_anytime`), and `best_is_latest = True`
    when its best is its latest sample (the engine's rule for a round a Stop cut; otherwise the best by score).
    It may declare `in_brief`: one plain sentence for newcomers, with no symbols (the app shows it).
    """

    def ask(self) -> list[Proposal]: ...

    def tell(self, proposals: Sequence[Proposal], scores: Sequence[float]) -> None: ...

    @property
    def done(self) -> bool: ...

    @property
    def best(self) -> tuple[int, float] | None: ...


def is_anytime(algorithm) -> bool:
    """Whether an algorithm (class or instance) declares `anytime = True`.

    It promises: with the same seed, a run given budget b proposes exactly the first candidates of a run
    given any larger budget B, up to b NFEs, and its `best` is the best finished candidate (t = 0) among
    them (ties: the earliest). So every budget up to B is read off one run's candidates.jsonl, from each
    candidate's cumulative NFEs (`tsearch.arena.curves`); tests/test_arena_anytime.py checks the promise.
    """
    return bool(getattr(algorithm, "anytime", False))


class Asked:
    """The proposals of the last `ask`, so that `tell` can check it received exactly those."""

    def __init__(self):
        self.pending: tuple[int, ...] | None = None

    def record(self, proposals: list[Proposal]) -> list[Proposal]:
        self.pending = tuple(p.id for p in proposals)
        return proposals

    def check(self, proposals: Sequence[Proposal], scores: Sequence) -> None:
        ids = tuple(p.id for p in proposals)
        if self.pending is None:
            raise ValueError("tell() before ask(): tell an algorithm the scores of the proposals it asked for")
        if ids != self.pending:
            raise ValueError(f"tell() got proposals {list(ids)[:8]}... but the last ask() proposed "
                             f"{list(self.pending)[:8]}...: tell each round's proposals, in order, once")
        if len(scores) != len(ids):
            raise ValueError(f"tell() got {len(scores)} scores for {len(ids)} proposals")
        self.pending = None


class BestOf:
    """The best of the candidates added so far, chosen when `best` is read.

    Comparing at read time keeps "best" right for live ensemble ranks, whose order can change as the
    pool grows; ties go to the earliest candidate.
    """

    def __init__(self):
        self.entries: list[tuple[int, object]] = []

    def add(self, candidate_id: int, score) -> None:
        self.entries.append((candidate_id, score))

    @property
    def best(self) -> tuple[int, float] | None:
        if not self.entries:
            return None
        top_id, top = self.entries[0]
        for candidate_id, score in self.entries[1:]:
            if score > top:
                top_id, top = candidate_id, score
        return top_id, float(top)


def option(default, help: str, choices: tuple[str, ...] = (), *, label: str = "", minimum=None, maximum=None,
           exclusive: tuple[bool, bool] = (False, False)):
    """An algorithm option: its default, one line of help, for a string the values it takes, and for a number its
    range (`exclusive`: whether the minimum, the maximum is left out). The same record as `tsearch.options.Setting`."""
    setting = dict(kind=type(default), help=help, label=label, group="algorithm", minimum=minimum, maximum=maximum,
                   exclusive=tuple(exclusive), choices=tuple(choices), optional=False)
    return field(default=default, metadata={"help": help, "choices": tuple(choices), "setting": setting})
