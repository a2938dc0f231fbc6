"""The Compare tab (issue 18, "Compare"): a results table updated as the runs go, a total time estimate before
Compare is pressed, and only the picker that applies to the mode.

Driven through the handlers on the analytic `gmm` model (no trained weights); the pickers' toggle is also
checked in the page's config.
"""

from __future__ import annotations

import gradio as gr
import pandas as pd
import pytest

from tsearch.app import best as best_lib
from tsearch.app import compare, compare_estimate, one_path, state, timing
from tsearch.app.compare_table import HEADERS
from tsearch.app.estimate import Estimator
from tsearch.app.state import Session

GMM = dict(model="gmm", prompt="", cls=1, verifiers=["gmm-density"], algorithm="zero-order", budget=100, steps=10,
           seed=0, evaluator="gmm-density", baseline=False, batch_size=4)


@pytest.fixture(autouse=True)
def runs_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("TSEARCH_APP_RUNS", str(tmp_path / "runs"))


def test_the_table_has_a_row_per_run_as_they_go_and_agrees_with_the_runs(monkeypatch):
    monkeypatch.setattr(state, "UPDATE_INTERVAL", 0.0)   # every candidate is an update
    session = Session()
    updates = list(compare.compare(**GMM, mode="algorithms", algorithms=["random", "zero-order", "steps"],
                                    session=session))
    tables = [update[3] for update in updates]
    assert all(isinstance(t, pd.DataFrame) and list(t.columns) == HEADERS for t in tables)
    sizes = [len(t) for t in tables]
    assert sizes == sorted(sizes) and sizes[0] == 1 and sizes[-1] == 3   # a row appears as each run starts
    final = tables[-1]
    assert list(final["method or verifier"]) == ["random", "zero-order", "steps"]
    for run, (_, row) in zip(session.shown.compared, final.iterrows()):
        winner = best_lib.best(run)
        seconds = best_lib.costs(run.candidates, "seconds")
        assert row["best score"] == pytest.approx(winner.score, rel=1e-3)
        assert row["held-out score"] == pytest.approx(winner.evals["gmm-density"], rel=1e-3)
        assert row["NFEs to best"] == winner.nfe_spent <= row["total NFEs"] == run.nfe_spent <= 100
        assert row["seconds to best"] == pytest.approx(seconds[run.candidates.index(winner)], rel=1e-2)
        assert 0 < row["seconds to best"] <= row["total seconds"] == pytest.approx(seconds[-1], rel=1e-2)
    # the best images' captions name the same best as the table
    cards = updates[-1][2]
    assert [caption.split(":")[0] for _, caption in cards] == ["random", "zero-order", "steps"]
    for (_, caption), score in zip(cards, final["best score"]):
        assert float(caption.split(": ")[1].split(" ")[0]) == pytest.approx(score, rel=1e-3)


def test_a_running_comparison_shows_its_partial_row():
    session = Session()
    updates = compare.compare(**GMM, mode="algorithms", algorithms=["random", "cem"], session=session)
    first = next(updates)
    updates.close()
    table = first[3]
    assert len(table) == 1 and table["method or verifier"][0] == "random"
    assert table["total NFEs"][0] == 10 and table["NFEs to best"][0] == 10   # the first candidate alone


@pytest.fixture
def measured(monkeypatch):
    """A fresh estimator that measured gmm at 10 ms per NFE for a search and 25 ms for the steps baseline."""
    estimator = Estimator()
    estimator.observe("gmm", 10.0, 1000)
    estimator.observe("gmm", 25.0, 1000, baseline=True)
    monkeypatch.setattr(one_path, "ESTIMATOR", estimator)   # the one estimator the page, Compare and Runs share
    return estimator


def test_the_total_estimate_is_the_sum_of_each_runs(measured):
    text = compare_estimate.total("gmm", 800, "algorithms", ["random", "zero-order", "steps"])
    assert text.startswith("Time estimate: 3 runs of 800 NFEs take about 36 s here in all")
    assert "random about 8 s, zero-order about 8 s, steps about 20 s" in text
    text = compare_estimate.total("gmm", 400, "verifiers", ["random"], ["gmm-density", "shapes-clip"],
                                  algorithm="zero-order")
    assert "2 runs of 400 NFEs take about 8 s" in text and "gmm-density about 4 s" in text


def test_the_estimate_follows_the_choices_and_says_what_is_missing(measured):
    assert compare_estimate.total("gmm", 800, "algorithms", ["random"]) == "Choose at least two algorithms to compare."
    assert compare_estimate.total("gmm", 800, "verifiers", ["random", "cem"], []) == \
        "Choose at least two verifiers to compare."
    assert "budget must be a whole number" in compare_estimate.total("gmm", "lots", "algorithms", ["random", "cem"])
    unmeasured = Estimator()
    one_path.ESTIMATOR = unmeasured   # (undone by the fixture's monkeypatch)
    text = compare_estimate.total("gmm", 200, "algorithms", ["random", "cem"])   # calibrates gmm once, here
    assert unmeasured.per_nfe("gmm") is not None and text.startswith("Time estimate: 2 runs of 200 NFEs take")


def test_only_the_picker_that_applies_is_shown():
    algorithms, verifiers = compare.pickers("verifiers")
    assert algorithms["visible"] is False and verifiers["visible"] is True
    algorithms, verifiers = compare.pickers("algorithms")
    assert algorithms["visible"] is True and verifiers["visible"] is False
    with pytest.raises(gr.Error, match="compare mode must be 'algorithms' or 'verifiers', got 'both'"):
        compare.pickers("both")


def test_the_page_opens_on_algorithms_with_the_verifiers_picker_hidden_and_wires_the_toggle():
    from tsearch.app import build_demo

    demo = build_demo(model="gmm")
    blocks = {b.label: b for b in demo.blocks.values() if getattr(b, "label", None)}
    mode, boxes, picker = blocks["Compare"], blocks["Algorithms"], blocks["Verifiers (one run each)"]
    assert mode.value == "algorithms" and boxes.visible is not False and picker.visible is False
    toggles = [d for d in demo.config["dependencies"]
               if [mode._id, "change"] in [list(t) for t in d["targets"]] and d["outputs"] == [boxes._id, picker._id]]
    assert len(toggles) == 1
    table = next(b for b in demo.blocks.values() if isinstance(b, gr.Dataframe) and b.elem_id == "compare-table")
    assert table.headers == HEADERS
    estimate = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "compare-estimate")
    triggers = {tuple(t) for d in demo.config["dependencies"] if d["outputs"] == [estimate._id] for t in d["targets"]}
    page_estimate = next(f.outputs[0] for f in demo.fns.values() if getattr(f.fn, "__wrapped__", None) is timing.estimate)
    for chosen in (mode, boxes, picker, page_estimate):   # it follows every choice that changes the sum, and the
        assert (chosen._id, "change") in triggers          # page's estimate, which follows the model and budget
    compare_event = next(d for d in demo.config["dependencies"] if d.get("api_name") == "compare")
    assert table._id in compare_event["outputs"]


def test_the_verifiers_to_compare_follow_the_model():
    from tsearch.app import catalog, compare

    gmm = compare.verifier_choices("gmm", ["gmm-density", "shapes-clip"])
    assert gmm["choices"] == catalog.verifiers_for("gmm") and "shapes-clip" not in gmm["choices"]
    assert gmm["value"] == ["gmm-density"]   # a ticked verifier that cannot score gmm's samples is dropped
    shapes = compare.verifier_choices("shapes", None)
    assert "shapes-clip" in shapes["choices"] and "gmm-density" not in shapes["choices"] and shapes["value"] == []
