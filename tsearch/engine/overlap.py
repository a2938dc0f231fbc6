"""A batch runner that overlaps decoding and scoring of batch i with the denoising of batch i+1.

On a GPU the VAE decode and the verifiers (CLIP, reward models) of one batch can run while the next
batch is denoised. `OverlapRunner.submit(batch)` denoises on the caller's thread and stream, then
hands the decode and the verifiers to one worker thread with its own CUDA stream, which waits on an
event recorded after the denoising (so it reads finished states) and copies the images it returns
into pinned host memory without blocking. The loop (`overlapped`, below) keeps one batch in
flight, so results come back in order and a Stop keeps the batch already denoised. The work and its
order per batch are those of `runners.evaluate_batch`, so the results are the same as without
overlap. On the CPU it runs too (tests, and two cores can share the halves), but it is on by default
only for CUDA devices.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Iterable, Iterator

import torch

from tsearch.engine.records import Accounted, Batch, Scored
from tsearch.engine.runners import LocalRunner, denoise_batch, score_batch


class OverlapRunner(LocalRunner):
    """LocalRunner whose `submit` returns a future of the batch's scores once it is denoised."""

    def __init__(self, plan, caller):
        super().__init__(plan, caller)
        self.device = torch.device(plan.model.device)
        self.stream = torch.cuda.Stream(self.device) if self.device.type == "cuda" else None
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tsearch-score")

    def submit(self, batch: Batch) -> Future:
        plan = self.plan
        denoised = denoise_batch(plan.model, self.cond, batch)
        ready = None
        if self.stream is not None:
            ready = torch.cuda.Event()
            ready.record()   # on the denoising stream, after the batch's last kernel
            for x in denoised.states:
                x.record_stream(self.stream)   # the allocator must not reuse them before the worker is done
        return self.worker.submit(self._score, batch, denoised, ready)

    def __call__(self, batch: Batch) -> Scored:
        return self.submit(batch).result()

    def _score(self, batch: Batch, denoised, ready) -> Scored:
        plan = self.plan
        if self.stream is None:
            return score_batch(plan.model, self.cond, plan.condition, plan.verifiers, plan.evaluators, batch,
                               denoised, self.caller)
        with torch.cuda.stream(self.stream):
            self.stream.wait_event(ready)
            scored = score_batch(plan.model, self.cond, plan.condition, plan.verifiers, plan.evaluators, batch,
                                 denoised, self.caller)
            images = torch.empty(scored.images.shape, dtype=scored.images.dtype, pin_memory=True)
            images.copy_(scored.images, non_blocking=True)
            self.stream.synchronize()   # the copy has landed before the engine reads it
        return Scored(scored.states, images, scored.raw, scored.held_out, scored.nfe, scored.seconds,
                      scored.verifier_seconds, scored.calibration)

    def close(self) -> None:
        self.worker.shutdown(wait=True, cancel_futures=True)


def overlapped(state, runner: OverlapRunner, groups: Iterable[list]) -> Iterator[tuple[list, Accounted]]:
    """(group, result) in order, batch i+1 submitted (denoised) before batch i's result is taken.

    `state` is the run's `RunState`; `groups` are the round's batches of proposals, ending at a Stop.
    `runner.submit(batch)` denoises now and returns a future of its decoding and scoring. A Stop takes
    effect before the next submit, so the batch in flight is finished and kept; a closed generator
    drops a submitted batch whose result was never taken (its NFEs are not counted)."""
    pending = None
    for group in groups:
        batch = state.batch_of(group)
        future = runner.submit(batch)
        if pending is not None:
            yield pending[0], state.settle(pending[0], pending[1], pending[2].result)
        pending = (group, batch, future)
    if pending is not None:
        yield pending[0], state.settle(pending[0], pending[1], pending[2].result)
