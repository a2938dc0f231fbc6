"""Batch runners: where a batch's work runs (start states -> ops -> decode -> verify).

Only plain values cross a runner (a `Batch` in, a `Scored` out), so a runner may run each batch
somewhere else -- the app's ZeroGPU runner (`tsearch.app.gpu`) makes one GPU call per batch -- while
the search's state stays with the loop. A batch that asks for it first measures the denoiser chunk
that runs fastest per sample on its device (`tsearch.models.calibrate`); that changes no result of
a batch-invariant model and its evaluations are not NFEs of the search. `LocalRunner` runs every
batch in this process; `tsearch.engine.overlap` overlaps one batch's scoring with the next one's
denoising.
"""

from __future__ import annotations

import time

import torch

from tsearch import recipes
from tsearch.engine.records import Batch, Denoised, Plan, Scored
from tsearch.models import calibrate
from tsearch.recipes import Counter
from tsearch.verifiers.deadline import Caller, VerifierError, score_with_deadline


def _verify(scorers, images, condition, reference, caller: Caller) -> torch.Tensor:
    columns = []
    for scorer in scorers:
        if getattr(scorer, "reference_t", None) is not None and reference is None:
            raise VerifierError(f"verifier {scorer.name!r} compares each sample with its clean estimate at t = "
                               f"{scorer.reference_t}; these candidates never pass that time (use random or "
                               f"zero-order search)")
        columns.append(score_with_deadline(scorer, images, condition, reference, caller))
    return torch.stack(columns, 1) if columns else torch.empty((images.shape[0], 0), dtype=torch.float64)


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
    alone = bool(batch.ops) and recipes.ends_unpadded(batch.ops[0])   # a first candidate sent alone, unpadded
    for x, early in zip(denoised.states, denoised.early):
        if early is not None:
            references.append(model.decode(early).float())
        images.append(recipes.scored_images(model, cond, x, batch.t_end, counter, alone).float())
    x, images = torch.cat(denoised.states), torch.cat(images)
    reference = torch.cat(references) if references else None
    tv = time.perf_counter()
    raw = _verify(verifiers, images, condition, reference, caller)
    held_out = _verify(evaluators, images, condition, reference, caller)
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
