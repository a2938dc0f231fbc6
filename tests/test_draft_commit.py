"""Draft-then-commit (issue 19, item 6): cheap drafts, the best final_top re-rendered with final_steps and
scored, the best commit is the run's best; budgets exact; every commit regenerates bit for bit."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image

import tsearch
from tsearch import recipes
from tsearch.regenerate import regenerate_candidate, regenerate_tensor
from tsearch.search import ALGORITHMS
from tsearch.search.base import Gaussian, Integrate, Renoise, op_from_dict

BASE = dict(model="gmm", cls=2, verifiers=["gmm-density"])


def _commits(result):
    ids = set(result.summary.commits)
    return [c for c in result.history if c.id in ids]


def test_the_budget_is_never_exceeded_and_drafts_and_commits_add_up():
    ran = 0
    for algorithm, budget, steps, top in itertools.product(ALGORITHMS, (40, 97), (2, 3), (1, 3)):
        try:
            result = tsearch.search(**BASE, algorithm=algorithm, budget=budget, steps=steps, final_steps=5,
                                    final_top=top, seed=1)
        except ValueError as error:   # a budget too small for this algorithm or for final_top commits
            assert "budget" in str(error) or "final_top" in str(error), error
            continue
        ran += 1
        s, commits = result.summary, _commits(result)
        assert s.nfe_spent <= budget, (algorithm, budget, steps, top)
        assert s.draft_nfe + s.final_nfe == s.nfe_spent and s.final_nfe == 5 * len(commits)
        assert len(commits) == len(s.commits) <= top
        if algorithm not in ("paths", "smc", "tree"):   # their samples come from no single noise: nothing to commit
            assert commits and s.best_id in s.commits
    assert ran >= 50


def test_the_committed_result_is_the_best_of_the_commits_and_they_are_the_best_drafts():
    result = tsearch.search(**BASE, algorithm="random", budget=3 * 12 + 10 * 3, steps=3, final_steps=12,
                            final_top=3, seed=4)
    commits = _commits(result)
    drafts = [c for c in result.history if c.id not in result.summary.commits]
    assert len(commits) == 3 and all(c.recipe[-1]["steps"] == 12 for c in commits)
    top = sorted(drafts, key=lambda c: (-c.score, c.id))[:3]
    assert [c.parent for c in commits] == [c.id for c in top]
    best = max(commits, key=lambda c: c.scores[0])
    assert result.best_id == best.id and result.best_score == best.scores[0] == best.score
    assert result.summary.draft_nfe == 10 * 3 and result.summary.final_nfe == 3 * 12


def test_one_commit_is_the_final_render_of_the_best_draft(tmp_path):
    from tsearch.models import load_model

    result = tsearch.search(**BASE, algorithm="zero-order", budget=8 * 6 + 20, steps=6, final_steps=20, seed=2,
                            out=str(tmp_path / "r"))
    (commit,) = _commits(result)
    draft = next(c for c in result.history if c.id == commit.parent)
    by_hand = list(draft.recipe[:-1]) + [{"op": "integrate", "t_from": 1.0, "t_to": 0.0, "steps": 20}]   # the noise, 20 steps
    image = recipes.to_pil(regenerate_tensor(load_model("gmm"), 2, by_hand))
    assert np.array_equal(np.asarray(image), np.asarray(result.best_image))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "r" / "final.png")), np.asarray(image))
    assert result.best_id == commit.id and result.best_score == commit.scores[0]
    assert result.summary.final_nfe == 20 and result.summary.nfe_spent <= 8 * 6 + 20


def test_every_commit_regenerates_bit_for_bit(tmp_path):
    out = str(tmp_path / "r")
    result = tsearch.search(**BASE, algorithm="evolution", budget=120, steps=4, final_steps=9, final_top=2,
                            out=out)
    commits = _commits(result)
    assert len(commits) == 2
    for commit in commits:
        again = regenerate_candidate(out, commit.id)
        assert np.array_equal(np.asarray(again), np.asarray(Image.open(commit.image_path)))
    again = tsearch.search(**BASE, algorithm="evolution", budget=120, steps=4, final_steps=9, final_top=2)
    assert [(c.id, c.scores[0]) for c in _commits(again)] == [(c.id, c.scores[0]) for c in commits]


@pytest.mark.parametrize("value", [0, 2.5, -1, "2", True])
def test_a_bad_final_top_is_refused_by_name(value):
    with pytest.raises(ValueError, match="final_top"):
        tsearch.search(**BASE, budget=100, steps=4, final_steps=8, final_top=value)


def test_final_top_beyond_the_budget_or_without_final_steps_is_refused_by_name():
    with pytest.raises(ValueError, match="final_top=5.*at most 3"):   # 3 x (8 + 4) = 36 <= 40 < 5 x 12
        tsearch.search(**BASE, budget=40, steps=4, final_steps=8, final_top=5)
    with pytest.raises(ValueError, match="final_top=2.*final_steps"):
        tsearch.search(**BASE, budget=100, steps=4, final_top=2)


def test_a_pruned_draft_commits_from_its_noise_and_a_renoised_one_cannot():
    legs = (Gaussian(7), Integrate(1.0, 0.5, 2), Integrate(0.5, 0.0, 3))
    assert recipes.final_render_ops(legs, 9) == (Gaussian(7), Integrate(1.0, 0.0, 9))
    assert recipes.final_render_ops(legs[:2], 9) is None   # a preview is not a finished sample
    assert recipes.final_render_ops(legs[:2] + (Renoise(0.5, 0.7, 1), Integrate(0.7, 0.0, 2)), 9) is None
    assert op_from_dict({"op": "integrate", "t_from": 1.0, "t_to": 0.0, "steps": 9}) == Integrate(1.0, 0.0, 9)


def test_final_top_is_stored_when_set_and_read_back():
    from tsearch.config import SearchConfig

    config = SearchConfig(model="gmm", condition=2, verifiers=("gmm-density",), final_steps=8, final_top=3).validate()
    assert config.to_dict()["final_top"] == 3 and SearchConfig.from_dict(config.to_dict()) == config
    assert "final_top" not in SearchConfig(model="gmm", verifiers=("gmm-density",)).validate().to_dict()  # keys kept


def test_the_bench_draws_weak_captions_alternately_and_repeatably():
    from tsearch.bench.draft_commit import captions
    from tsearch.worlds.shapes import grammar

    drawn = captions(6, 0, None)
    assert drawn == captions(6, 0, None)
    assert [grammar.parse(c).category for c in drawn] == ["color_attr", "position"] * 3


def test_the_app_shows_the_winning_commit_live_and_from_the_saved_run(tmp_path):
    from tsearch.app.state import LiveRun
    from tsearch.runs import load_run

    out = str(tmp_path / "r")
    plan = tsearch.api.prepare(model="gmm", cls=1, verifiers=["gmm-density"], budget=80, steps=3, final_steps=10,
                               final_top=2, out=out)
    live = LiveRun()
    for event in tsearch.engine.run(plan):
        live.add(event)
    saved = LiveRun.from_run(load_run(out))
    for view in (live, saved):
        assert view.best_id == max(view.candidates[-2:], key=lambda c: c.scores[0]).id
        assert view.candidate(view.best_id).recipe[-1]["steps"] == 10 and view.nfe_spent <= 80
        assert view.final_path == str(tmp_path / "r" / "final.png")
