"""Checking what the controls (or an API caller) ask for, and turning it into the engine's plan.

Everything that can be checked without loading a model is checked first, against the registries;
every problem is a gr.Error whose message says what to change, and the app keeps working.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from tsearch import engine
from tsearch.api import prepare
from tsearch.app import catalog
from tsearch.models import MODELS
from tsearch.registry import Unavailable
from tsearch.search import ALGORITHMS
from tsearch.verifiers import VERIFIERS

DEFAULT_BATCH = 4   # smaller batches than the CLI's 16: the first candidate, updates and Stop come sooner


@dataclass(frozen=True)
class Request:
    """A search the user asked for, checked against the registries."""
    model: str
    prompt: str | None
    cls: int | None
    verifiers: tuple[str, ...]
    evaluator: str | None
    algorithm: str
    budget: int
    steps: int | None
    seed: int
    final_steps: int | None
    batch_size: int
    options: dict


def _known(kind: str, name, registry) -> str:
    if name is None or name == "":
        raise gr.Error(f"choose a {kind}")
    if name not in registry:
        raise gr.Error(f"unknown {kind} {name!r}; choose one of: {', '.join(sorted(registry))}")
    return name


def _whole(name: str, value, minimum: int) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise gr.Error(f"{name} must be a whole number, got {value!r}") from None
    if not number.is_integer() or number < minimum:
        raise gr.Error(f"{name} must be a whole number of at least {minimum}, got {value!r}")
    return int(number)


def _unavailable(kind: str, name: str, rows) -> None:
    for row_name, ok, reason, _ in rows:
        if row_name == name and not ok:
            raise gr.Error(f"{kind} {name!r} is unavailable here: {reason}")


def check(model, prompt, cls, verifiers, evaluator, algorithm, budget, steps, seed, final_steps, batch_size,
          options) -> Request:
    """Everything that can be checked without loading a model; gr.Error with a clear message otherwise."""
    model = _known("model", model, MODELS)
    _unavailable("model", model, catalog.models())
    if isinstance(verifiers, str):
        verifiers = [verifiers] if verifiers else []
    verifiers = tuple(dict.fromkeys(verifiers or ()))
    if not verifiers:
        raise gr.Error("choose at least one verifier (several are combined by mean rank)")
    for name in verifiers:
        _known("verifier", name, VERIFIERS)
        _unavailable("verifier", name, catalog.verifiers())
    evaluator = evaluator or None
    if evaluator is not None:
        _known("held-out evaluator", evaluator, VERIFIERS)
        _unavailable("evaluator", evaluator, catalog.verifiers())
    algorithm = _known("algorithm", algorithm, ALGORITHMS)
    budget = _whole("budget (NFEs)", budget, 1)
    steps = None if steps in (None, "", 0) else _whole("steps", steps, 1)
    seed = _whole("seed", 0 if seed in (None, "") else seed, 0)
    final_steps = None if final_steps in (None, "", 0) else _whole("final render steps", final_steps, 1)
    batch_size = _whole("batch size", batch_size or DEFAULT_BATCH, 1)
    prompt = None if prompt is None else str(prompt)
    cls = None if cls in (None, "") else _whole("class", cls, 0)
    return Request(model, prompt, cls, verifiers, evaluator, algorithm, budget, steps, seed, final_steps,
                   batch_size, catalog.options_for(algorithm, options))


def plan(slot, request: Request, out=None) -> engine.Plan:
    """tsearch.api.prepare with the borrowed model and its cached verifiers; ValueError -> gr.Error."""
    model = slot.model
    try:
        if model.conditioning == "text":
            if not (request.prompt or "").strip():
                raise ValueError(f"write a prompt for the {request.model} model, e.g. "
                                 f"{catalog.preset(request.model).prompt or 'a red circle'!r}")
            condition = {"prompt": request.prompt.strip()}
        else:
            cls = request.cls if request.cls is not None else (request.prompt or None)
            if cls is None or str(cls).strip() == "":
                raise ValueError(f"choose a class for the {request.model} model")
            condition = {"cls": cls}
        verifiers = [slot.verifier(name) for name in request.verifiers]
        evaluators = [slot.verifier(request.evaluator)] if request.evaluator else []
        return prepare(model=model, verifiers=verifiers, evaluators=evaluators, algorithm=request.algorithm,
                       budget=request.budget, steps=request.steps, seed=request.seed,
                       batch_size=request.batch_size, out=out, final_steps=request.final_steps,
                       device=slot.device, **condition, **request.options)
    except (ValueError, Unavailable) as error:
        raise gr.Error(str(error)) from None
