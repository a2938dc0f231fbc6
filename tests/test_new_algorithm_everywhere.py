"""Issue 17: a new algorithm is one file plus one registry line, and appears in every front door untouched: the CLI
(with its help), the API, the app (its list, its option fields, the Compare tab), the MCP tool, sweeps and the
options table check of docs/cli.md."""

from __future__ import annotations

import json

import gradio as gr
import pytest

import tsearch
from tsearch.app import compare, handlers, mcp, runs_root
from tsearch.app.state import Session
from tsearch.cli import main
from tsearch.describe import options_table
from tsearch.search import ALGORITHMS
from tsearch.sweep.spec import parse_spec
from throwaway import TinySearch


@pytest.fixture
def tiny(monkeypatch, tmp_path, one_thread):
    monkeypatch.setitem(ALGORITHMS, "tiny", TinySearch)   # the one registry line
    monkeypatch.setenv("TSEARCH_APP_RUNS", str(tmp_path / "runs"))
    runs_root._last_cleanup.clear()


def test_the_cli_and_the_api(tiny, capsys, tmp_path):
    assert main(["run", "--algorithm", "tiny", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--tiny.width" in text and "fresh noises tried per round (default 3; at least 1 and at most 64)" in text
    argv = ["run", "--model", "gmm", "--class", "1", "--verifier", "gmm-density", "--algorithm", "tiny",
            "--budget", "40", "--steps", "4", "--tiny.width", "2"]
    assert main(argv + ["--out", str(tmp_path / "run")]) == 0
    assert json.loads((tmp_path / "run" / "run.json").read_text())["config"]["algorithm"] == "tiny"
    result = tsearch.search(model="gmm", cls=1, verifiers=["gmm-density"], algorithm="tiny", width=2, budget=40,
                            steps=4)
    assert result.config.options.width == 2 and result.summary.candidates == 10
    with pytest.raises(ValueError, match="option width of 'tiny' must be a whole number at least 1 and at most 64"):
        tsearch.search(model="gmm", cls=1, verifiers=["gmm-density"], algorithm="tiny", width=65, budget=40)


def _block(demo, **attrs):
    return [b for b in demo.blocks.values() if all(getattr(b, k, None) == v for k, v in attrs.items())]


def test_the_app_its_form_compare_and_the_mcp_tool(tiny):
    demo = mcp.add_tool(__import__("tsearch.app", fromlist=["build_demo"]).build_demo(model="gmm"))
    (radio,) = _block(demo, label="Search algorithm")
    assert ("tiny", "tiny") in radio.choices
    (field,) = _block(demo, label="Noises per round (w)")
    assert field.value == 3 and "at most 64" in field.info
    (boxes,) = _block(demo, label="Algorithms")
    assert ("tiny", "tiny") in boxes.choices
    assert "; tiny (" in mcp.search_noise.__doc__ and "width: fresh noises tried per round" in \
        mcp.search_noise.__doc__
    search = dict(model="gmm", prompt="", cls=1, verifiers=["gmm-density"], budget=40, steps=4, seed=0,
                  evaluator="", session=Session())
    done = list(handlers.search(**search, algorithm="tiny", tiny_width=2, baseline=False))[-1]
    assert done[0].startswith("Done") and done[-1]["candidates"] == 10
    compared = list(compare.compare(**search, algorithm="random", mode="algorithms", algorithms=["tiny", "random"]))
    assert compared[-1][0].startswith("Compared 2 runs")
    _, _, text = mcp.search_noise(model="gmm", cls=1, algorithm="tiny", budget=40, steps=4, options={"width": 2})
    assert json.loads(text)["algorithm"] == "tiny"
    with pytest.raises(gr.Error, match="options: depth do not apply to algorithm 'tiny'; its options: width"):
        mcp.search_noise(model="gmm", cls=1, algorithm="tiny", budget=40, steps=4, options={"depth": 2})


def test_sweeps_and_the_docs_options_check(tiny):
    spec = parse_spec({"model": "gmm", "classes": [1], "verifiers": ["gmm-density"], "budgets": [40], "steps": 4,
                       "algorithm": [{"name": "tiny", "width": [1, 2]}]})
    assert [cell.config.options.width for cell in spec.cells] == [1, 2]
    with pytest.raises(ValueError, match="option\\(s\\) widht do not apply to algorithm 'tiny' \\(did you mean "
                                         "'width'\\?\\)"):
        parse_spec({"model": "gmm", "classes": [1], "verifiers": ["gmm-density"], "budgets": [40],
                    "algorithm": [{"name": "tiny", "widht": 2}]})
    table = options_table()
    assert "| `tiny` | `--tiny.width` | noises per round (w) | 3 | at least 1 and at most 64 |" in table
    from pathlib import Path

    page = (Path(__file__).parent.parent / "docs" / "cli.md").read_text(encoding="utf-8")
    assert table not in page   # the docs check (test_cli_flags) would ask for the new row
