"""Sequential Monte Carlo with Feynman-Kac steering (FK steering; Singhal et al., ICML 2025).

k particles start from Gaussian noises and move down `intervals` segments of the step grid. Each
move is stochastic, written in recipe ops: integrate the ODE from the segment's top t_a *past* its end
t_b, to t_low = t_b - churn (t_a - t_b), then re-noise up from t_low to t_b with fresh seeded noise
(the forward process, so with an exact ODE a particle at t_b keeps the model's marginal; churn = 0 is
the plain ODE, and resampled copies then stay identical). At t_b every particle is scored on its
one-step clean estimate (one NFE, the engine's rule above t = 0) and weighted by its potential
G = exp(lam * phi), as in FK steering:
  "max"        phi = the largest reward along the particle's ancestry so far,
  "sum"        phi = the sum of those rewards,
  "difference" phi = this reward minus the ancestor's previous one (0 before the first).
As in the authors' reference code the weights are the current potentials (not multiplied up between
resamplings). When the effective sample size 1/sum(w^2) (w normalised) falls below `ess * k`, the
particles are resampled (by default systematic resampling: k evenly spaced points through the weights'
CDF, one uniform draw from this algorithm's generator) and each copy continues from its ancestor's state (Proposal.start = parent
= the ancestor). The last segment integrates to t = 0 without noise, so the
final particles are real samples; the result is the best finished sample of the run. k = 0 runs one
population of as many particles as the budget buys; otherwise populations of k run while it lasts.

Schedules (issue 19). The defaults were measured on the hard split (48 captions, 320 NFEs, one change at
a time; see docs/bench/smc_hard.md) and kept: no variant was better with
a paired 95% interval excluding 0. Residual resampling looked best (+4.2 points, 4 captions won and 2
lost, interval [-6.2, +14.6]), but the default itself moved by as much between two code versions whose
bf16 numerics differ (72.9% against 68.8% on the same 48 searches), so that is within smc's own noise;
final_particles 0.5: +0.0, 6/6; early 1: +2.1, 5/4; mean and logmeanexp: the same accuracy.
- `final_particles` < 1 shrinks the population linearly over the segments, to that fraction of k at the
  last one (2508.12361: fewer particles late, where they have mostly agreed); a shrinking step always
  resamples, drawing the smaller population from the weights. The budget pays the shrunk population.
- `early` > 0 down-weights early potentials: at the j-th of J checks the temperature is
  lam * (j / J) ** early (2508.12361's tempering of early, unreliable rewards).
- potentials "mean" (the mean of the rewards along the ancestry: the mean of the log-potentials) and
  "logmeanexp" (the log of the mean potential: log mean exp(lam r) / lam), beside max, sum and difference.
- `resample`: systematic (the default), residual, multinomial or stratified
  (Douc & Cappe 2005).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tsearch.search.base import Asked, BestOf, Costs, Gaussian, Integrate, Proposal, Renoise, option
from tsearch.search.resampling import resample

POTENTIALS = ("max", "sum", "difference", "mean", "logmeanexp")
RESAMPLING = ("systematic", "multinomial", "stratified", "residual")


@dataclass(frozen=True)
class Options:
    k: int = option(0, "particles; 0 = as many as the budget buys, in one population", label="particles (k)",
                     minimum=0, maximum=10**6)
    intervals: int = option(0, "segments of the trajectory, each ending in a resampling check (at most steps); "
                               "0 = 4, or steps when fewer", label="resampling segments", minimum=0,
                             maximum=10**6)
    potential: str = option("max", "how rewards along a trajectory become its potential", choices=POTENTIALS,
                             label="potential")
    lam: float = option(10.0, "potential temperature lambda: G = exp(lam * phi); 0 = no steering",
                         label="steering strength (λ)", minimum=0.0, maximum=1000.0)
    ess: float = option(0.5, "resample when the effective sample size falls below this fraction of k",
                         label="resampling threshold (ESS)", minimum=0.0, maximum=1.0)
    churn: float = option(0.5, "how far past each segment's end to integrate before re-noising back, in segments",
                           label="overshoot (churn)", minimum=0.0, maximum=1.0)
    final_particles: float = option(1.0, "particles at the last segment as a fraction of k (linear shrink; 1 = none)",
                                    label="particles left at the end (fraction)", minimum=0.0, maximum=1.0,
                                    exclusive=(True, False))
    early: float = option(0.0, "down-weight early potentials: lam at check j of J is lam * (j/J)**early; 0 = none",
                          label="early down-weighting (exponent)", minimum=0.0, maximum=100.0)
    resample: str = option("systematic", "resampling scheme (systematic: kept after measuring the others on "
                                         "the hard split)", choices=RESAMPLING, label="resampling scheme")


def systematic_resample(weights, u: float) -> np.ndarray:
    """Ancestor indices by systematic resampling: k points (u + i)/k through the weights' CDF.

    Each index i is drawn k w_i times in expectation (floor or ceil of it), from one uniform u in [0, 1).
    """
    w = np.asarray(weights, dtype=float)
    cdf = np.cumsum(w / w.sum())
    points = (u + np.arange(len(w))) / len(w)
    return np.minimum(np.searchsorted(cdf, points, side="right"), len(w) - 1)


@dataclass(frozen=True)
class _Particle:
    id: int            # the candidate whose end state this particle continues from
    last: float        # its latest reward (for "difference")
    top: float         # the largest reward along its ancestry ("max")
    total: float       # their sum ("sum")
    count: int = 1     # rewards along its ancestry ("mean")
    lse: float = 0.0   # log sum exp(lam r) over them ("logmeanexp")


class SMCSearch:
    Options = Options
    in_brief = ("denoise a population of images together, copying the promising ones and dropping the weak "
                "ones at checkpoints along the way")

    def __init__(self, budget: int, costs: Costs, steps: int, seed: int = 0, options: Options = Options()):
        o = options
        if o.k < 0 or o.intervals < 0:
            raise ValueError(f"k must be >= 0 (0 = as many as the budget buys) and intervals >= 0 (0 = 4, or steps "
                             f"when fewer), got k={o.k}, intervals={o.intervals}")
        if o.potential not in POTENTIALS:
            raise ValueError(f"potential must be one of {', '.join(POTENTIALS)}, got {o.potential!r}")
        if not o.lam >= 0.0 or not 0.0 <= o.ess <= 1.0 or not 0.0 <= o.churn <= 1.0:
            raise ValueError(f"need lam >= 0, ess in [0, 1] and churn in [0, 1]; got lam={o.lam}, ess={o.ess}, "
                             f"churn={o.churn}")
        self.costs, self.options = costs, o
        self.segments = _segments(steps, _intervals(o.intervals, steps), o.churn)
        if len(self.segments) < 2:   # one segment: no particle is ever weighed or resampled (random search, worse)
            raise ValueError(f"smc needs at least two segments to steer, each ending in a resampling check; "
                             f"steps={steps} with intervals={o.intervals} gives one; use steps >= 2 (and intervals "
                             f"0 or >= 2), or algorithm 'random' for independent samples")
        self.particle_cost = sum(costs.of(Proposal(0, None, 0, self._ops(j, lambda: 0)))
                                 for j in range(len(self.segments)))
        _check_population(o.k, budget, self.particle_cost)
        if budget < self.particle_cost:
            raise ValueError(f"budget of {budget} NFEs is below one particle's cost of {self.particle_cost} NFEs "
                             f"({steps} steps in {len(self.segments)} segments, a clean estimate scored after each "
                             f"but the last); raise the budget to at least {self.particle_cost} or use fewer steps")
        _check_schedule(o)
        self.stage_costs = [costs.of(Proposal(0, None, 0, self._ops(j, lambda: 0))) for j in range(len(self.segments))]
        self.sizes: list[int] = []   # particles at each segment of the running population
        self.left = budget
        self.rng = np.random.default_rng(seed)
        self.next_id, self.round, self.stage = 0, 0, 0
        self.particles: list[_Particle] | None = None   # None: the next ask starts a new population
        self.resamplings = 0
        self.finished, self.pending = BestOf(), Asked()

    def _ops(self, j: int, seed) -> tuple:
        """Segment j's ops; `seed()` gives each random choice (the start noise, the re-noising)."""
        t_a, t_low, t_b, n = self.segments[j]
        ops = (Gaussian(seed()),) if j == 0 else ()
        ops += (Integrate(t_a, t_low, n),)
        if t_low < t_b:
            ops += (Renoise(t_low, t_b, seed()),)
        return ops

    def _size(self) -> int:
        """Particles of the next population: k, or fewer when the budget left buys fewer."""
        buys = self.left // self.particle_cost
        if self.options.final_particles < 1.0:   # a shrinking population costs less per starting particle
            lo, hi = buys, self.left // self.stage_costs[0] + 1   # cost(lo) <= left < cost(hi); cost grows with k
            while hi - lo > 1:   # bisection: a loop down from the most would take ~budget steps
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if self._cost(mid) <= self.left else (lo, mid)
            buys = lo
        return buys if self.options.k == 0 else min(self.options.k, buys)

    def _sizes(self, k: int) -> list[int]:
        """Particles at each segment of a population that starts with k: linear down to final_particles * k."""
        last, f = len(self.segments) - 1, self.options.final_particles
        return [k if last == 0 else max(1, round(k * (1.0 - (1.0 - f) * j / last))) for j in range(last + 1)]

    def _cost(self, k: int) -> int:
        return sum(n * c for n, c in zip(self._sizes(k), self.stage_costs))

    @property
    def done(self) -> bool:
        return self.particles is None and self._size() == 0

    def _seed(self) -> int:
        return int(self.rng.integers(2**31))

    def ask(self) -> list[Proposal]:
        if self.particles is None:
            self.particles = [None] * self._size()
            self.sizes = self._sizes(len(self.particles))
            self.left -= self._cost(len(self.particles))   # a population is paid for when it starts
            self.stage = 0
        proposals = []
        for particle in self.particles:
            ops = self._ops(self.stage, self._seed)
            start = None if particle is None else particle.id
            proposals.append(Proposal(self.next_id, start, self.round, ops, start))
            self.next_id += 1
        self.round += 1
        return self.pending.record(proposals)

    @property
    def best(self) -> tuple[int, float] | None:
        """The best finished sample (clean estimates of noisy particles never count)."""
        return self.finished.best

    def tell(self, proposals: list[Proposal], scores: list[float]) -> None:
        self.pending.check(proposals, scores)
        if self.stage == len(self.segments) - 1:
            for proposal, score in zip(proposals, scores):
                self.finished.add(proposal.id, score)
            self.particles = None
            return
        o = self.options
        lam = o.lam * ((self.stage + 1) / (len(self.segments) - 1)) ** o.early if o.early else o.lam
        moved, phi = [], []
        for proposal, score, before in zip(proposals, scores, self.particles):
            moved.append(_extend(proposal.id, float(score), before, o.lam))
            phi.append(_phi(moved[-1], before, o.potential, o.lam))
        weights = potentials(np.array(phi), lam)
        size = self.sizes[self.stage + 1]
        if size < len(moved) or 1.0 / float(np.sum(weights**2)) < o.ess * len(moved):
            moved = [moved[i] for i in resample(weights, o.resample, self.rng, size)]
            self.resamplings += 1
        self.particles = moved
        self.stage += 1


def _check_schedule(o: Options) -> None:
    if not 0.0 < o.final_particles <= 1.0 or not o.early >= 0.0 or o.resample not in RESAMPLING:
        raise ValueError(f"need final_particles in (0, 1], early >= 0 and resample one of {', '.join(RESAMPLING)}; "
                         f"got final_particles={o.final_particles}, early={o.early}, resample={o.resample!r}")


def _extend(candidate_id: int, r: float, before: _Particle | None, lam: float) -> _Particle:
    """A particle moved to its next check with reward r, its ancestry's statistics carried along."""
    if before is None:
        return _Particle(candidate_id, r, r, r, 1, lam * r)
    with np.errstate(invalid="ignore"):
        lse = float(np.logaddexp(before.lse, lam * r))
    return _Particle(candidate_id, r, max(before.top, r), before.total + r, before.count + 1, lse)


def _phi(p: _Particle, before: _Particle | None, potential: str, lam: float) -> float:
    """The particle's potential exponent: G = exp(lam' phi) (lam' the check's tempered lam)."""
    if potential == "max":
        return p.top
    if potential == "sum":
        return p.total
    if potential == "mean" or (potential == "logmeanexp" and lam == 0.0):
        return p.total / p.count
    if potential == "logmeanexp":
        return (p.lse - float(np.log(p.count))) / lam
    return p.last - (0.0 if before is None else before.last)


def potentials(phi: np.ndarray, lam: float) -> np.ndarray:
    """Normalised weights exp(lam * phi); +inf rewards share all the weight, -inf (a NaN score) gets none."""
    with np.errstate(invalid="ignore"):
        log_w = lam * phi
    log_w = np.where(np.isnan(log_w), -np.inf, log_w)
    if np.isposinf(log_w).any():
        w = np.isposinf(log_w).astype(float)
    elif np.isneginf(log_w).all():
        w = np.ones(len(log_w))
    else:
        w = np.exp(log_w - log_w.max())
    return w / w.sum()


# --- options out of range are refused, never clamped (issue 21) ---------------------------------------------
def _intervals(intervals: int, steps: int) -> int:
    """The segments to cut `steps` into: `intervals`, or for 0 the default (4, or steps when fewer)."""
    if intervals == 0:
        return min(4, steps)
    if intervals > steps:
        raise ValueError(f"intervals ({intervals}) cannot exceed steps ({steps}): each segment is at least one "
                         f"step; set intervals to at most {steps} (or 0 for the default)")
    return intervals


def _check_population(k: int, budget: int, particle_cost: int) -> None:
    """A population of k particles must fit the budget (k = 0 takes as many as it buys)."""
    if k and k * particle_cost > budget:
        raise ValueError(f"k={k} particles cost {k * particle_cost} NFEs ({particle_cost} each), more than the budget "
                         f"of {budget} NFEs buys ({budget // particle_cost}); raise the budget to at least "
                         f"{k * particle_cost}, lower k, or set k = 0 for as many as the budget buys")


def _segments(steps: int, count: int, churn: float) -> list[tuple[float, float, float, int]]:
    """(t_a, t_low, t_b, solver steps) of each segment: the step grid cut into `count` runs of steps."""
    edges = [round(j * steps / count) for j in range(count + 1)]
    segments = []
    for j in range(count):
        t_a, t_b = 1.0 - edges[j] / steps, 1.0 - edges[j + 1] / steps
        if j == count - 1:
            segments.append((t_a, 0.0, 0.0, edges[j + 1] - edges[j]))
        else:
            t_low = max(t_b - churn * (t_a - t_b), 0.0)
            segments.append((t_a, t_low, t_b, edges[j + 1] - edges[j]))
    return segments
