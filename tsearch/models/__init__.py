"""Model registry: one line per model family or bundled model (DESIGN.md, "The parts"); the table itself and the
model options live in tsearch.models.table."""

from __future__ import annotations

import inspect
import os

from tsearch.models.base import Model, resolve_dtype
from tsearch.models.table import (ALIASES, MODEL_OPTIONS, MODELS, accepted_options, checked_model_options,  # noqa: F401
                                  normalise_options, option_error, supported_options)
from tsearch.registry import resolve, status, unknown


def check_model_options(name, options, flag=None) -> None:
    """ValueError naming the first model option a registered model does not take; others are the loader's to check.

    `flag(option)` spells the option as the caller knows it (the CLI: --height)."""
    if not isinstance(name, str) or name not in MODELS:
        return
    accepted = accepted_options(name)
    if accepted is None:
        return
    for option in normalise_options(options):
        if option not in accepted:
            error = option_error(option, f"model {name!r}", accepted, flag(option) if flag else None)
            if error is not None:
                raise error


def load_model(name: str, device: str = "cpu", **options) -> Model:
    """Build a registered model by name. Hub ids and local folders are resolved by `models.hub`.

    A `dtype` of "auto" is resolved here (bfloat16 where the device runs it natively, else float32), so each
    loader sees a concrete dtype; a model without a dtype option (gmm) takes float32 or auto only."""
    options = normalise_options(options)
    check_model_options(name, options)
    if name not in MODELS:
        if "/" in name or os.path.isdir(name):
            from tsearch.models import hub

            if options.get("dtype") == "auto":
                options["dtype"] = resolve_dtype("auto", device)
            return hub.load_pretrained(name, device, **options)
        raise unknown("model", name, MODELS)
    factory = resolve(MODELS[name])
    if "dtype" in options and "dtype" not in inspect.signature(factory).parameters:
        dtype = options.pop("dtype")
        if dtype not in (None, "float32", "fp32", "auto"):   # auto: float32 is all this model has
            raise ValueError(f"model {name!r} runs in float32 only (dtype float32 or auto); dtype={dtype!r} applies "
                             f"to the bundled and diffusers models")
    elif options.get("dtype") == "auto":
        options["dtype"] = resolve_dtype("auto", device)
    try:
        return factory(device=device, **options)
    except TypeError as error:  # an option this model does not take (e.g. guidance for gmm)
        raise ValueError(f"model {name!r} does not take these options: {error}") from None


def model_status() -> list[tuple[str, bool, str, str]]:
    """(name, available, reason, description) for every registered model."""
    return [(name, *status(entry), entry.description) for name, entry in MODELS.items()]


__all__ = ["MODELS", "MODEL_OPTIONS", "Model", "check_model_options", "checked_model_options", "load_model",
           "model_status", "supported_options"]
