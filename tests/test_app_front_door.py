"""Issue 17 item 3 and issue 21 item 8: one path serves the Search tab, the Compare tab and the MCP tool; each
check runs once per Run click; every front door has the same defaults; what does not apply is refused."""

from __future__ import annotations

import json

import gradio as gr
import pytest

import tsearch
from tsearch.app import compare, handlers, mcp, one_path, runs_root
from tsearch.app.pool import ModelPool
from tsearch.app.state import Session
from tsearch.config import DEFAULT_BATCH, SearchConfig
from tsearch.sweep.spec import parse_spec

GMM = dict(model="gmm", prompt="", cls=1, verifiers=["gmm-density"], algorithm="random", budget=40, steps=4,
           seed=0, evaluator="", baseline=False)


@pytest.fixture(autouse=True)
def runs_in_tmp(tmp_path, monkeypatch, one_thread):
    monkeypatch.setenv("TSEARCH_APP_RUNS", str(tmp_path / "runs"))
    runs_root._last_cleanup.clear()


def counting(monkeypatch, owner, name):
    calls = []
    real = getattr(owner, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


def test_the_api_validates_its_config_exactly_once(monkeypatch):
    validations = counting(monkeypatch, SearchConfig, "validate")
    tsearch.search(model="gmm", cls=1, verifiers=["gmm-density"], budget=40, steps=4)
    assert len(validations) == 1
    config = SearchConfig("gmm", 1, ("gmm-density",), budget=40, steps=4)
    validations.clear()
    tsearch.search(config)
    assert len(validations) == 1


def test_a_run_click_does_each_check_once(monkeypatch):
    validations = counting(monkeypatch, SearchConfig, "validate")
    names = counting(monkeypatch, handlers, "check_names")
    gets = counting(monkeypatch, ModelPool, "get")
    updates = list(handlers.search(**GMM, session=Session()))
    assert updates[-1][0].startswith("Done")
    assert (len(validations), len(names), len(gets)) == (1, 1, 1)


def test_every_front_door_has_the_same_defaults():
    assert DEFAULT_BATCH == SearchConfig("gmm").batch_size
    spec = parse_spec({"model": "gmm", "classes": [1], "verifiers": ["gmm-density"], "budgets": [40],
                       "algorithm": [{"name": "random"}]})
    assert spec.cells[0].config.batch_size == DEFAULT_BATCH
    from tsearch.cli import _parser

    args = _parser().parse_args(["run", "--model", "gmm", "--class", "1", "--verifier", "gmm-density",
                                 "--algorithm", "random", "--budget", "40"])
    from tsearch.cli import _config

    assert _config(args).batch_size == DEFAULT_BATCH
    import inspect

    assert inspect.signature(handlers.search).parameters["batch_size"].default == DEFAULT_BATCH


@pytest.mark.parametrize("change, message", [
    (dict(evaluator="shapes-quality"), "evaluator 'shapes-quality' cannot score this search"),
    (dict(model="shapes", prompt="a circle", cls=2, verifiers=["shapes-clip"]),
     "cls: the shapes model takes a text prompt, not a class"),
])
def test_the_app_refuses_what_does_not_apply(change, message):
    with pytest.raises(gr.Error, match=message):
        list(handlers.search(**{**GMM, **change}, session=Session()))


def test_compare_takes_the_same_path_and_says_what_a_string_of_algorithms_is(monkeypatch):
    with pytest.raises(gr.Error, match=r"algorithms is a list of algorithm names, e.g. \['random'\], got 'random'"):
        list(compare.compare(**GMM, mode="algorithms", algorithms="random", session=Session()))
    driven = counting(monkeypatch, compare, "drive")   # compare.compare runs its plans on the one path
    updates = list(compare.compare(**GMM, mode="algorithms", algorithms=["random", "zero-order"], session=Session()))
    assert updates[-1][0].startswith("Compared 2 runs") and len(driven) == 2


def test_the_mcp_tool_takes_the_algorithms_options_on_the_same_path(monkeypatch):
    driven = counting(monkeypatch, one_path, "drive")   # the tool's one path, the page's
    _, score, text = mcp.search_noise(model="gmm", cls=1, verifiers=["gmm-density"], algorithm="zero-order",
                                      budget=40, steps=4, options={"n": 2})
    summary = json.loads(text)
    assert len(driven) == 1 and summary["algorithm"] == "zero-order" and summary["best_score"] == score
    from tsearch.runs import load_run

    assert load_run(summary["run_dir"]).config["options"] == {"n": 2}
    with pytest.raises(gr.Error, match="options: lam2 do not apply to algorithm 'zero-order'; its options: n, lam"):
        mcp.search_noise(model="gmm", cls=1, algorithm="zero-order", budget=40, steps=4, options={"lam2": 0.5})
    with pytest.raises(gr.Error, match="option lam of 'zero-order' must be a number > 0 and < 1, got 1.5"):
        mcp.search_noise(model="gmm", cls=1, algorithm="zero-order", budget=40, steps=4, options={"lam": 1.5})
    with pytest.raises(gr.Error, match="budget: one call runs to the end without a Stop, so it takes at most 20000"):
        mcp.search_noise(model="gmm", cls=1, budget=10**12)
    with pytest.raises(gr.Error, match="budget: the NFEs to spend, from one candidate's cost to 20000 a call; got 0"):
        mcp.search_noise(model="gmm", cls=1, budget=0)   # the tool's range, never the API's 10^9
