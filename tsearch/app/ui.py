"""The page: model, prompt, Run and Stop at the top, settings on the left, the live search on the right;
`build_demo()` returns the Blocks.

Layout and wiring only; the work is in each tab's handlers (handlers.py for Search, compare.py, files_tab.py,
arena_tab.py). Every choice the page offers (models, verifiers, algorithms, their options and explanations) is
read from the registries by catalog.py.
"""

from __future__ import annotations

import dataclasses
import os

import gradio as gr

from tsearch.app import (a11y, axis, catalog, charts, choices, compare, compare_estimate, density, files_tab, form,
                         handlers, lineage_view, numbers, restore, timing, views)
from tsearch.app.arena_tab import arena_tab
from tsearch.app.compare_table import DATATYPES, HEADERS
from tsearch.app.contain import contain
from tsearch.app.controls import _controls, _run_bar
from tsearch.app.pool import CONCURRENCY, POOL
from tsearch.app.state import Session
from tsearch.registry import Unavailable
from tsearch.search import ALGORITHMS

TITLE = "tsearch: search over noise, not more denoising steps"
INTRO = """\
## tsearch: search over noise, not more denoising steps
Spend compute **trying noises**: a *verifier* scores each image, a *search algorithm* picks the next noises to try
(Ma et al. 2025). Press **Run** and watch the best image improve.
"""
HOW_IT_WORKS = """\
A diffusion model turns a random **noise** into an image, always the same image for the same noise. Some noises
give better images than others. Instead of spending compute on more denoising steps, spend it trying noises: a
*verifier* scores each result and a *search algorithm* picks the next noises to try (Ma et al. 2025,
arXiv 2501.09732). Compute is counted in **NFEs**: one pass of the denoiser over one image (a model with
guidance makes two passes per step). The chart shows the best score so far against the NFEs spent; a held-out
evaluator, never told to the search, shows whether the image improved or only the verifier's opinion of it.
"""
from tsearch.app.style import HEAD, SHOW_RESULT  # noqa: E402  (the page's CSS and script: tsearch/app/style.py)


def _busy(session: Session | None, run: str, compare: str) -> tuple:
    """Run (or Compare) was pressed: forget a Stop from before, then Run, Compare, Stop, model and prompt
    while it runs."""
    handlers.arm(session)
    return (gr.update(value=run, interactive=False), gr.update(value=compare, interactive=False),
            gr.update(interactive=True), gr.update(interactive=False), gr.update(interactive=False))


def _running(session: Session | None = None) -> tuple:
    return _busy(session, "Running…", "Compare")


def _comparing(session: Session | None = None) -> tuple:
    return _busy(session, "Run", "Comparing…")


def _idle() -> tuple:
    """The search or comparison ended (done, stopped or failed): Run, Compare, model and prompt back, Stop off."""
    return (gr.update(value="Run", interactive=True), gr.update(value="Compare", interactive=True),
            gr.update(interactive=False), gr.update(interactive=True), gr.update(interactive=True))


def _after(event, fn, outputs) -> None:
    """`fn` once `event` ends, whether it finished or failed: gradio 6.31's page runs `.then` only on success,
    though documented as regardless (an error is dispatched to `.failure` listeners alone)."""
    for listener in (event.success, event.failure):
        listener(fn, outputs=outputs, queue=False, show_progress="hidden", api_visibility="private")


def _provide(model) -> str:
    """A loaded diffusers pipeline (or tsearch Model) handed to build_demo -> the name the page serves it under."""
    from tsearch.models.hub import from_pipeline, is_pipeline, pipeline_class_name, pipeline_label

    if is_pipeline(model):
        name = pipeline_label(model)
        adapter = from_pipeline(model, name)   # ValueError naming the class when no adapter drives it
        description = f"the {pipeline_class_name(model)} handed to build_demo, already loaded (on {model.device})"
    elif all(callable(getattr(model, attr, None)) for attr in ("encode", "forward_x0", "decode")):
        adapter, name = model, getattr(model, "name", type(model).__name__)
        description = f"the {type(model).__name__} model handed to build_demo, already loaded"
    else:
        raise ValueError(f"model: give a registered name, a loaded diffusers pipeline or a tsearch Model; got {model!r}")
    POOL.add(name, adapter, description)
    return name


def _opening(model, budget: int | None) -> tuple[str, str, dict, catalog.Preset]:
    """The model the page opens on, a note when it fell back to another, its description and preset."""
    if model is not None and not isinstance(model, str):
        model = _provide(model)
    start, fallback = catalog.default_model()
    if model is not None:
        usable = [name for name, ok, _, _ in catalog.models() if ok]
        if model not in usable:
            raise ValueError(f"model {model!r} is unknown or unavailable here; available: {', '.join(usable)}")
        start, fallback = model, ""
    try:
        info = POOL.describe(start)
    except (ValueError, Unavailable, OSError) as error:   # listed as available, yet it would not load
        if model is not None or start == "gmm":
            raise
        fallback = f"The `{start}` model could not be loaded here ({error}), so the app opened on `gmm`."
        start, info = "gmm", POOL.describe("gmm")
    preset = catalog.preset(start)
    if budget is not None:
        preset = dataclasses.replace(preset, budget=int(budget))
    catalog.warm(start)   # model and preset verifiers loaded now, so the first Run shows a candidate in seconds
    return start, fallback, info, preset


def _results() -> dict:
    """The right column: the Search, Compare and Export / load tabs, and the list of what runs here."""
    r = {}
    with gr.Tabs() as r["tabs"]:
        with gr.Tab("Search", id="search"):
            r["status"] = gr.Markdown("Press **Run** to start a search.", label="Status", elem_id="status")
            # the best image and its short card beside the chart: all of it in a 900-px-high window after Run
            with gr.Row(equal_height=False, elem_id="result-row"):
                with gr.Column(scale=1, min_width=240):
                    with gr.Row(equal_height=True):   # the baseline's result beside the best, when it ran
                        r["best_image"] = gr.Image(label="Best so far", type="filepath", interactive=False,
                                                   height=240, elem_classes=["pixelated"], elem_id="best", min_width=120)
                        r["baseline_image"] = gr.Image(label="More steps (the baseline)", type="filepath",
                                                       interactive=False, height=240, elem_classes=["pixelated"],
                                                       elem_id="baseline-best", visible=False, min_width=120)
                    r["best_card"] = gr.Markdown("", label="Best sample", elem_id="best-card")
                with gr.Column(scale=2, min_width=300), gr.Tabs(elem_id="chart-tabs"):
                    with gr.Tab("Compute vs score", id="chart-tab") as r["chart_tab"]:
                        r["chart"] = gr.Plot(charts.plot(charts.empty_figure()), label="Compute vs score",
                                             elem_id="chart")
                        r["chart_text"] = gr.Markdown("", elem_id="chart-text")   # the chart in words (a11y)
                        r["cost"] = axis.cost_radio("cost-axis")   # the chart's x axis (tsearch.app.axis), under it
                        r["density"] = density.density_plot()      # gmm: the samples over the density (density.py)
                    with gr.Tab("Lineage", id="lineage-tab") as r["lineage_tab"]:   # which came from which
                        r["lineage"] = lineage_view.build()
            r["gallery"] = gr.Gallery(label=views.GALLERY_LABEL, columns=6, rows=3,
                                      height="auto", object_fit="contain",
                                      elem_classes=["pixelated", "wrap-captions"], elem_id="gallery")
            with gr.Accordion("Run details", open=False):
                r["details"] = gr.JSON(label="Run details")
        with gr.Tab("Compare", id="compare"):
            _compare_tab(r)
        arena_tab(os.environ.get("TSEARCH_ARENA_DIR") or None,   # a host's own arena folder, if it names one
                  dict(concurrency_limit=CONCURRENCY, concurrency_id="search"))   # a live arena takes a Run's slot
        with gr.Tab("Export / load", id="files"):
            gr.Markdown("A run is `run.json` (settings, versions, summary), `candidates.jsonl` (every "
                        "candidate's scores, NFEs and the noise recipe that regenerates it) and `images/`.")
            r["export_button"] = gr.Button("Export the last run as a zip")
            r["export_file"] = gr.File(label="Exported run", interactive=False)
            r["load_file"] = gr.File(label="Load a saved run (zip); it opens in the Search tab",
                                     file_types=[".zip"], type="filepath")
    with gr.Accordion("Models and verifiers on this machine", open=False):
        gr.Markdown(catalog.model_list_note() + "\n\n" + catalog.verifier_note())
    return r


def _compare_tab(r: dict) -> None:
    gr.Markdown("Run several algorithms (same verifiers) or several verifiers (same algorithm) "
                "on the prompt above and the budget, steps and seed on the left, one after another. "
                "Comparing verifiers plots the held-out evaluator when one is chosen, since "
                "each verifier's own scale differs.")
    r["mode"] = gr.Radio(["algorithms", "verifiers"], value="algorithms", label="Compare")
    r["compare_algorithms"] = gr.CheckboxGroup(list(ALGORITHMS), value=["random", "zero-order"], label="Algorithms")
    r["compare_verifiers"] = gr.Dropdown(catalog.available_verifiers(), value=[], multiselect=True,
                                         label="Verifiers (one run each)", visible=False)
    r["compare_estimate"] = gr.Markdown("", elem_id="compare-estimate")
    r["compare_button"] = gr.Button("Compare", variant="primary", elem_id="compare")
    r["compare_status"] = gr.Markdown("", label="Compare status")
    r["compare_table"] = gr.Dataframe(headers=HEADERS, datatype=DATATYPES, value=None, interactive=False, wrap=True,
                                      label="Results (seconds: denoiser, decoder and verifiers)",
                                      elem_id="compare-table")
    r["compare_cost"] = axis.cost_radio("compare-cost-axis")
    r["compare_chart"] = gr.Plot(label="Best so far at equal compute", elem_id="compare-chart")
    r["compare_gallery"] = gr.Gallery(label="Best image of each run", columns=4, height="auto",
                                      elem_classes=["pixelated", "wrap-captions"])


def _wire_views(demo: gr.Blocks, session: gr.State, c: dict, r: dict) -> None:
    """The charts' x axes, the gmm picture beside the Search chart, and the Compare tab's pickers and estimate."""
    private = dict(queue=False, show_progress="hidden", api_visibility="private")
    r["cost"].change(axis.redraw, inputs_kwargs={"cost": r["cost"], "session": session}, outputs=r["chart"], **private)
    r["compare_cost"].change(compare.redraw, inputs_kwargs={"cost": r["compare_cost"], "session": session},
                             outputs=r["compare_chart"], **private)
    r["chart"].change(density.view, inputs_kwargs={"session": session}, outputs=r["density"], **private)
    lineage_view.wire(r["lineage"], session, r["lineage_tab"], r["chart_tab"])
    for component in (r["chart"], r["best_image"]):   # the chart's summary and the best image's alt text
        component.change(a11y.describe, inputs_kwargs={"session": session}, outputs=[r["chart_text"], r["best_image"]],
                         **private)
    for trigger in (c["model"].change, demo.load):
        trigger(density.shown_for, inputs=[c["model"], c["cls"]], outputs=r["density"], **private)
    r["mode"].change(compare.pickers, inputs=r["mode"], outputs=[r["compare_algorithms"], r["compare_verifiers"]],
                     **private)
    for trigger in (c["model"].change, demo.load):   # the verifiers to compare follow the model
        trigger(compare.verifier_choices, inputs=[c["model"], r["compare_verifiers"]], outputs=r["compare_verifiers"],
                **private)
    choices = [c["model"], c["budget"], r["mode"], r["compare_algorithms"], r["compare_verifiers"], c["algorithm"],
               c["prompt"], c["cls"], c["batch_size"]]
    # the page's own estimate changes with the model and budget (and once it has calibrated the model): follow it
    for component in (c["estimate"], r["mode"], r["compare_algorithms"], r["compare_verifiers"], c["algorithm"]):
        component.change(compare_estimate.total, inputs=choices, outputs=r["compare_estimate"], **private)


def build_demo(title: str = TITLE, model=None, budget: int | None = None) -> gr.Blocks:
    """The app. `build_demo().launch()` serves it; in a notebook, `.launch(inline=True)` embeds it.

    `model` and `budget` choose what the page opens with (default: the bundled shapes model when it
    is available, else gmm, with its preset budget). `model` may be a registered name or a diffusers
    pipeline already loaded (`build_demo(model=pipe)`): the page serves that very object, never a copy."""
    start, fallback, info, preset = _opening(model, budget)
    # delete_cache: gradio's copies of candidate images older than a day go, checked hourly
    with gr.Blocks(title=title, delete_cache=(3600, 86400)) as demo:
        session = gr.State(Session())   # deep-copied per tab: each tab gets a fresh Session
        gr.HTML("", head=HEAD + lineage_view.HEAD, padding=False)
        gr.Markdown(INTRO, elem_id="intro")
        gr.Markdown(f"> **Note:** {fallback}", visible=bool(fallback), elem_id="fallback-note")
        c = _run_bar(start, info, preset)
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=340):
                with gr.Accordion("How it works", open=False):
                    gr.Markdown(HOW_IT_WORKS)
                c = _controls(start, info, preset, c)
            with gr.Column(scale=2):
                r = _results()
        demo.run_event = _wire(demo, session, c, r)   # for tests and notebooks that want to chain on a search
    # a bad number from an API caller: a message naming the field; any failure of any event: a message, never a
    # stopped server (tsearch.app.contain)
    return contain(numbers.guard(demo))


def _wire_results(session: gr.State, c: dict, r: dict, runs: dict) -> None:
    """The result column's own events: the baseline's image hidden when a Run starts, shown once it has ended
    (when the baseline ran), and a loaded run's settings put back into the controls."""
    hide = lambda: gr.update(visible=False, value=None)   # noqa: E731
    for trigger in (c["run_button"].click, c["prompt"].submit):
        trigger(hide, outputs=r["baseline_image"], queue=False, show_progress="hidden", api_visibility="private")
    for event in runs.values():
        for listener in (event.success, event.failure):
            listener(handlers.baseline_view, inputs=[session], outputs=r["baseline_image"], queue=False,
                     show_progress="hidden", api_visibility="private")
    r["load_event"].success(lambda session, baseline: restore.restore(c, session, baseline),
                            inputs=[session, c["baseline"]], outputs=restore.outputs(c), api_visibility="private")


def _wire_run(session: gr.State, c: dict, outputs: list, shared: dict, busy: list) -> dict:
    """Run, and Enter in the prompt box: the same search, on the page (a refused or failed Run says why in the
    status line and dims the results it keeps: `handlers.search_page`); the API's `search` is the same search on
    a hidden button, whose errors a client raises."""
    inputs = {**shared, "baseline": c["baseline"]}
    limits = dict(concurrency_limit=CONCURRENCY, concurrency_id="search")
    runs = {}
    for name, trigger in (("search", c["run_button"].click), ("enter", c["prompt"].submit)):
        trigger(None, js=SHOW_RESULT, api_visibility="private")
        trigger(_running, inputs_kwargs={"session": session}, outputs=busy, queue=False, show_progress="hidden",
                api_visibility="private")
        runs[name] = trigger(handlers.search_page, inputs_kwargs=inputs, outputs=outputs, show_progress="minimal",
                             api_visibility="private", **limits)
        _after(runs[name], _idle, busy)
    gr.Button("search (API)", visible=False).click(handlers.search, inputs_kwargs=inputs, outputs=outputs,
                                                   api_name="search", **limits)
    return runs


def _wire(demo: gr.Blocks, session: gr.State, c: dict, r: dict):
    """The events: Run, Stop, Compare, Export, Load and the controls that follow the model; returns Run's event."""
    search_outputs = [r["status"], r["best_image"], r["best_card"], r["chart"], r["gallery"], r["details"]]
    shared = {**{k: c[k] for k in ("model", "prompt", "cls", "verifiers", "evaluator", "algorithm")},
              **{name: c[name] for name in form.PAGE_SETTINGS},   # budget, steps, seed, ...: one per setting
              "session": session, **c["option_inputs"], **c["model_option_inputs"]}
    # While a search or comparison runs: Run says so, Stop is live, and the model and prompt it was given stay.
    busy = [c["run_button"], r["compare_button"], c["stop_button"], c["model"], c["prompt"]]
    runs = _wire_run(session, c, search_outputs, shared, busy)
    r["compare_button"].click(_comparing, inputs_kwargs={"session": session}, outputs=busy, queue=False,
                              show_progress="hidden", api_visibility="private")
    c["stop_button"].click(handlers.stop, inputs_kwargs={"session": session}, outputs=None, queue=False,
                           api_name="stop")
    comparing = dict(inputs_kwargs={**shared, "mode": r["mode"], "algorithms": r["compare_algorithms"],
                                    "compare_verifiers": r["compare_verifiers"]},
                     outputs=[r["compare_status"], r["compare_chart"], r["compare_gallery"], r["compare_table"]],
                     concurrency_limit=CONCURRENCY, concurrency_id="search", show_progress="minimal")
    # the page's Compare says why it was refused in its status line; the API's is the same on a hidden button
    compare_event = r["compare_button"].click(compare.compare_page, api_visibility="private", **comparing)
    gr.Button("compare (API)", visible=False).click(compare.compare, api_name="compare", **comparing)
    _after(compare_event, _idle, busy)
    _wire_views(demo, session, c, r)
    r["export_button"].click(files_tab.export, inputs_kwargs={"session": session}, outputs=r["export_file"],
                             api_name="export")
    r["load_event"] = r["load_file"].upload(
        files_tab.load, inputs_kwargs={"file": r["load_file"], "session": session}, outputs=search_outputs,
        api_name="load_run").then(lambda: gr.Tabs(selected="search"), outputs=r["tabs"], api_visibility="private")
    # .input: the user's choice (a loaded run's model, set by restore, keeps the run's own settings)
    c["model"].input(choices.model_controls, inputs=[c["model"], c["budget"], c["baseline"]],
                     outputs=[c[k] for k in restore.MODEL_CONTROLS] + list(c["model_option_inputs"].values()),
                     api_visibility="private")
    choices.wire_choices(demo, c)   # the form's choices and notes follow the model and the algorithm
    groups = c["groups"]
    c["algorithm"].change(lambda name: [gr.update(visible=key == name) for key in groups], inputs=c["algorithm"],
                          outputs=list(groups.values()), api_visibility="private")
    for trigger in (c["budget"].change, c["baseline"].change, demo.load):
        trigger(timing.estimate, inputs=[c[k] for k in ("model", "budget", "prompt", "cls", "batch_size",
                                                          "baseline")],
                outputs=c["estimate"], api_visibility="private")
    _wire_results(session, c, r, runs)
    return runs["search"]
