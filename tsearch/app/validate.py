"""From what the controls (or an API caller) send to a `SearchConfig`: the app's side of the one front door.

Names are checked against the registries and against what the host offers before anything loads;
everything else is `SearchConfig`'s own validation. Every problem is a gr.Error whose message says
what to change, and the app keeps working.
"""

from __future__ import annotations

import gradio as gr

from tsearch.app import catalog
from tsearch.config import MAX_BUDGET
from tsearch.search import ALGORITHMS
from tsearch.verifiers import VERIFIERS


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
    """The registered names asked for, before any model loads; gr.Error naming the first that is not.

    Verifiers or evaluator left out (None, as an API caller who names only the model) are the model's preset;
    an evaluator of "" is none."""
    model = _known("model", model, catalog.known_models())
    _unavailable("model", model, "model")
    catalog.check_allowed(model)
    if isinstance(verifiers, str):
        verifiers = [verifiers] if verifiers else []
    if verifiers is not None and (not isinstance(verifiers, (list, tuple)) or
                                  not all(isinstance(v, str) for v in verifiers)):
        raise gr.Error(f"verifiers is a list of registered verifier names, got {verifiers!r}")
    preset = catalog.preset(model)
    verifiers = preset.verifiers if verifiers is None else tuple(dict.fromkeys(verifiers))
    if not verifiers:
        raise gr.Error("choose at least one verifier (several are combined by mean rank)")
    for name in verifiers:
        _known("verifier", name, VERIFIERS)
        _unavailable("verifier", name, "verifier")
    evaluator = preset.evaluator if evaluator is None else (evaluator or None)   # left out: the preset's; "": none
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


def check_page_budget(budget) -> None:
    """A budget over what one Run of the page spends (catalog.MOST_NFES) refused at once, O(1), before any work;
    what is not a number, or beyond any search's range (SearchConfig's MAX_BUDGET), is left to the form, which
    names it."""
    if isinstance(budget, (int, float)) and not isinstance(budget, bool) and catalog.MOST_NFES < budget <= MAX_BUDGET:
        raise gr.Error(f"budget: a Run spends at most {catalog.MOST_NFES:,} NFEs here; got {_number(budget)}")


def _number(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = f"{value:,}" if isinstance(value, int) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
