"""Sweeps (issue #11): spec -> cells, results.jsonl and resume after kill -9, the Ray backend with a
killed actor giving the local backend's results, the report, and bad specs. All on gmm, CPU, fast."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tsearch.config import SearchConfig
from tsearch.sweep import cli, load_spec, parse_spec, run_sweep
from tsearch.sweep.results import Results, read_rows
from tsearch.sweep.spec import cell_key

ROOT = Path(__file__).resolve().parents[1]
HAS_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(not HAS_RAY, reason="ray is not installed (pip install -r requirements-ray.txt)")

GMM = """
model = "gmm"
classes = [1]
seeds = [0, 1]
verifiers = ["gmm-density"]
budgets = [40, 80]
steps = 4

[[algorithm]]
name = "random"
per_round = 4

[[algorithm]]
name = "zero-order"
n = 2
lam = 0.9
"""


def write(tmp_path: Path, text: str, name: str = "spec.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def comparable(rows: list[dict]) -> dict:
    """Rows by key, without wall-clock timings."""
    out = {}
    for row in rows:
        row = json.loads(json.dumps(row))
        row.pop("seconds", None)
        for key in ("seconds", "verifier_seconds"):
            (row.get("summary") or {}).pop(key, None)
        out[row["key"]] = row
    return out


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory, one_thread):
    tmp = tmp_path_factory.mktemp("local")
    spec = write(tmp, GMM)
    outcome = run_sweep(load_spec(spec), tmp / "out", progress=False, threads=1)
    return spec, tmp / "out", outcome


# --- the local backend and results.jsonl --------------------------------------------------------------

def test_local_sweep_writes_one_strict_line_per_cell(local_sweep):
    spec, out, outcome = local_sweep
    sweep = load_spec(spec)
    assert len(sweep.cells) == 8 and (outcome.ran, outcome.failed, outcome.skipped) == (8, 0, 0)
    lines = (out / "results.jsonl").read_text().splitlines()
    rows = [json.loads(line, parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}")) for line in lines]
    assert sorted(r["key"] for r in rows) == sorted(c.key for c in sweep.cells)
    for row, cell in zip(rows, sweep.cells):
        assert row["key"] == cell.key and row["config"] == cell.config.to_dict() and row["error"] is None
        assert cell_key(SearchConfig.from_dict(row["config"])) == row["key"]   # the key is the config's hash
        s = row["summary"]
        assert 0 < s["nfe_spent"] <= row["config"]["budget"] and s["candidates"] >= 1
        assert s["scores"]["gmm-density"] == s["best_score"]   # one verifier: the told score is its raw score
        run = json.loads((out / row["run_dir"] / "run.json").read_text())
        assert row["run_dir"] == f"runs/{row['key']}" and run["summary"]["best_score"] == s["best_score"]
    # a rerun finds every cell done
    again = run_sweep(sweep, out, progress=False, threads=1)
    assert (again.skipped, again.ran) == (8, 0) and len((out / "results.jsonl").read_text().splitlines()) == 8


def test_a_resumed_sweep_says_how_many_reused_lines_other_code_computed(tmp_path, local_sweep, capsys):
    """A key hashes settings, not code: each line records the code's fingerprint, and a resume counts the lines
    another code computed (an older tsearch's bf16 batches, a default the settings do not name)."""
    from tsearch.sweep.fingerprint import code_fingerprint

    spec, out, _ = local_sweep
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert {row["code"] for row in rows} == {code_fingerprint()} and len(code_fingerprint()) == 12
    copy = tmp_path / "copy"
    copy.mkdir()
    rows[0]["code"], rows[1]["code"] = "0123456789ab", None   # an older code's line, and one from before "code"
    del rows[1]["code"]
    (copy / "results.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    capsys.readouterr()
    again = run_sweep(load_spec(spec), copy, progress=False, threads=1)
    assert (again.skipped, again.ran, again.other_code) == (8, 0, 2) and again.to_dict()["other_code"] == 2
    note = capsys.readouterr().err
    assert "2 of the 8 result line(s) reused were computed by other tsearch code" in note and "--out" in note
    same = run_sweep(load_spec(spec), out, progress=False, threads=1)
    assert same.other_code == 0 and "other tsearch code" not in capsys.readouterr().err


def test_same_seed_gives_the_same_result_and_keys_ignore_metadata(tmp_path, local_sweep, one_thread):
    _, out, _ = local_sweep
    # another folder, the same cells: identical results apart from timings
    second = run_sweep(load_spec(write(tmp_path, GMM)), tmp_path / "again", progress=False, threads=1)
    assert second.ran == 8
    assert comparable(read_rows(tmp_path / "again")[0]) == comparable(read_rows(out)[0])


def test_a_failing_cell_is_recorded_and_the_sweep_goes_on(tmp_path, one_thread):
    spec = write(tmp_path, GMM.replace("classes = [1]", "classes = [1, 9]").replace("seeds = [0, 1]", "seeds = [0]"))
    out = tmp_path / "out"
    assert cli.main_sweep([str(spec), "--out", str(out), "--no-progress", "--threads", "1"]) == 1   # 1: cells failed
    rows = read_rows(out)[0]
    failed = [r for r in rows if r["error"]]
    assert len(rows) == 8 and len(failed) == 4
    assert all("gmm component must lie in 0..3, got 9" in r["error"] and r["summary"] is None for r in failed)
    # --retry-failed runs them again and leaves one line per cell
    assert cli.main_sweep([str(spec), "--out", str(out), "--no-progress", "--retry-failed"]) == 1
    keys = [r["key"] for r in read_rows(out)[0]]
    assert len(keys) == 8 and len(set(keys)) == 8


def test_a_torn_last_line_is_passed_over_and_cut_before_appending(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.jsonl").write_text('{"key": "a", "config": {}}\n{"key": "b", "conf')
    rows, bad = read_rows(out)
    assert [r["key"] for r in rows] == ["a"] and bad == 1
    with Results(out) as results:
        results.append({"key": "c", "config": {}})
        with pytest.raises(ValueError, match="another sweep is writing"):
            Results(out)
    assert (out / "results.jsonl").read_text() == '{"key": "a", "config": {}}\n{"config": {}, "key": "c"}\n'


def test_resume_after_kill_9_runs_every_cell_exactly_once(tmp_path):
    # cells slow enough (~0.3 s each, writing a hundred PNGs) to kill the driver between two of them
    spec = write(tmp_path, GMM.replace("budgets = [40, 80]", "budgets = [800, 1200]").replace("steps = 4", "steps = 10"))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    command = [sys.executable, "-m", "tsearch.sweep.cli", "sweep", str(spec), "--out", str(out), "--threads", "1",
               "--no-progress"]
    driver = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    results, deadline = out / "results.jsonl", time.monotonic() + 60
    while time.monotonic() < deadline and driver.poll() is None:
        if results.exists() and results.read_bytes().count(b"\n") >= 1:
            break
        time.sleep(0.01)
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    first = results.read_bytes().count(b"\n")
    assert 1 <= first < 8, f"the driver should be killed mid-sweep ({first} lines; stderr: {driver.stderr.read()!r})"
    # a torn line as a kill mid-write leaves it, and a stale run folder of an unfinished cell
    done = {r["key"] for r in read_rows(out)[0]}
    stale = next(c.key for c in load_spec(spec).cells if c.key not in done)
    (out / "runs" / stale).mkdir(parents=True, exist_ok=True)
    (out / "runs" / stale / "junk.txt").write_text("left by the killed driver")
    with open(results, "a") as handle:
        handle.write('{"key": "torn", "con')
    # the rerun, in a fresh process that must not import ray for the local backend
    check = ("import sys; from tsearch.sweep.cli import main; rc = main(sys.argv[1:]); "
             "assert 'ray' not in sys.modules, 'the local backend imported ray'; sys.exit(rc)")
    rerun = subprocess.run([sys.executable, "-c", check, *command[3:]], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout.splitlines()[-1])["skipped"] == first
    lines = results.read_text().splitlines()
    keys = [json.loads(line)["key"] for line in lines]   # every line whole: the torn one was cut
    assert sorted(keys) == sorted(c.key for c in load_spec(spec).cells) and len(set(keys)) == 8
    assert not (out / "runs" / stale / "junk.txt").exists() and (out / "runs" / stale / "run.json").exists()


# --- the Ray backend ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def local_ray():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@needs_ray
def test_ray_backend_survives_a_killed_actor_and_matches_local(tmp_path, local_sweep, local_ray):
    spec, local_out, _ = local_sweep
    seen = {"killed": None, "replaced": 0}

    def kill_one(row, pool):
        if seen["killed"] is None:
            victim = (pool.busy() or pool.actors)[0]
            local_ray.kill(victim)   # mid-sweep: its cell must be given to another actor
            seen["killed"] = victim
        seen["replaced"] = pool.replaced

    outcome = run_sweep(load_spec(spec), tmp_path / "ray", "ray", progress=False, workers=2, threads=1,
                        on_result=kill_one)
    assert seen["killed"] is not None and seen["replaced"] >= 1
    assert (outcome.ran, outcome.failed) == (8, 0)
    rows = read_rows(tmp_path / "ray")[0]
    assert len(rows) == 8 and len({r["key"] for r in rows}) == 8
    assert comparable(rows) == comparable(read_rows(local_out)[0])   # same cells, same results
    assert all((tmp_path / "ray" / r["run_dir"] / "run.json").exists() for r in rows)


def test_ray_backend_without_ray_says_how_to_install(tmp_path, capsys, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    spec = write(tmp_path, GMM)
    assert cli.main_sweep([str(spec), "--out", str(tmp_path / "o"), "--backend", "ray"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error:") and "pip install -r requirements-ray.txt" in err


# --- the report ----------------------------------------------------------------------------------------

def test_report_prints_a_table_and_writes_html(local_sweep, capsys):
    _, out, _ = local_sweep
    assert cli.main_report([str(out), "--reps", "200"]) == 0
    text = capsys.readouterr().out
    assert "random" in text and "zero-order" in text and "[" in text
    lines = [line for line in text.splitlines() if line.startswith(("random", "zero-order"))]
    assert len(lines) == 4   # 2 methods x 2 budgets
    page = (out / "report.html").read_text()
    assert "cdn.plot.ly" in page and "NFEs" in page and len(page) < 200_000


def test_report_accuracy_from_the_oracle_with_bootstrap_intervals(tmp_path, capsys):
    from tsearch.sweep import report

    out = tmp_path / "synthetic"
    out.mkdir()
    rows = []
    for i, oracle in enumerate([1.5, 0.2, 1.5, 1.5]):   # shapes-oracle: a pass scores at least 1
        config = {"model": "shapes", "algorithm": "random", "options": {}, "budget": 40, "seed": i,
                  "condition": "a circle", "steps": 20, "verifiers": ["shapes-clip"], "evaluators": ["shapes-oracle"]}
        rows.append({"key": f"k{i}", "config": config, "metadata": {"category": "single"}, "run_dir": None, "error": None,
                     "summary": {"best_score": 0.1 * i, "nfe_spent": 40, "evals": {"shapes-oracle": oracle},
                                 "scores": {"shapes-clip": 0.1 * i}}})
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = report.build(out, reps=500, seed=3)
    (group,) = data["groups"]
    mean, low, high = group.values["accuracy % (shapes-oracle)"]
    assert mean == 75.0 and 0.0 <= low <= mean <= high <= 100.0
    assert report.build(out, reps=500, seed=3)["groups"][0].values == group.values   # seeded
    assert group.categories == {"single": 75.0}
    assert cli.main_report([str(out), "--no-html"]) == 0
    assert "accuracy % (shapes-oracle)" in capsys.readouterr().out and not (out / "report.html").exists()


def test_report_against_a_method_pairs_the_units_it_shares(tmp_path, capsys):
    from tsearch.sweep import paired, report

    out = tmp_path / "paired"
    out.mkdir()
    rows = []
    for label, passes in (("a", [1.5, 1.5, 0.2, 1.5, 1.5]), ("b", [1.5, 0.2, 0.2, 0.2])):   # b lacks unit 4
        for i, oracle in enumerate(passes):
            config = {"model": "shapes", "algorithm": "smc", "options": {"early": float(label == "b")}, "budget": 40,
                      "seed": 0, "condition": f"caption {i}", "steps": 10, "verifiers": ["shapes-clip"],
                      "evaluators": ["shapes-oracle"]}
            rows.append({"key": f"{label}{i}", "config": config, "metadata": {"label": label}, "run_dir": None,
                         "error": None, "summary": {"best_score": 0.25 if label == "a" else 0.5, "nfe_spent": 40,
                                                    "evals": {"shapes-oracle": oracle}}})
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (row,) = paired.paired(report.build(out, reps=200, set_metrics=False), "a", reps=500)
    # on the 4 shared units: a passes 1, 1, 0, 1 and b 1, 0, 0, 0: b - a = 0, -100, 0, -100
    assert (row["method"], row["units"], row["value"], row["reference"]) == ("b", 4, 25.0, 75.0)
    assert (row["difference"], row["wins"], row["losses"], row["ties"]) == (-50.0, 0, 2, 2)
    assert -100.0 <= row["low"] <= -50.0 <= row["high"] <= 0.0
    assert row["score_difference"] == 0.25 and row["same_score"] == 0   # best scores: a 0.25, b 0.5
    assert cli.main_report([str(out), "--no-html", "--no-set-metrics", "--against", "a"]) == 0
    assert "| b | 40 | 4 | 25.0 | 75.0 | -50.0 [" in capsys.readouterr().out
    assert cli.main_report([str(out), "--no-html", "--against", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --against: no method 'nope'") and "a, b" in err


def test_report_set_metrics_over_the_best_images_of_digits(tmp_path):
    from tsearch.recipes import to_pil
    from tsearch.sweep import report
    from tsearch.worlds.digits.data import load_split

    images, labels = load_split("test")
    out = tmp_path / "digits"
    lines = []
    for i in range(6):   # real held-out digits stand in for the cells' best images
        (out / "runs" / f"k{i}").mkdir(parents=True)
        to_pil(images[i].expand(3, -1, -1)).save(out / "runs" / f"k{i}" / "best.png")
        config = {"model": "digits", "algorithm": "random", "options": {}, "budget": 20, "seed": 0,
                  "condition": int(labels[i]), "steps": 20, "verifiers": ["digits-classifier"], "evaluators": []}
        lines.append(json.dumps({"key": f"k{i}", "config": config, "metadata": {}, "run_dir": f"runs/k{i}",
                                 "error": None, "summary": {"best_score": 1.0, "nfe_spent": 20}}) + "\n")
    (out / "results.jsonl").write_text("".join(lines))
    data = report.build(out, reps=100)
    (group,) = data["groups"]
    is_, low, high = group.values["IS (digits)"]
    assert 1.0 <= is_ <= 10.0 and low <= is_ <= high
    assert group.values["FID (digits)"][0] >= 0.0
    assert report.build(out, reps=100, set_metrics=False)["columns"] == ["score"]


def test_report_of_an_empty_folder_is_one_error_line(tmp_path, capsys):
    assert cli.main_report([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "holds no results" in err and err.count("\n") == 1


# --- specs ---------------------------------------------------------------------------------------------

BASE = {"model": "gmm", "classes": [0], "verifiers": ["gmm-density"], "budgets": [40], "algorithm": [{"name": "random"}]}


@pytest.mark.parametrize("change,needle", [
    ({"budget": [40]}, "unknown key 'budget' (did you mean 'budgets'?)"),
    ({"model": None}, "model: give the model"),
    ({"classes": None}, "give one of prompts"),
    ({"prompts": ["a circle"]}, "only one of (got prompts, classes)"),
    ({"budgets": [40.5]}, "budgets: whole numbers"),
    ({"budgets": []}, "budgets: an empty list makes no cells"),
    ({"seeds": [0, "x"]}, "seeds: a count"),
    ({"verifiers": "gmm-density"}, "verifiers: a list of registered names"),
    ({"algorithm": None}, "algorithm: add one [[algorithm]] table"),
    ({"algorithm": [{"name": "randm"}]}, "randm"),
    ({"algorithm": [{"name": "random", "lam": 0.5}]}, "option(s) lam do not apply to algorithm 'random'"),
    ({"algorithm": [{"name": "zero-order", "n": [2, 2.5]}]}, "option n of 'zero-order' must be a whole number"),
    ({"steps": 0}, "steps must be at least 1"),
    ({"seeds": [0, 0]}, "is the same search as cell 1"),
    ({"model_options": 3}, "model_options: a table"),
])
def test_bad_specs_name_their_key(change, needle):
    data = {**BASE, **change}
    data = {k: v for k, v in data.items() if v is not None}
    with pytest.raises(ValueError) as caught:
        parse_spec(data)
    assert needle in str(caught.value)


def test_grids_prompts_files_and_per_method_overrides(tmp_path):
    (tmp_path / "prompts.jsonl").write_text('{"prompt": "a circle", "category": "single"}\n'
                                            '{"prompt": "two squares", "category": "counting"}\n')
    spec = write(tmp_path, """
model = "shapes"
prompts_file = "prompts.jsonl"
seeds = 2
verifiers = [["shapes-clip"], ["shapes-quality"]]
evaluators = ["shapes-oracle"]
budgets = [40, 160]

[[algorithm]]
name = "random"

[[algorithm]]
name = "zero-order"
label = "zo"
lam = [0.5, 0.9]
budgets = [160]
""")
    cells = load_spec(spec).cells
    assert len(cells) == 2 * 2 * 2 * 2 + 2 * 2 * 1 * 2 * 2   # random: verifiers x budgets x prompts x seeds; zo: lam x ...
    assert {c.metadata["category"] for c in cells} == {"single", "counting"}
    zo = [c for c in cells if c.config.algorithm == "zero-order"]
    assert {c.config.budget for c in zo} == {160} and all(c.metadata["label"] == "zo" for c in zo)
    assert {c.config.options.lam for c in zo} == {0.5, 0.9}
    assert len({c.key for c in cells}) == len(cells)


def test_a_bad_spec_is_one_error_line_with_exit_2(tmp_path, capsys):
    spec = write(tmp_path, 'model = "gmm"\nclasses = [0]\nbudgets = [40]\nverifiers = ["gmm-density"]\n'
                           '[[algorithm]]\nname = "random"\nper_rond = 4\n')
    assert cli.main_sweep([str(spec), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: spec {spec}: [[algorithm]] #1 (random): option(s) per_rond")
    bad_toml = write(tmp_path, "model = \n", "bad.toml")
    assert cli.main_sweep([str(bad_toml), "--out", str(tmp_path / "o")]) == 2
    assert "is not valid TOML" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()   # nothing written for a bad spec


@pytest.mark.parametrize("path", sorted((ROOT / "sweeps").glob("*.toml")), ids=lambda p: p.name)
def test_shipped_sweeps_parse(path):
    sweep = load_spec(path)
    assert sweep.cells and len({c.key for c in sweep.cells}) == len(sweep.cells)
    assert path.read_text().lstrip().startswith("#") and "CPU" in path.read_text().split("\n\n")[0]


def test_a_gpu_spec_parses_on_a_cpu_driver_and_the_local_backend_says_why_it_cannot_run(tmp_path, capsys):
    """The device is checked where cells run: a CPU driver may feed Ray workers that have the GPUs."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    spec = write(tmp_path, 'device = "cuda"\n' + GMM)
    assert {cell.config.device for cell in load_spec(spec).cells} == {"cuda"}
    with pytest.raises(ValueError, match="no CUDA GPU is visible here"):
        run_sweep(load_spec(spec), tmp_path / "out", progress=False)
    assert not (tmp_path / "out" / "results.jsonl").exists() or not read_rows(tmp_path / "out")[0]
    assert cli.main(["sweep", str(spec), "--out", str(tmp_path / "out2"), "--no-progress"]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err


@needs_ray
def test_an_address_where_nothing_listens_is_one_clear_error_not_a_hang(tmp_path, capsys):
    import socket

    with socket.socket() as probe:   # a port nobody listens on: bound, never listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        spec = write(tmp_path, GMM)
        started = time.perf_counter()
        code = cli.main(["sweep", str(spec), "--out", str(tmp_path / "out"), "--backend", "ray",
                         "--address", f"127.0.0.1:{port}", "--no-progress"])
    assert code == 2 and time.perf_counter() - started < 30
    err = capsys.readouterr().err
    assert f"cannot reach the Ray cluster at 127.0.0.1:{port}" in err and "ray start --head" in err
    assert "Traceback" not in err
    assert cli.main(["sweep", str(spec), "--out", str(tmp_path / "out"), "--backend", "ray",
                     "--address", "nonsense", "--no-progress"]) == 2
    assert "HOST:PORT" in capsys.readouterr().err
