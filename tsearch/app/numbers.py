"""Number fields that answer a bad value with a message naming the field (issue 21).

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

then runs gradio's own preprocess (its bounds and rounding) on what passed.
"""

from __future__ import annotations

import math

import gradio as gr


def guard(demo: gr.Blocks) -> gr.Blocks:
    """Check every Number and Slider input of `demo` before gradio's preprocess; returns `demo`."""
    names = _parameter_names(demo)
    for block in demo.blocks.values():
        if isinstance(block, (gr.Number, gr.Slider)) and "preprocess" not in vars(block):
            block.preprocess = _checked(block, type(block).preprocess, names.get(block._id))
    return demo


def _parameter_names(demo: gr.Blocks) -> dict[int, str]:
    """Each input block's parameter name in the API (what a gradio_client or REST caller passes)."""
    names: dict[int, str] = {}
    for fn in demo.fns.values():
        for block, name in zip(fn.inputs, getattr(fn, "input_parameter_names", None) or ()):
            if name:
                names.setdefault(block._id, name)
    return names


def _checked(block, preprocess, parameter: str | None):
    label = block.label or type(block).__name__
    name = f"{parameter} (the field \"{label}\")" if parameter else label
    whole = getattr(block, "precision", None) == 0

    def check(payload):
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
