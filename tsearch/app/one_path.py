"""The one path every search of the app takes: the Search tab, the Compare tab and the MCP tool.

A validated config (`form.build`) is `prepared`: the pool lends the model (loaded once for the page and the
agents), `tsearch.api.plan_for` plans it (no second validation), and on ZeroGPU a batch must fit one GPU call.
`drive` then runs it in a run folder of its own (`api.planned`: its own plan over the prepared plan's model and
scorers, nothing loaded again), feeding the search's events (`api.search_events`) into a `LiveRun` and
yielding page updates as `pace` (state.Pace) allows; Stop, a cancelled job and an error end it with
everything found kept.
"""

from __future__ import annotations

import shutil
import time
from typing import Any, Iterator

import gradio as gr

from tsearch import engine
from tsearch.api import plan_for, planned, search_events
from tsearch.app import gpu
from tsearch.app.estimate import Estimator
from tsearch.app.pool import POOL, Slot
from tsearch.app.runs_root import new_run_dir
from tsearch.app.state import LiveRun, RunHandle
from tsearch.config import SearchConfig
from tsearch.events import CandidateScored
from tsearch.registry import Unavailable

ESTIMATOR = Estimator()


def lend(model: str, options: dict | None = None) -> Slot:
    """The pool's shared instance of `model` (with `options`); gr.Error with the reason when it cannot be loaded."""
    try:
        return POOL.get(model, options)
    except (ValueError, Unavailable, OSError) as error:
        raise gr.Error(f"cannot load the {model} model here{' with ' + str(options) if options else ''}: "
                       f"{error}") from None


def _plan(slot: Slot, config: SearchConfig, label: str | None = None) -> engine.Plan:
    """The engine's plan of a validated config, with the pool's model and verifiers; ValueError -> gr.Error.
    A label gives it a run folder of its own."""
    out = None if label is None else str(new_run_dir(label))
    try:
        return plan_for(config, loader=slot, out=out)
    except (ValueError, Unavailable) as error:
        if out is not None:
            shutil.rmtree(out, ignore_errors=True)   # a refused search leaves no folder
        raise gr.Error(str(error)) from None


def prepared(config: SearchConfig, base: Slot | None = None) -> engine.Plan:
    """Every check of a validated config before its search takes the tab: the pool's model with its options
    (loaded once for the page and the agents; `base`, the model without options, when it is already in hand), the
    engine's plan, and on ZeroGPU that a batch fits one GPU call."""
    options = dict(config.model_options)
    slot = base if base is not None and not options else lend(config.model, options)
    plan = _plan(slot, config)
    _zerogpu_fits(plan)
    return plan


def _zerogpu_fits(plan: engine.Plan) -> None:
    """On ZeroGPU each batch is one GPU call of at most gpu.ZEROGPU_MAX_SECONDS: refuse a batch size that cannot
    fit one, rather than let the Space cut the search off midway. The search's total length is not limited."""
    if gpu.on_zerogpu():
        try:
            gpu.check_batch_fits(plan, ESTIMATOR.per_nfe(plan.model_name))
        except ValueError as error:
            raise gr.Error(str(error)) from None


def drive(plan: engine.Plan, label: str, live: LiveRun, handle: RunHandle, pace, view,
          baseline: bool = False) -> Iterator[Any]:
    """The one path every search of the app takes (Search, Compare, the MCP tool): a prepared plan runs in a run
    folder of its own (named by `label`), its batches through the ZeroGPU runner there, its events fed into `live`,
    yielding throttled views.

    Stop is asked between batches, so the batch in hand is shown and kept; a cancelled job closes this
    generator, which closes the engine (its `finally` writes the summary). An error while the search
    runs (a verifier that fails, say) ends it with everything found kept and becomes a gr.Error.
    `view(chart)` builds one update; with chart=False the chart is left as it is (gr.skip()). `baseline`: the
    more-steps baseline, whose cost the estimator keeps apart."""
    began, cpu = time.perf_counter(), time.process_time()   # the Run's wall clock (page updates included) and CPU
    plan = planned(plan.config, plan.model, plan.verifiers, plan.evaluators, out=str(new_run_dir(label)))
    live.run_dir = plan.out
    runner = gpu.batch_runner(plan, "app", ESTIMATOR.per_nfe(plan.model_name))
    # the first image at once: its candidate goes first, alone (not on ZeroGPU, where every call is a lease)
    events = search_events(plan, should_stop=lambda: handle.stopped, batch_runner=runner, first_alone=runner is None)
    try:
        for event in events:
            live.add(event)
            if isinstance(event, CandidateScored) and pace.page.ready():
                yield view(pace.chart.ready())
    except (ValueError, Unavailable) as error:
        live.end(stopped=False)
        live.error = str(error)
        raise gr.Error(f"the search stopped: {error}. Everything found before is kept in {plan.out}") from None
    finally:
        events.close()
    live.end(stopped=handle.stopped)
    if not live.error:
        ESTIMATOR.observe(plan.model_name, time.perf_counter() - began, live.nfe_spent, baseline=baseline,
                          cpu=time.process_time() - cpu)
