"""The registries in words, from the settings: an algorithm's one-line summary and every algorithm's options as
the markdown table of docs/cli.md (`python -m tsearch options --write docs/cli.md`; a test checks the page)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

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
    """Every registered algorithm's options as a markdown table (docs/cli.md's, `python -m tsearch options`)."""
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


TABLE_START = "<!-- options table: python -m tsearch options -->\n"
TABLE_END = "<!-- end of options table -->"


def table_in(text: str) -> str:
    """The options table between its two markers in a page's text (ValueError naming the marker if one is missing)."""
    for marker in (TABLE_START, TABLE_END):
        if marker not in text:
            raise ValueError(f"the page has no line {marker.strip()!r}: put the two markers where the table goes")
    start = text.index(TABLE_START) + len(TABLE_START)
    return text[start:text.index(TABLE_END, start)].strip()


def write_options_table(path: str | Path) -> bool:
    """Put the generated table between the markers of the page at `path`; True if the page changed."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    old = table_in(text)
    start = text.index(TABLE_START) + len(TABLE_START)
    end = text.index(TABLE_END, start)
    new = text[:start] + options_table() + "\n" + text[end:]
    path.write_text(new, encoding="utf-8")
    return old != options_table()
