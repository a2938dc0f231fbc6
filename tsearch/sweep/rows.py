"""Which result lines `tsearch report` can read: a line whose config or summary lacks what the report reads
(a hand-edited line, one from another tool) is passed over with a stated reason, never a KeyError."""

from __future__ import annotations


def readable(rows: list[dict]) -> tuple[list[dict], list[str]]:
    """The rows the report can read, and one note per reason rows were passed over (with their count)."""
    kept, reasons = [], {}
    for row in rows:
        why = unreadable(row)
        if why is None:
            kept.append(row)
        else:
            reasons.setdefault(why, []).append(row["key"])
    notes = [f"{len(k)} row(s) of results.jsonl passed over: {why} (e.g. key {k[0]})" for why, k in reasons.items()]
    return kept, notes


def _number(value) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def unreadable(row: dict) -> str | None:
    """Why the report cannot read this result line (a config or summary lacking what it reads), or None."""
    c = row["config"]
    if isinstance(c.get("budget"), bool) or not isinstance(c.get("budget"), int):
        return "its config has no whole-number 'budget'"
    if not isinstance(c.get("algorithm"), str):
        return "its config has no 'algorithm' name"
    if c.get("options") is not None and not isinstance(c.get("options"), dict):
        return "its config's 'options' is not an object"
    metadata = row.get("metadata", {})
    if not isinstance(metadata, dict) or not isinstance(metadata.get("label", ""), str) or \
            not isinstance(metadata.get("category", ""), (str, int)):
        return "its 'metadata' is not an object with a text 'label' and 'category'"
    s = row.get("summary")
    if row.get("error") or not s:
        return None   # a failed cell: counted as failed
    if not isinstance(s, dict):
        return "its 'summary' is not an object"
    if not _number(s.get("best_score")) or not _number(s.get("nfe_spent")) or s.get("nfe_spent") is None:
        return "its summary lacks a number for 'best_score' or 'nfe_spent'"
    for part in ("scores", "evals"):
        if not isinstance(s.get(part, {}), dict) or not all(_number(v) for v in s.get(part, {}).values()):
            return f"its summary's {part!r} is not an object of numbers"
    return None
