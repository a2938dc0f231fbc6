"""The one loop where models, verifiers and search algorithms meet (DESIGN.md, Engine).

ask -> build start states -> denoise the round as batches -> decode -> verify -> tell, yielding
events as it goes. Closing the generator (Stop) ends the search at once; everything scored so far
is already on disk. One NFE is one forward pass of the denoiser over one sample (two with two-pass
CFG); NFEs are counted where the model is called and checked against the algorithm's plan.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from PIL import Image

from tsearch import noise as noise_lib
from tsearch.events import CandidateScored, FinalRendered, RoundDone, SearchDone, SearchStarted, Summary
from tsearch.models.base import Model
from tsearch.runs import RunWriter
from tsearch.search.base import Costs, Gaussian, Integrate, Neighbour, Op, Proposal, Renoise, op_to_dict
from tsearch.verifiers.ensemble import MeanRank


@dataclass
class Plan:
    """Everything a search needs, validated (built by `tsearch.api.prepare`)."""
    model: Model
    model_name: str
    verifiers: Sequence[Any]
    algorithm: Any
    algorithm_name: str
    condition: str | int
    budget: int
    steps: int
    costs: Costs
    batch_size: int = 16
    evaluators: Sequence[Any] = ()
    final_steps: int | None = None
    writer: RunWriter | None = None
    config: dict = field(default_factory=dict)


# --- executing recipes ----------------------------------------------------------------------

def start_noise(ops: Sequence[Op], shape: tuple[int, ...]) -> torch.Tensor:
    """The standard-normal noise that a recipe's noise ops describe (CPU, float32)."""
    x = None
    for op in ops:
        if isinstance(op, Gaussian):
            x = noise_lib.gaussian(shape, op.seed)
        elif isinstance(op, Neighbour):
            x = noise_lib.neighbour(x, op.cos, op.seed)
    if x is None:
        raise ValueError("a recipe that starts from nothing must begin with a Gaussian op")
    return x


def _noise_ops(ops) -> list[Op]:
    return [op for op in ops if isinstance(op, (Gaussian, Neighbour))]


def _flow_ops(ops) -> list[Op]:
    return [op for op in ops if isinstance(op, (Integrate, Renoise))]


def apply_ops(model: Model, cond, x: torch.Tensor, op_rows: Sequence[Sequence[Op]], capture_t: float | None = None):
    """Run the integrate/renoise ops (the same intervals for every row of the batch) on states x.

    Returns (states, early): early is None unless `capture_t` is given; then it is the solver's
    clean estimate at the schedule node nearest that normalised time (no extra NFE), for verifiers
    that compare a sample with its early estimate (the paper's self-supervised verifier).
    """
    captured: dict[str, torch.Tensor] = {}
    for column in zip(*op_rows):
        op = column[0]
        if isinstance(op, Integrate):
            sigmas = model.sigmas(op.steps, op.t_from, op.t_to)
            callback = None
            if capture_t is not None and op.t_from >= capture_t > op.t_to and "x0" not in captured:
                target = model.sigma_at(capture_t)
                node = int((sigmas[:-1] - target).abs().argmin())
                callback = lambda i, s, x0, node=node: captured.setdefault("x0", x0) if i == node else None  # noqa: E731
            x = model.denoise(x, cond, sigmas, callback=callback)
        else:
            fresh = torch.stack([noise_lib.gaussian(model.noise_shape, o.seed) for o in column]).to(x.device)
            x = model.renoise(x, model.sigma_at(op.t_from), model.sigma_at(op.t_to), fresh)
    return x, captured.get("x0")


def regenerate_state(model: Model, cond, recipe: Sequence[Op]) -> torch.Tensor:
    """The end state of one candidate from its full recipe, batch of one."""
    x = start_noise(_noise_ops(recipe), model.noise_shape)[None].to(model.device) * model.prior_scale
    return apply_ops(model, cond, x, [_flow_ops(recipe)])[0]


def scored_images(model: Model, cond, x: torch.Tensor, t_end: float) -> torch.Tensor:
    """What a verifier sees: the decoded sample, or the decoded one-step clean estimate above t = 0."""
    if t_end > 0.0:
        x = model.predict_x0(x, cond, model.sigma_at(t_end))
    return model.decode(x)


def to_pil(image: torch.Tensor) -> Image.Image:
    array = (image.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255.0).round().astype(np.uint8)
    return Image.fromarray(array)


def _structure(proposal: Proposal) -> tuple:
    """Proposals with equal structure can share one batch."""
    flow = tuple((type(op).__name__, op.t_from, op.t_to, getattr(op, "steps", 0)) for op in _flow_ops(proposal.ops))
    return (proposal.start is None, flow)


# --- the loop ---------------------------------------------------------------------------------

def _verify(verifiers, images, condition, reference=None) -> torch.Tensor:
    columns = []
    for verifier in verifiers:
        if getattr(verifier, "reference_t", None) is None:
            scores = verifier.score(images, condition)
        elif reference is None:
            raise ValueError(f"verifier {verifier.name!r} compares each sample with its clean estimate at t = "
                             f"{verifier.reference_t}; these candidates never pass that time (use random or zero-order search)")
        else:
            scores = verifier.score(images, condition, reference=reference)
        scores = torch.as_tensor(scores, dtype=torch.float64).reshape(-1).cpu()
        if scores.shape[0] != images.shape[0]:
            raise ValueError(f"verifier {verifier.name!r} returned {scores.shape[0]} scores for {images.shape[0]} images; "
                             "a verifier must return one score per image")
        columns.append(scores)
    return torch.stack(columns, 1) if columns else torch.empty((images.shape[0], 0), dtype=torch.float64)


def _finite(value: float) -> float | None:
    return None if value != value else float(value)


@dataclass
class _Chunk:
    """One batch of candidates, denoised, decoded and scored."""
    states: torch.Tensor          # end states (kept for search over paths)
    images: torch.Tensor          # what the verifiers saw, [b, 3, H, W] in [0, 1]
    raw: torch.Tensor             # [b, V] each verifier's score
    held_out: torch.Tensor        # [b, E] each evaluator's score
    told: torch.Tensor            # [b] what the algorithm is told (ensemble: mean rank)
    costs: list[int]              # NFEs of each candidate
    t_end: float
    seconds: float                # wall-clock per candidate
    verifier_seconds: float       # verifier time per candidate


def _evaluate_chunk(plan: Plan, cond, chunk: list[Proposal], states, reference_t, ensemble) -> _Chunk:
    model, t0, nfe0 = plan.model, time.perf_counter(), plan.model.nfe
    if chunk[0].start is None:
        x = torch.stack([start_noise(_noise_ops(p.ops), model.noise_shape) for p in chunk])
        x = x.to(model.device) * model.prior_scale
    else:
        x = torch.stack([states[p.start] for p in chunk])
    x, early = apply_ops(model, cond, x, [_flow_ops(p.ops) for p in chunk], capture_t=reference_t)
    reference = model.decode(early).float() if early is not None else None
    t_end = chunk[0].t_end
    images = scored_images(model, cond, x, t_end).float()
    tv = time.perf_counter()
    raw = _verify(plan.verifiers, images, plan.condition, reference)
    held_out = _verify(plan.evaluators, images, plan.condition, reference)
    tv_end = time.perf_counter()
    told = ensemble.update(raw) if ensemble else torch.nan_to_num(raw[:, 0], nan=-float("inf"))
    costs = [plan.costs.of(p) for p in chunk]
    if model.nfe - nfe0 != sum(costs):
        raise RuntimeError(f"NFE accounting mismatch: model ran {model.nfe - nfe0} NFEs, plan said {sum(costs)}")
    n = len(chunk)
    return _Chunk(x, images, raw, held_out, told, costs, t_end, (time.perf_counter() - t0) / n, (tv_end - tv) / n)


def run(plan: Plan) -> Iterator[Any]:
    """The search as a generator of events (see tsearch.events)."""
    model, algorithm, writer = plan.model, plan.algorithm, plan.writer
    names = tuple(v.name for v in plan.verifiers)
    eval_names = tuple(v.name for v in plan.evaluators)
    ensemble = MeanRank(len(names)) if len(names) > 1 else None
    started = time.perf_counter()
    nfe_start = model.nfe
    verifier_seconds, count = 0.0, 0
    recipes: dict[int, tuple[Op, ...]] = {}
    evals_of: dict[int, tuple] = {}
    states: dict[int, torch.Tensor] = {}
    best: tuple[int, float] | None = None
    best_image, final_nfe, stopped = None, 0, True
    reference_t = next((v.reference_t for v in [*plan.verifiers, *plan.evaluators]
                        if getattr(v, "reference_t", None) is not None), None)
    cond = model.encode(plan.condition)
    yield SearchStarted(str(writer.root) if writer else None, plan.model_name, plan.condition, plan.algorithm_name,
                        names, eval_names, plan.budget, plan.steps, plan.costs.full(plan.steps))
    try:
        while not algorithm.done:
            proposals = algorithm.ask()
            if not proposals:
                break
            planned = sum(plan.costs.of(p) for p in proposals)
            if model.nfe - nfe_start + planned > plan.budget:
                raise RuntimeError(f"algorithm {plan.algorithm_name!r} proposed {planned} NFEs with "
                                   f"{plan.budget - (model.nfe - nfe_start)} left; this is a bug in the algorithm")
            scores: dict[int, float] = {}
            round_images: dict[int, Image.Image] = {}
            new_states: dict[int, torch.Tensor] = {}
            groups = defaultdict(list)
            for proposal in proposals:
                groups[_structure(proposal)].append(proposal)
            for group in groups.values():
                for i in range(0, len(group), plan.batch_size):
                    chunk = group[i:i + plan.batch_size]
                    nfe0 = model.nfe
                    done = _evaluate_chunk(plan, cond, chunk, states, reference_t, ensemble)
                    verifier_seconds += done.verifier_seconds * len(chunk)
                    spent = nfe0 - nfe_start  # before this chunk; each candidate adds its own below
                    for j, proposal in enumerate(chunk):
                        recipe = (recipes[proposal.start] if proposal.start is not None else ()) + tuple(proposal.ops)
                        recipes[proposal.id] = recipe
                        spent += done.costs[j]
                        image = to_pil(done.images[j])
                        scores[proposal.id], round_images[proposal.id] = float(done.told[j]), image
                        raw = tuple(_finite(v) for v in done.raw[j].tolist())
                        evals_of[proposal.id] = evals = tuple(_finite(v) for v in done.held_out[j].tolist())
                        if done.t_end > 0.0:
                            new_states[proposal.id] = done.states[j]
                        row = {"id": proposal.id, "parent": proposal.parent, "round": proposal.round,
                               "nfe": done.costs[j], "nfe_spent": spent, "t_end": done.t_end,
                               "score": _finite(scores[proposal.id]), "scores": dict(zip(names, raw)),
                               "evals": dict(zip(eval_names, evals)), "recipe": [op_to_dict(op) for op in recipe],
                               "seconds": done.seconds, "verifier_seconds": done.verifier_seconds}
                        path = writer.add(row, image) if writer else None
                        count += 1
                        yield CandidateScored(proposal.id, proposal.parent, proposal.round, scores[proposal.id], raw,
                                              evals, done.costs[j], spent, done.t_end, tuple(row["recipe"]), image,
                                              path, done.seconds, done.verifier_seconds)
            algorithm.tell(proposals, [scores[p.id] for p in proposals])
            states = new_states
            if algorithm.best is not None and algorithm.best != best and algorithm.best[0] in round_images:
                best = algorithm.best
                best_image = round_images[best[0]]
                if writer:
                    writer.set_best(best_image)
            yield RoundDone(proposals[0].round, model.nfe - nfe_start, count, best[0] if best else None,
                            best[1] if best else None, best_image, time.perf_counter() - started)
        final = None
        if plan.final_steps and best is not None:
            final = _render_final(plan, cond, recipes[best[0]], best[0])
            if final is not None:
                final_nfe = final.nfe
                if writer:
                    final = FinalRendered(final.id, final.steps, final.nfe, final.image,
                                          writer.set_best(final.image, "final.png"), final.scores)
                yield final
        stopped = False
    finally:
        summary = Summary(plan.model_name, plan.algorithm_name, plan.condition, plan.budget, model.nfe - nfe_start,
                          final_nfe, count, best[0] if best else None, best[1] if best else None,
                          evals_of.get(best[0], ()) if best else (), time.perf_counter() - started,
                          verifier_seconds, stopped, str(writer.root) if writer else None)
        if writer:
            writer.finish(_summary_dict(summary))
    yield SearchDone(summary, final.image if (plan.final_steps and final is not None) else best_image)


def _render_final(plan: Plan, cond, recipe, candidate_id) -> FinalRendered | None:
    """Re-render the winning noise with more steps (PAPER.md: cheap candidates, full final render)."""
    flow = _flow_ops(recipe)
    if len(flow) != 1 or not isinstance(flow[0], Integrate) or (flow[0].t_from, flow[0].t_to) != (1.0, 0.0):
        return None  # a path-search sample has no single noise to re-render
    ops = tuple(_noise_ops(recipe)) + (Integrate(1.0, 0.0, plan.final_steps),)
    nfe0 = plan.model.nfe
    x = regenerate_state(plan.model, cond, ops)
    images = plan.model.decode(x).float()
    raw = _verify(plan.verifiers, images, plan.condition)
    return FinalRendered(candidate_id, plan.final_steps, plan.model.nfe - nfe0, to_pil(images[0]), None,
                         tuple(_finite(v) for v in raw[0].tolist()))


def _summary_dict(summary: Summary) -> dict:
    from dataclasses import asdict

    return asdict(summary)
