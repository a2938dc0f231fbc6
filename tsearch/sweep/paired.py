"""`tsearch report DIR --against METHOD`: every method of a sweep against one of them, paired unit by unit.

A unit is a (condition, seed); at each budget a method is compared with METHOD on the units both have
finished, on the report's headline column (`tsearch.sweep.headline`: accuracy where an oracle judged, else the
first evaluator, else the score): the mean difference with a 95% paired bootstrap interval (`tsearch.sweep.stats`, the
arena's statistics) and wins / losses unit by unit; beside it, the mean paired difference of the verifier's
best score and the units where both returned the very same score (most likely the same sample).
"""

from __future__ import annotations

from tsearch.sweep.headline import of_summary
from tsearch.sweep.stats import paired_difference


def _values(group, column: str) -> dict:
    out = {}
    for row in group.rows:
        value = of_summary(row["summary"], column)
        if value is not None:
            out[(str(row["config"]["condition"]), row["config"]["seed"])] = float(value)
    return out


def paired(report: dict, against: str, reps: int = 2000, seed: int = 0) -> list[dict]:
    """One row per method x budget (METHOD's own left out): its mean, METHOD's on the same units, and the
    paired difference; ValueError naming --against when no method of the sweep is called that."""
    groups, column = report["groups"], report["headline"]
    names = list(dict.fromkeys(g.method for g in groups))
    if against not in names:
        raise ValueError(f"--against: no method {against!r} in this sweep; its methods: {', '.join(names)}")
    reference_groups = {g.budget: g for g in groups if g.method == against}
    reference = {budget: _values(g, column) for budget, g in reference_groups.items()}
    rows = []
    for group in groups:
        if group.method == against or group.budget not in reference:
            continue
        mine, theirs = _values(group, column), reference[group.budget]
        units = sorted(set(mine) & set(theirs))
        if not units:
            continue
        diff = paired_difference([mine[u] for u in units], [theirs[u] for u in units], reps, seed)
        a, b = _values(group, "score"), _values(reference_groups[group.budget], "score")
        scored = [u for u in units if u in a and u in b]
        rows.append({"method": group.method, "budget": group.budget, "value": sum(mine[u] for u in units) / len(units),
                     "reference": sum(theirs[u] for u in units) / len(units), **diff,
                     "score_difference": sum(a[u] - b[u] for u in scored) / len(scored) if scored else None,
                     "same_score": sum(a[u] == b[u] for u in scored)})
    return rows


def render(rows: list[dict], against: str, column: str) -> str:
    lines = [f"Paired against {against} ({column}; 95% bootstrap interval over units; wins/losses unit by unit)",
             "", "| method | budget | units | value | " + against + " | difference [95%] | wins / losses | score difference | "
             "same score |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['method']} | {r['budget']} | {r['units']} | {r['value']:.1f} | {r['reference']:.1f} | "
                     f"{r['difference']:+.1f} [{r['low']:+.1f}, {r['high']:+.1f}] | {r['wins']} / {r['losses']} | "
                     f"{_signed(r['score_difference'])} | {r['same_score']} |")
    return "\n".join(lines)


def _signed(value) -> str:
    return "-" if value is None else f"{value:+.4f}"
