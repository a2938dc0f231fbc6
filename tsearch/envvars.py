"""Environment variables tsearch reads, each read and checked where it is used (never at import).

A bad value is one ValueError naming the variable, what it takes and what to do:

    TSEARCH_VERIFIER_TIMEOUT=abc  ->  ValueError: $TSEARCH_VERIFIER_TIMEOUT: seconds >= 0 (0 = no deadline),
                                      got 'abc'; unset it for the default (600)
"""

from __future__ import annotations

import math
import os


def _bad(name: str, wants: str, text: str, default) -> ValueError:
    return ValueError(f"${name}: {wants}, got {text!r}; fix it or unset it for the default ({default:g})")


def seconds(name: str, default: float) -> float:
    """$name as seconds >= 0 (unset or empty: `default`); ValueError naming the variable otherwise."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise _bad(name, "seconds >= 0 (0 = no deadline)", text, default) from None
    if not math.isfinite(value) or value < 0:
        raise _bad(name, "seconds >= 0 (0 = no deadline)", text, default)
    return value


def whole(name: str, default: int, minimum: int = 1, maximum: int | None = None) -> int:
    """$name as a whole number in [minimum, maximum] (unset or empty: `default`); ValueError naming it otherwise."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    wants = f"a whole number of at least {minimum}" + ("" if maximum is None else f" and at most {maximum}")
    try:
        value = int(text)
    except ValueError:
        raise _bad(name, wants, text, default) from None
    if value < minimum or (maximum is not None and value > maximum):
        raise _bad(name, wants, text, default)
    return value
