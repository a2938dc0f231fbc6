"""One entry (issue 26): every door validates its config once per run and reaches the engine through one stream.

The count wraps `SearchConfig.validate`, the one validation, for a run of each door on the tiny gmm model: the
CLI's `run`, the API's `search`, the app's Run (the page's handler) and a sweep of one cell. The caller of
`engine.run` is found by reading the library's syntax trees, not by matching text.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import tsearch
from tsearch.config import SearchConfig

ROOT = Path(tsearch.__file__).parent


@pytest.fixture
def validations(monkeypatch):
    """How many times SearchConfig.validate ran (a list, so a test reads it after the run)."""
    calls = []
    original = SearchConfig.validate

    def counted(self, *args, **kwargs):
        calls.append(self.algorithm)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SearchConfig, "validate", counted)
    return calls


def test_a_cli_run_validates_once(validations, tmp_path, capsys, one_thread):
    from tsearch.cli import main

    status = main(["run", "--model", "gmm", "--class", "1", "--verifier", "gmm-density", "--algorithm", "random",
                   "--budget", "40", "--steps", "4", "--out", str(tmp_path / "run")])
    assert status == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["candidates"] == 10
    assert len(validations) == 1


def test_an_api_search_validates_once(validations, one_thread):
    result = tsearch.search(model="gmm", cls=1, verifiers=["gmm-density"], algorithm="random", budget=40, steps=4)
    assert len(result.history) == 10
    assert len(validations) == 1


def test_an_app_run_validates_once(validations, tmp_path, monkeypatch, one_thread):
    from tsearch.app import handlers
    from tsearch.app.state import Session

    monkeypatch.setenv("TSEARCH_APP_RUNS", str(tmp_path / "runs"))
    updates = list(handlers.search_page(model="gmm", prompt="", cls=1, verifiers=["gmm-density"], algorithm="random",
                                        budget=40, steps=4, seed=0, evaluator="", baseline=False, batch_size=4,
                                        session=Session()))
    last = dict(zip(handlers.SEARCH_OUTPUTS, updates[-1]))
    assert last["status"]["value"].startswith("Done") and last["details"]["candidates"] == 10
    assert len(list((tmp_path / "runs").rglob("run.json"))) == 1
    assert len(validations) == 1


def test_a_sweep_cell_validates_once(validations, tmp_path, one_thread):
    from tsearch.sweep import parse_spec, run_sweep
    from tsearch.sweep.results import read_rows

    spec = {"model": "gmm", "classes": [1], "seeds": [0], "verifiers": ["gmm-density"], "budgets": [40], "steps": 4,
            "algorithm": [{"name": "random"}]}
    outcome = run_sweep(parse_spec(spec), tmp_path / "out", progress=False, threads=1)
    rows, _ = read_rows(tmp_path / "out")
    assert len(rows) == 1 and rows[0]["error"] is None and rows[0]["summary"]["candidates"] == 10, outcome
    assert len(validations) == 1


def _aliases(tree: ast.Module) -> tuple[set[str], set[str]]:
    """(names bound to the tsearch.engine package or its loop module, names bound to its `run` function)."""
    modules, functions = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in ("tsearch.engine", "tsearch.engine.loop") and alias.asname:
                    modules.add(alias.asname)
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                bound = alias.asname or alias.name
                if (node.module, alias.name) in (("tsearch", "engine"), ("tsearch.engine", "loop")):
                    modules.add(bound)
                elif node.module in ("tsearch.engine", "tsearch.engine.loop") and alias.name == "run":
                    functions.add(bound)
    return modules, functions


class _Calls(ast.NodeVisitor):
    """The innermost function around each call of engine.run, as module:function (module:<module> at top level)."""

    def __init__(self, module: str, modules: set[str], functions: set[str]):
        self.module, self.modules, self.functions = module, modules, functions
        self.where, self.found = ["<module>"], []

    def visit_FunctionDef(self, node):
        self.where.append(node.name)
        self.generic_visit(node)
        self.where.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Call(self, node: ast.Call):
        func = node.func
        if (isinstance(func, ast.Attribute) and func.attr == "run" and isinstance(func.value, ast.Name)
                and func.value.id in self.modules) or (isinstance(func, ast.Name) and func.id in self.functions):
            self.found.append(f"{self.module}:{self.where[-1]}")
        self.generic_visit(node)


def engine_run_callers() -> list[str]:
    """module:function of every call of tsearch.engine.run in the library outside tsearch/bench."""
    callers = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT.parent)
        if relative.parts[:2] == ("tsearch", "bench"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = _Calls(".".join(relative.with_suffix("").parts), *_aliases(tree))
        calls.visit(tree)
        callers += calls.found
    return callers


def test_engine_run_has_one_caller_in_the_library():
    assert engine_run_callers() == ["tsearch.api:search_events"]


def test_the_caller_finder_sees_every_spelling():
    source = ("from tsearch import engine\nfrom tsearch.engine.loop import run as go\nimport tsearch.engine as e\n"
              "from tsearch.engine import loop\n\ndef a():\n    engine.run(p)\n\ndef b():\n    def c():\n"
              "        go(p)\n    e.run(p)\n    loop.run(p)\n    other.run(p)\n")
    tree = ast.parse(source)
    assert _aliases(tree) == ({"engine", "e", "loop"}, {"go"})
    calls = _Calls("m", *_aliases(tree))
    calls.visit(tree)
    assert calls.found == ["m:a", "m:c", "m:b", "m:b"]


def test_the_one_budget_check_keeps_the_commits_back():
    from tsearch.search import Costs, fit_budget

    costs = Costs("euler", 1)
    assert fit_budget("random", 40, costs, 4).total == 10
    assert fit_budget("random", 40, costs, 4, final_steps=8, final_top=2).total == 6   # 40 - 2 commits of 8 NFEs
    assert fit_budget("zero-order", 40, costs, 4, n=2).options.n == 2   # keyword options, as make_algorithm takes
    with pytest.raises(ValueError, match=r"final_top=4: .* lower final_top \(at most 3 here\)"):
        fit_budget("random", 40, costs, 4, final_steps=8, final_top=4)   # 32 NFEs of commits leave 8: not 4 drafts
    with pytest.raises(ValueError, match="does not cover a final render of 8 steps"):
        fit_budget("random", 10, costs, 4, final_steps=8)
