"""Input fields that answer a bad value with a message naming the field (issues 21 and 25).

gradio 6 preprocesses an input before the app's function runs: `gr.Number.preprocess` and
`gr.Slider.preprocess` compare the value with their bounds and round it, so a string ("lots") or a
JSON NaN from a gradio_client or REST caller fails there with a TypeError or ValueError, which gradio
wraps as a ComponentProcessingError and sends on as its generic "The upstream Gradio app has raised an
exception" (blocks.py, `preprocess_data`). The one exception it passes on with its own message is a
`gr.Error` (`except Error: raise`). So `guard(demo)` gives each Number and Slider of the page a
preprocess that checks the value first and raises a gr.Error such as

    budget (the field "Budget (NFEs)"): expected a number, got 'lots'
    steps (the field "Denoising steps per candidate"): expected a finite number, got NaN
    seed (the field "Seed"): expected a whole number, got 2.5

then runs gradio's own preprocess (its bounds and rounding) on what passed. Every other input field's refusal
(a choice the field does not offer, a value of the wrong kind) is said the same way, its value shortened:

    split (the field "Split"): choose from 'hard', 'easy'; got 'xxxxxxxx...'
"""

from __future__ import annotations

import math

import gradio as gr


def guard(demo: gr.Blocks) -> gr.Blocks:
    """Check every Number and Slider input of `demo` before gradio's preprocess, and name the field in any other
    input's refusal (a choice not offered, a value of the wrong kind); returns `demo`."""
    names = _parameter_names(demo)
    for block in demo.blocks.values():
        if "preprocess" in vars(block) or not callable(getattr(type(block), "preprocess", None)):
            continue
        if isinstance(block, (gr.Number, gr.Slider)):
            block.preprocess = _checked(block, type(block).preprocess, names.get(block._id))
        elif isinstance(block, gr.components.Component) and not isinstance(block, gr.State):
            block.preprocess = _named(block, type(block).preprocess, names.get(block._id))
    return demo


def _parameter_names(demo: gr.Blocks) -> dict[int, str]:
    """Each input block's parameter name in the API (what a gradio_client or REST caller passes)."""
    names: dict[int, str] = {}
    for fn in demo.fns.values():
        for block, name in zip(fn.inputs, getattr(fn, "input_parameter_names", None) or ()):
            if name:
                names.setdefault(block._id, name)
    return names


def _field(block, parameter: str | None) -> str:
    label = block.label or type(block).__name__
    return f"{parameter} (the field \"{label}\")" if parameter else label


def _named(block, preprocess, parameter: str | None):
    """gradio's preprocess of a field, its refusal said with the field's name and the value shortened (gradio's
    own message repeats the whole value, a 5000-character string included, and names no field)."""
    name = _field(block, parameter)

    def check(payload):
        try:
            return preprocess(block, payload)
        except Exception as error:   # noqa: BLE001 (gr.Error included: it is said again, shorter and named)
            choices = [value for _, value in getattr(block, "choices", None) or []]
            if choices and not getattr(block, "allow_custom_value", False):
                offered = ", ".join(map(repr, choices[:12])) + (", ..." if len(choices) > 12 else "")
                raise gr.Error(f"{name}: choose from {offered}; got {_shown(payload)}") from None
            raise gr.Error(f"{name}: this field cannot take {_shown(payload)} "
                           f"({type(error).__name__})") from None

    return check


def _checked(block, preprocess, parameter: str | None):
    name = _field(block, parameter)
    whole = getattr(block, "precision", None) == 0

    def check(payload):
        if payload is None and isinstance(block, gr.Slider):   # a slider always has a value: gradio fails on none
            raise gr.Error(f"{name}: expected {'a whole number' if whole else 'a number'}, got null")
        if payload is None:
            return preprocess(block, payload)
        problem = problem_with(payload, whole)
        if problem:
            raise gr.Error(f"{name}: {problem}, got {_shown(payload)}")
        return preprocess(block, payload)

    return check


def problem_with(value, whole: bool) -> str | None:
    """What is wrong with `value` as a field's number (None: nothing)."""
    kind = "a whole number" if whole else "a number"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"expected {kind}"
    if not math.isfinite(value):
        return "expected a finite number"
    if whole and not float(value).is_integer():
        return f"expected {kind}"
    return None


def _shown(value) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
