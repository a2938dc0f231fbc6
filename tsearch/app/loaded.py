"""A loaded run's settings through the checks a Run typed on the page passes, before any is shown or put back.

A shared zip's run.json is a visitor's values like any other (issue 25: a budget of 10^12, seed -1, class 99, a
module path as the algorithm, `final_top: 1000000000` restored into the form unchecked). `checked` is the one
check: `files_tab.load` refuses a run that fails it, naming the setting, and `restore` puts back only what passed.
"""

from __future__ import annotations

import gradio as gr

from tsearch.app import catalog, form, validate
from tsearch.app.export import too_large
from tsearch.app.one_path import lend, prepared
from tsearch.config import SearchConfig


def parsed(row) -> SearchConfig:
    """A loaded run's stored config as a SearchConfig (its own ranges: seed, budget, steps...); gr.Error naming the
    setting when the record is none."""
    try:
        too_large(row)
        return SearchConfig.from_row(row)
    except (ValueError, TypeError, OverflowError) as error:
        raise gr.Error(str(error)) from None


def checked(row) -> SearchConfig | None:
    """A loaded run's stored config (run.json's "config") through the checks a Run typed on the page passes: the
    names (`validate.check_names`), a Run's budget cap, `form.build` (SearchConfig's own checks) and the plan's
    (`one_path.prepared`: the class the model has, the drafts the budget buys...), all before anything runs and
    none looping over a value. gr.Error naming the setting; None when its model is not available here (the run is
    shown, its settings are not put back)."""
    config = parsed(row)
    if not any(name == config.model and ok for name, ok, _, _ in catalog.models()):
        return None
    model, verifiers, evaluator, algorithm = validate.check_names(
        config.model, list(config.verifiers), config.evaluators[0] if config.evaluators else "", config.algorithm)
    validate.check_page_budget(config.budget)
    fields = list(catalog.option_fields(algorithm))
    unknown = sorted(set(config.options or {}) - {f.name for f in fields})
    if unknown:
        raise gr.Error(f"options: {', '.join(map(str, unknown))} do not apply to algorithm {algorithm!r}")
    options = {f.key: (config.options or {})[f.name] for f in fields if f.name in (config.options or {})}
    slot = lend(model)
    text = slot.model.conditioning == "text"
    built = form.build(model, slot.model.conditioning, prompt=config.condition if text else None,
                       cls=None if text else config.condition, verifiers=verifiers, evaluator=evaluator,
                       algorithm=algorithm, options=options, model_values=dict(config.model_options or {}),
                       **{name: getattr(config, name) for name in form.PAGE_SETTINGS})
    prepared(built, slot)
    return config
