"""The planner's reading of its pooled cells: every choice a user could make, its costs and its verdicts.

A *choice* is a model at a step count with a number of candidates and the verifier that picks among them
(one candidate: no search, no verifier), or draft-then-commit: that many drafts at fewer steps, the best
`commit` of them (by the verifier) rendered again from the same noise at full steps, the best render the
result. Every choice is read off the pools of `plan_grid` on every unit (caption, seed): a k-candidate
search is a pool's first k candidates; a commit is the candidate with the draft's id in the pool of the
full step count (random search's i-th noise does not depend on the steps). Its verdict on a unit is the
oracle's pass mark on its result; its costs are the same on every unit:

- NFEs: candidates x a candidate's NFEs (+ commits x a full candidate's);
- FLOPs: the same in FLOPs, plus each image's verifier call (`tsearch.flops`);
- seconds: the same in `plan_seconds`' timed seconds per candidate and per verifier call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COUNTS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48)   # candidates a choice may take (up to its pool's size)


@dataclass(frozen=True)
class Choice:
    model: str
    steps: int                    # steps of its candidates (a draft-then-commit choice's final steps)
    candidates: int               # candidates searched (drafts)
    verifier: str | None          # None: one candidate, nothing to pick
    draft_steps: int | None = None
    commit: int = 0

    @property
    def name(self) -> str:
        if self.verifier is None:
            return f"{self.model} {self.steps} steps, no search"
        head = f"{self.model} {self.steps} steps, {self.candidates} candidates"
        if self.draft_steps:
            head = (f"{self.model} {self.candidates} drafts of {self.draft_steps} steps, best {self.commit} at "
                    f"{self.steps}")
        return f"{head}, {self.verifier}"

    def to_dict(self) -> dict:
        return {"name": self.name, "model": self.model, "steps": self.steps, "candidates": self.candidates,
                "verifier": self.verifier, "draft_steps": self.draft_steps, "commit": self.commit}


def pools(root, grid, mark: float) -> tuple[list, dict]:
    """(the units every setting has a pool for, {setting name: [Pool per unit]}), from DIR/results.jsonl."""
    from tsearch.arena.curves import read_candidates
    from tsearch.arena.ladder_pools import join, pool_of
    from tsearch.arena.plan_grid import unit_key
    from tsearch.sweep.results import finished

    rows = [r for r in finished(root).values() if r["config"].get("algorithm") == "random" and r.get("summary")
            and not r.get("error") and not (r.get("metadata") or {}).get("label")]
    by_unit: dict = {}
    for row in rows:
        by_unit.setdefault(unit_key(row["config"]), []).append(row)
    found: dict = {}
    for setting in grid:
        for unit_rows in by_unit.values():
            c = unit_rows[0]["config"]
            if c["model"] != setting.model or c["steps"] != setting.steps:
                continue
            ordered = sorted(unit_rows, key=lambda r: -r["config"]["budget"])
            pool = join([pool_of(read_candidates(root, r), "shapes-oracle") for r in ordered])
            if pool is not None:
                found.setdefault(setting.name, {})[(c["condition"], c["seed"])] = pool.within(
                    setting.candidates * setting.nfe)
    units = sorted(set.intersection(*(set(found.get(s.name, {})) for s in grid)), key=str) if grid else []
    return units, {name: [by[u] for u in units] for name, by in found.items()}


def choices(grid, verifiers: list[str], commit: int) -> list[Choice]:
    """Every choice the grid holds: searches of each setting, and draft-then-commit within each model."""
    out = []
    for s in grid:
        out.append(Choice(s.model, s.steps, 1, None))
        out += [Choice(s.model, s.steps, n, v) for n in COUNTS if 1 < n <= s.candidates for v in verifiers]
        for full in grid:
            if full.model == s.model and full.steps > s.steps:
                out += [Choice(s.model, full.steps, n, v, s.steps, commit) for n in COUNTS
                        if commit < n <= min(s.candidates, full.candidates) for v in verifiers]
    return out


def verdicts(choice: Choice, grid_by_name: dict, pools_by: dict, mark: float) -> np.ndarray:
    """[units] 1.0 where the choice's result passes the oracle's mark, 0.0 where not, nan where unjudged."""
    judged = judged_scores(choice, grid_by_name, pools_by)
    out = np.full(judged.shape, np.nan)
    seen = ~np.isnan(judged)
    out[seen] = (judged[seen] >= mark).astype(float)
    return out


def judged_scores(choice: Choice, grid_by_name: dict, pools_by: dict) -> np.ndarray:
    """[units] the oracle's score of the choice's result on each unit (nan where the oracle gave none)."""
    from tsearch.arena.ladder_pools import entry_scores, pick

    searched = f"{choice.model}@{choice.draft_steps or choice.steps}"
    out = []
    for i, pool in enumerate(pools_by[searched]):
        part = pool.within(choice.candidates * grid_by_name[searched].nfe)
        if choice.verifier is None:
            out.append(part.oracle[0])
            continue
        scores = entry_scores(part, (choice.verifier,))
        if choice.draft_steps is None:
            out.append(part.oracle[pick(scores)])
        else:
            out.append(_committed(part, scores, pools_by[f"{choice.model}@{choice.steps}"][i], choice))
    return np.array(out, dtype=float)


def _committed(drafts, scores, full, choice: Choice) -> float:
    """The oracle's score of the best of the commits: the `commit` best drafts, read at full steps by id."""
    from tsearch.arena.ladder_pools import entry_scores, pick

    best = np.argsort(-scores, kind="stable")[:choice.commit]
    where = {cid: j for j, cid in enumerate(full.ids)}
    rows = [where.get(drafts.ids[b]) for b in best]
    if any(r is None for r in rows):
        return np.nan
    final = entry_scores(full, (choice.verifier,))[rows]
    return full.oracle[rows[pick(final)]]


def costs(choice: Choice, grid_by_name: dict, seconds: dict, verifier_flops: dict) -> dict:
    """The choice's NFEs, FLOPs and seconds (the same on every unit)."""
    draft = grid_by_name[f"{choice.model}@{choice.draft_steps or choice.steps}"]
    full = grid_by_name[f"{choice.model}@{choice.steps}"]
    commits = choice.commit if choice.draft_steps else 0
    calls = 0 if choice.verifier is None else choice.candidates + commits
    v_flops = verifier_flops.get(choice.verifier) if choice.verifier else 0
    return {"nfe": choice.candidates * draft.nfe + commits * full.nfe,
            "flops": None if v_flops is None else choice.candidates * draft.flops + commits * full.flops
            + calls * v_flops,
            "seconds": choice.candidates * seconds["settings"][draft.name] + commits * seconds["settings"][full.name]
            + calls * (seconds["verifiers"][choice.verifier] if choice.verifier else 0.0)}
