"""The Search tab's handlers: validate the controls, drive the one path, turn its events into page updates.

`search` is also the app's API endpoint (api_name="search"): its parameter names are the API's.
It is a generator; each yield is one update of (status, best image, best card, chart, gallery,
details), throttled to a few per second (the chart once a second) with the last always sent.
Stop sets the session's flag; the loop then closes the engine generator, which ends the search at
once with everything scored already on disk. A cancelled job (gradio_client's `job.cancel()`) closes this generator, and the
same `finally` closes the engine.
"""

from __future__ import annotations

import dataclasses
from typing import Iterator

import gradio as gr

from tsearch.app import a11y, catalog, form, views
from tsearch.app.contain import on_the_page
from tsearch.app.one_path import drive, lend, prepared
from tsearch.app.pool import POOL, Slot
from tsearch.app.state import LiveRun, Pace, Session
from tsearch.app.validate import check_flag, check_names, check_options, check_page_budget
from tsearch.config import DEFAULT_BATCH, SearchConfig

SEARCH_OUTPUTS = ("status", "best_image", "best_card", "chart", "gallery", "details")


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


search_page = on_the_page(lambda: search, "Run", len(SEARCH_OUTPUTS), "search_page")   # the page's Run


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
        return views.search_view(run, chart=chart, cost=shown.cost)

    try:
        yield from drive(plan, config.algorithm, run, handle, pace, view)
        if baseline and config.algorithm != "steps" and not handle.stopped:
            steps_config = dataclasses.replace(config, algorithm="steps", options=None, final_steps=None).validate()
            more = shown.baseline = LiveRun(seed=config.seed, label="more steps")
            yield from drive(prepared(steps_config, base), "steps", more, handle, pace,
                             lambda chart: views.search_view(run, more, chart=chart, cost=shown.cost), baseline=True)
    finally:
        session.last_run_dir = run.run_dir or session.last_run_dir
        session.finish(handle)
    yield views.search_view(run, more, cost=shown.cost)


def arm(session: Session | None = None) -> None:
    """Run was pressed (unqueued, at once): forget a Stop from before it."""
    if session is not None:
        session.arm()


def stop(session: Session | None = None) -> None:
    """Ask this tab's running search (or comparison) to end; it stops at the next candidate."""
    if session is not None:
        session.stop()


def baseline_view(session: Session | None = None):
    """The more-steps baseline's result beside the best, with its scores, once a Run with it has ended; hidden
    when the last Run had none."""
    more = session.shown.baseline if session is not None else None
    path = views.best_path(more) if more is not None else None
    if not path:
        return gr.update(visible=False, value=None)
    return gr.update(visible=True, value=path, label="More steps (the baseline)",
                     alt_text=a11y.best_alt(more, "More steps (the baseline), one noise"))
