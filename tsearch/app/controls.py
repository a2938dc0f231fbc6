"""The form: the page's left column of controls, each labelled and explained by its setting (tsearch.options).

The search's own fields come from SearchConfig's settings, the model options from MODEL_OPTIONS and each
algorithm's fields from its options, so a new setting, model option or algorithm appears here untouched.
What follows the chosen model and algorithm (choices, defaults, the notes on cost) is choices.py.
"""

from __future__ import annotations

import gradio as gr

from tsearch.app import catalog, choices, form
from tsearch.app.catalog import DEFAULT_ALGORITHM
from tsearch.config import SETTINGS
from tsearch.flags import choices_of
from tsearch.models import MODEL_OPTIONS
from tsearch.options import Setting
from tsearch.search import ALGORITHMS, option_settings


def _label(s: Setting) -> str:
    return s.title[:1].upper() + s.title[1:]


def _info(s: Setting) -> str:
    """The field's help with its real default and range (the form shows what validation will ask for)."""
    text = s.describe()
    return text[:1].upper() + text[1:]


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


def _number(name: str, value, **kwargs):
    """A SearchConfig field's number input, labelled and explained by its setting (its default and range)."""
    s = SETTINGS[name]
    return gr.Number(value, label=_label(s), info=_info(s), precision=0, **kwargs)


def _run_bar(start: str, info: dict, preset: catalog.Preset) -> dict:
    """The run bar: what to draw, and Run, first on the page and first in keyboard order. The prompt and the class
    start blank and are filled from the model when the page loads (choices.opening)."""
    text, c = info["conditioning"] == "text", {}
    with gr.Row(equal_height=False, elem_id="run-bar"):
        c["model"] = gr.Dropdown(catalog.model_choices(), value=start, label="Model", scale=2, min_width=200)
        c["prompt"] = gr.Textbox(None, label="Prompt", visible=text, max_lines=2, scale=5,
                                 min_width=240, placeholder=preset.prompt or "a red circle and a blue square")
        c["cls"] = gr.Dropdown(choices.class_choices(info), value=None, label="Class", visible=not text,
                               allow_custom_value=True, scale=5, min_width=240)
        c["run_button"] = gr.Button("Run", variant="primary", elem_id="run", scale=1, min_width=110)
        c["stop_button"] = gr.Button("Stop", variant="stop", elem_id="stop", scale=1, min_width=110,
                                     interactive=False)
    return c


def _model_part(start: str, info: dict, c: dict) -> None:
    """Under the run bar: the model's note, the models that do not run here, the example prompts."""
    c["model_note"] = gr.Markdown(catalog.model_note(start))
    with gr.Accordion("Other models", open=False, elem_id="other-models"):
        gr.Markdown(catalog.other_models_note())
    with gr.Column(visible=info["conditioning"] == "text" and bool(info["examples"])) as c["examples_column"]:
        if info["examples"]:
            gr.Examples([[e] for e in info["examples"]], inputs=[c["prompt"]], label="Example prompts",
                        cache_examples=False)


def _controls(start: str, info: dict, preset: catalog.Preset, c: dict) -> dict:
    """The form: the left column's settings by name, added to `c` (the run bar's controls). The verifiers, the
    evaluator and the steps start blank and are filled from the model when the page loads (choices.opening)."""
    _model_part(start, info, c)
    # every verifier available here, so an API caller may name any; the page narrows them to the model's on load
    offered = catalog.available_verifiers()
    c["verifiers"] = gr.Dropdown(offered, value=None, multiselect=True, label="Verifiers",
                                 info="Score each candidate; higher is better. Several are combined by mean rank "
                                      "(an ensemble). Only those that can score this model's images are offered.")
    c["evaluator"] = gr.Dropdown([("none", "")] + [(n, n) for n in offered], value=None,
                                 label="Held-out evaluator",
                                 info="Plotted beside the verifier, never told to the search: does search "
                                      "improve what we care about, or only the verifier's opinion?")
    # the notes start with the opening model's text, so nothing above the results moves when the page loads
    c["score_note"] = gr.Markdown(catalog.score_note(preset.verifiers, preset.evaluator), elem_id="score-note")
    c["algorithm"] = gr.Radio(list(ALGORITHMS), value=DEFAULT_ALGORITHM, label="Search algorithm",
                              info="steps = the baseline: one noise, more denoising steps.")
    algorithm_note, budget_note = choices.notes(start, DEFAULT_ALGORITHM, preset.budget, None, [], ())
    c["algorithm_note"] = gr.Markdown(algorithm_note, elem_id="algorithm-note")
    # a number field, not a slider: a slider moves a typed value into its range without a word; here a value out
    # of range stays as typed, the note under it says why, and Run refuses it (handlers.search)
    c["budget"] = gr.Number(preset.budget, label="Budget (NFEs)",   # any number in; a fraction is refused by name
                            info=f"NFE = one denoiser pass over one image; the budget is all candidates together "
                                 f"(at most {catalog.MOST_NFES:,} a Run).")
    c["budget_note"] = gr.Markdown(budget_note, elem_id="budget-note")
    c["estimate"] = gr.Markdown("")
    with gr.Row():
        # no bounds on the field: a value out of range stays as typed and the budget's note says why (choices.notes);
        # 0 (an emptied field sends 0) is the model's default
        c["steps"] = _number("steps", None)
        c["seed"] = _number("seed", SETTINGS["seed"].default, minimum=0)
    c["baseline"] = gr.Checkbox(False, label="Also run the more-steps baseline at the same budget")
    _advanced(c)
    taken = catalog.model_options(start)
    with gr.Accordion("Advanced: model options", open=False, visible=bool(taken)) as c["model_options_box"]:
        c["model_option_inputs"] = {name: _model_option_component(name, name in taken) for name in MODEL_OPTIONS}
    return c


def _advanced(c: dict) -> None:
    """The algorithm parameters accordion: one group per algorithm (how it works, behind its own accordion, then
    its option fields), then the draft-then-commit render and the batch size, each from its setting."""
    with gr.Accordion("Advanced: algorithm parameters", open=False):
        c["groups"], c["option_inputs"] = {}, {}
        fields = catalog.all_option_fields()
        for name in ALGORITHMS:
            with gr.Group(visible=name == DEFAULT_ALGORITHM) as group:
                with gr.Accordion(f"How {name} works", open=False):
                    gr.Markdown(catalog.algorithm_doc(name))
                for field in (f for f in fields if f.algorithm == name):
                    c["option_inputs"][field.key] = _option_component(field)
            c["groups"][name] = group
        with gr.Row():
            c["final_steps"] = _number("final_steps", None, minimum=0)
            c["final_top"] = _number("final_top", SETTINGS["final_top"].default, minimum=1)
        c["batch_size"] = _number("batch_size", SETTINGS["batch_size"].default, minimum=1)
        for name in form.PAGE_SETTINGS:   # every other setting: a control generated from its setting
            if name not in c:
                c[name] = setting_control(SETTINGS[name])


def setting_control(s: Setting):
    """A control for a setting with no hand-tuned one: a checkbox, a dropdown of its choices (blank: its default)
    or a number with its range, labelled and explained by the setting."""
    label, info = _label(s), _info(s)
    choices = choices_of(s)
    if s.kind is bool:
        return gr.Checkbox(bool(s.default), label=label, info=info)
    if choices:
        blank = [(s.blank, "")] if s.optional else []
        return gr.Dropdown(blank + [(str(c), c) for c in choices], value="" if s.default is None else s.default,
                           label=label, info=info)
    if s.kind in (int, float):
        bounds = {key: bound for key, bound, open_ in (("minimum", s.minimum, s.exclusive[0]),
                                                       ("maximum", s.maximum, s.exclusive[1]))
                  if bound is not None and not open_}
        return gr.Number(s.default, label=label, info=info, precision=0 if s.kind is int else None, **bounds)
    return gr.Textbox("" if s.default is None else str(s.default), label=label, info=info, max_lines=1)
