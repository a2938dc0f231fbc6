"""What the Search and Compare tabs (or an API or MCP caller) send -> one validated `SearchConfig`.

The controls are a form over the settings (tsearch.options): a blank field is the setting's default, and
every value goes to `SearchConfig.validate` once, which checks it against its setting and names it when it
does not fit. Only what a form alone knows is decided here: which of the prompt and the class the chosen
model takes, and that a class given to a text model does not apply.
"""

from __future__ import annotations

import gradio as gr

from tsearch.app import catalog
from tsearch.config import SETTINGS, SearchConfig
from tsearch.models import MODEL_OPTIONS
from tsearch.registry import Unavailable

# The settings the page sets by name: each a control of the form (controls.py: a hand-tuned one or one generated from
# its setting), a parameter of the /search and /compare endpoints, a keyword of `build` and a value restore puts back.
# Every scalar setting a remote caller may set (not the host's device and dtype), but the model, condition and
# algorithm, which the form asks for in its own way: a new SearchConfig field is one more, with no edit here.
PAGE_SETTINGS = tuple(name for name, s in SETTINGS.items() if s.remote and s.kind in (int, float, str, bool)
                      and name not in ("model", "condition", "algorithm"))


def split(keywords: dict) -> tuple[dict, dict]:
    """(settings, the rest) of an endpoint's extra keywords: the PAGE_SETTINGS among them, then the algorithm
    options (`<algorithm>_<option>`) and anything else, which `validate.check_options` checks."""
    settings = {name: keywords[name] for name in PAGE_SETTINGS if name in keywords}
    return settings, {key: value for key, value in keywords.items() if key not in settings}


def blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def given(name: str, value):
    """A control's value, or its setting's default when left blank (0 means blank for optional counts)."""
    s = SETTINGS[name]
    if blank(value) or (s.optional and s.kind is int and value == 0 and not isinstance(value, bool)):
        return s.default
    return value


def chosen_model_options(values: dict | None) -> dict:
    """The model options a search asks for, blank ones left out (the model's default); checked by validate."""
    values = values or {}
    unknown = sorted(set(values) - set(MODEL_OPTIONS))
    if unknown:
        raise gr.Error(f"unknown model option(s) {', '.join(unknown)}; the model options are "
                       f"{', '.join(MODEL_OPTIONS)}")
    return {name: value for name, value in values.items() if not blank(value)}


def changed(model, values: dict) -> dict:
    """The model options, those equal to the loaded model's own left out where a variant would load the model again
    (a bundled model; a diffusers adapter's variant shares its pipeline, so its values are kept as given). The page
    shows a model's default in its field, so a Run left at it builds no second copy of the model."""
    if callable(getattr(model, "with_options", None)):
        return values
    return {name: value for name, value in values.items()
            if blank(value) or not (hasattr(model, name) and getattr(model, name) == value)}


def condition(model: str, conditioning: str, prompt, cls):
    """The prompt (text models) or the class (class-conditional) the controls give; gr.Error when it is missing or
    when a class is given to a text model (it would be ignored). Both left out (None, as an API caller who names
    only the model): the model's preset prompt or class."""
    if prompt is None and cls is None:
        preset = catalog.preset(model)
        prompt, cls = (preset.prompt, None) if conditioning == "text" else (None, preset.cls)
    if conditioning == "text":
        if not blank(cls):
            raise gr.Error(f"cls: the {model} model takes a text prompt, not a class; leave cls empty")
        if blank(prompt):
            raise gr.Error(f"write a prompt for the {model} model, e.g. "
                           f"{catalog.preset(model).prompt or 'a red circle'!r}")
        return str(prompt)
    value = cls if not blank(cls) else (None if blank(prompt) else prompt)
    if blank(value):
        raise gr.Error(f"choose a class for the {model} model")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    return value


def build(model: str, conditioning: str, *, prompt=None, cls=None, verifiers=(), evaluator=None,
          algorithm: str = "random", options: dict | None = None, model_values: dict | None = None,
          **settings) -> SearchConfig:
    """The validated SearchConfig of one search (names already checked by `validate.check_names`). `settings`: any
    other SearchConfig field by its name (budget, steps, seed, batch_size, final_steps, ...), blank its default."""
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise gr.Error(f"unknown setting(s) {', '.join(unknown)}; the settings are {', '.join(SETTINGS)}")
    try:
        config = SearchConfig(
            model=model, condition=condition(model, conditioning, prompt, cls), verifiers=tuple(verifiers),
            evaluators=(evaluator,) if evaluator else (), algorithm=algorithm,
            **{name: given(name, value) for name, value in settings.items()},
            options=catalog.options_for(algorithm, options or {}) or None,
            model_options=chosen_model_options(model_values)).validate()
    except (ValueError, Unavailable) as error:
        raise gr.Error(str(error)) from None
    if config.final_top > config.budget:   # O(1): every draft costs at least one NFE (the plan then counts them)
        raise gr.Error(f"final_top: at most the drafts the budget buys, never more than the budget ({config.budget:,} "
                       f"NFEs); got {config.final_top:,}")
    return config
