"""Settings that describe themselves (DESIGN.md, "One config, one record").

A `Setting` is one value a user can set: its name, kind, default, one line of help, a readable label,
the range or the choices it takes and the group a form shows it in. `SearchConfig`'s fields, the model
options (`tsearch.models.MODEL_OPTIONS`) and every algorithm's options carry one, declared once beside
the value (`setting(...)`, `option(...)`); the CLI's flags, the app's form, the MCP tool's schema, the
sweep spec's keys and docs/cli.md's options table are generated from (or checked against) them.

`check(setting, value, where)` is the one check of a value against its setting: the right kind, finite,
inside its range, one of its choices; a ValueError naming `where` otherwise, never a silent clamp.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

GROUPS = ("search", "advanced", "model", "algorithm")   # where a form shows a setting


@dataclass(frozen=True)
class Setting:
    name: str
    kind: type                          # int, float, str or bool
    default: Any
    help: str                           # one line, for newcomers
    label: str = ""                     # readable, e.g. "neighbour similarity (λ)"; empty: the name
    group: str = "search"               # one of GROUPS
    minimum: float | None = None
    maximum: float | None = None
    exclusive: tuple[bool, bool] = (False, False)   # (minimum, maximum) excluded from the range
    choices: tuple = ()                 # the values a string takes (empty: any)
    optional: bool = False              # None is a value too
    blank: str = "the model's"          # what None means, in words
    noun: str = ""                      # what a number is, in words ("a scale"); empty: "a number"
    when_set: bool = False              # stored (run.json, sweep keys) only when it differs from its default
    remote: bool = True                 # offered to remote callers (the app, MCP); False: the host's choice

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ")

    def range_text(self) -> str:
        """The range in words, as every front door quotes it: 'in (0, 1)', 'at least 1', 'one of a, b'."""
        if self.choices:
            return "one of " + ", ".join(str(c) for c in self.choices)
        low, high = self.minimum, self.maximum
        if low is None and high is None:
            return ""
        if self.kind is float:   # exact bounds: ">= 0 and <= 30", "> 0 and < 1"
            parts = ([f"{'>' if self.exclusive[0] else '>='} {number_text(low)}"] if low is not None else []) + \
                ([f"{'<' if self.exclusive[1] else '<='} {number_text(high)}"] if high is not None else [])
            return " and ".join(parts)
        if low is not None and high is not None and any(self.exclusive):
            left, right = "(" if self.exclusive[0] else "[", ")" if self.exclusive[1] else "]"
            return f"in {left}{number_text(low)}, {number_text(high)}{right}"
        parts = []
        if low is not None:
            parts.append(f"{'above' if self.exclusive[0] else 'at least'} {number_text(low)}")
        if high is not None:
            parts.append(f"{'below' if self.exclusive[1] else 'at most'} {number_text(high)}")
        return " and ".join(parts)

    def describe(self) -> str:
        """Help, default and range on one line (CLI --help, docs/cli.md, MCP schema)."""
        default = self.blank if self.default is None else repr(self.default) if self.kind is str else self.default
        limits = self.range_text()
        return f"{self.help} (default {default}" + (f"; {limits}" if limits else "") + ")"


def number_text(value) -> str:
    """A bound as people write it: 2^63 and 10^9 rather than their digits."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    if isinstance(value, int) and value >= 2**20:
        if value & (value - 1) == 0:
            return f"2^{value.bit_length() - 1}"
        power = round(math.log10(value))
        if 10**power == value:
            return f"10^{power}"
    return str(value)


def setting(default, help: str, *, kind: type | None = None, label: str = "", group: str = "search",
            minimum=None, maximum=None, exclusive=(False, False), choices=(), optional: bool = False,
            blank: str = "the model's", when_set: bool = False, remote: bool = True):
    """A dataclass field that carries its Setting (read back with `settings_of`).

    `when_set`: stored only when it differs from its default, so run.json files and sweep keys written before the
    field existed stay the same (a new field should say so). `remote`: False for the host's own choices (device,
    dtype), which the app and the MCP tool do not offer to a caller."""
    meta = dict(kind=kind or type(default), help=help, label=label, group=group, minimum=minimum,
                maximum=maximum, exclusive=tuple(exclusive), choices=tuple(choices), optional=optional, blank=blank,
                when_set=when_set, remote=remote)
    if isinstance(default, (list, dict, set)):
        return field(default_factory=lambda: type(default)(default), metadata={"setting": meta})
    return field(default=default, metadata={"setting": meta})


def setting_of(f: dataclasses.Field) -> Setting | None:
    """The Setting a dataclass field declares (`setting(...)` or an algorithm's `option(...)`), None if none."""
    meta = f.metadata.get("setting")
    if meta is None:
        return None
    default = f.default if f.default is not dataclasses.MISSING else \
        (f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
    return Setting(f.name, default=default, **meta)


def settings_of(cls) -> dict[str, Setting]:
    """name -> Setting of every field of a dataclass that declares one, in field order."""
    found = {}
    for f in dataclasses.fields(cls):
        declared = setting_of(f)
        if declared is not None:
            found[f.name] = declared
    return found


def check(s: Setting, value, where: str | None = None):
    """`value` as its setting takes it (2.0 -> 2 for a whole number); ValueError naming `where` otherwise."""
    where = where or s.name
    if value is None and s.optional:
        return None
    if s.kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where} must be true or false, got {value!r}")
        return value
    if s.kind is str:
        if not isinstance(value, str):
            raise ValueError(f"{where} must be a string, got {value!r}")
        if s.choices and value not in s.choices:
            raise ValueError(f"{where} must be one of {', '.join(map(str, s.choices))}; got {value!r}")
        if s.maximum is not None and len(value) > s.maximum:
            raise ValueError(f"{where} has {len(value)} characters; at most {number_text(s.maximum)} are taken")
        return value
    return _number(s, value, where)


def _number(s: Setting, value, where: str):
    whole = s.kind is int
    limits = s.range_text()
    wanted = (s.noun or f"a {'whole ' if whole else ''}number") + (f" {limits}" if limits else "")
    if isinstance(value, bool) or not _is_number(value):
        raise ValueError(f"{where} must be {wanted}, got {value!r}")
    import numpy as np

    # an integer stays an integer: float() of one above ~1.8e308 raises OverflowError instead of refusing it
    number = int(value) if isinstance(value, (int, np.integer)) else float(value)
    if not whole and isinstance(number, int):
        number = float(number) if abs(number) < 2**1023 else math.inf
    if isinstance(number, float) and not math.isfinite(number):
        finite = wanted if whole else f"a finite number{' ' + limits if limits else ''}"
        raise ValueError(f"{where} must be {finite}, got {value!r}")
    if whole:
        if isinstance(number, float) and not number.is_integer():
            raise ValueError(f"{where} must be {wanted}, got {value!r}")
        if isinstance(number, float) and abs(number) > 2**53:
            raise ValueError(f"{where} must be given as an integer, not the float {value!r}")
        value = int(number)
    else:
        value = number
    low, high = s.minimum, s.maximum
    if (low is not None and (value < low or (s.exclusive[0] and value == low))) or \
            (high is not None and (value > high or (s.exclusive[1] and value == high))):
        raise ValueError(f"{where} must be {wanted}, got {shown(value)}")
    return value


def shown(value) -> str:
    """A value as a message quotes it: an integer of more than 30 digits by its size (its digits help no one, and
    Python refuses to print one of more than 4300)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value).bit_length() > 100:
        return f"an integer of about {'-' if value < 0 else ''}10^{int(abs(value).bit_length() * 0.30103)}"
    return repr(value)


def _is_number(value) -> bool:
    if isinstance(value, (int, float)):
        return True
    import numpy as np

    return isinstance(value, (np.integer, np.floating))
