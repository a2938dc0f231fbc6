"""The registries in words, from the settings: an algorithm's one-line summary and every algorithm's options as
the README's markdown table (`python -m tsearch options`; a test checks the README against it)."""

from __future__ import annotations

import inspect
import re

from tsearch.config import offered_settings
from tsearch.search import ALGORITHMS


def option_flag(algorithm: str, name: str) -> str:
    """The flag of one algorithm's option: --zero-order.lam, --paths.delta-f."""
    return f"--{algorithm}.{name.replace('_', '-')}"


def algorithm_summary(algorithm: str) -> str:
    """The first sentence of an algorithm's module docstring (or its class's)."""
    cls = ALGORITHMS[algorithm]
    text = inspect.getmodule(cls).__doc__ or cls.__doc__ or ""
    first = " ".join(text.strip().split("\n\n")[0].split())
    return re.split(r"(?<!\bal)\.\s+(?=[A-Z])", first)[0].rstrip(".") + "." if first else ""


def options_table() -> str:
    """Every registered algorithm's options as a markdown table (the README's, `python -m tsearch options`)."""
    lines = ["| algorithm | flag | label | default | range | meaning |", "|---|---|---|---|---|---|"]
    for algorithm in ALGORITHMS:
        try:
            settings = offered_settings(algorithm)
        except ValueError as error:
            lines.append(f"| `{algorithm}` | | | | | refused: {error} |")
            continue
        if not settings:
            lines.append(f"| `{algorithm}` | | | | | no options |")
        for i, s in enumerate(settings.values()):
            name = f"`{algorithm}`" if i == 0 else ""
            default = s.default if s.kind is not str else f"`{s.default}`"
            lines.append(f"| {name} | `{option_flag(algorithm, s.name)}` | {s.title} | {default} | {s.range_text()} | "
                         f"{s.help} |")
    return "\n".join(lines)
