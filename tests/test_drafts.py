"""Drafts: few-step renders the run does not deliver are marked on their records (`Candidate.draft`), by the
engine from the recipe alone: cem's few-step previews, and every sample of a draft-then-commit run that gets
committed. Full renders and commits are not drafts; rows written before the field read back as not drafts."""

from __future__ import annotations

import json

import tsearch
from tsearch.candidate import Candidate

GMM = dict(model="gmm", cls=2, verifiers=["gmm-density"], steps=10, seed=0)


def test_cem_previews_are_drafts_and_its_full_render_is_not(tmp_path):
    result = tsearch.search(algorithm="cem", budget=60, out=str(tmp_path / "run"), **GMM)
    *drafts, render = result.history
    assert drafts and all(c.draft and c.finished and not c.deliverable for c in drafts)
    assert not render.draft and render.deliverable and render.id == result.best_id
    rows = [json.loads(line) for line in (tmp_path / "run" / "candidates.jsonl").read_text().splitlines()]
    assert [row.get("draft", False) for row in rows] == [c.draft for c in result.history]
    assert [Candidate.from_row(row).draft for row in rows] == [c.draft for c in result.history]


def test_draft_then_commit_marks_the_drafts_and_not_the_commits():
    result = tsearch.search(algorithm="random", budget=120, final_steps=20, final_top=2, **GMM)
    commits = [c for c in result.history if c.nfe == 20]
    assert len(commits) == 2 and not any(c.draft for c in commits)
    assert all(c.draft for c in result.history if c not in commits)
    assert result.best_id in {c.id for c in commits}
    assert all(next(d for d in result.history if d.id == c.parent).draft for c in commits)


def test_samples_at_the_runs_steps_are_not_drafts():
    for algorithm in ("random", "smc", "paths"):
        result = tsearch.search(algorithm=algorithm, budget=1500 if algorithm == "paths" else 200, **GMM)
        assert not any(c.draft for c in result.history), algorithm


def test_rows_without_the_field_read_as_not_drafts_and_a_bad_value_is_named():
    row = {"id": 1, "parent": None, "round": 0, "nfe": 10, "nfe_spent": 10, "t_end": 0.0, "score": 1.0,
           "scores": {"v": 1.0}, "evals": {}, "recipe": [], "seconds": 0.0, "verifier_seconds": 0.0}
    old = Candidate.from_row(row)
    assert not old.draft and "draft" not in old.to_row() and old.to_row() == row   # written as before
    assert Candidate.from_row({**row, "draft": True}).to_row()["draft"] is True
    try:
        Candidate.from_row({**row, "draft": "yes"})
    except ValueError as error:
        assert "draft must be true or false" in str(error)
    else:
        raise AssertionError("a draft of 'yes' was read")
