"""The arena's leaderboard: every method against random search, at equal NFEs and at equal seconds.

Built from `curves.Outcome`s (one per method x unit x budget). Every comparison is paired over the units
both methods have (`stats`). The verdicts answer the arena's question: does any method reach random
search's accuracy at the top budget B with half, or a quarter, of its NFEs; and of its seconds (the
verifier included; seconds name the device and thread count they were measured with).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from tsearch import jsonio
from tsearch.sweep import headline, stats
from tsearch.arena.curves import Outcome

REFERENCE = "random"
FRACTIONS = (0.5, 0.25)


def _index(outcomes: list[Outcome]) -> dict:
    """(method, budget) -> {unit: outcome}."""
    table: dict = defaultdict(dict)
    for o in outcomes:
        if o.value is not None:
            table[(o.method, o.budget)][o.unit] = o
    return table


def _paired(table, a: tuple, b: tuple, reps: int, seed: int) -> dict | None:
    units = sorted(set(table.get(a, {})) & set(table.get(b, {})))
    if not units:
        return None
    return stats.paired_difference([table[a][u].value for u in units], [table[b][u].value for u in units], reps, seed)


def _mean(outcomes, field: str) -> float:
    return float(np.mean([getattr(o, field) for o in outcomes]))


def _mean_flops(outcomes) -> float | None:
    """Mean FLOPs of the outcomes, None unless every one was counted."""
    values = [o.flops for o in outcomes]
    return None if not values or any(v is None for v in values) else float(np.mean(values))


def build(outcomes: list[Outcome], metric: str, device: str, reps: int = 2000, seed: int = 0) -> dict:
    """The leaderboard as plain data (strict-JSON ready): rows per method x budget, verdicts, to-reach."""
    table = _index(outcomes)
    methods = list(dict.fromkeys(o.method for o in outcomes))
    budgets = sorted({o.budget for o in outcomes})
    top = max(budgets) if budgets else None
    scale = headline.scale(metric)
    rows = []
    for method in methods:
        for budget in budgets:
            cell = list(table.get((method, budget), {}).values())
            if not cell:
                continue
            vs = _paired(table, (method, budget), (REFERENCE, budget), reps, seed) if method != REFERENCE else None
            rows.append({"method": method, "budget": budget, "units": len(cell),
                         "value": scale * _mean(cell, "value"), "nfe": _mean(cell, "nfe"),
                         "seconds": _mean(cell, "seconds"), "verifier_calls": _mean(cell, "verifier_calls"),
                         "flops": _mean_flops(cell),
                         "vs_random": _scaled(vs, scale)})
    board = {"metric": metric, "scale": scale, "device": device, "methods": methods, "budgets": budgets,
             "top_budget": top, "rows": rows, "verdicts": [], "to_reach": {},
             "equal_seconds": _equal_seconds(table, methods, budgets, scale, reps, seed),
             "by_category": _by_category(table, methods, top, scale)}
    if top is None or (REFERENCE, top) not in table:
        board["note"] = f"no {REFERENCE} search at the top budget: nothing to compare against"
        return board
    target = table[(REFERENCE, top)]
    reference_seconds = _mean(list(target.values()), "seconds")
    for method in methods:
        if method == REFERENCE:
            continue
        board["verdicts"] += _verdicts(table, method, budgets, top, reference_seconds, scale, reps, seed)
        board["to_reach"][method] = _to_reach(table, method, budgets, target, scale, reps, seed)
    return board


def _by_category(table, methods, top, scale) -> dict:
    """Each method's value at the top budget, per caption category (kind)."""
    out: dict = {}
    for method in methods:
        for o in table.get((method, top), {}).values():
            out.setdefault(method, {}).setdefault(str(o.category), []).append(o.value)
    return {m: {c: scale * float(np.mean(v)) for c, v in sorted(by.items())} for m, by in out.items()}


def _equal_seconds(table, methods, budgets, scale, reps, seed) -> list[dict]:
    """At each of random's budgets, its mean seconds T; each method at its largest budget whose mean seconds
    fit in T, against random at that budget (paired)."""
    out = []
    for b in budgets:
        if (REFERENCE, b) not in table:
            continue
        limit = _mean(list(table[(REFERENCE, b)].values()), "seconds")
        for method in methods:
            fits = [m for m in budgets if (method, m) in table
                    and _mean(list(table[(method, m)].values()), "seconds") <= limit]
            chosen = max(fits) if fits else None
            cell = list(table[(method, chosen)].values()) if chosen is not None else []
            diff = _paired(table, (method, chosen), (REFERENCE, b), reps, seed) if chosen and method != REFERENCE else None
            out.append({"reference_budget": b, "seconds": limit, "method": method, "budget": chosen,
                        "value": scale * _mean(cell, "value") if cell else None,
                        "method_seconds": _mean(cell, "seconds") if cell else None, "vs_random": _scaled(diff, scale)})
    return out


def _verdicts(table, method, budgets, top, reference_seconds, scale, reps, seed) -> list[dict]:
    """At a fraction of random's NFEs (the budget B*f) and of its mean seconds (the largest budget whose mean
    seconds fit), the paired difference against random at B."""
    out = []
    for fraction in FRACTIONS:
        nfe_budget = round(top * fraction)
        fits = [b for b in budgets if (method, b) in table
                and _mean(list(table[(method, b)].values()), "seconds") <= fraction * reference_seconds]
        for axis, budget in (("nfe", nfe_budget if (method, nfe_budget) in table else None),
                             ("seconds", max(fits) if fits else None)):
            diff = _paired(table, (method, budget), (REFERENCE, top), reps, seed) if budget is not None else None
            out.append({"method": method, "axis": axis, "fraction": fraction, "budget": budget,
                        "vs_random_at_top": _scaled(diff, scale),
                        "verdict": stats.verdict(diff) if diff else
                        ("no budget that fast" if axis == "seconds" else "not measured")})
    return out


def _to_reach(table, method, budgets, target, scale, reps, seed) -> dict | None:
    """NFEs (the budget) and mean seconds at which the method first reaches random's value at the top budget."""
    units = sorted(set(target).intersection(*[set(table[(method, b)]) for b in budgets if (method, b) in table]))
    mine = [b for b in budgets if (method, b) in table]
    if not units or not mine:
        return None
    curve = {b: [table[(method, b)][u].value for u in units] for b in mine}
    seconds = {b: [table[(method, b)][u].seconds for u in units] for b in mine}
    result = stats.to_reach(curve, [target[u].value for u in units], seconds, reps, seed)
    return {"nfe": result["budget"], "seconds": result["cost"], "reached_share": result["reached_share"],
            "units": len(units)}


def _scaled(diff: dict | None, scale: float) -> dict | None:
    if diff is None:
        return None
    return {**diff, **{k: scale * diff[k] for k in ("difference", "low", "high")}}


def write(board: dict, outcomes: list[Outcome], out: Path) -> tuple[str, list[Path]]:
    """(the Markdown, the paths written): DIR/leaderboard.json, leaderboard.md and, with outcomes, the figures."""
    from tsearch.arena import plots

    text = render_markdown(board)
    (out / "leaderboard.json").write_text(jsonio.dumps(board, indent=1), encoding="utf-8")
    (out / "leaderboard.md").write_text(text + "\n", encoding="utf-8")
    return text, [out / "leaderboard.json", out / "leaderboard.md", *(plots.write(board, outcomes, out) if outcomes else [])]


# --- text ------------------------------------------------------------------------------------------
def _interval(d: dict | None, digits: int = 1) -> str:
    if d is None:
        return "-"
    return (f"{d['difference']:+.{digits}f} [{d['low']:+.{digits}f}, {d['high']:+.{digits}f}] "
            f"{d['wins']}W/{d['losses']}L")


def render_markdown(board: dict) -> str:
    """The leaderboard as Markdown tables (printed, written to leaderboard.md, pasted into docs/benchmarks/arena.md)."""
    by = {(r["method"], r["budget"]): r for r in board["rows"]}
    lines = _equal_nfe_lines(board, by) + _equal_seconds_lines(board) + _cost_lines(board, by) + \
        _kind_lines(board) + _verdict_lines(board) + _reach_lines(board)
    if board.get("note"):
        lines += ["", f"note: {board['note']}"]
    return "\n".join(lines)


def _equal_nfe_lines(board: dict, by: dict) -> list[str]:
    lines = [f"Metric: {board['metric']}, mean over units (caption x seed); differences are paired against "
             f"{REFERENCE} search with 95% bootstrap intervals and wins/losses unit by unit. Seconds: "
             f"{board['device']}.", "",
             "**At equal NFEs** (value, and the difference against random at the same budget)", "",
             "| method | " + " | ".join(f"{b} NFEs" for b in board["budgets"]) + " |",
             "|---" * (len(board["budgets"]) + 1) + "|"]
    for method in board["methods"]:
        cells = []
        for b in board["budgets"]:
            r = by.get((method, b))
            cells.append("-" if r is None else f"{r['value']:.1f}" + ("" if r["vs_random"] is None else
                                                                      f" ({_interval(r['vs_random'])})"))
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return lines


def _equal_seconds_lines(board: dict) -> list[str]:
    if not board.get("equal_seconds"):
        return []
    refs = list(dict.fromkeys(e["reference_budget"] for e in board["equal_seconds"]))
    seconds = {e["reference_budget"]: e["seconds"] for e in board["equal_seconds"]}
    lines = ["", "**At equal seconds** (each method at its largest budget whose mean seconds fit in random's "
                 "at that budget; value @ that budget, and the difference against random)", "",
             "| method | " + " | ".join(f"{seconds[b]:.2f} s (random's at {b} NFEs)" for b in refs) + " |",
             "|---" * (len(refs) + 1) + "|"]
    at = {(e["method"], e["reference_budget"]): e for e in board["equal_seconds"]}
    for method in board["methods"]:
        cells = []
        for b in refs:
            e = at.get((method, b))
            cells.append("-" if e is None or e["value"] is None else
                         f"{e['value']:.1f} @ {e['budget']}" + ("" if e["vs_random"] is None else
                                                                f" ({_interval(e['vs_random'])})"))
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return lines


def _cost_lines(board: dict, by: dict) -> list[str]:
    lines = ["", "**Costs** (mean per search: NFEs / seconds / verifier calls / GFLOPs)", "",
             "| method | " + " | ".join(f"{b}" for b in board["budgets"]) + " |",
             "|---" * (len(board["budgets"]) + 1) + "|"]
    for method in board["methods"]:
        cells = ["-" if (method, b) not in by else
                 f"{by[(method, b)]['nfe']:.0f} / {by[(method, b)]['seconds']:.2f} s / "
                 f"{by[(method, b)]['verifier_calls']:.0f} / {_gflops(by[(method, b)].get('flops'))}"
                 for b in board["budgets"]]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return lines


def _gflops(flops) -> str:
    return "-" if flops is None else f"{flops / 1e9:.4g}"


def _kind_lines(board: dict) -> list[str]:
    if not board.get("by_category"):
        return []
    kinds = sorted({c for by in board["by_category"].values() for c in by})
    lines = ["", f"**By kind of caption, at {board['top_budget']} NFEs**", "",
             "| method | " + " | ".join(kinds) + " |", "|---" * (len(kinds) + 1) + "|"]
    for method, by in board["by_category"].items():
        lines.append(f"| {method} | " + " | ".join("-" if k not in by else f"{by[k]:.1f}" for k in kinds) + " |")
    return lines


def _verdict_lines(board: dict) -> list[str]:
    if not board["verdicts"]:
        return []
    top = board["top_budget"]
    lines = ["", f"**Does a method reach {REFERENCE} search's value at {top} NFEs with less?** "
                 f"(difference against random at {top} NFEs; better/worse: the interval excludes 0)", "",
             "| method | half the NFEs | a quarter of the NFEs | half the seconds | a quarter of the seconds |",
             "|---|---|---|---|---|"]
    for method in board["methods"]:
        found = {(v["axis"], v["fraction"]): v for v in board["verdicts"] if v["method"] == method}
        if found:
            cells = [_verdict_cell(found.get((axis, f))) for axis in ("nfe", "seconds") for f in FRACTIONS]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return lines


def _reach_lines(board: dict) -> list[str]:
    if not board["to_reach"]:
        return []
    lines = ["", f"**Compute to reach {REFERENCE} search's value at {board['top_budget']} NFEs** (smallest "
                 f"measured budget; 95% bootstrap interval; '>' = not reached within the budgets)", "",
             "| method | NFEs | seconds | resamples reaching it |", "|---|---|---|---|"]
    for method, r in board["to_reach"].items():
        if r is not None:
            lines.append(f"| {method} | {_reach(r['nfe'], '.0f')} | {_reach(r['seconds'], '.2f')} | "
                         f"{100 * r['reached_share']:.0f}% |")
    return lines


def _verdict_cell(v: dict | None) -> str:
    if v is None or v["vs_random_at_top"] is None:
        return "not measured" if v is None else v["verdict"]
    return f"{v['verdict']}: {_interval(v['vs_random_at_top'])} at {v['budget']}"


def _reach(values: list, spec: str) -> str:
    point, low, high = values
    fmt = lambda v: ">" if v is None else format(v, spec)   # noqa: E731
    return f"{fmt(point)} [{fmt(low)}, {fmt(high)}]"
