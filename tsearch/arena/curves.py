"""One arena cell's outcome at a budget, read from its run folder through the project's records.

A cell's result line gives its `SearchConfig` (`from_row`) and its `Summary` (`from_row`); its run folder
gives its `Candidate`s (`tsearch.runs.load_run`), so a renamed field fails loudly here rather than reading
as missing. Four cost axes per outcome: NFEs (the engine's exact count), seconds (each candidate's share of
its batch's wall-clock: denoising, decoding and the verifier), verifier calls (images scored, per verifier)
and FLOPs (the candidates' cumulative count, `tsearch.flops`; None for runs that did not count). An anytime
method's cell ran once at the top budget; its outcome at a smaller budget b is the best finished candidate
among those scored within b NFEs (`best_within`), which is what a run at b returns
(tests/test_arena_anytime.py). Other methods ran one cell per budget; their outcome is the candidate their
own rule chose (the summary's best_id). Its value is the headline's (`tsearch.sweep.headline`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tsearch.candidate import Candidate
from tsearch.config import SearchConfig
from tsearch.events import Summary
from tsearch.sweep import headline


@dataclass(frozen=True)
class Outcome:
    """What one search (a method on one caption and seed at one budget) returned and cost."""
    method: str
    unit: str               # the caption and seed: outcomes of one unit are paired across methods
    budget: int             # the NFE budget asked for
    value: float | None     # the headline's value: 1.0 / 0.0 pass or fail by an oracle's pass mark, else a score
    nfe: int                # NFEs spent up to the chosen result's budget
    seconds: float          # wall-clock of those candidates (verifier included)
    verifier_calls: int     # images scored, times the verifiers scoring each
    category: str | None = None
    flops: float | None = None   # FLOPs of those candidates: NFEs, decodes and verifier calls (tsearch.flops)


def best_within(candidates: list[Candidate], nfe: float | None = None, seconds: float | None = None):
    """(id, score, candidate) of the best finished candidate scored within `nfe` NFEs (or `seconds` of
    candidate time, in order); ties go to the earliest; None when no finished candidate fits."""
    best, spent = None, 0.0
    for c in candidates:
        spent += c.seconds
        if (nfe is not None and c.nfe_spent > nfe) or (seconds is not None and spent > seconds):
            break
        if not c.finished or c.score is None:
            continue
        if best is None or c.score > best[1]:
            best = (c.id, c.score, c)
    return best


def _flops(used: list[Candidate]) -> float | None:
    """The cumulative FLOPs of the last of `used` (None when the run did not count them)."""
    counted = [c.flops for c in used]
    return None if not counted or any(f is None for f in counted) else float(max(counted))


def read_candidates(root: Path, row: dict) -> list[Candidate]:
    """A cell's candidates in NFE order (none when its run folder is missing or is not a run)."""
    from tsearch.runs import load_run

    if not row.get("run_dir"):
        return []
    try:
        run = load_run(Path(root) / row["run_dir"])
    except ValueError:
        return []
    return sorted(run.candidates, key=lambda c: c.nfe_spent)


def unit_of(config: SearchConfig) -> str:
    """The unit (caption and seed) a cell searched: its outcomes are paired with other methods' on it."""
    return f"{config.condition} | seed {config.seed}"


def outcomes_of_cell(root: Path, row: dict, method: str, budgets: list[int], anytime: bool) -> list[Outcome]:
    """The cell's outcomes: at each of `budgets` up to its own for an anytime method, else at its budget."""
    if row.get("error") or not row.get("summary"):
        return []
    config, summary = SearchConfig.from_row(row["config"]), Summary.from_row(row["summary"])
    candidates = read_candidates(root, row)
    metric = headline.name(config.evaluators)
    verifiers = len(config.verifiers) or 1
    category = (row.get("metadata") or {}).get("category")
    out = []
    for budget in (budgets if anytime else [config.budget]):
        if budget > config.budget:
            continue
        if anytime:
            chosen = best_within(candidates, nfe=budget)
            used = [c for c in candidates if c.nfe_spent <= budget]
            chosen = chosen[2] if chosen else None
        else:
            used = candidates
            chosen = next((c for c in candidates if c.id == summary.best_id), None)
        if chosen is None:
            continue
        out.append(Outcome(method, unit_of(config), budget, headline.value(metric, chosen.evals, chosen.score),
                           max(c.nfe_spent for c in used), sum(c.seconds for c in used), len(used) * verifiers,
                           category, _flops(used)))
    return out


def outcomes(root: Path, rows: list[dict], budgets: list[int], anytime: dict) -> list[Outcome]:
    """Every cell's outcomes (its method: `variants.method_of`), kept on the units every method has done at its
    largest budget (`complete_units`)."""
    from tsearch.arena.variants import method_of

    out = []
    for row in rows:
        method = method_of(row)
        out += outcomes_of_cell(root, row, method, budgets, anytime.get(method, False))
    return complete_units(out)


def complete_units(found: list[Outcome]) -> list[Outcome]:
    """The outcomes of the units that every method has at its largest budget (a partial arena stays paired)."""
    tops: dict = {}
    for o in found:
        tops[o.method] = max(tops.get(o.method, 0), o.budget)
    have: dict = {}
    for o in found:
        if o.budget == tops[o.method]:
            have.setdefault(o.unit, set()).add(o.method)
    keep = {unit for unit, methods in have.items() if methods == set(tops)}
    return [o for o in found if o.unit in keep]
