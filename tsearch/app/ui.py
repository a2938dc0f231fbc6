"""The page: model, prompt, Run and Stop at the top, settings on the left, the live search on the right;
`build_demo()` returns the Blocks.

Layout and wiring only; the work is in handlers.py. Every choice the page offers (models,
verifiers, algorithms, their options and explanations) is read from the registries by catalog.py.
"""

from __future__ import annotations

import dataclasses
import os

import gradio as gr

from tsearch import envvars
from tsearch.app import catalog, charts, handlers, numbers, views
from tsearch.app.state import Session
from tsearch.registry import Unavailable
from tsearch.search import ALGORITHMS

TITLE = "tsearch: search over noise, not more denoising steps"
INTRO = """\
# tsearch: inference-time search for diffusion models
A diffusion model turns a random **noise** into an image, always the same image for the same noise.
Some noises give better images than others. Instead of spending compute on more denoising steps, spend it
**trying noises**: a *verifier* scores each result and a *search algorithm* picks the next noises to try
(Ma et al. 2025, arXiv 2501.09732). Press **Run** and watch the best image improve as compute (NFEs, one pass
of the denoiser over one image) is spent.
"""
DEFAULT_ALGORITHM = "zero-order"   # the app's point: watch zero-order steps improve one image
from tsearch.app.style import HEAD, SHOW_RESULT  # noqa: E402  (the page's CSS and script: tsearch/app/style.py)
# The model options the Advanced accordion offers, each shown only for a model that takes it (MODEL_OPTIONS).
MODEL_OPTION_LABELS = {
    "height": ("Height (pixels)", "blank: the model's default size"),
    "width": ("Width (pixels)", "blank: the model's default size"),
    "guidance": ("Guidance scale", "classifier-free guidance; 1 = off (one pass per step); blank: the model's default"),
    "negative_prompt": ("Negative prompt", "the unconditional side of guidance; blank: the model's default"),
    "max_sequence_length": ("Max sequence length", "T5 tokens per prompt; blank: the model's default"),
}
# Searches running at once, all tabs together: one per core, at most 4 (8 at once on 2 cores ran 2-6x slower
# overall than 2 at a time); $TSEARCH_APP_CONCURRENCY overrides.
CONCURRENCY = envvars.whole("TSEARCH_APP_CONCURRENCY", max(1, min(4, os.cpu_count() or 1)), 1, 1024)


def _class_choices(info: dict) -> list[tuple[str, int]]:
    return [(f"{i}: {name}", i) for i, name in enumerate(info["classes"])]


def _option_component(field: catalog.OptionField):
    info = f"{field.help} (default {field.default})" if field.help else f"default {field.default}"
    label = f"{field.name}"
    if field.kind is int:
        return gr.Number(field.default, label=label, info=info, precision=0)
    if field.kind is float:
        return gr.Number(field.default, label=label, info=info)
    if field.choices:
        return gr.Dropdown(list(field.choices), value=field.default, label=label, info=info)
    return gr.Textbox(str(field.default), label=label, info=info)


def _model_option_component(name: str, visible: bool):
    label, info = MODEL_OPTION_LABELS[name]
    if name == "negative_prompt":
        return gr.Textbox("", label=label, info=info, visible=visible, max_lines=2)
    if name == "guidance":
        return gr.Number(None, label=label, info=info, visible=visible, minimum=0)
    return gr.Number(None, label=label, info=info, visible=visible, precision=0, minimum=1)


def _model_option_updates(model: str) -> list:
    """The model options accordion (hidden when the model takes none), then each option shown where the chosen
    model takes it, reset to blank (its default)."""
    taken = catalog.model_options(model)
    return [gr.update(visible=bool(taken))] + [gr.update(visible=name in taken, value="" if name == "negative_prompt"
                                                         else None) for name in MODEL_OPTION_LABELS]


def _model_controls(model: str, budget, baseline: bool):
    """Controls that follow the chosen model: prompt or class picker, preset verifiers, steps, note, estimate,
    then its model options."""
    return (*_model_controls_main(model, budget, baseline), *_model_option_updates(model))


def _model_controls_main(model: str, budget, baseline: bool):
    note = catalog.model_note(model)
    keep = gr.update()
    if not any(name == model and ok for name, ok, _, _ in catalog.models()):
        return (note, keep, keep, keep, keep, keep, keep, keep, "")
    preset = catalog.preset(model)
    if not (catalog.is_local(model) or handlers.POOL.loaded(model)):
        # Describing a hub model means loading it (and maybe downloading gigabytes): that waits for Run.
        return (note + "\n\nIt loads when you press Run. Give a prompt, or a class index for a class-conditional model.",
                gr.update(visible=True), gr.update(visible=False),
                gr.update(visible=True, choices=[], value=None, allow_custom_value=True),
                gr.update(value=list(preset.verifiers)), gr.update(value=preset.evaluator or ""),
                gr.update(value=preset.budget), gr.update(value=None),
                handlers.estimate(model, preset.budget, baseline=baseline))
    info = handlers.describe(model)
    handlers.warm(model)
    text = info["conditioning"] == "text"
    classes = _class_choices(info)
    cls_value = preset.cls if preset.cls is not None and preset.cls < len(classes) else (0 if classes else None)
    return (note,
            gr.update(visible=text, value=preset.prompt if text and preset.prompt else gr.skip()),
            gr.update(visible=text and bool(info["examples"])),
            gr.update(visible=not text, choices=classes, value=cls_value),
            gr.update(value=list(preset.verifiers)),
            gr.update(value=preset.evaluator or ""),
            gr.update(value=preset.budget),
            gr.update(value=info["default_steps"]),
            handlers.estimate(model, preset.budget, preset.prompt, cls_value, baseline=baseline))


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
    handlers.POOL.add(name, adapter, description)
    return name


def build_demo(title: str = TITLE, model=None, budget: int | None = None) -> gr.Blocks:
    """The app. `build_demo().launch()` serves it; in a notebook, `.launch(inline=True)` embeds it.

    `model` and `budget` choose what the page opens with (default: the bundled shapes model when it
    is available, else gmm, with its preset budget). `model` may be a registered name or a diffusers
    pipeline already loaded (`build_demo(model=pipe)`): the page serves that very object, never a copy."""
    if model is not None and not isinstance(model, str):
        model = _provide(model)
    start, fallback = catalog.default_model()
    if model is not None:
        usable = [name for name, ok, _, _ in catalog.models() if ok]
        if model not in usable:
            raise ValueError(f"model {model!r} is unknown or unavailable here; available: {', '.join(usable)}")
        start, fallback = model, ""
    try:
        info = handlers.describe(start)
    except (ValueError, Unavailable, OSError) as error:   # listed as available, yet it would not load
        if model is not None or start == "gmm":
            raise
        fallback = f"The `{start}` model could not be loaded here ({error}), so the app opened on `gmm`."
        start, info = "gmm", handlers.describe("gmm")
    preset = catalog.preset(start)
    if budget is not None:
        preset = dataclasses.replace(preset, budget=int(budget))
    handlers.warm(start)   # model and preset verifiers loaded now, so the first Run shows a candidate in seconds
    text = info["conditioning"] == "text"
    verifier_names = catalog.available_verifiers()
    fields = catalog.all_option_fields()

    # delete_cache: gradio's copies of candidate images older than a day go, checked hourly
    with gr.Blocks(title=title, delete_cache=(3600, 86400)) as demo:
        session = gr.State(Session())   # deep-copied per tab: each tab gets a fresh Session
        gr.HTML("", head=HEAD, padding=False)
        gr.Markdown(INTRO)
        gr.Markdown(f"> **Note:** {fallback}", visible=bool(fallback), elem_id="fallback-note")
        # The run bar: what to draw, and Run, first on the page and first in keyboard order.
        with gr.Row(equal_height=False, elem_id="run-bar"):
            model = gr.Dropdown(catalog.model_choices(), value=start, label="Model", scale=2, min_width=200)
            prompt = gr.Textbox(preset.prompt or "", label="Prompt", visible=text, max_lines=2, scale=5,
                                min_width=240, placeholder="a red circle and a blue square")
            classes = _class_choices(info)
            cls = gr.Dropdown(classes, value=preset.cls if preset.cls is not None else None, label="Class",
                              visible=not text, allow_custom_value=True, scale=5, min_width=240)
            run_button = gr.Button("Run", variant="primary", elem_id="run", scale=1, min_width=110)
            stop_button = gr.Button("Stop", variant="stop", elem_id="stop", scale=1, min_width=110,
                                    interactive=False)
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=340):
                model_note = gr.Markdown(catalog.model_note(start))
                with gr.Column(visible=text and bool(info["examples"])) as examples_column:
                    if info["examples"]:
                        gr.Examples([[e] for e in info["examples"]], inputs=[prompt], label="Example prompts",
                                    cache_examples=False)
                verifiers = gr.Dropdown(verifier_names, value=list(preset.verifiers), multiselect=True,
                                        label="Verifiers",
                                        info="Score each candidate; several are combined by mean rank (an ensemble).")
                evaluator = gr.Dropdown([("none", "")] + [(n, n) for n in verifier_names], value=preset.evaluator or "",
                                        label="Held-out evaluator",
                                        info="Plotted beside the verifier, never told to the search: does search "
                                             "improve what we care about, or only the verifier's opinion?")
                algorithm = gr.Radio(list(ALGORITHMS), value=DEFAULT_ALGORITHM, label="Search algorithm",
                                     info="steps = the baseline: one noise, more denoising steps.")
                budget = gr.Slider(1, 20000, value=preset.budget, step=1, label="Budget (NFEs)",
                                   info="Denoiser passes over one image, all candidates together.")
                estimate = gr.Markdown("")
                with gr.Row():
                    steps = gr.Number(info["default_steps"], label="Denoising steps per candidate", precision=0,
                                      minimum=1)
                    seed = gr.Number(0, label="Seed", precision=0, minimum=0)
                baseline = gr.Checkbox(False, label="Also run the more-steps baseline at the same budget")
                with gr.Accordion("Advanced: algorithm parameters", open=False):
                    groups, option_inputs = {}, {}
                    for name in ALGORITHMS:
                        with gr.Group(visible=name == DEFAULT_ALGORITHM) as group:
                            gr.Markdown(catalog.algorithm_doc(name))
                            for field in (f for f in fields if f.algorithm == name):
                                option_inputs[field.key] = _option_component(field)
                        groups[name] = group
                    final_steps = gr.Number(0, label="Final render steps", precision=0, minimum=0,
                                            info="Re-render the winning noise with more steps (0 = no final "
                                                 "render); counted in the budget.")
                    batch_size = gr.Number(handlers.DEFAULT_BATCH, label="Batch size", precision=0, minimum=1,
                                           info="Candidates denoised together; smaller means quicker updates and Stop.")
                taken = catalog.model_options(start)
                with gr.Accordion("Advanced: model options", open=False, visible=bool(taken)) as model_options_box:
                    model_option_inputs = {name: _model_option_component(name, name in taken)
                                           for name in MODEL_OPTION_LABELS}
            with gr.Column(scale=2):
                with gr.Tabs() as tabs:
                    with gr.Tab("Search", id="search"):
                        status = gr.Markdown("Press **Run** to start a search.", label="Status", elem_id="status")
                        with gr.Row(equal_height=False):
                            best_image = gr.Image(label="Best so far", type="filepath", interactive=False, height=256,
                                                  elem_classes=["pixelated"], elem_id="best")
                            best_card = gr.Markdown("", label="Best sample", elem_id="best-card")
                        chart = gr.Plot(handlers.plot(charts.empty_figure()), label="Compute vs score", elem_id="chart")
                        gallery = gr.Gallery(label=views.GALLERY_LABEL, columns=6,
                                             rows=3, height="auto", object_fit="contain", elem_classes=["pixelated", "wrap-captions"],
                                             elem_id="gallery")
                        with gr.Accordion("Run details", open=False):
                            details = gr.JSON(label="Run details")
                    with gr.Tab("Compare", id="compare"):
                        gr.Markdown("Run several algorithms (same verifiers) or several verifiers (same algorithm) "
                                    "on the prompt above and the budget, steps and seed on the left, one after "
                                    "another. "
                                    "Comparing verifiers plots the held-out evaluator when one is chosen, since "
                                    "each verifier's own scale differs.")
                        mode = gr.Radio(["algorithms", "verifiers"], value="algorithms", label="Compare")
                        compare_algorithms = gr.CheckboxGroup(list(ALGORITHMS), value=["random", "zero-order"],
                                                              label="Algorithms")
                        compare_verifiers = gr.Dropdown(verifier_names, value=[], multiselect=True,
                                                        label="Verifiers (one run each)")
                        compare_button = gr.Button("Compare", variant="primary", elem_id="compare")
                        compare_status = gr.Markdown("", label="Compare status")
                        compare_chart = gr.Plot(label="Best so far at equal compute", elem_id="compare-chart")
                        compare_gallery = gr.Gallery(label="Best image of each run", columns=4, height="auto",
                                                     elem_classes=["pixelated", "wrap-captions"])
                    with gr.Tab("Export / load", id="files"):
                        gr.Markdown("A run is `run.json` (settings, versions, summary), `candidates.jsonl` (every "
                                    "candidate's scores, NFEs and the noise recipe that regenerates it) and `images/`.")
                        export_button = gr.Button("Export the last run as a zip")
                        export_file = gr.File(label="Exported run", interactive=False)
                        load_file = gr.File(label="Load a saved run (zip); it opens in the Search tab",
                                            file_types=[".zip"], type="filepath")
                with gr.Accordion("Models and verifiers on this machine", open=False):
                    gr.Markdown(catalog.model_list_note() + "\n\n" + catalog.verifier_note())

        search_outputs = [status, best_image, best_card, chart, gallery, details]
        shared = {"model": model, "prompt": prompt, "cls": cls, "verifiers": verifiers, "evaluator": evaluator,
                  "algorithm": algorithm, "budget": budget, "steps": steps, "seed": seed,
                  "batch_size": batch_size, "session": session, **option_inputs, **model_option_inputs}
        # While a search or comparison runs: Run says so, Stop is live, and the model and prompt it was given stay.
        busy = [run_button, compare_button, stop_button, model, prompt]
        runs = {}   # Run, and Enter in the prompt box: the same search
        for name, trigger in (("search", run_button.click), ("enter", prompt.submit)):
            trigger(None, js=SHOW_RESULT, api_visibility="private")
            trigger(_running, inputs_kwargs={"session": session}, outputs=busy, queue=False, show_progress="hidden",
                    api_visibility="private")
            runs[name] = trigger(
                handlers.search, inputs_kwargs={**shared, "baseline": baseline, "final_steps": final_steps},
                outputs=search_outputs, concurrency_limit=CONCURRENCY, concurrency_id="search", show_progress="minimal",
                **({"api_name": "search"} if name == "search" else {"api_visibility": "private"}))
            _after(runs[name], _idle, busy)
        run_event = runs["search"]
        compare_button.click(_comparing, inputs_kwargs={"session": session}, outputs=busy, queue=False,
                             show_progress="hidden", api_visibility="private")
        stop_button.click(handlers.stop, inputs_kwargs={"session": session}, outputs=None, queue=False,
                          api_name="stop")
        compare_event = compare_button.click(
            handlers.compare, inputs_kwargs={**shared, "mode": mode, "algorithms": compare_algorithms,
                                             "compare_verifiers": compare_verifiers},
            outputs=[compare_status, compare_chart, compare_gallery], api_name="compare",
            concurrency_limit=CONCURRENCY, concurrency_id="search", show_progress="minimal")
        _after(compare_event, _idle, busy)
        export_button.click(handlers.export, inputs_kwargs={"session": session}, outputs=export_file,
                            api_name="export")
        load_file.upload(handlers.load, inputs_kwargs={"file": load_file, "session": session},
                         outputs=search_outputs, api_name="load_run").then(
            lambda: gr.Tabs(selected="search"), outputs=tabs, api_visibility="private")

        model.change(_model_controls, inputs=[model, budget, baseline],
                     outputs=[model_note, prompt, examples_column, cls, verifiers, evaluator, budget, steps, estimate,
                              model_options_box, *model_option_inputs.values()],
                     api_visibility="private")
        algorithm.change(lambda name: [gr.update(visible=key == name) for key in groups], inputs=algorithm,
                         outputs=list(groups.values()), api_visibility="private")
        for trigger in (budget.release, baseline.change, demo.load):
            trigger(handlers.estimate, inputs=[model, budget, prompt, cls, batch_size, baseline], outputs=estimate,
                    api_visibility="private")
        demo.run_event = run_event   # for tests and notebooks that want to chain on a search
    return numbers.guard(demo)   # a bad number from an API caller: a message naming the field
