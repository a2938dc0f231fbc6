"""The checks `SearchConfig.validate` makes beyond each field's setting: the model given, the algorithm's options,
the condition, the scorers, the device, and that a bundled world's verifier scores that world's images only."""

from __future__ import annotations

import dataclasses
import math
from typing import Mapping

MAX_PROMPT_CHARS = 4000     # longer prompts are refused (encoders truncate far earlier)


def _check_model(model) -> None:
    from tsearch.models.hub import is_pipeline

    if isinstance(model, str):
        if not model.strip():
            raise ValueError("model: give a registered name (see `python -m tsearch models`), a hub id or a folder")
    elif not is_pipeline(model) and \
            not all(callable(getattr(model, name, None)) for name in ("encode", "forward_x0", "decode")):
        raise ValueError(f"model: give a registered name (see `python -m tsearch models`), a hub id, a folder, "
                         f"a loaded diffusers pipeline or a tsearch Model object; got {model!r}")


def _algorithm_options(algorithm, options):
    """The algorithm's Options instance from None (its defaults), a dict or an instance, each value checked."""
    from tsearch.registry import unknown
    from tsearch.search import ALGORITHMS, make_options

    if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
        raise unknown("algorithm", algorithm, ALGORITHMS)
    if options is None:
        return make_options(algorithm)
    if isinstance(options, Mapping):
        return make_options(algorithm, **options)
    if not isinstance(options, ALGORITHMS[algorithm].Options):
        raise ValueError(f"options: algorithm {algorithm!r} takes a "
                         f"{ALGORITHMS[algorithm].__module__}.Options, got {type(options).__name__}")
    return make_options(algorithm, **dataclasses.asdict(options))


LOCAL_KINDS = ("analytic", "bundled")   # registry kinds of the bundled worlds


def world_of(verifier) -> str | None:
    """The bundled world a registered verifier belongs to (`shapes-quality` -> `shapes`), None for general ones."""
    from tsearch.models import MODELS
    from tsearch.verifiers import VERIFIERS

    if not isinstance(verifier, str) or verifier not in VERIFIERS or VERIFIERS[verifier].kind not in LOCAL_KINDS:
        return None
    worlds = [m for m, entry in MODELS.items() if entry.kind in LOCAL_KINDS and verifier.startswith(m + "-")]
    return max(worlds, key=len) if worlds else None


def home_world(model) -> str | None:
    """The bundled world a registered bundled or analytic model draws (`shapes-teacher` -> `shapes`), else None."""
    from tsearch.models import MODELS

    if not isinstance(model, str) or model not in MODELS or MODELS[model].kind not in LOCAL_KINDS:
        return None
    # a world's variants (shapes-teacher, shapes-distilled) draw the same world's images
    return min((m for m, entry in MODELS.items() if entry.kind in LOCAL_KINDS and (model == m or
                                                                                    model.startswith(m + "-"))),
               key=len)


def check_worlds(model, verifiers, evaluators) -> None:
    """ValueError when a bundled world's verifier is asked to score another bundled world's images."""
    from tsearch.verifiers import VERIFIERS

    home = home_world(model)
    if home is None:
        return
    for what, names in (("verifier", verifiers), ("evaluator", evaluators)):
        for name in names:
            world = world_of(name)
            if world is not None and world != home:
                fits = [v for v in VERIFIERS if world_of(v) == home] or [v for v in VERIFIERS if world_of(v) is None]
                raise ValueError(f"{what} {name!r} cannot score this search: it scores the {world} world's images, "
                                 f"not model {model!r}'s; choose one that fits {model}, e.g. {', '.join(fits[:3])}")


def whole(name: str, value, minimum: int, maximum: int | None = None, optional: bool = False) -> int | None:
    """An integer field: whole numbers only (2.0 is taken, 2.5 is refused, never truncated)."""
    import numpy as np

    if value is None and optional:
        return None
    bounds = f"at least {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a whole number {bounds}, got {value!r}")
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value) or not float(value).is_integer():
            raise ValueError(f"{name} must be a whole number {bounds}, got {value!r}")
        if abs(value) > 2**53:
            raise ValueError(f"{name} must be given as an integer, not the float {value!r} (floats above 2^53 "
                             f"lose digits)")
    number = int(value)
    if number < minimum or (maximum is not None and number > maximum):
        from tsearch.options import shown

        raise ValueError(f"{name} must be {bounds}, got {shown(value)}")
    return number


def _condition(value):
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if len(text) > MAX_PROMPT_CHARS:
            raise ValueError(f"condition: the prompt has {len(text)} characters; at most {MAX_PROMPT_CHARS} are taken")
        return text
    return whole("condition (class)", value, 0)


def _scorers(name: str, values, minimum: int) -> tuple:
    if isinstance(values, str):
        raise ValueError(f"{name} is a list of names, got the single string {values!r}: "
                         f"write {name}=[{values!r}]")
    if values is None:
        values = ()
    if isinstance(values, Mapping):
        raise ValueError(f"{name} is a list of names, objects with .score or callables, not a dict: "
                         f"write {name}=[...]")
    try:
        values = tuple(values)
    except TypeError:
        values = (values,) if callable(values) or hasattr(values, "score") else None
        if values is None:
            raise ValueError(f"{name} is a list of registered names, objects with .score or callables") from None
    for value in values:
        if not (isinstance(value, str) and value.strip()) and not callable(value) and not hasattr(value, "score"):
            raise ValueError(f"{name}: each is a registered name, 'module:function', an object with .score or a "
                             f"callable; got {value!r}")
    if len(values) < minimum:
        raise ValueError("choose at least one verifier (several are combined by mean rank)")
    return values


def check_device_here(value) -> str:
    """The device name, checked as a name and against this machine (a sweep's worker checks its cell's here)."""
    return _device(value, here=True)


def _device(value, here: bool = True) -> str:
    """The device name, checked as a name; `here`: also that this machine has it (a sweep's driver
    may lack the GPUs its workers have, so the spec is checked with here=False)."""
    import torch

    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"device must be a string such as 'cpu' or 'cuda', got {value!r}")
    try:
        device = torch.device(value.strip())
    except (RuntimeError, ValueError):
        raise ValueError(f"device {value!r} is not a torch device; use 'cpu', 'cuda', 'cuda:1' or 'mps'") from None
    if device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device {value!r}: tsearch runs on 'cpu', 'cuda' or 'mps'")
    if not here:
        return value.strip()
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {value!r}: no CUDA GPU is visible here; use --device cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"device {value!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"device {value!r}: Apple's MPS is not available here; use --device cpu")
    return value.strip()
