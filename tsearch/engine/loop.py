"""The one loop where models, verifiers and search algorithms meet (DESIGN.md, Engine).

ask -> cut the round into groups -> each group through the batch runner -> record -> tell, yielding
events as it goes. The runner (`tsearch.engine.runners`) does the work of a batch; the run's state
(`tsearch.engine.state`) counts and records it. Stop (`should_stop`, checked between batches) or
closing the generator keeps every scored candidate, and the summary agrees with the rows on disk.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterator

from tsearch.engine import exiting
from tsearch.engine.commit import commit
from tsearch.engine.overlap import OverlapRunner, overlapped
from tsearch.engine.records import Batch, Plan, Scored
from tsearch.engine.runners import LocalRunner
from tsearch.engine.state import RunState
from tsearch.events import CandidateScored, FinalRendered, RoundDone, SearchDone, SearchStarted, Summary
from tsearch.jsonio import finite
from tsearch.verifiers.deadline import DEFAULT_SECONDS


class StopCheckError(ValueError):
    """The caller's `should_stop` raised: the search ends there, like a failing verifier, with everything kept."""


class _Stop:
    """`should_stop` asked between batches; `cut` says the last round was stopped between two of them. The
    interpreter's exit stops every search too (`tsearch.engine.exiting`)."""

    def __init__(self, should_stop: Callable[[], bool] | None):
        self.should_stop, self.cut = should_stop or (lambda: False), False

    def __call__(self) -> bool:
        if exiting.exiting():
            return True
        try:
            return bool(self.should_stop())
        except Exception as error:   # the caller's code: named, so it is not taken for a fault of the search
            first = (str(error).splitlines() or [""])[0]
            raise StopCheckError(f"should_stop raised {type(error).__name__}: {first}; the search ended there "
                                 f"(everything scored before is kept)") from error


def _until_stop(groups: list, stop: _Stop) -> Iterator[list]:
    """The round's groups, until a Stop between two of them."""
    stop.cut = False
    for number, group in enumerate(groups):
        if number and stop():
            stop.cut = True
            return
        yield group


def run(plan: Plan, should_stop: Callable[[], bool] | None = None,
        verifier_timeout: float | None = None, batch_runner: Callable[[Batch], Scored] | None = None,
        chunked: bool = True, overlap: bool | None = None, first_alone: bool = False,
        on_summary: Callable[[Summary], None] | None = None) -> Iterator[Any]:
    """The search as a generator of events (see tsearch.events).

    `should_stop()` is asked between batches: True ends the search there, everything kept (the app's
    Stop); a round stopped midway is never told to the algorithm, but its scored candidates count for the
    run's best (`RunState.keep_cut`, reported as a last RoundDone). Closing the generator ends it at once,
    with every candidate of the batch in hand on disk and in the summary's best. A `should_stop` that raises
    ends the search with a StopCheckError naming it (a ValueError), everything found kept.
    `verifier_timeout`: seconds one verifier call may take (default `verifiers.deadline.DEFAULT_SECONDS`).
    `batch_runner(batch) -> Scored` evaluates each batch (default: `LocalRunner`, in this process).
    `chunked`: denoise in chunks of the size measured fastest on the device (see tsearch.models.calibrate);
    False denoises each batch whole.
    `overlap`: decode and score batch i on a worker thread (its own CUDA stream) while batch i+1 is
    denoised (`tsearch.engine.overlap`); None: on CUDA devices only. The results are the same either way.
    `first_alone`: the search's first candidate is a batch of its own, before the calibration, so its image comes
    after one candidate's compute; on a model that pads its calls, one row unpadded, marked so in its recipe for
    exact replays (`Integrate.unpadded`; docs/compute.md says what differs). Every watched search asks for it
    (`tsearch.api.watched`: the API's stream, the CLI's progress; the app and MCP in `handlers.drive`).
    `on_summary(summary)` is called with the run's Summary however it ends, an interrupt or a closed generator
    included (which yield no SearchDone), so a caller reports the engine's own best rather than its last RoundDone.
    """
    events = _events(plan, should_stop, verifier_timeout, batch_runner, chunked, overlap, first_alone, on_summary)
    try:
        while True:
            with exiting.busy():   # the engine's work between two events, which an interpreter exit waits for
                try:
                    event = next(events)
                except StopIteration:
                    return
            yield event
    finally:
        with exiting.busy():
            events.close()   # closed early: its batch in hand is kept, as the docstring says


def _events(plan: Plan, should_stop: Callable[[], bool] | None, verifier_timeout: float | None,
            batch_runner: Callable[[Batch], Scored] | None, chunked: bool, overlap: bool | None, first_alone: bool,
            on_summary: Callable[[Summary], None] | None) -> Iterator[Any]:
    """`run`'s events, each computed where `run` asks for it."""
    stop = _Stop(should_stop)
    state = RunState(plan, DEFAULT_SECONDS if verifier_timeout is None else verifier_timeout, chunked, first_alone)
    started, final_nfe, stopped, final, error = time.perf_counter(), 0, True, None, None
    owned = None   # a runner made here, closed here
    yield SearchStarted(str(state.writer.root) if state.writer else None, plan.model_name, plan.condition,
                        plan.algorithm_name, state.names, state.eval_names, plan.budget, plan.steps,
                        plan.costs.full(plan.steps))
    try:
        if batch_runner is None and (overlap if overlap is not None else str(plan.config.device).startswith("cuda")):
            batch_runner = owned = OverlapRunner(plan, state.caller)
        runner = batch_runner or LocalRunner(plan, state.caller)   # encodes the condition once
        yield from _rounds(plan, state, runner, stop, started)
        if plan.config.final_steps and state.best is not None and not stop():
            for event in commit(plan, state, runner):
                yield event
                if isinstance(event, FinalRendered):
                    final, final_nfe = event, event.nfe
                    yield RoundDone(state.candidates[event.commit_id].round, state.counter.nfe, state.count,
                                    state.best[0], finite(state.best[1]), state.best_image,
                                    time.perf_counter() - started)
        stopped = stop() and (stop.cut or not plan.algorithm.done)   # a Stop after the last batch ended nothing early
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc)
        stopped = False
        raise
    finally:
        if owned is not None:
            owned.close()
        try:   # a round cut by closing the generator or a failure: its best still counts
            state.keep_cut(plan.algorithm)
        except Exception:   # noqa: BLE001 -- best.png unwritable, or the interpreter exiting: the summary still gets
            pass            # the best (set before any file is written), and the error that ended the run stays its own
        summary = _finish(plan, state, started, final_nfe, stopped, error)
        if on_summary is not None:
            on_summary(summary)
    yield SearchDone(summary, final.image if final is not None else state.best_image)


def _rounds(plan: Plan, state: RunState, runner, stop: _Stop, started: float) -> Iterator[Any]:
    """ask -> the round's groups through the runner -> record -> tell, until done, stopped or cut."""
    algorithm = plan.algorithm
    stop.cut = False
    while not algorithm.done and not stop():
        proposals = algorithm.ask()
        if not proposals:
            break
        groups = _until_stop(state.start_round(proposals), stop)
        if getattr(runner, "submit", None):
            results = overlapped(state, runner, groups)
        else:
            results = ((group, state.evaluate(runner, group)) for group in groups)
        for group, done in results:
            state.count_flops(runner)   # once per search, on its first batch (a real forward, cached per process)
            for candidate in state.record(group, done):
                yield CandidateScored(candidate, state.images[candidate.id])
        if stop.cut:
            if state.keep_cut(algorithm):
                best = state.best
                yield RoundDone(proposals[0].round, state.counter.nfe, state.count, best[0] if best else None,
                                finite(best[1]) if best else None, state.best_image, time.perf_counter() - started)
            return
        state.tell(algorithm, proposals)
        best = state.best
        yield RoundDone(proposals[0].round, state.counter.nfe, state.count, best[0] if best else None,
                        finite(best[1]) if best else None, state.best_image, time.perf_counter() - started)


def _finish(plan: Plan, state: RunState, started: float, final_nfe: int, stopped: bool, error: str | None) -> Summary:
    """The summary, written to run.json (a run that failed before scoring anything leaves no folder)."""
    state.caller.close()
    best = state.best
    if best is None and plan.algorithm.best is not None and plan.algorithm.best[0] in state.candidates:
        best = plan.algorithm.best
    best_evals = state.candidates[best[0]].evals.values_tuple if best and best[0] in state.candidates else ()
    summary = Summary(plan.model_name, plan.algorithm_name, plan.condition, plan.budget, state.counter.nfe,
                      final_nfe, state.count, best[0] if best else None, finite(best[1]) if best else None,
                      best_evals, time.perf_counter() - started, state.verifier_seconds, stopped,
                      str(state.writer.root) if state.writer else None, error, state.counter.nfe - final_nfe,
                      state.commits, state.flops_spent(state.counter.nfe, state.count))
    if state.writer:
        state.writer.finish(summary.to_row(), keep_empty=state.count > 0 or error is None)
    return summary
