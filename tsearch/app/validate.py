"""From what the controls (or an API caller) send to a `SearchConfig`: the app's side of the one front door.

Names are checked against the registries and against what the host offers before anything loads;
everything else is `SearchConfig`'s own validation. Every problem is a gr.Error whose message says
what to change, and the app keeps working.
"""

from __future__ import annotations

import math

import gradio as gr

from tsearch.api import config_from
from tsearch.app import catalog
from tsearch.config import SearchConfig
from tsearch.registry import Unavailable
from tsearch.search import ALGORITHMS
from tsearch.verifiers import VERIFIERS

DEFAULT_BATCH = 4   # smaller batches than the CLI's 16: the first candidate, updates and Stop come sooner


def _known(kind: str, name, registry) -> str:
    """`name` when it is in `registry` (names); gr.Error saying what to choose otherwise."""
    if name is None or name == "":
        raise gr.Error(f"choose a {kind}")
    if not isinstance(name, str) or name not in registry:
        raise gr.Error(f"unknown {kind} {name!r}; choose one of: {', '.join(sorted(registry))}")
    return name


def _unavailable(kind: str, name: str, registry_kind: str) -> None:
    ok, reason = catalog.status_of(registry_kind, name)
    if not ok:
        raise gr.Error(f"{kind} {name!r} is unavailable here: {reason}")


def check_names(model, verifiers, evaluator, algorithm) -> tuple[str, tuple[str, ...], str | None, str]:
    """The registered names asked for, before any model loads; gr.Error naming the first that is not."""
    model = _known("model", model, catalog.known_models())
    _unavailable("model", model, "model")
    catalog.check_allowed(model)
    if isinstance(verifiers, str):
        verifiers = [verifiers] if verifiers else []
    if verifiers is not None and (not isinstance(verifiers, (list, tuple)) or
                                  not all(isinstance(v, str) for v in verifiers)):
        raise gr.Error(f"verifiers is a list of registered verifier names, got {verifiers!r}")
    verifiers = tuple(dict.fromkeys(verifiers or ()))
    if not verifiers:
        raise gr.Error("choose at least one verifier (several are combined by mean rank)")
    for name in verifiers:
        _known("verifier", name, VERIFIERS)
        _unavailable("verifier", name, "verifier")
    evaluator = evaluator or None
    if evaluator is not None and not isinstance(evaluator, str):
        raise gr.Error(f"evaluator is one registered verifier name, got {evaluator!r}")
    if evaluator is not None:
        _known("held-out evaluator", evaluator, VERIFIERS)
        _unavailable("evaluator", evaluator, "verifier")
    return model, verifiers, evaluator, _known("algorithm", algorithm, ALGORITHMS)


def check_flag(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise gr.Error(f"{name} must be true or false, got {value!r}")
    return value


def check_options(options: dict) -> None:
    """Every extra keyword must be an algorithm option the page offers (`<algorithm>_<option>`)."""
    known = {field.key for field in catalog.all_option_fields()}
    unknown = sorted(set(options) - known)
    if unknown:
        raise gr.Error(f"unknown parameter(s) {', '.join(unknown)}; algorithm options are named "
                       f"<algorithm>_<option>, e.g. zero_order_lam")


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def model_options(model: str, values: dict) -> dict:
    """The model options a search asks for (blank ones left out: the model's default); gr.Error for one it does not take.

    `values` maps MODEL_OPTIONS names to what the controls (or an API caller) sent."""
    chosen = {}
    for name, value in values.items():
        if _blank(value):
            continue
        if name == "negative_prompt":
            if not isinstance(value, str):
                raise gr.Error(f"negative_prompt is text, got {value!r}")
        elif name == "guidance":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise gr.Error(f"guidance is a number >= 0 (1 = no classifier-free guidance), got {value!r}")
            value = float(value)
        else:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or \
                    not float(value).is_integer() or value < 1:
                raise gr.Error(f"{name} is a whole number >= 1 (blank: the model's default), got {value!r}")
            value = int(value)
        chosen[name] = value
    catalog.check_model_options(model, chosen)
    return chosen


def config_for(model, conditioning: str, prompt, cls, verifiers, evaluator, algorithm, budget, steps, seed,
               final_steps, batch_size, options: dict, model_values: dict | None = None) -> SearchConfig:
    """The SearchConfig of one search from the controls; `conditioning` is the loaded model's ("text"/"class")."""
    model, verifiers, evaluator, algorithm = check_names(model, verifiers, evaluator, algorithm)
    chosen_model_options = model_options(model, model_values or {})
    if conditioning == "text":
        if _blank(prompt):
            raise gr.Error(f"write a prompt for the {model} model, e.g. "
                           f"{catalog.preset(model).prompt or 'a red circle'!r}")
        condition = str(prompt)
    else:
        condition = cls if not _blank(cls) else (None if _blank(prompt) else prompt)
        if _blank(condition):
            raise gr.Error(f"choose a class for the {model} model")
        if isinstance(condition, str) and condition.strip().isdigit():
            condition = int(condition.strip())
    try:
        return config_from(
            model=model, condition=condition, verifiers=verifiers, evaluators=(evaluator,) if evaluator else (),
            algorithm=algorithm, budget=budget, seed=0 if _blank(seed) else seed,
            steps=None if _blank(steps) or steps == 0 else steps,
            final_steps=None if _blank(final_steps) or final_steps == 0 else final_steps,
            batch_size=DEFAULT_BATCH if _blank(batch_size) or batch_size == 0 else batch_size,
            options=catalog.options_for(algorithm, options) or None, model_options=chosen_model_options)
    except (ValueError, Unavailable) as error:
        raise gr.Error(str(error)) from None
