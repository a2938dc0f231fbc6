"""Executing recipes: from a candidate's ops to its state and to what its verifiers see.

A recipe (see `tsearch.search.base`) is a tuple of ops: draw a Gaussian noise, rotate it to a
neighbour, integrate an interval of normalised time, re-noise up. The engine runs many recipes as
batches; `regenerate` runs one again. Both go through these functions, with the solver and the NFE
counter passed in, so a model instance carries no state of any search.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from tsearch import noise as noise_lib
from tsearch.models.invariant import unpadded
from tsearch.sampling import SOLVERS
from tsearch.search.base import CoarseNoise, Crossover, Gaussian, Integrate, Neighbour, NOISE_OPS, Op, Proposal, Renoise


class Counter:
    """NFEs of one search, counted around the denoiser call: one per sample per evaluation (x2 with CFG)."""

    def __init__(self):
        self.nfe = 0
        self._lock = threading.Lock()

    def x0_fn(self, model, cond):
        """The denoiser as a solver calls it, counting every evaluation into this counter."""
        def x0(x: torch.Tensor, sigma: float) -> torch.Tensor:
            with self._lock:
                self.nfe += x.shape[0] * model.nfe_per_eval
            return model.predict_x0(x, cond, sigma)
        return x0


def noise_ops(ops: Sequence[Op]) -> list[Op]:
    return [op for op in ops if isinstance(op, NOISE_OPS)]


def flow_ops(ops: Sequence[Op]) -> list[Op]:
    return [op for op in ops if isinstance(op, (Integrate, Renoise))]


def start_noise(ops: Sequence[Op], shape: tuple[int, ...]) -> torch.Tensor:
    """The standard-normal noise that a recipe's noise ops describe (CPU, float32)."""
    x = None
    for op in ops:
        if isinstance(op, Gaussian):
            x = noise_lib.gaussian(shape, op.seed)
        elif isinstance(op, Neighbour):
            x = noise_lib.neighbour(x, op.cos, op.seed)
        elif isinstance(op, CoarseNoise):
            x = noise_lib.coarse_noise(shape, op.coefficients, op.grid, op.seed)
        elif isinstance(op, Crossover):
            if x is None:
                raise ValueError("a crossover op mixes the current noise: a gaussian op must come first")
            x = noise_lib.crossover(x, start_noise(op.other, shape), op.cos)
    if x is None:
        raise ValueError("a recipe that starts from nothing must begin with a Gaussian op")
    return x


def start_states(model, recipes: Sequence[Sequence[Op]]) -> torch.Tensor:
    """The batch of states at t = 1 that the recipes' noise ops describe, on the model's device."""
    x = torch.stack([start_noise(noise_ops(ops), model.noise_shape) for ops in recipes])
    return x.to(model.device) * model.prior_scale


def apply_ops(model, cond, x: torch.Tensor, op_rows: Sequence[Sequence[Op]], solver: str, counter: Counter,
              capture_t: float | None = None):
    """Run the integrate/renoise ops (the same intervals for every row of the batch) on states x.

    Returns (states, early): early is None unless `capture_t` is given; then it is the solver's
    clean estimate at the schedule node nearest that normalised time (no extra NFE), for verifiers
    that compare a sample with its early estimate (the paper's self-supervised verifier).
    """
    captured: dict[str, torch.Tensor] = {}
    x0_fn = counter.x0_fn(model, cond)
    for column in zip(*op_rows):
        op = column[0]
        if isinstance(op, Integrate):
            sigmas = model.sigmas(op.steps, op.t_from, op.t_to)
            callback = None
            if capture_t is not None and op.t_from >= capture_t > op.t_to and "x0" not in captured:
                target = model.sigma_at(capture_t)
                node = int((sigmas[:-1] - target).abs().argmin())
                callback = lambda i, s, x0, node=node: captured.setdefault("x0", x0) if i == node else None  # noqa: E731
            # each interval is one solver call: a multistep solver starts a fresh history here; an interval
            # marked unpadded runs its network calls without a padded model's padding (tsearch.models.invariant)
            # (a model may hold a context open over the interval's calls: `interval`, e.g. its autocast)
            with unpadded(op.unpadded), getattr(model, "interval", contextlib.nullcontext)():
                x = SOLVERS[solver](x0_fn, x, sigmas, callback, view=model.parameterization)
        else:
            fresh = torch.stack([noise_lib.gaussian(model.noise_shape, o.seed) for o in column]).to(x.device)
            x = model.renoise(x, model.sigma_at(op.t_from), model.sigma_at(op.t_to), fresh)
    return x, captured.get("x0")


def scored_images(model, cond, x: torch.Tensor, t_end: float, counter: Counter, alone: bool = False) -> torch.Tensor:
    """What a verifier sees: the decoded sample, or the decoded one-step clean estimate above t = 0 (unpadded
    with `alone`, as the interval that ended there: `ends_unpadded`)."""
    if t_end > 0.0:
        with unpadded(alone):
            x = counter.x0_fn(model, cond)(x, model.sigma_at(t_end))
    return model.decode(x)


def ends_unpadded(ops: Sequence[Op]) -> bool:
    """Whether the ops' last integration ran unpadded, so the clean estimate that scores its state does too."""
    last = [op for op in ops if isinstance(op, Integrate)]
    return bool(last) and last[-1].unpadded


def denoise(model, cond, x: torch.Tensor, sigmas: torch.Tensor, solver: str | None = None,
            counter: Counter | None = None) -> torch.Tensor:
    """Integrate the probability-flow ODE along `sigmas` for a batch (deterministic), counting into `counter`."""
    solver = solver or model.default_solver
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; choose one of {sorted(SOLVERS)}")
    return SOLVERS[solver]((counter or Counter()).x0_fn(model, cond), x, sigmas, None, view=model.parameterization)


def regenerate_state(model, cond, recipe: Sequence[Op], solver: str, counter: Counter | None = None) -> torch.Tensor:
    """The end state of one candidate from its full recipe, batch of one."""
    counter = counter or Counter()
    x = start_states(model, [recipe])
    return apply_ops(model, cond, x, [flow_ops(recipe)], solver, counter)[0]


def structure(proposal: Proposal) -> tuple:
    """Proposals with equal structure can share one batch."""
    flow = tuple((type(op).__name__, op.t_from, op.t_to, getattr(op, "steps", 0), getattr(op, "unpadded", False))
                 for op in flow_ops(proposal.ops))
    return (proposal.start is None, flow)


def to_pil(image: torch.Tensor) -> Image.Image:
    array = (image.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255.0).round().astype(np.uint8)
    return Image.fromarray(array)


def final_render_ops(recipe: Sequence[Op], steps: int) -> tuple[Op, ...] | None:
    """The recipe's noise integrated from 1 to 0 in `steps` steps (a draft committed at full quality).

    Any deterministic draft qualifies: its flow is integrations only, end to end from t = 1 to t = 0 (one
    interval, or the legs of a pruned one). None where no single noise made the sample (a re-noised path,
    SMC's stochastic steps) or where it is not finished."""
    flow = flow_ops(recipe)
    if not flow or not all(isinstance(op, Integrate) for op in flow):
        return None
    legs = [(op.t_from, op.t_to) for op in flow]
    if legs[0][0] != 1.0 or legs[-1][1] != 0.0 or any(a[1] != b[0] for a, b in zip(legs, legs[1:])):
        return None
    return tuple(noise_ops(recipe)) + (Integrate(1.0, 0.0, steps),)


def is_draft(recipe: Sequence[Op], steps: int, final_steps: int | None) -> bool:
    """Whether a scored recipe is a draft, a render the run does not deliver: with final_steps, any sample of
    one noise (it is committed at final_steps, and the commit is the run's result); without, a sample of
    one noise integrated in fewer than the run's `steps` (a few-step preview, as cem scores)."""
    if final_render_ops(recipe, 1) is None:
        return False   # not finished, or not one noise's flow (paths, smc, tree): no full render of it exists
    return final_steps is not None or sum(op.steps for op in flow_ops(recipe)) < steps


def recipe_text(recipe) -> str:
    """A recipe as one line, e.g. `gaussian(seed=7) → neighbour(cos=0.95, seed=3) → integrate(1→0, 10 steps)`."""
    parts = []
    for op in recipe:
        kind = op.get("op")
        if kind == "gaussian":
            parts.append(f"gaussian(seed={op['seed']})")
        elif kind == "neighbour":
            parts.append(f"neighbour(cos={op['cos']:g}, seed={op['seed']})")
        elif kind == "integrate":
            alone = ", unpadded" if op.get("unpadded") else ""
            parts.append(f"integrate({op['t_from']:g}→{op['t_to']:g}, {op['steps']} steps{alone})")
        elif kind == "renoise":
            parts.append(f"renoise({op['t_from']:g}→{op['t_to']:g}, seed={op['seed']})")
        elif kind == "crossover":
            parts.append(f"crossover(cos={op['cos']:g}, with [{recipe_text(op.get('other') or [])}])")
        elif kind == "coarsenoise":
            parts.append(f"coarse-band noise(seed={op['seed']}, {op['grid']}x{op['grid']} cells)")
        else:
            parts.append(str(op))
    return " → ".join(parts)


__all__ = ["Counter", "apply_ops", "ends_unpadded", "final_render_ops", "flow_ops", "is_draft", "noise_ops", "recipe_text",
           "regenerate_state", "scored_images", "start_noise", "start_states", "structure", "to_pil"]
