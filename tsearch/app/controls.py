"""The form: the page's left column of controls, each labelled and explained by its setting (tsearch.options).

The search's own fields come from SearchConfig's settings, the model options from MODEL_OPTIONS and each
algorithm's fields from its options, so a new setting, model option or algorithm appears here untouched.
`_model_controls` makes the controls follow the chosen model.
"""

from __future__ import annotations

import gradio as gr

from tsearch.app import catalog, handlers
from tsearch.config import SETTINGS
from tsearch.models import MODEL_OPTIONS
from tsearch.options import Setting
from tsearch.search import ALGORITHMS, option_settings

DEFAULT_ALGORITHM = "zero-order"   # the app's point: watch zero-order steps improve one image


def _class_choices(info: dict) -> list[tuple[str, int]]:
    return [(f"{i}: {name}", i) for i, name in enumerate(info["classes"])]


def _label(s: Setting) -> str:
    return s.title[:1].upper() + s.title[1:]


def _info(s: Setting) -> str:
    """The field's help with its real default and range (the form shows what validation will ask for)."""
    return s.describe()


def _option_component(field: catalog.OptionField):
    """One algorithm option's field, labelled and explained by its setting."""
    s = option_settings(field.algorithm)[field.name]
    label, info = _label(s), _info(s)
    if s.kind is int:
        return gr.Number(s.default, label=label, info=info, precision=0)
    if s.kind is float:
        return gr.Number(s.default, label=label, info=info)
    if s.choices:
        return gr.Dropdown(list(s.choices), value=s.default, label=label, info=info)
    return gr.Textbox(str(s.default), label=label, info=info)


def _model_option_component(name: str, visible: bool):
    """One model option's field (blank: the model's default), labelled and explained by its setting."""
    s = MODEL_OPTIONS[name]
    label, info = _label(s), _info(s)
    if s.kind is str:
        return gr.Textbox("", label=label, info=info, visible=visible, max_lines=2)
    return gr.Number(None, label=label, info=info, visible=visible, precision=0 if s.kind is int else None)


def _model_option_updates(model: str) -> list:
    """The model options accordion (hidden when the model takes none), then each option shown where the chosen
    model takes it, reset to blank (its default)."""
    taken = catalog.model_options(model)
    return [gr.update(visible=bool(taken))] + [gr.update(visible=name in taken, value="" if name == "negative_prompt"
                                                         else None) for name in MODEL_OPTIONS]


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


def _number(name: str, value, **kwargs):
    """A SearchConfig field's number input, labelled and explained by its setting."""
    s = SETTINGS[name]
    return gr.Number(value, label=_label(s), info=s.help[:1].upper() + s.help[1:] + ".", precision=0, **kwargs)


def _run_bar(start: str, info: dict, preset: catalog.Preset) -> dict:
    """The run bar: what to draw, and Run, first on the page and first in keyboard order."""
    text, c = info["conditioning"] == "text", {}
    with gr.Row(equal_height=False, elem_id="run-bar"):
        c["model"] = gr.Dropdown(catalog.model_choices(), value=start, label="Model", scale=2, min_width=200)
        c["prompt"] = gr.Textbox(preset.prompt or "", label="Prompt", visible=text, max_lines=2, scale=5,
                                 min_width=240, placeholder="a red circle and a blue square")
        c["cls"] = gr.Dropdown(_class_choices(info), value=preset.cls if preset.cls is not None else None,
                               label="Class", visible=not text, allow_custom_value=True, scale=5, min_width=240)
        c["run_button"] = gr.Button("Run", variant="primary", elem_id="run", scale=1, min_width=110)
        c["stop_button"] = gr.Button("Stop", variant="stop", elem_id="stop", scale=1, min_width=110,
                                     interactive=False)
    return c


def _controls(start: str, info: dict, preset: catalog.Preset, c: dict) -> dict:
    """The form: the left column's settings by name, added to `c` (the run bar's controls)."""
    text, verifier_names = info["conditioning"] == "text", catalog.available_verifiers()
    c["model_note"] = gr.Markdown(catalog.model_note(start))
    with gr.Column(visible=text and bool(info["examples"])) as c["examples_column"]:
        if info["examples"]:
            gr.Examples([[e] for e in info["examples"]], inputs=[c["prompt"]], label="Example prompts",
                        cache_examples=False)
    c["verifiers"] = gr.Dropdown(verifier_names, value=list(preset.verifiers), multiselect=True, label="Verifiers",
                                 info="Score each candidate; several are combined by mean rank (an ensemble).")
    c["evaluator"] = gr.Dropdown([("none", "")] + [(n, n) for n in verifier_names], value=preset.evaluator or "",
                                 label="Held-out evaluator",
                                 info="Plotted beside the verifier, never told to the search: does search "
                                      "improve what we care about, or only the verifier's opinion?")
    c["algorithm"] = gr.Radio(list(ALGORITHMS), value=DEFAULT_ALGORITHM, label="Search algorithm",
                              info="steps = the baseline: one noise, more denoising steps.")
    c["budget"] = gr.Slider(1, 20000, value=preset.budget, step=1, label="Budget (NFEs)",
                            info="Denoiser passes over one image, all candidates together.")
    c["estimate"] = gr.Markdown("")
    with gr.Row():
        c["steps"] = _number("steps", info["default_steps"], minimum=1)
        c["seed"] = _number("seed", SETTINGS["seed"].default, minimum=0)
    c["baseline"] = gr.Checkbox(False, label="Also run the more-steps baseline at the same budget")
    _advanced(c)
    taken = catalog.model_options(start)
    with gr.Accordion("Advanced: model options", open=False, visible=bool(taken)) as c["model_options_box"]:
        c["model_option_inputs"] = {name: _model_option_component(name, name in taken) for name in MODEL_OPTIONS}
    return c


def _advanced(c: dict) -> None:
    """The algorithm parameters accordion: one group of option fields per algorithm, then final render and batch."""
    with gr.Accordion("Advanced: algorithm parameters", open=False):
        c["groups"], c["option_inputs"] = {}, {}
        fields = catalog.all_option_fields()
        for name in ALGORITHMS:
            with gr.Group(visible=name == DEFAULT_ALGORITHM) as group:
                gr.Markdown(catalog.algorithm_doc(name))
                for field in (f for f in fields if f.algorithm == name):
                    c["option_inputs"][field.key] = _option_component(field)
            c["groups"][name] = group
        c["final_steps"] = gr.Number(0, label="Final render steps", precision=0, minimum=0,
                                     info="Re-render the winning noise with more steps (0 = no final "
                                          "render); counted in the budget.")
        c["batch_size"] = _number("batch_size", SETTINGS["batch_size"].default, minimum=1)
