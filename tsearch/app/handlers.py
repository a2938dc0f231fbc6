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
import functools
import logging
import os
from typing import Iterator

import gradio as gr

from tsearch.app import a11y, catalog, charts, contain, evidence, form, views
from tsearch.app.charts import plot
from tsearch.app.compare import _compare_entries, compare_plans
from tsearch.app.export import discard_loaded, export_zip, load_live
from tsearch.app.one_path import drive, lend, prepared
from tsearch.app.pool import POOL, Slot
from tsearch.app.state import LiveRun, Pace, Session
from tsearch.app.validate import check_flag, check_names, check_options, check_page_budget
from tsearch.config import DEFAULT_BATCH, SearchConfig


LOG = logging.getLogger(__name__)
SEARCH_OUTPUTS = ("status", "best_image", "best_card", "chart", "gallery", "details")


def _search_view(run: LiveRun, baseline: LiveRun | None = None, note: str = "", chart: bool = True,
                 cost: str = "nfe"):
    figure = plot(charts.run_figure(run, baseline, cost)) if chart else gr.skip()
    status = views.status_line(run, note)
    if baseline is not None and baseline.running:
        status = (f"Search done: {run.nfe_spent} NFEs in {run.elapsed:.1f} s. Now the more-steps baseline "
                  f"(one noise, more steps): {views.status_line(baseline)}")
    elif baseline is not None and baseline.stopped:
        status = (f"Stopped during the more-steps baseline ({len(baseline.candidates)} of its samples kept). "
                  f"The search before it: {views.status_line(run)}")
    elif baseline is not None and baseline.candidates:
        status = f"{status} · {views.verdict(run, baseline)}"
    card = views.best_card(run)
    if baseline is not None and not baseline.running and views.baseline_line(baseline):
        card += "\n\n" + views.baseline_line(baseline)   # its image is beside the best once the Run ends
    best = evidence.boxed(run, views.best_path(run))   # atom-judging verifiers: the detected boxes drawn over it
    return (status, best, card, figure, views.gallery(run), views.summary(run))


def search(model: str, prompt: str | None = None, verifiers: list[str] | None = None,
           algorithm: str = catalog.DEFAULT_ALGORITHM, budget: int | None = None, steps: int | None = None,
           seed: int = 0, cls: int | None = None, evaluator: str | None = None, baseline: bool = False,
           final_steps: int | None = None, batch_size: int = DEFAULT_BATCH, session: Session | None = None,
           height: int | None = None, width: int | None = None, guidance: float | None = None,
           negative_prompt: str | None = None, max_sequence_length: int | None = None, final_top: int = 1,
           **options) -> Iterator[tuple]:
    """Run a search and stream (status, best image, best card, chart, gallery, details) as it goes.

    What is left out follows the chosen model: prompt and cls (both None) its preset prompt or class, verifiers
    and evaluator (None) its preset ones (evaluator "" is none), steps its default. final_steps and final_top:
    draft-then-commit, the best final_top drafts re-rendered at final_steps. height, width, guidance,
    negative_prompt, max_sequence_length: model options, blank for the model's default; refused by name for a
    model that does not take them. Any other setting of the form (`form.PAGE_SETTINGS`: solver, ...) by its name;
    the algorithm's options as <algorithm>_<option>."""
    model, verifiers, evaluator, algorithm = check_names(model, verifiers, evaluator, algorithm)
    baseline = check_flag("baseline", baseline)
    settings, options = form.split(options)
    check_options(options)
    check_page_budget(budget)
    if not catalog.is_local(model) and not POOL.loaded(model):
        yield (f"Loading {model} (the first time downloads its weights; this can take minutes)…",
               gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip())
    slot = lend(model)
    config = form.build(model, slot.model.conditioning, prompt=prompt, cls=cls, verifiers=verifiers, evaluator=evaluator,
                        algorithm=algorithm, budget=budget, steps=steps, seed=seed, final_steps=final_steps,
                        final_top=final_top, batch_size=batch_size, options=options,
                        model_values=form.changed(slot.model, dict(
                            height=height, width=width, guidance=guidance, negative_prompt=negative_prompt,
                            max_sequence_length=max_sequence_length)), **settings)
    check_page_budget(config.budget)   # within SearchConfig's range (a float such as 5e4 arrives here whole)
    yield from search_config(session if session is not None else Session(), config, baseline, slot)


REFUSED = "refused"   # the status line's class while it says why a Run was refused or failed: the page dims the results


def _on_the_page(handler: str, what: str, width: int, name: str):
    """The handler named `handler` (it streams updates whose first output is a status line; it is looked up when
    called, so a test's stand-in runs) as the page calls it: a refused or failed `what` says why once, in the status
    line, and keeps what the page showed (dimmed by the page's CSS) instead of marking every output with an error.
    Any failure (a SystemExit from below too) is that one line. API callers get the handler itself, whose error
    gradio_client raises with its message."""

    @functools.wraps(globals()[handler])
    def page(*args, **kwargs) -> Iterator[tuple]:
        started = False
        try:
            for update in globals()[handler](*args, **kwargs):
                started = True
                yield (gr.update(value=update[0], elem_classes=[]),) + tuple(update[1:])
        except GeneratorExit:   # the job was cancelled or its tab left: the search's own `finally` ends it
            raise
        except gr.Error as error:
            yield _refused(f"{what} {'failed' if started else 'refused'}: {contain.shorten(error.message)}", width)
        except BaseException as error:   # noqa: BLE001 (a bug or a SystemExit from below: a line, not a stopped server)
            LOG.error("the page's %s failed", what, exc_info=(type(error), error, error.__traceback__))
            yield _refused(contain.message(error, what), width)

    page.__name__ = page.__qualname__ = name   # its own name (the API's is the handler's)
    return page


search_page = _on_the_page("search", "Run", len(SEARCH_OUTPUTS), "search_page")


def _refused(message: str, width: int = len(SEARCH_OUTPUTS)) -> tuple:
    """A status-only update: the message, and the class that dims the results still shown."""
    return (gr.update(value=f"**{message}**", elem_classes=[REFUSED]),) + (gr.skip(),) * (width - 1)


def search_config(session: Session, config: SearchConfig, baseline: bool = False,
                  base: Slot | None = None) -> Iterator[tuple]:
    """One search of a validated config in this tab (and the more-steps baseline after it), as page updates."""
    plan = prepared(config, base)   # every check before the search takes the tab
    handle = session.start()
    pace = Pace()
    run, more = LiveRun(seed=config.seed, label=config.algorithm), None
    shown = session.shown   # the chart's x axis, and the run it shows (switching the axis redraws it)
    shown.run, shown.baseline = run, None

    def view(chart: bool):
        session.last_run_dir = run.run_dir   # Export takes the run while it grows
        return _search_view(run, chart=chart, cost=shown.cost)

    try:
        yield from drive(plan, config.algorithm, run, handle, pace, view)
        if baseline and config.algorithm != "steps" and not handle.stopped:
            steps_config = dataclasses.replace(config, algorithm="steps", options=None, final_steps=None).validate()
            more = shown.baseline = LiveRun(seed=config.seed, label="more steps")
            yield from drive(prepared(steps_config, base), "steps", more, handle, pace,
                             lambda chart: _search_view(run, more, chart=chart, cost=shown.cost), baseline=True)
    finally:
        session.last_run_dir = run.run_dir or session.last_run_dir
        session.finish(handle)
    yield _search_view(run, more, cost=shown.cost)


def arm(session: Session | None = None) -> None:
    """Run was pressed (unqueued, at once): forget a Stop from before it."""
    if session is not None:
        session.arm()


def stop(session: Session | None = None) -> None:
    """Ask this tab's running search (or comparison) to end; it stops at the next candidate."""
    if session is not None:
        session.stop()


# --- compare -------------------------------------------------------------------------------

def compare(model: str, prompt: str | None, verifiers: list[str], algorithm: str, budget: int, steps: int | None,
            seed: int, cls: int | None = None, evaluator: str | None = None, mode: str = "algorithms",
            algorithms: list[str] | None = None, compare_verifiers: list[str] | None = None,
            batch_size: int = DEFAULT_BATCH, session: Session | None = None, baseline: bool = False,
            height: int | None = None, width: int | None = None, guidance: float | None = None,
            negative_prompt: str | None = None, max_sequence_length: int | None = None,
            final_steps: int | None = None, **options) -> Iterator[tuple]:
    """Several algorithms (same verifiers) or several verifiers (same algorithm), one after another, same budget.

    Streams (status, chart, each run's best image, results table: `tsearch.app.compare`). `baseline` is taken
    for symmetry with `search` and unused: add "steps" to the algorithms to compare with it.
    The model options and the other settings (`form.PAGE_SETTINGS`) are `search`'s."""
    settings, options = form.split({**options, "final_steps": final_steps})   # final_steps named: optional in the API
    check_options(options)
    check_page_budget(budget)   # each run of a comparison is held to a Run's cap
    entries = _compare_entries(mode, algorithms, compare_verifiers, algorithm, verifiers)
    model, _, evaluator, _ = check_names(model, entries[0][2], evaluator, entries[0][1])
    for _, algo, chosen in entries[1:]:
        check_names(model, chosen, evaluator, algo)
    slot = lend(model)
    kind = slot.model.conditioning
    model_values = dict(height=height, width=width, guidance=guidance, negative_prompt=negative_prompt,
                        max_sequence_length=max_sequence_length)
    configs = [(label, form.build(model, kind, prompt=prompt, cls=cls, verifiers=chosen, evaluator=evaluator,
                                  algorithm=algo, budget=budget, steps=steps, seed=seed, batch_size=batch_size,
                                  options=options, model_values=model_values, **settings))
               for label, algo, chosen in entries]
    for _, config in configs:
        check_page_budget(config.budget)
    plans = [(label, prepared(config, slot)) for label, config in configs]   # every entry checked before any runs
    by_evaluator = mode == "verifiers" and bool(configs[0][1].evaluators)
    yield from compare_plans(session if session is not None else Session(), plans, by_evaluator, Pace())


compare_page = _on_the_page("compare", "Compare", 4, "compare_page")


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
    from tsearch.app.loaded import checked, parsed
    from tsearch.runs import load_run

    try:
        run = load_live(path)   # this tab's run loaded before stays until this one passes
    except (ValueError, TypeError, OSError) as error:
        raise gr.Error(f"cannot show this run: {error}") from None
    try:   # a record SearchConfig itself refuses is refused whole; one a typed Run here would refuse (a CLI run
        # over the page's budget cap, a model or class this host lacks) is shown, its settings not put back
        row = load_run(run.run_dir).config
        parsed(row)
        try:
            checked(row)
            note = "loaded from a saved run"
        except gr.Error as error:
            note = f"loaded from a saved run; its settings are not put back into the form ({error.message})"
        view = _search_view(run, note=note, cost=session.shown.cost if session else "nfe")
    except gr.Error as error:
        discard_loaded(run.run_dir)
        raise gr.Error(f"cannot load this run: its settings do not pass this page's checks: {error.message}") from None
    except (ValueError, TypeError, OSError) as error:
        discard_loaded(run.run_dir)
        raise gr.Error(f"cannot show this run: {error}") from None
    if session is not None and session.loaded_run_dir and session.loaded_run_dir != run.run_dir:
        discard_loaded(session.loaded_run_dir)
    if session is not None:
        session.last_run_dir = session.loaded_run_dir = run.run_dir
        session.shown.run, session.shown.baseline = run, None
    return view


def baseline_view(session: Session | None = None):
    """The more-steps baseline's result beside the best, with its scores, once a Run with it has ended; hidden
    when the last Run had none."""
    more = session.shown.baseline if session is not None else None
    path = views.best_path(more) if more is not None else None
    if not path:
        return gr.update(visible=False, value=None)
    return gr.update(visible=True, value=path, label="More steps (the baseline)",
                     alt_text=a11y.best_alt(more, "More steps (the baseline), one noise"))
