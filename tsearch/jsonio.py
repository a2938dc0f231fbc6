"""Strict JSON for every file and line tsearch writes: null, never NaN or Infinity (STYLE.md 16)."""

from __future__ import annotations

import json
import math
from typing import Any


def finite(value) -> float | None:
    """A float, or None where it is missing, NaN or infinite."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def clean(value: Any) -> Any:
    """The value with every non-finite float replaced by None, through dicts, lists and tuples."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(item) for item in value]
    return value


def dumps(value: Any, **kwargs) -> str:
    """json.dumps that can only produce strict JSON."""
    return json.dumps(clean(value), allow_nan=False, **kwargs)
