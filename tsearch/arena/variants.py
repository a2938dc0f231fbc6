"""The arena's labelled variants: an existing algorithm run with other settings, under a name of its own.

A variant is no new algorithm: its cells are the algorithm's, with its settings (their keys are those
of any sweep that runs the same search), and its label names it in the leaderboard (`method_of`).

`random-draft` is draft-then-commit over random search (issue 19 item 6; `tsearch.engine.commit`): its
candidates are drafts of 0.6 x the arena's steps, and the best 2 drafts are re-rendered from the same
noise at the arena's full steps; the best commit is its result. Drafts and commits are both counted, in
NFEs and in seconds. The 0.6 and the 2 are the best of what docs/bench/draft_commit_shapes.txt measured
(`python -m tsearch.bench draft-commit`, 320 NFEs, 10 steps, top 2 committed): 6-step drafts 91.7% against
best-of-16's 83.3% on 12 captions, where 4-step drafts lost (81.2% against 84.4% on 32). Twelve captions
are a hint only; the arena measures it. It is not anytime: the commits come after the last draft.
"""

from __future__ import annotations

VARIANTS = {"random-draft": {"algorithm": "random", "draft": 0.6, "top": 2}}


def draft_steps(name: str, steps: int) -> int:
    """The variant's draft steps at the arena's `steps`: its fraction of them, at least 1."""
    return max(1, round(VARIANTS[name]["draft"] * steps))


def table(name: str, steps: int) -> dict:
    """The variant's [[algorithm]] table (without budgets): its algorithm, label and draft-then-commit keys."""
    v = VARIANTS[name]
    return {"name": v["algorithm"], "label": name, "steps": draft_steps(name, steps), "final_steps": steps,
            "final_top": v["top"]}


def method_of(row: dict) -> str:
    """A sweep row's method in the arena: its label (a variant's name), else its algorithm."""
    return (row.get("metadata") or {}).get("label") or row["config"]["algorithm"]
