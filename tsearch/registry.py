"""Plain-dict registries resolved lazily, so a missing optional dependency is reported by name.

An entry is "module:attribute" plus a one-line description. Building one imports the module then;
an ImportError becomes an `Unavailable` error that says what to install.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field


class Unavailable(RuntimeError):
    """Something registered cannot be built here (missing package, weights or hardware)."""


@dataclass(frozen=True)
class Entry:
    target: str                    # "package.module:factory"
    description: str
    requires: tuple[str, ...] = field(default=())   # importable modules it needs
    kind: str = ""                 # free-form grouping shown in listings (e.g. "bundled", "diffusers")
    condition: str = ""            # verifiers: what they read of the condition, "text" (a prompt), "class" (an ImageNet
                                   # class index) or "" (nothing: prompt-blind); the app offers one only where it fits


def resolve(entry: Entry):
    module_name, _, attribute = entry.target.partition(":")
    missing = [name for name in entry.requires if importlib.util.find_spec(name) is None]
    if missing:
        raise Unavailable(f"needs the Python package(s) {', '.join(missing)}: pip install {' '.join(missing)}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise Unavailable(f"cannot import {module_name}: {error}") from error
    return getattr(module, attribute)


def status(entry: Entry) -> tuple[bool, str]:
    """(available, reason): cheap, does not load weights; factories may add an `available()` check."""
    try:
        factory = resolve(entry)
    except Unavailable as error:
        return False, str(error)
    check = getattr(factory, "available", None)
    if callable(check):
        return check()
    return True, "ok"


def unknown(what: str, name: str, known) -> ValueError:
    return ValueError(f"unknown {what} {name!r}; choose one of: {', '.join(sorted(known))}")
