"""Command-line flags generated from settings (tsearch.options): one flag per setting, typed, range-checked and
explained by it. The `run` command (tsearch.cli_flags) and the arena (tsearch.arena.cli) add SearchConfig's flags
here, so a new SearchConfig field is a flag of both with no edit; a command that deliberately differs from the
config's default (the arena's batch size) says so once, in `defaults`.
"""

from __future__ import annotations

import argparse
import dataclasses
import math

from tsearch.config import SETTINGS
from tsearch.options import Setting, check

OWN_FLAGS = ("model", "condition", "algorithm")   # settings with flags of their own: --model, --prompt/--class, ...
# every other scalar setting is a run flag of its name, so a new SearchConfig field needs no edit here
CONFIG_FLAGS = tuple(name for name, s in SETTINGS.items() if s.kind in (int, float, str, bool)
                     and name not in OWN_FLAGS)


def flag(name: str) -> str:
    return f"--{name.replace('_', '-')}"


def number_or_text(text: str, whole: bool):
    """The text as a number when it is one ("3", "3.0", "nan"), else the text itself (the check refuses it)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    if whole and math.isfinite(number) and number.is_integer() and abs(number) <= 2**53:
        return int(number)
    return number


def parse_text(s: Setting, text: str):
    """A flag's text as its setting's kind, before the setting's check."""
    if s.kind is bool:
        lowered = text.strip().lower()
        return {"true": True, "yes": True, "1": True, "on": True,
                "false": False, "no": False, "0": False, "off": False}.get(lowered, text)
    if s.kind in (int, float):
        return number_or_text(text, s.kind is int)
    return text


def setting_type(s: Setting):
    """An argparse type: the text parsed and checked against the setting; one line naming the flag otherwise."""

    def parse(text: str):
        try:
            return check(s, parse_text(s, text), "\0")
        except ValueError as error:
            message = str(error).replace("\0 ", "", 1)
            if ", got " in message:   # quote what was typed, not what it parsed to
                message = f"{message.rsplit(', got ', 1)[0]}, got {text!r}"
            raise argparse.ArgumentTypeError(message) from None

    parse.__name__ = s.kind.__name__
    return parse


def help_text(s: Setting) -> str:
    text = s.describe()
    if s.name == "budget":   # the command line asks for it (the API's default would hide a forgotten flag)
        text = text.replace(f"default {s.default}", "required without --from")
    return text.replace("%", "%%")


def choices_of(s: Setting) -> tuple:
    """The values a setting takes where it names them: its choices; the solver's are the registered solvers."""
    if s.name == "solver" and not s.choices:
        from tsearch.sampling import SOLVERS

        return tuple(sorted(SOLVERS))
    return tuple(s.choices)


def add_config_flags(parser, names=CONFIG_FLAGS, defaults: dict | None = None) -> None:
    """A flag per SearchConfig setting in `names` (typed and checked by it); `defaults`: a command's own defaults
    where it deliberately differs from the config's (shown in --help; the others default to None, the config's)."""
    defaults = defaults or {}
    for name in names:
        s = SETTINGS[name]
        if name in defaults:
            s = dataclasses.replace(s, default=defaults[name])
        choices = list(choices_of(s)) or None
        parser.add_argument(flag(name), type=None if choices or s.kind is str else setting_type(s), choices=choices,
                            default=defaults.get(name), help=help_text(s))
