"""Event handlers: validate the controls, drive the engine, turn its events into page updates.

`search` is also the app's API endpoint (api_name="search"): its parameter names are the API's.
It is a generator; each yield is one update of (status, best image, best card, chart, gallery,
details), throttled to a few per second (the chart once a second) with the last always sent.
Stop sets the session's flag; the loop then closes the engine generator, which ends the search at
once with everything scored already on disk. A cancelled job (gradio_client's `job.cancel()`) closes this generator, and the
same `finally` closes the engine.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Iterator

import gradio as gr
from gradio.components.plot import PlotData

from tsearch import engine
from tsearch.api import prepare
from tsearch.app import catalog, charts, views
from tsearch.app.estimate import Estimator
from tsearch.app.export import export_zip, load_live
from tsearch.app import gpu
from tsearch.app.pool import POOL, Slot
from tsearch.app.runs_root import new_run_dir
from tsearch.app.state import LiveRun, RunHandle, Session, Throttle
from tsearch.app.validate import DEFAULT_BATCH, check_flag, check_names, check_options, config_for
from tsearch.config import SearchConfig
from tsearch.events import CandidateScored
from tsearch.registry import Unavailable

ESTIMATOR = Estimator()
UPDATE_INTERVAL = 0.25   # seconds between page updates while a search runs (the last is always sent)
CHART_INTERVAL = 1.0     # seconds between chart redraws: a browser redraws a big plotly chart far slower than text

SEARCH_OUTPUTS = ("status", "best_image", "best_card", "chart", "gallery", "details")


def _slot(model: str, options: dict | None = None) -> Slot:
    """The pool's shared instance of `model` (with `options`); gr.Error with the reason when it cannot be loaded."""
    try:
        return POOL.get(model, options)
    except (ValueError, Unavailable, OSError) as error:
        raise gr.Error(f"cannot load the {model} model here{' with ' + str(options) if options else ''}: "
                       f"{error}") from None


def _plan(slot: Slot, config: SearchConfig, label: str | None = None) -> engine.Plan:
    """tsearch.api.prepare with the pool's model and verifiers; ValueError -> gr.Error. A label writes a run."""
    try:
        plan = prepare(config, loader=slot)
    except (ValueError, Unavailable) as error:
        raise gr.Error(str(error)) from None
    if label is None:
        return plan
    return dataclasses.replace(plan, out=str(new_run_dir(label)))


class Pace:
    """When to update the page: text and gallery every `UPDATE_INTERVAL` s, the chart every `CHART_INTERVAL` s."""

    def __init__(self):
        self.page, self.chart = Throttle(UPDATE_INTERVAL), Throttle(CHART_INTERVAL)


def _drive(plan: engine.Plan, live: LiveRun, handle: RunHandle, pace: Pace, view) -> Iterator[Any]:
    """Feed the engine's events into `live`, yielding throttled views.

    Stop is asked between batches, so the batch in hand is shown and kept; a cancelled job closes this
    generator, which closes the engine (its `finally` writes the summary). An error while the search
    runs (a verifier that fails, say) ends it with everything found kept and becomes a gr.Error.
    `view(chart)` builds one update; with chart=False the chart is left as it is (gr.skip())."""
    runner = gpu.batch_runner(plan, "app", ESTIMATOR.per_nfe(plan.model_name))
    # the first image at once: its candidate goes first, alone (not on ZeroGPU, where every call is a lease)
    events = engine.run(plan, should_stop=lambda: handle.stopped, batch_runner=runner, first_alone=runner is None)
    try:
        for event in events:
            live.add(event)
            if isinstance(event, CandidateScored) and pace.page.ready():
                yield view(pace.chart.ready())
    except (ValueError, Unavailable) as error:
        live.end(stopped=False)
        live.error = str(error)
        raise gr.Error(f"the search stopped: {error}. Everything found before is kept in {live.run_dir}") from None
    finally:
        events.close()
    live.end(stopped=handle.stopped)


def plot(figure: dict) -> PlotData:
    """A plotly JSON dict as gr.Plot's value (serialised once, without building a plotly Figure)."""
    return PlotData(type="plotly", plot=json.dumps(figure))


def _search_view(run: LiveRun, baseline: LiveRun | None = None, note: str = "", chart: bool = True):
    figure = plot(charts.run_figure(run, baseline)) if chart else gr.skip()
    status = views.status_line(run, note)
    if baseline is not None and baseline.running:
        status = (f"Search done: {run.nfe_spent} NFEs in {run.elapsed:.1f} s. Now the more-steps baseline "
                  f"(one noise, more steps): {views.status_line(baseline)}")
    elif baseline is not None and baseline.stopped:
        status = (f"Stopped during the more-steps baseline ({len(baseline.candidates)} of its samples kept). "
                  f"The search before it: {views.status_line(run)}")
    elif baseline is not None and baseline.candidates:
        status = f"{status} · {views.verdict(run, baseline)}"
    return (status, views.best_path(run), views.best_card(run), figure, views.gallery(run), views.summary(run))


def _zerogpu_fits(plan: engine.Plan) -> None:
    """On ZeroGPU each batch is one GPU call of at most gpu.ZEROGPU_MAX_SECONDS: refuse a batch size that cannot
    fit one, rather than let the Space cut the search off midway. The search's total length is not limited."""
    if gpu.on_zerogpu():
        try:
            gpu.check_batch_fits(plan, ESTIMATOR.per_nfe(plan.model_name))
        except ValueError as error:
            raise gr.Error(str(error)) from None


def search(model: str, prompt: str | None, verifiers: list[str], algorithm: str, budget: int, steps: int | None,
           seed: int, cls: int | None = None, evaluator: str | None = None, baseline: bool = False,
           final_steps: int | None = None, batch_size: int = DEFAULT_BATCH, session: Session | None = None,
           height: int | None = None, width: int | None = None, guidance: float | None = None,
           negative_prompt: str | None = None, max_sequence_length: int | None = None,
           **options) -> Iterator[tuple]:
    """Run a search and stream (status, best image, best card, chart, gallery, details) as it goes.

    height, width, guidance, negative_prompt, max_sequence_length: model options, blank for the model's
    default; refused by name for a model that does not take them."""
    model_values = dict(height=height, width=width, guidance=guidance, negative_prompt=negative_prompt,
                        max_sequence_length=max_sequence_length)
    model, verifiers, evaluator, algorithm = check_names(model, verifiers, evaluator, algorithm)
    baseline = check_flag("baseline", baseline)
    check_options(options)
    session = session if session is not None else Session()
    if not catalog.is_local(model) and not POOL.loaded(model):
        yield (f"Loading {model} (the first time downloads its weights; this can take minutes)…",
               gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip())
    slot = _slot(model)
    config = config_for(model, slot.model.conditioning, prompt, cls, verifiers, evaluator, algorithm, budget, steps,
                        seed, final_steps, batch_size, options, model_values)
    slot = _slot(model, config.model_options)
    plan = _plan(slot, config)   # every check before the search takes the tab
    _zerogpu_fits(plan)
    handle = session.start()
    pace = Pace()
    run, base = LiveRun(seed=config.seed, label=config.algorithm), None
    try:
        plan = dataclasses.replace(plan, out=str(new_run_dir(config.algorithm)))
        session.last_run_dir = plan.out
        yield from _drive(plan, run, handle, pace, lambda chart: _search_view(run, chart=chart))
        ESTIMATOR.observe(config.model, run.elapsed, run.nfe_spent)
        if baseline and config.algorithm != "steps" and not handle.stopped:
            steps_config = dataclasses.replace(config, algorithm="steps", options=None, final_steps=None)
            base = LiveRun(seed=config.seed, label="more steps")
            yield from _drive(_plan(slot, steps_config, "steps"), base, handle, pace,
                              lambda chart: _search_view(run, base, chart=chart))
            ESTIMATOR.observe(config.model, base.elapsed, base.nfe_spent, baseline=True)
    finally:
        session.finish(handle)
    yield _search_view(run, base)


def arm(session: Session | None = None) -> None:
    """Run was pressed (unqueued, at once): forget a Stop from before it."""
    if session is not None:
        session.arm()


def stop(session: Session | None = None) -> None:
    """Ask this tab's running search (or comparison) to end; it stops at the next candidate."""
    if session is not None:
        session.stop()


# --- compare -------------------------------------------------------------------------------

def _compare_view(runs: list[LiveRun], status: str, by_evaluator: bool, chart: bool = True):
    cards = []
    for run in runs:
        path, best = views.best_path(run), run.candidate(run.best_id)
        if path and best:
            evals = ", ".join(f"{k} {views.fmt(v)}" for k, v in best.evals.items())
            cards.append((path, f"{run.label}: {views.fmt(run.best_score)}" + (f" · {evals}" if evals else "")))
    return status, plot(charts.compare_figure(runs, by_evaluator)) if chart else gr.skip(), cards


def compare(model: str, prompt: str | None, verifiers: list[str], algorithm: str, budget: int, steps: int | None,
            seed: int, cls: int | None = None, evaluator: str | None = None, mode: str = "algorithms",
            algorithms: list[str] | None = None, compare_verifiers: list[str] | None = None,
            batch_size: int = DEFAULT_BATCH, session: Session | None = None, baseline: bool = False,
            height: int | None = None, width: int | None = None, guidance: float | None = None,
            negative_prompt: str | None = None, max_sequence_length: int | None = None,
            **options) -> Iterator[tuple]:
    """Several algorithms (same verifiers) or several verifiers (same algorithm), one after another, same budget.

    `baseline` is taken for symmetry with `search` and unused: add "steps" to the algorithms to compare with it.
    The model options are `search`'s."""
    model_values = dict(height=height, width=width, guidance=guidance, negative_prompt=negative_prompt,
                        max_sequence_length=max_sequence_length)
    check_options(options)
    for name, value in (("algorithms", algorithms), ("compare_verifiers", compare_verifiers)):
        if value is not None and (not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value)):
            kind = "algorithm" if name == "algorithms" else "verifier"
            raise gr.Error(f"{name} is a list of {kind} names, e.g. [{'random' if kind == 'algorithm' else 'gmm-density'!r}], "
                           f"got {value!r}")
    if mode == "algorithms":
        entries = [(name, name, verifiers) for name in dict.fromkeys(algorithms or [])]
    elif mode == "verifiers":
        entries = [(name, algorithm, [name]) for name in dict.fromkeys(compare_verifiers or [])]
    else:
        raise gr.Error(f"compare mode must be 'algorithms' or 'verifiers', got {mode!r}")
    if len(entries) < 2:
        raise gr.Error(f"choose at least two {mode} to compare")
    check_names(model, verifiers if mode == "algorithms" else entries[0][2], evaluator, algorithm)
    slot = _slot(model)
    configs = [(label, config_for(model, slot.model.conditioning, prompt, cls, chosen, evaluator, algo, budget, steps,
                                  seed, None, batch_size, options, model_values)) for label, algo, chosen in entries]
    slot = _slot(model, configs[0][1].model_options)
    for _, config in configs:
        _plan(slot, config)   # every entry is checked before any of them runs
    by_evaluator = mode == "verifiers" and bool(configs[0][1].evaluators)
    session = session if session is not None else Session()
    handle = session.start()
    pace = Pace()
    runs: list[LiveRun] = []
    try:
        for i, (label, config) in enumerate(configs):
            if handle.stopped:
                break
            run = LiveRun(seed=config.seed, label=label)
            runs.append(run)
            status = f"Comparing {i + 1}/{len(configs)}: {label}"
            yield from _drive(_plan(slot, config, f"compare-{label}"), run, handle, pace, lambda chart: _compare_view(
                runs, f"{status} · {views.status_line(run)}", by_evaluator, chart))
    finally:
        session.finish(handle)
    ended = "Stopped; the runs so far are kept" if handle.stopped else f"Compared {len(runs)} runs"
    yield _compare_view(runs, f"{ended} at {configs[0][1].budget} NFEs each.", by_evaluator)


# --- export, load, controls --------------------------------------------------------------------

def export(session: Session | None = None) -> str:
    if session is None or not session.last_run_dir:
        raise gr.Error("nothing to export yet: run a search (or load a run) first")
    try:
        return str(export_zip(session.last_run_dir))
    except ValueError as error:
        raise gr.Error(str(error)) from None


def load(file, session: Session | None = None):
    """A zip from Export shown as if it had just run: gallery, best sample, chart, status."""
    if not file:
        raise gr.Error("choose a zip exported from this app")
    path = file.get("path") if isinstance(file, dict) else getattr(file, "name", file)
    if not isinstance(path, (str, os.PathLike)):
        raise gr.Error(f"load takes the path of a zip exported from this app, got {file!r}")
    if not os.path.exists(path):
        raise gr.Error(f"{os.path.basename(str(path))} was not found: upload the zip again")
    try:
        run = load_live(path, previous=session.loaded_run_dir if session is not None else None)
        view = _search_view(run, note="loaded from a saved run")
    except (ValueError, TypeError, OSError) as error:
        raise gr.Error(f"cannot show this run: {error}") from None
    if session is not None:
        session.last_run_dir = session.loaded_run_dir = run.run_dir
    return view


def estimate(model: str, budget, prompt: str | None = None, cls: int | None = None,
             batch_size: int = DEFAULT_BATCH, baseline: bool = False) -> str:
    """'N NFEs take about T s here', calibrating the model on one batch the first time."""
    if model not in catalog.known_models() or not catalog.status_of("model", model)[0]:
        return ""
    if ESTIMATOR.per_nfe(model) is None and not (catalog.is_local(model) or POOL.loaded(model)):
        return "Time estimate: measured once the model has loaded (its first search)."
    if ESTIMATOR.per_nfe(model) is None:
        try:
            slot = POOL.get(model)
            text_model = slot.model.conditioning == "text"
            condition = (prompt or catalog.preset(model).prompt) if text_model else (cls or 0)
            ESTIMATOR.calibrate(slot, condition, int(batch_size or DEFAULT_BATCH))
        except (ValueError, Unavailable, TypeError) as error:
            return f"Time estimate unavailable: {error}"
    return ESTIMATOR.text(model, budget, bool(baseline))


def warm(model: str) -> None:
    """Load a local model with its preset verifiers (so the first Run shows a candidate within seconds)."""
    if catalog.is_local(model):
        preset = catalog.preset(model)
        try:
            POOL.warm(model, preset.verifiers + ((preset.evaluator,) if preset.evaluator else ()))
        except (ValueError, Unavailable):
            pass  # the Run button reports it with the reason


def describe(model: str) -> dict:
    """What the controls need to know about a model: conditioning, classes, default steps (loads it once)."""
    return POOL.describe(model)
