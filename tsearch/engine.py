"""The one loop where models, verifiers and search algorithms meet (DESIGN.md, Engine).

ask -> build start states -> denoise the round as batches -> decode -> verify -> tell, yielding
events as it goes. One NFE is one forward pass of the denoiser over one sample (two with two-pass
CFG); this run's `Counter` counts them around the denoiser call and the count is checked against
the algorithm's plan on every batch. A batch's candidates are all written to the run before any is
reported, so Stop (`should_stop`, checked between batches) or closing the generator keeps every
scored candidate, and the summary agrees with the rows on disk.

The per-batch work (start states -> ops -> decode -> verify, `evaluate_batch`) goes through a batch
runner: by default `LocalRunner`, in this process. Only plain values cross it (a `Batch` of recipe
ops and CPU states in, a `Scored` of states, images and scores out), so a runner may run each batch
somewhere else -- the app's ZeroGPU runner (`tsearch.app.gpu`) makes one GPU call per batch -- while
the search's state stays here. Before the first batch the runner measures the denoiser chunk that
runs fastest per sample on its device (`tsearch.models.calibrate`); it changes no result of a
batch-invariant model and its evaluations are not NFEs of the search.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterator

import torch

from tsearch import recipes
from tsearch.candidate import Candidate, Scores
from tsearch.config import SearchConfig
from tsearch.jsonio import finite
from tsearch.events import CandidateScored, FinalRendered, RoundDone, SearchDone, SearchStarted, Summary
from tsearch.models import calibrate
from tsearch.recipes import Counter, start_noise, to_pil  # noqa: F401  (start_noise, to_pil: public helpers)
from tsearch.runs import RunWriter
from tsearch.search.base import Algorithm, Costs, Op, Proposal, op_to_dict
from tsearch.verifiers.deadline import Caller, VerifierError, score_with_deadline
from tsearch.verifiers.ensemble import MeanRank


@dataclass(frozen=True)
class Plan:
    """Everything a search needs, validated (built by `tsearch.api.prepare`)."""
    config: SearchConfig            # validated, with steps and solver resolved from the model
    model: Any                      # a Model
    verifiers: tuple
    evaluators: tuple
    algorithm: Algorithm
    costs: Costs
    out: str | None = None          # the run folder to write, if any

    @property
    def budget(self) -> int:
        return self.config.budget

    @property
    def steps(self) -> int:
        return self.config.steps

    @property
    def condition(self):
        return self.config.condition

    @property
    def model_name(self) -> str:
        return self.config.model_name

    @property
    def algorithm_name(self) -> str:
        return self.config.algorithm

    @property
    def final_reserve(self) -> int:
        return self.costs.full(self.config.final_steps) if self.config.final_steps else 0




def _verify(scorers, images, condition, reference, caller: Caller) -> torch.Tensor:
    columns = []
    for scorer in scorers:
        if getattr(scorer, "reference_t", None) is not None and reference is None:
            raise VerifierError(f"verifier {scorer.name!r} compares each sample with its clean estimate at t = "
                               f"{scorer.reference_t}; these candidates never pass that time (use random or "
                               f"zero-order search)")
        columns.append(score_with_deadline(scorer, images, condition, reference, caller))
    return torch.stack(columns, 1) if columns else torch.empty((images.shape[0], 0), dtype=torch.float64)


@dataclass(frozen=True)
class Batch:
    """One batch of candidates as plain values: what a batch runner receives (picklable)."""
    ops: tuple[tuple[Op, ...], ...]   # each candidate's ops for this batch (noise ops when it starts from noise)
    starts: torch.Tensor | None       # [b, ...] the states it continues from (search over paths), or None
    t_end: float                      # where the states end; above 0 they are scored on a one-step estimate
    solver: str
    nfe: int                          # what the plan says the batch costs (the runner's count must agree)
    capture_t: float | None = None    # keep the clean estimate at this time for reference verifiers
    chunk: int | None = None          # denoise in chunks of this many rows; None: all at once, or calibrate
    calibrate_up_to: int | None = None  # with chunk None: measure the fastest chunk up to this size first
    held_out: bool = True             # score with the evaluators too (a final render is not)


@dataclass(frozen=True)
class Scored:
    """A batch denoised, decoded and scored: what a batch runner returns (picklable)."""
    states: torch.Tensor          # end states (kept for search over paths)
    images: torch.Tensor          # what the verifiers saw, [b, 3, H, W] in [0, 1]
    raw: torch.Tensor             # [b, V] each verifier's score
    held_out: torch.Tensor        # [b, E] each evaluator's score
    nfe: int                      # denoiser evaluations the batch really cost, counted around the denoiser
    seconds: float                # wall-clock of the batch (without calibration)
    verifier_seconds: float       # of which in the verifiers
    calibration: calibrate.Calibration | None = None   # set on the batch that calibrated


@dataclass
class Denoised:
    """A batch's states after its ops, per denoiser chunk, before decoding and scoring."""
    states: list[torch.Tensor]            # end states, one tensor per chunk
    early: list[torch.Tensor | None]      # clean estimates at capture_t, per chunk
    counter: Counter                      # the batch's NFEs so far
    started: float                        # perf_counter() when its denoising began (after calibration)
    calibration: calibrate.Calibration | None = None


def denoise_batch(model, cond, batch: Batch) -> Denoised:
    """The denoising half of a batch: start states -> apply ops, in chunks (calibrated on the first batch)."""
    calibration, chunk = None, batch.chunk
    if chunk is None and batch.calibrate_up_to:
        calibration = calibrate.calibrated(model, cond, batch.calibrate_up_to)
        chunk = calibration.chunk
    t0, counter, n = time.perf_counter(), Counter(), len(batch.ops)
    chunk = chunk or n
    states, early = [], []
    for i in range(0, n, chunk):   # rows are independent: a chunk is a smaller batch of the same ops
        ops = batch.ops[i:i + chunk]
        if batch.starts is None:
            x = recipes.start_states(model, ops)
        else:
            x = batch.starts[i:i + chunk].to(model.device)
        x, reference = recipes.apply_ops(model, cond, x, [recipes.flow_ops(o) for o in ops], batch.solver, counter,
                                         capture_t=batch.capture_t)
        states.append(x)
        early.append(reference)
    return Denoised(states, early, counter, t0, calibration)


def score_batch(model, cond, condition, verifiers, evaluators, batch: Batch, denoised: Denoised, caller: Caller,
                to_cpu: bool = False) -> Scored:
    """The scoring half: decode each chunk (a one-step estimate first above t = 0), then verify."""
    counter, images, references = denoised.counter, [], []
    for x, early in zip(denoised.states, denoised.early):
        if early is not None:
            references.append(model.decode(early).float())
        images.append(recipes.scored_images(model, cond, x, batch.t_end, counter).float())
    x, images = torch.cat(denoised.states), torch.cat(images)
    reference = torch.cat(references) if references else None
    tv = time.perf_counter()
    raw = _verify(verifiers, images, condition, reference, caller)
    held_out = _verify(evaluators if batch.held_out else (), images, condition, reference, caller)
    tv_end = time.perf_counter()
    if to_cpu:
        x, images = x.cpu(), images.cpu()
    return Scored(x, images, raw, held_out, counter.nfe, tv_end - denoised.started, tv_end - tv,
                  denoised.calibration)


def evaluate_batch(model, cond, condition, verifiers, evaluators, batch: Batch, caller: Caller,
                   to_cpu: bool = False) -> Scored:
    """The per-batch work, where the model lives: start states -> apply ops -> decode -> verify.

    With `to_cpu` every tensor of the result is moved to the CPU (for a runner in another process)."""
    return score_batch(model, cond, condition, verifiers, evaluators, batch, denoise_batch(model, cond, batch),
                       caller, to_cpu)


class LocalRunner:
    """The default batch runner: every batch evaluated in this process, the condition encoded once."""

    def __init__(self, plan: Plan, caller: Caller):
        self.plan, self.caller = plan, caller
        with plan.model.encode_lock:
            self.cond = plan.model.encode(plan.condition)

    def __call__(self, batch: Batch) -> Scored:
        plan = self.plan
        return evaluate_batch(plan.model, self.cond, plan.condition, plan.verifiers, plan.evaluators, batch,
                              self.caller)


@dataclass
class _Batch:
    """One batch of candidates, denoised, decoded and scored, with each candidate's cost and time."""
    states: torch.Tensor
    images: torch.Tensor
    raw: torch.Tensor
    held_out: torch.Tensor
    costs: list[int]              # NFEs of each candidate
    seconds: float                # wall-clock per candidate
    verifier_seconds: float       # verifier time per candidate


class _Run:
    """The state of one running search: counter, recipes, end states of the last round, the pool of
    ranks, what was written and the algorithm's best so far."""

    def __init__(self, plan: Plan, timeout: float | None, calibrate: bool = True):
        self.plan, self.caller = plan, Caller(timeout)
        self.counter = Counter()   # the NFEs every runner call reports, added up
        self.calibrate, self.chunk = calibrate, None   # the denoiser chunk, once the first batch has measured it
        self.round_size = 0                             # proposals in the round being scored
        self.recipes: dict[int, tuple] = {}
        self.states: dict[int, torch.Tensor] = {}       # end states of the last told round (paths)
        self.new_states: dict[int, torch.Tensor] = {}   # ... of the round being scored
        self.candidates: dict[int, Candidate] = {}
        self.told: dict[int, Any] = {}                  # what the round being scored will tell
        self.images: dict[int, Any] = {}
        self.names = tuple(v.name for v in plan.verifiers)
        self.eval_names = tuple(v.name for v in plan.evaluators)
        self.ensemble = MeanRank(len(self.names)) if len(self.names) > 1 else None
        self.reference_t = next((v.reference_t for v in [*plan.verifiers, *plan.evaluators]
                                 if getattr(v, "reference_t", None) is not None), None)
        self.verifier_seconds, self.count = 0.0, 0
        self.best: tuple[int, float] | None = None
        self.best_image = None
        # the thread count is recorded: CPU kernels sum in an order that can depend on it, so an exact
        # regeneration uses the same count
        extra = {"nfe_per_eval": plan.model.nfe_per_eval, "torch_threads": torch.get_num_threads()}
        self.writer = RunWriter(plan.out, plan.config.to_dict(), extra) if plan.out else None
        self.keep_images = self.writer is None and self.ensemble is not None   # live ranks may crown an old one

    def start_round(self, proposals: list[Proposal]) -> list[list[Proposal]]:
        """The round's batches: proposals of equal structure together, at most batch_size each."""
        plan = self.plan
        planned = sum(plan.costs.of(p) for p in proposals)
        if self.counter.nfe + planned > plan.budget - plan.final_reserve:
            raise RuntimeError(f"algorithm {plan.algorithm_name!r} proposed {planned} NFEs with "
                               f"{plan.budget - plan.final_reserve - self.counter.nfe} left; this is a bug in it")
        self.told, self.new_states = {}, {}
        self.round_size = len(proposals)   # no batch of the round is larger: calibration measures up to it
        if not self.keep_images:
            self.images = {}   # this round's images only; an earlier best is read back from its file
        groups = defaultdict(list)
        for proposal in proposals:
            groups[recipes.structure(proposal)].append(proposal)
        size = plan.config.batch_size
        return [g[i:i + size] for g in groups.values() for i in range(0, len(g), size)]

    def evaluate(self, runner, chunk: list[Proposal]) -> _Batch:
        """The batch through `runner`; its NFEs counted into this run and checked against the plan."""
        batch = self.batch_of(chunk)
        return self.settle(chunk, batch, lambda: runner(batch))

    def settle(self, chunk: list[Proposal], batch: Batch, result: Callable[[], Scored]) -> _Batch:
        """`result()` accounted; a verifier that fails comes after the denoising, whose NFEs were spent."""
        try:
            out = result()
        except VerifierError:
            self.counter.nfe += batch.nfe
            raise
        return self.account(chunk, out)

    def batch_of(self, chunk: list[Proposal]) -> Batch:
        """The runner's input for these proposals (the first asks it to calibrate the denoiser chunk)."""
        plan = self.plan
        starts = None if chunk[0].start is None else torch.stack([self.states[p.start] for p in chunk])
        calibrating = self.calibrate and self.chunk is None
        return Batch(tuple(tuple(p.ops) for p in chunk), starts, chunk[0].t_end, plan.config.solver,
                     sum(plan.costs.of(p) for p in chunk), self.reference_t, self.chunk,
                     min(plan.config.batch_size, self.round_size) if calibrating else None)

    def account(self, chunk: list[Proposal], out: Scored) -> _Batch:
        """A runner's result counted into this run: NFEs checked against the plan, the calibration kept."""
        plan = self.plan
        costs = [plan.costs.of(p) for p in chunk]
        if out.calibration is not None:
            self.chunk = out.calibration.chunk
            if self.writer and "calibration" not in self.writer.extra:   # overlapped: a second batch may repeat it
                self.writer.extra["calibration"] = out.calibration.to_dict()
        elif self.calibrate and self.chunk is None:
            self.chunk = plan.config.batch_size   # a runner that does not calibrate: whole batches
        if out.nfe != sum(costs):
            raise RuntimeError(f"NFE accounting mismatch: the denoiser ran {out.nfe} NFEs, the plan said {sum(costs)}")
        self.counter.nfe += out.nfe
        n = len(chunk)
        self.verifier_seconds += out.verifier_seconds
        return _Batch(out.states, out.images, out.raw, out.held_out, costs, out.seconds / n, out.verifier_seconds / n)

    def _scores(self, raw: torch.Tensor) -> list:
        """What the algorithm is told: the raw score (NaN ranks last), or live mean ranks for an ensemble."""
        if self.ensemble is not None:
            return self.ensemble.add(raw)
        first = raw[:, 0]
        return [float(v) for v in torch.where(torch.isnan(first), torch.full_like(first, -float("inf")), first)]

    def record(self, chunk: list[Proposal], batch: _Batch) -> list[Candidate]:
        """The batch's Candidates, every one written to the run before any is reported."""
        scores, spent, scored = self._scores(batch.raw), self.counter.nfe - sum(batch.costs), []
        for j, proposal in enumerate(chunk):
            recipe = (self.recipes[proposal.start] if proposal.start is not None else ()) + tuple(proposal.ops)
            self.recipes[proposal.id] = recipe
            spent += batch.costs[j]
            self.told[proposal.id] = scores[j]
            if proposal.t_end > 0.0:
                self.new_states[proposal.id] = batch.states[j]
            image = to_pil(batch.images[j])
            candidate = Candidate(
                proposal.id, proposal.parent, proposal.round, float(scores[j]),
                Scores(self.names, batch.raw[j].tolist()), Scores(self.eval_names, batch.held_out[j].tolist()),
                batch.costs[j], spent, proposal.t_end, tuple(op_to_dict(op) for op in recipe),
                batch.seconds, batch.verifier_seconds)
            if self.writer:
                candidate = self.writer.add(candidate, image)
            self.candidates[proposal.id] = candidate
            self.images[proposal.id] = image
            scored.append(candidate)
        self.count += len(scored)
        return scored

    def tell(self, algorithm: Algorithm, proposals: list[Proposal]) -> None:
        """Tell the round; take the algorithm's best (and its image) as it reports it."""
        algorithm.tell(proposals, [self.told[p.id] for p in proposals])
        self.states = self.new_states
        if algorithm.best is not None:
            if self.best is None or algorithm.best[0] != self.best[0]:
                self.best_image = _image_of(self.candidates[algorithm.best[0]], self.images)
                if self.writer and self.best_image is not None:
                    self.writer.set_best(self.best_image)
            self.best = algorithm.best
        if self.writer:
            self.writer.add_round(proposals[0].round, self.counter.nfe, self.count, self.best)


def run(plan: Plan, should_stop: Callable[[], bool] | None = None,
        verifier_timeout: float | None = None, batch_runner: Callable[[Batch], Scored] | None = None,
        calibrate: bool = True, overlap: bool | None = None) -> Iterator[Any]:
    """The search as a generator of events (see tsearch.events).

    `should_stop()` is asked between batches: True ends the search there, everything kept (the app's
    Stop); a round stopped midway is never told. Closing the generator ends it at once, with every
    candidate of the batch in hand on disk.
    `verifier_timeout`: seconds one verifier call may take (default `verifiers.deadline.DEFAULT_SECONDS`).
    `batch_runner(batch) -> Scored` evaluates each batch (default: `LocalRunner`, in this process).
    `calibrate`: denoise in chunks of the size measured fastest on the device (see tsearch.models.calibrate);
    False denoises each batch whole.
    `overlap`: decode and score batch i on a worker thread (its own CUDA stream) while batch i+1 is
    denoised (`tsearch.overlap`); None: on CUDA devices only. The results are the same either way.
    """
    from tsearch.verifiers.deadline import DEFAULT_SECONDS

    algorithm, config = plan.algorithm, plan.config
    stop = _Stop(should_stop)
    runner_to_close = None
    state = _Run(plan, DEFAULT_SECONDS if verifier_timeout is None else verifier_timeout, calibrate)
    started, final_nfe, stopped, final, error = time.perf_counter(), 0, True, None, None
    writer = state.writer
    yield SearchStarted(str(writer.root) if writer else None, plan.model_name, plan.condition, plan.algorithm_name,
                        state.names, state.eval_names, plan.budget, plan.steps, plan.costs.full(plan.steps))
    try:
        if batch_runner is None and (overlap if overlap is not None else str(plan.config.device).startswith("cuda")):
            from tsearch.overlap import OverlapRunner

            batch_runner = runner_to_close = OverlapRunner(plan, state.caller)
        runner = batch_runner or LocalRunner(plan, state.caller)   # encodes the condition once
        submit = getattr(runner, "submit", None)
        cut = False
        while not algorithm.done and not stop():
            proposals = algorithm.ask()
            if not proposals:
                break
            batches = state.start_round(proposals)
            scored = overlapped(state, runner, batches, stop) if submit else \
                ((chunk, state.evaluate(runner, chunk)) for chunk in _until_stop(batches, stop))
            for chunk, batch in scored:
                for candidate in state.record(chunk, batch):
                    yield CandidateScored(candidate, state.images[candidate.id])
            cut = stop.cut
            if cut:
                break
            state.tell(algorithm, proposals)
            best = state.best
            yield RoundDone(proposals[0].round, state.counter.nfe, state.count, best[0] if best else None,
                            finite(best[1]) if best else None, state.best_image, time.perf_counter() - started)
        if config.final_steps and state.best is not None and not stop():
            final = _render_final(plan, state, runner, state.best[0])
            if final is not None:
                final_nfe = final.nfe
                if writer:
                    final = FinalRendered(final.id, final.steps, final.nfe, final.image,
                                          writer.set_best(final.image, "final.png"), final.scores)
                yield final
        stopped = stop() and (cut or not algorithm.done)   # a Stop after the last batch ended nothing early
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc)
        stopped = False
        raise
    finally:
        if runner_to_close is not None:
            runner_to_close.close()
        summary = _finish(plan, state, started, final_nfe, stopped, error)
    yield SearchDone(summary, final.image if final is not None else state.best_image)


class _Stop:
    """`should_stop` asked between batches; `cut` says the last round was stopped between two of them."""

    def __init__(self, should_stop: Callable[[], bool] | None):
        self.should_stop, self.cut = should_stop or (lambda: False), False

    def __call__(self) -> bool:
        return bool(self.should_stop())


def _until_stop(batches: list, stop: _Stop) -> Iterator[list]:
    """The round's batches, until a Stop between two of them."""
    stop.cut = False
    for number, chunk in enumerate(batches):
        if number and stop():
            stop.cut = True
            return
        yield chunk


def overlapped(state: _Run, runner, batches: list, stop: _Stop) -> Iterator[tuple[list, _Batch]]:
    """(chunk, result) in order, batch i+1 submitted (denoised) before batch i's result is taken.

    `runner.submit(batch)` denoises now and returns a future of its decoding and scoring. A Stop takes
    effect before the next submit, so the batch in flight is finished and kept; a closed generator
    drops a submitted batch whose result was never taken (its NFEs are not counted)."""
    pending = None
    for chunk in _until_stop(batches, stop):
        batch = state.batch_of(chunk)
        future = runner.submit(batch)
        if pending is not None:
            yield pending[0], state.settle(pending[0], pending[1], pending[2].result)
        pending = (chunk, batch, future)
    if pending is not None:
        yield pending[0], state.settle(pending[0], pending[1], pending[2].result)


def _finish(plan: Plan, state: _Run, started: float, final_nfe: int, stopped: bool, error: str | None) -> Summary:
    """The summary, written to run.json (a run that failed before scoring anything leaves no folder)."""
    state.caller.close()
    best = state.best
    if best is None and plan.algorithm.best is not None and plan.algorithm.best[0] in state.candidates:
        best = plan.algorithm.best
    best_evals = state.candidates[best[0]].evals.values_tuple if best and best[0] in state.candidates else ()
    summary = Summary(plan.model_name, plan.algorithm_name, plan.condition, plan.budget, state.counter.nfe,
                      final_nfe, state.count, best[0] if best else None, finite(best[1]) if best else None,
                      best_evals, time.perf_counter() - started, state.verifier_seconds, stopped,
                      str(state.writer.root) if state.writer else None, error)
    if state.writer:
        state.writer.finish(asdict(summary), keep_empty=state.count > 0 or error is None)
    return summary


def _image_of(candidate: Candidate, images: dict):
    if candidate.id in images:
        return images[candidate.id]
    if candidate.image_path:
        from PIL import Image

        with Image.open(candidate.image_path) as image:
            return image.copy()
    return None


def _render_final(plan: Plan, state: _Run, runner, candidate_id: int) -> FinalRendered | None:
    """Re-render the winning noise with more steps (PAPER.md: cheap candidates, full final render)."""
    ops = recipes.final_render_ops(state.recipes[candidate_id], plan.config.final_steps)
    if ops is None:
        return None   # a path-search sample has no single noise to re-render
    nfe = plan.costs.full(plan.config.final_steps)
    out = runner(Batch((tuple(ops),), None, 0.0, plan.config.solver, nfe, chunk=1, held_out=False))
    if out.nfe != nfe:
        raise RuntimeError(f"NFE accounting mismatch: the final render ran {out.nfe} NFEs, the plan said {nfe}")
    state.counter.nfe += out.nfe
    return FinalRendered(candidate_id, plan.config.final_steps, out.nfe, to_pil(out.images[0]), None,
                         Scores(state.names, out.raw[0].tolist()).values_tuple)


__all__ = ["Batch", "LocalRunner", "Plan", "Scored", "VerifierError", "evaluate_batch", "run", "start_noise", "to_pil"]
