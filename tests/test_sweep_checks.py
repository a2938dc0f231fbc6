"""Issue 21: a sweep refuses, before any cell runs, a cell that cannot run; it exits 1 naming failed cells;
the report passes over (and counts) result lines it cannot read."""

from __future__ import annotations

import json

import pytest

from tsearch.sweep import cli
from tsearch.sweep.results import read_rows

SPEC = """
model = "{model}"
classes = [{cls}]
seeds = 2
verifiers = ["gmm-density"]
budgets = [40]
steps = 4

[[algorithm]]
name = "random"

[[algorithm]]
name = "{algorithm}"
{option}
"""


def sweep(tmp_path, capsys, model="gmm", cls=1, algorithm="zero-order", option="n = 2"):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.format(model=model, cls=cls, algorithm=algorithm, option=option))
    status = cli.main_sweep([str(spec), "--out", str(tmp_path / "out"), "--no-progress", "--threads", "1"])
    return status, capsys.readouterr()


@pytest.mark.parametrize("model,algorithm,option,needle", [
    ("nope", "zero-order", "n = 2", "unknown model 'nope'"),
    ("../../no/such", "zero-order", "n = 2", "not a registered model"),
    ("gmm", "prune", "checkpoints = '0.7,0.9'", "checkpoints must be normalised times"),
    ("gmm", "smc", "k = 1000000", "k"),
    ("gmm", "evolution", "elites = 20\npopulation = 4", "elites (20) cannot exceed population (4)"),
    ("gmm", "prune", "n = 1000000", "n=1000000 noises cost"),
    ("gmm", "random", "final_steps = 8\nfinal_top = 4", "final_top=4: a budget of 40 NFEs does not cover 4 commits"),
])
def test_a_cell_that_cannot_run_stops_the_sweep_before_any_runs(tmp_path, capsys, one_thread, model, algorithm,
                                                                  option, needle):
    status, out = sweep(tmp_path, capsys, model=model, algorithm=algorithm, option=option)
    assert status == 2 and out.err.startswith("error: ") and out.err.count("\n") == 1, out.err
    assert "cannot run, nothing was run" in out.err and needle in out.err
    assert read_rows(tmp_path / "out")[0] == [] and not any((tmp_path / "out" / "runs").iterdir())


def test_failed_cells_exit_1_with_one_line_each(tmp_path, capsys, one_thread):
    status, out = sweep(tmp_path, capsys, cls=9)   # class 9 is known bad only to the loaded gmm: each cell fails
    assert status == 1
    lines = out.err.strip().splitlines()
    assert lines[0].startswith("error: 4 of 4 cell(s) run failed")
    assert len(lines) == 5 and all("gmm component must lie in 0..3, got 9" in line for line in lines[1:4])
    assert lines[4] == "  ... and 1 more"
    assert json.loads(out.out.splitlines()[-1])["failed"] == 4
    assert sweep(tmp_path, capsys)[0] == 0   # a good spec in a fresh folder exits 0


def test_report_passes_over_rows_it_cannot_read_and_says_why(tmp_path, capsys):
    out = tmp_path / "results"
    out.mkdir()
    good = {"key": "k0", "config": {"model": "gmm", "algorithm": "random", "options": {}, "budget": 40},
            "metadata": {}, "error": None, "summary": {"best_score": 1.0, "nfe_spent": 40}}
    rows = [good,
            {**good, "key": "k1", "config": {"model": "gmm", "algorithm": "random"}},           # no budget
            {**good, "key": "k2", "config": {**good["config"], "options": [1]}},
            {**good, "key": "k3", "summary": {"best_score": "high", "nfe_spent": 40}},
            {**good, "key": "k4", "metadata": None}]
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert cli.main_report([str(out), "--no-html", "--reps", "10"]) == 0
    text = capsys.readouterr().out
    assert "1 row(s) of results.jsonl passed over: its config has no whole-number 'budget' (e.g. key k1)" in text
    assert text.count("passed over") == 4 and "random" in text
    (out / "results.jsonl").write_text(json.dumps(rows[1]) + "\n")
    assert cli.main_report([str(out), "--no-html"]) == 2
    assert "no whole-number 'budget'" in capsys.readouterr().err


def test_keep_going_records_the_cells_that_cannot_run_and_runs_the_rest(tmp_path, capsys, one_thread):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.format(model="gmm", cls=1, algorithm="prune", option="checkpoints = '0.7,,0.4'"))
    status = cli.main_sweep([str(spec), "--out", str(tmp_path / "out"), "--no-progress", "--keep-going"])
    assert status == 1 and "error: 2 of 4 cell(s) run failed" in capsys.readouterr().err
    rows = read_rows(tmp_path / "out")[0]
    failed = [r for r in rows if r["error"]]
    assert len(rows) == 4 and len(failed) == 2 and all(r["run_dir"] is None for r in failed)
    assert all("no empty item" in r["error"] and r["config"]["algorithm"] == "prune" for r in failed)


@pytest.mark.parametrize("model", ["../../no/such", "a/b/c", "org/..", "/no/such/folder"])
def test_a_malformed_model_path_is_told_so_not_to_log_in(model):
    import tsearch

    with pytest.raises(ValueError) as caught:
        tsearch.search(model=model, prompt="a circle", verifiers=["gmm-density"], budget=20)
    assert "not a registered model" in str(caught.value) and "log in" not in str(caught.value)
