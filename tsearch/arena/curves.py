"""One arena cell's outcome at a budget, read from its run folder's candidates.jsonl.

Four cost axes per outcome: NFEs (the engine's exact count), seconds (each candidate's share of its
batch's wall-clock: denoising, decoding and the verifier), verifier calls (images scored, per
verifier) and FLOPs (the candidates' cumulative count, `tsearch.flops`; None for runs that did not count). An anytime method's cell ran once at the top budget; its outcome at a smaller budget b is the
best finished candidate among those scored within b NFEs (`best_within`), which is what a run at b
returns (tests/test_arena_anytime.py). Other methods ran one cell per budget; their outcome is the
candidate their own rule chose (the summary's best_id).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tsearch.sweep.report import ACCURACY


@dataclass(frozen=True)
class Outcome:
    """What one search (a method on one caption and seed at one budget) returned and cost."""
    method: str
    unit: str               # the caption and seed: outcomes of one unit are paired across methods
    budget: int             # the NFE budget asked for
    value: float | None     # 1.0 / 0.0 pass or fail by an oracle's pass mark, else the metric's value
    nfe: int                # NFEs spent up to the chosen result's budget
    seconds: float          # wall-clock of those candidates (verifier included)
    verifier_calls: int     # images scored, times the verifiers scoring each
    category: str | None = None
    flops: float | None = None   # FLOPs of those candidates: NFEs, decodes and verifier calls (tsearch.flops)


def best_within(rows: list[dict], nfe: float | None = None, seconds: float | None = None):
    """(id, score, row) of the best finished candidate scored within `nfe` NFEs (or `seconds` of candidate
    time, in order); ties go to the earliest; None when no finished candidate fits."""
    best, spent = None, 0.0
    for row in rows:
        spent += float(row.get("seconds") or 0.0)
        if (nfe is not None and row["nfe_spent"] > nfe) or (seconds is not None and spent > seconds):
            break
        score = row.get("score")
        if row.get("t_end", 0.0) != 0.0 or score is None:
            continue
        if best is None or score > best[1]:
            best = (row["id"], score, row)
    return best


def _flops(used: list[dict]) -> float | None:
    """The cumulative FLOPs of the last of `used` (None when the run did not count them)."""
    counted = [c.get("flops") for c in used]
    return None if not counted or any(f is None for f in counted) else float(max(counted))


def metric_of(evals: dict, score) -> tuple[str, float | None]:
    """(name, value) of what the arena ranks by: an oracle's pass (1/0), else the first evaluator, else the score."""
    for name, mark in ACCURACY.items():
        if name in evals:
            return f"accuracy % ({name})", None if evals[name] is None else float(evals[name] >= mark)
    for name, value in evals.items():
        return name, value
    return "score", score


def read_candidates(root: Path, row: dict) -> list[dict]:
    from tsearch.runs import read_jsonl

    if not row.get("run_dir"):
        return []
    rows, _ = read_jsonl(Path(root) / row["run_dir"] / "candidates.jsonl")
    return sorted(rows, key=lambda r: r["nfe_spent"])


def outcomes_of_cell(root: Path, row: dict, method: str, budgets: list[int], anytime: bool) -> list[Outcome]:
    """The cell's outcomes: at each of `budgets` up to its own for an anytime method, else at its budget."""
    config, summary = row["config"], row.get("summary")
    if row.get("error") or not summary:
        return []
    candidates = read_candidates(root, row)
    unit = f"{config['condition']} | seed {config['seed']}"
    verifiers = len(config.get("verifiers") or []) or 1
    category = (row.get("metadata") or {}).get("category")
    out = []
    for budget in (budgets if anytime else [config["budget"]]):
        if budget > config["budget"]:
            continue
        if anytime:
            chosen = best_within(candidates, nfe=budget)
            used = [c for c in candidates if c["nfe_spent"] <= budget]
            chosen_row = chosen[2] if chosen else None
        else:
            used = candidates
            chosen_row = next((c for c in candidates if c["id"] == summary.get("best_id")), None)
        if chosen_row is None:
            continue
        _, value = metric_of(chosen_row.get("evals") or {}, chosen_row.get("score"))
        out.append(Outcome(method, unit, budget, value, max(c["nfe_spent"] for c in used),
                           sum(float(c.get("seconds") or 0.0) for c in used), len(used) * verifiers, category,
                           _flops(used)))
    return out
