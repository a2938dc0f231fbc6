"""The planner's answers: the frontier of accuracy against a cost, the best choice per budget, paired.

- `frontier`: the choices no cheaper choice matches (accuracy strictly above every cheaper one's), by cost.
- `best_within`: the most accurate choice whose cost is within a budget (the cheaper of equals).
- `budgets`: the budgets the report reads, in the cost of k candidates of the reference (the teacher at its
  default steps, no verifier): what k teacher candidates buy on this axis.
- `versus`: one choice against another on the same units, the difference with its 95% paired bootstrap
  interval (`tsearch.sweep.stats`, the arena's statistics).

Accuracy is in percent of the units. Picking the best of many choices on the same units flatters it (the
winner's curse); the paired intervals against the reference say how far the pick is from a fixed baseline.
"""

from __future__ import annotations

import numpy as np

from tsearch.sweep.stats import paired_difference, verdict

MULTIPLES = (1, 2, 4, 8, 16)   # budgets: the cost of this many reference candidates
AXES = ("seconds", "flops", "nfe")


def accuracy(values: np.ndarray) -> float | None:
    kept = values[~np.isnan(values)]
    return None if not kept.size else float(kept.mean() * 100)


def frontier(rows: list[dict], axis: str) -> list[dict]:
    """The rows (each {"choice", "cost", "accuracy"}) that beat every cheaper row on `axis`, cheapest first."""
    out, best = [], -1.0
    for row in sorted((r for r in rows if r["cost"][axis] is not None and r["accuracy"] is not None),
                      key=lambda r: (r["cost"][axis], -r["accuracy"])):
        if row["accuracy"] > best + 1e-9:
            out.append(row)
            best = row["accuracy"]
    return out


def best_within(rows: list[dict], axis: str, budget: float, keep=lambda row: True) -> dict | None:
    """The most accurate row (of those `keep` accepts) costing at most `budget` on `axis`; the cheaper of equals."""
    fits = [r for r in rows if keep(r) and r["accuracy"] is not None and r["cost"][axis] is not None
            and r["cost"][axis] <= budget * (1 + 1e-9)]
    return min(fits, key=lambda r: (-r["accuracy"], r["cost"][axis]), default=None)


def budgets(reference: dict, axis: str) -> list[float]:
    return [k * reference["cost"][axis] for k in MULTIPLES]


def versus(a: dict, b: dict, reps: int) -> dict:
    """a's values against b's on the units both judged: the paired difference in points and its verdict."""
    both = ~np.isnan(a["values"]) & ~np.isnan(b["values"])
    diff = paired_difference(a["values"][both] * 100, b["values"][both] * 100, reps=reps)
    return {**diff, "verdict": verdict(diff), "against": b["choice"].name}


def by_budget(rows: list[dict], reference: dict, models: list[str], axis: str, reps: int) -> list[dict]:
    """Per budget on `axis`: the best choice, each model's best, each against the reference model's best."""
    out = []
    for k, budget in zip(MULTIPLES, budgets(reference, axis)):
        best = best_within(rows, axis, budget)
        teacher = best_within(rows, axis, budget, lambda r: r["choice"].model == reference["choice"].model)
        per_model = {m: best_within(rows, axis, budget, lambda r, m=m: r["choice"].model == m) for m in models}
        out.append({"multiple": k, "budget": budget, "best": _brief(best),
                    "models": {m: None if r is None else {**_brief(r), "vs_reference_model": None if teacher is None
                                                          or r is teacher else versus(r, teacher, reps)}
                               for m, r in per_model.items()}})
    return out


def small_vs_large(rows: list[dict], reference: dict, small: str, verifiers: list[str], reps: int) -> dict:
    """The paper's question: the small model's best search within the cost of one reference candidate (the
    large model without search), on FLOPs and on seconds, against it, paired; with any verifier ("any") and
    with each verifier alone."""
    out = {}
    for verifier in ("any", *verifiers):
        for axis in ("flops", "seconds"):
            mine = best_within(rows, axis, reference["cost"][axis], lambda r: r["choice"].model == small and (
                verifier == "any" or r["choice"].verifier in (None, verifier)))
            out.setdefault(verifier, {})[axis] = None if mine is None else {**_brief(mine),
                                                                            **versus(mine, reference, reps)}
    return out


def _brief(row: dict | None) -> dict | None:
    return None if row is None else {"choice": row["choice"].to_dict(), "accuracy": row["accuracy"],
                                     "cost": row["cost"]}
