"""A loaded run's settings put back into the page's controls: model, prompt or class, verifiers, held-out
evaluator, algorithm and its options, budget, steps, and every other setting of the form (`form.PAGE_SETTINGS`:
seed, batch size, solver, final render steps, the drafts committed, ...) and model options.

The controls that follow the model (`choices.model_controls`) are set for the run's model first, then given
the run's own values, so pressing Run again repeats the loaded search. While this tab's search runs nothing
changes: a running search's controls stay as it was started with.
"""

from __future__ import annotations

import gradio as gr

from tsearch.app import catalog, form, timing
from tsearch.app.choices import model_controls
from tsearch.app.loaded import checked
from tsearch.app.state import Session
from tsearch.config import SETTINGS
from tsearch.runs import load_run

# the outputs of `choices.model_controls`, in its order (then each model option's field)
MODEL_CONTROLS = ("model_note", "prompt", "examples_column", "cls", "verifiers", "evaluator", "budget", "steps",
                  "estimate", "model_options_box")
RUN_CONTROLS = ("model", "algorithm", *(name for name in form.PAGE_SETTINGS if name not in MODEL_CONTROLS))


def outputs(c: dict) -> list:
    """The components `restore` updates, in the order of its return value."""
    return ([c[k] for k in MODEL_CONTROLS] + list(c["model_option_inputs"].values())
            + [c[k] for k in RUN_CONTROLS] + list(c["option_inputs"].values()))


def restore(c: dict, session: Session | None, baseline: bool = False) -> list:
    """Updates for `outputs(c)` from this tab's loaded run; all left as they are while its search runs, when no
    run is loaded, or when the run's model is not available here."""
    keep = [gr.skip()] * len(outputs(c))
    if session is None or session.current is not None or not session.loaded_run_dir:
        return keep
    try:
        config = checked(load_run(session.loaded_run_dir).config)
    except (ValueError, OSError, gr.Error):   # `files_tab.load` refused it already, naming the setting
        return keep
    if config is None:
        return keep
    follow = list(model_controls(config.model, config.budget, baseline))
    _own_values(follow, c, config, baseline)
    run = [config.model, config.algorithm] + [shown(name, getattr(config, name)) for name in RUN_CONTROLS[2:]]
    options = dict(config.options or {})
    fields = {f.key: f for f in catalog.all_option_fields()}
    own = [options.get(fields[key].name, fields[key].default) if fields[key].algorithm == config.algorithm
           else gr.skip() for key in c["option_inputs"]]
    return follow + [gr.update(value=v) for v in run] + [v if isinstance(v, dict) else gr.update(value=v) for v in own]


def shown(name: str, value):
    """A setting's value as its control shows it: None (the default) blank, 0 in a count's number field."""
    if value is not None:
        return value
    kind = SETTINGS[name].kind
    return 0 if kind is int else "" if kind is str else None


def _own_values(follow: list, c: dict, config: SearchConfig, baseline: bool) -> None:
    """The run's values over the model's presets in `model_controls`'s updates (in place)."""
    at = {key: i for i, key in enumerate(MODEL_CONTROLS)}
    text = isinstance(config.condition, str)
    if text:
        follow[at["prompt"]] = gr.update(visible=True, value=config.condition)
    else:
        follow[at["cls"]] = {**follow[at["cls"]], "value": config.condition}
    follow[at["verifiers"]] = gr.update(value=list(config.verifiers))
    follow[at["evaluator"]] = gr.update(value=config.evaluators[0] if config.evaluators else "")
    follow[at["budget"]] = gr.update(value=config.budget)
    if config.steps is not None:
        follow[at["steps"]] = gr.update(value=config.steps)
    follow[at["estimate"]] = timing.estimate(config.model, config.budget, config.condition if text else None,
                                             None if text else config.condition, config.batch_size, baseline)
    chosen = dict(config.model_options or {})
    for i, name in enumerate(c["model_option_inputs"], start=len(MODEL_CONTROLS)):
        if name in chosen:
            follow[i] = {**follow[i], "value": chosen[name]}
