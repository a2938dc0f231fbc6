"""The verifier ladder's leaderboard: each method x verifier, per kind of caption, against NFEs and seconds.

Built from `Search`es (one per method x verifier x unit x budget; `tsearch.arena.ladder`). For every entry:
accuracy by the held-out judge at each budget, overall and per kind, with its mean NFEs and seconds; its
pairwise agreement with the oracle over the candidate pools it ranked (pairs of candidates whose oracle
scores differ, ordered the same way; and over pass/fail pairs only); its tie rate (searches whose best
score is shared by more than one candidate); and its gap to the oracle-verified search of the same method
at the same budget. Intervals are 95% bootstraps over units, paired where two entries are compared
(`tsearch.sweep.stats`). Only the units every entry has at its top budget are compared, so a partial
ladder stays paired. An entry that searches with the oracle is labelled "upper bound (oracle)".
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from tsearch.sweep import stats

ORACLE = "shapes-oracle"
UPPER_BOUND = "upper bound (oracle)"
REFERENCE = ("shapes-clip",)   # the arena's default verifier: every other entry is also paired against it


def name_of(entry: tuple) -> str:
    return "+".join(entry)


NOISED = "noised oracle (a probe of verifier error, not a realistic verifier)"


def label_of(entry: tuple, evaluators) -> str:
    """The entry's name as shown: an entry that reads the oracle says it is the upper bound (and judged by itself);
    one that reads a noised copy of it (shapes-oracle-e0.1, ...) says so."""
    if ORACLE in entry:
        judged = "; judged by the same oracle" if ORACLE in evaluators else ""
        return f"{name_of(entry)}: {UPPER_BOUND}{judged}"
    if any(name.startswith(f"{ORACLE}-") for name in entry):
        return f"{name_of(entry)}: {NOISED}"
    return name_of(entry)


@dataclass(frozen=True)
class Search:
    """One search of the ladder: a method with an entry's verifier(s) on one unit at one budget."""
    method: str
    entry: tuple            # the verifier names (several: a mean-rank ensemble)
    unit: str               # caption and seed
    budget: int
    value: float | None     # 1/0: the judge's pass mark on the result
    nfe: float
    seconds: float
    category: str | None
    tied: bool              # the best score is shared
    agree: tuple            # (pairs ordered as the oracle orders them, pairs with different oracle scores)
    agree_pass: tuple       # the same over pairs of one pass and one fail
    candidates: int


def complete(found: list[Search]) -> list[Search]:
    """The searches of the units every (method, entry) has at its top budget."""
    tops: dict = {}
    for s in found:
        tops[(s.method, s.entry)] = max(tops.get((s.method, s.entry), 0), s.budget)
    have: dict = defaultdict(set)
    for s in found:
        if s.budget == tops[(s.method, s.entry)] and s.value is not None:
            have[s.unit].add((s.method, s.entry))
    keep = {unit for unit, pairs in have.items() if pairs == set(tops)}
    return [s for s in found if s.unit in keep and s.value is not None]


def build(found: list[Search], entries: list[tuple], evaluators, device: str, reps: int = 2000, seed: int = 0) -> dict:
    """The ladder's board as plain data (strict-JSON ready)."""
    found = complete(found)
    table: dict = defaultdict(dict)
    for s in found:
        table[(s.method, s.entry, s.budget)][s.unit] = s
    methods = list(dict.fromkeys(s.method for s in found))
    budgets = sorted({s.budget for s in found})
    kinds = sorted({str(s.category) for s in found})
    rows = []
    for method in methods:
        for entry in entries:
            for budget in budgets:
                cell = table.get((method, entry, budget))
                if cell:
                    rows.append(_row(table, method, entry, budget, cell, kinds, reps, seed))
    return {"judge": ", ".join(evaluators), "device": device, "methods": methods,
            "entries": [{"name": name_of(e), "label": label_of(e, evaluators), "upper_bound": ORACLE in e}
                        for e in entries], "budgets": budgets, "kinds": kinds,
            "top_budget": max(budgets) if budgets else None, "units": len({s.unit for s in found}), "rows": rows}


def _row(table, method, entry, budget, cell, kinds, reps, seed) -> dict:
    units = sorted(cell)
    searches = [cell[u] for u in units]
    oracle = table.get((method, (ORACLE,), budget), {})
    reference = table.get((method, REFERENCE, budget), {}) if entry != REFERENCE else {}
    gap = _paired(cell, oracle, None, reps, seed) if entry != (ORACLE,) and oracle else None
    vs = _paired(cell, reference, None, reps, seed) if reference else None
    by_kind, gap_by_kind, vs_by_kind = {}, {}, {}
    for kind in kinds:
        mine = [s for s in searches if str(s.category) == kind]
        if mine:
            by_kind[kind] = {"value": 100.0 * float(np.mean([s.value for s in mine])), "units": len(mine)}
            if gap is not None:
                gap_by_kind[kind] = _paired(cell, oracle, kind, reps, seed)
            if vs is not None:
                vs_by_kind[kind] = _paired(cell, reference, kind, reps, seed)
    return {"method": method, "verifier": name_of(entry), "upper_bound": ORACLE in entry, "budget": budget,
            "units": len(units), "value": 100.0 * float(np.mean([s.value for s in searches])),
            "nfe": float(np.mean([s.nfe for s in searches])), "seconds": float(np.mean([s.seconds for s in searches])),
            "candidates": float(np.mean([s.candidates for s in searches])),
            "gap_to_oracle": gap, "by_kind": by_kind, "gap_by_kind": gap_by_kind,
            "vs_reference": vs, "vs_reference_by_kind": vs_by_kind,
            "tie_rate": _share([float(s.tied) for s in searches], reps, seed),
            "agreement": _ratio([s.agree for s in searches], reps, seed),
            "agreement_pass_fail": _ratio([s.agree_pass for s in searches], reps, seed)}


def _paired(cell: dict, oracle: dict, kind, reps, seed) -> dict | None:
    units = sorted(u for u in set(cell) & set(oracle) if kind is None or str(cell[u].category) == kind)
    if not units:
        return None
    d = stats.paired_difference([cell[u].value for u in units], [oracle[u].value for u in units], reps, seed)
    return {**d, **{k: 100.0 * d[k] for k in ("difference", "low", "high")}}


def _share(values: list[float], reps, seed) -> dict:
    """The mean of 0/1 values in %, with a bootstrap interval over units."""
    mean, low, high = stats.interval(values, reps, seed)
    return {"value": 100.0 * mean, "low": 100.0 * low, "high": 100.0 * high}


def _ratio(pairs: list[tuple], reps, seed) -> dict | None:
    """sum(agreeing) / sum(pairs) in %, with a bootstrap interval over units; None when no pair was compared."""
    agree, total = np.array([p[0] for p in pairs], dtype=float), np.array([p[1] for p in pairs], dtype=float)
    if total.sum() == 0:
        return None
    index = stats.resamples(total.size, reps, seed)
    sums = total[index].sum(1)
    ratios = np.where(sums > 0, agree[index].sum(1) / np.maximum(sums, 1), np.nan)
    low, high = np.nanpercentile(ratios, stats.LEVEL)
    return {"value": 100.0 * float(agree.sum() / total.sum()), "low": 100.0 * float(low), "high": 100.0 * float(high),
            "pairs": int(total.sum())}


# --- text ------------------------------------------------------------------------------------------
def render_markdown(board: dict) -> str:
    """The ladder as Markdown (printed, DIR/ladder.md, docs/bench/arena_ladder.md, the Arena tab)."""
    labels = {e["name"]: e["label"] for e in board["entries"]}
    top = board["top_budget"]
    by = {(r["method"], r["verifier"], r["budget"]): r for r in board["rows"]}
    pairs = list(dict.fromkeys((r["method"], r["verifier"]) for r in board["rows"]))
    lines = [f"**Verifier ladder**, {board.get('split', '')} split: each method searched with each verifier; the "
             f"judge is the held-out {board['judge'] or 'evaluator'} (accuracy: its pass mark on the result). An entry "
             f"marked *{UPPER_BOUND}* searches with the oracle itself: a ceiling no real verifier is known to reach, "
             f"not a realistic result. {board['units']} units (caption x seed); intervals are 95% bootstraps over "
             f"units, paired against the oracle-verified search of the same method at the same budget. "
             f"Seconds: {board['device']}."]
    if not pairs:
        return "\n".join([*lines, "", "No finished searches yet."])
    lines += ["", f"**At {top} NFEs**: agreement with the oracle = share of candidate pairs with different oracle "
                  f"scores that the verifier orders the same way (all pairs; pass/fail pairs); tie rate = searches "
                  f"whose best score is shared", "",
              "| method | verifier | accuracy % | gap to the oracle-verified search | agreement with the oracle, "
              "all pairs | pass/fail pairs | tie rate | seconds |", "|---|---|---|---|---|---|---|---|"]
    for method, verifier in pairs:
        r = by.get((method, verifier, top))
        if r:
            lines.append(f"| {method} | {labels[verifier]} | {r['value']:.1f} | {_gap(r['gap_to_oracle'])} | "
                         f"{_pct(r['agreement'])} | {_pct(r['agreement_pass_fail'])} | {_pct(r['tie_rate'])} | "
                         f"{r['seconds']:.2f} |")
    budgets = board["budgets"]
    lines += ["", "**Accuracy against NFEs and seconds** (accuracy % (gap to the oracle-verified search) @ mean "
                  "seconds per search)", "",
              "| method | verifier | " + " | ".join(f"{b} NFEs" for b in budgets) + " |", "|---" * (len(budgets) + 2) + "|"]
    for method, verifier in pairs:
        cells = []
        for b in budgets:
            r = by.get((method, verifier, b))
            cells.append("-" if r is None else f"{r['value']:.1f}" +
                         ("" if r["gap_to_oracle"] is None else f" ({_gap(r['gap_to_oracle'])})") +
                         f" @ {r['seconds']:.2f} s")
        lines.append(f"| {method} | {labels[verifier]} | " + " | ".join(cells) + " |")
    lines += ["", "**By kind of caption** (accuracy % at each budget)", "",
              "| kind | method | verifier | " + " | ".join(f"{b}" for b in budgets) + " |",
              "|---" * (len(budgets) + 3) + "|"]
    for kind in board["kinds"]:
        for method, verifier in pairs:
            cells = [_kind(by.get((method, verifier, b)), kind) for b in budgets]
            if any(c != "-" for c in cells):
                lines.append(f"| {kind} | {method} | {labels[verifier]} | " + " | ".join(cells) + " |")
    lines += ["", f"**Gap to the oracle-verified search by kind, at {top} NFEs** (percentage points, paired)", "",
              "| method | verifier | " + " | ".join(board["kinds"]) + " |", "|---" * (len(board["kinds"]) + 2) + "|"]
    for method, verifier in pairs:
        r = by.get((method, verifier, top))
        if r and r["gap_by_kind"]:
            lines.append(f"| {method} | {labels[verifier]} | " +
                         " | ".join(_gap(r["gap_by_kind"].get(k)) for k in board["kinds"]) + " |")
    lines += _against_reference(board, by, pairs, labels, top)
    for note in board.get("notes") or []:
        lines.append(f"\nnote: {note}")
    return "\n".join(lines)


def _against_reference(board: dict, by: dict, pairs: list, labels: dict, top) -> list[str]:
    """The board's lines pairing every entry against the arena's default verifier, by kind, at the top budget."""
    against = [(m, v, by[(m, v, top)]) for m, v in pairs if by.get((m, v, top)) and by[(m, v, top)].get("vs_reference")]
    if not against:
        return []
    lines = ["", f"**Against {' + '.join(REFERENCE)}, by kind, at {top} NFEs** (the same method searched with the "
                 f"arena's default verifier; percentage points, paired; W/L = units won/lost)", "",
             "| method | verifier | all | " + " | ".join(board["kinds"]) + " |", "|---" * (len(board["kinds"]) + 3) + "|"]
    for method, verifier, r in against:
        lines.append(f"| {method} | {labels[verifier]} | {_gap(r['vs_reference'])} | " +
                     " | ".join(_gap(r["vs_reference_by_kind"].get(k)) for k in board["kinds"]) + " |")
    return lines


def _gap(d: dict | None) -> str:
    if d is None:
        return "-"
    return f"{d['difference']:+.1f} [{d['low']:+.1f}, {d['high']:+.1f}] {d['wins']}W/{d['losses']}L"


def _pct(d: dict | None) -> str:
    return "-" if d is None else f"{d['value']:.1f}% [{d['low']:.1f}, {d['high']:.1f}]"


def _kind(r: dict | None, kind: str) -> str:
    if r is None or kind not in r["by_kind"]:
        return "-"
    return f"{r['by_kind'][kind]['value']:.1f} (n={r['by_kind'][kind]['units']})"
