"""The benchmarks run end to end at a tiny size (their figures are printed by the commands in docs/benchmarks/)."""

import json

import pytest

from tsearch.bench import engine, scaling


def test_engine_bench_prints_all_three_ways(capsys):
    engine.main(["--candidates", "4", "--steps", "1", "--batch-size", "2", "--naive-candidates", "2", "--threads", "1"])
    out = capsys.readouterr().out
    assert "engine (batched" in out and "naive loop" in out and "speed-up" in out and "bare batched" in out


def test_shapes_scaling_bench_is_a_resumable_sweep(tmp_path, capsys):
    out, figures = tmp_path / "sweep", tmp_path / "s.json"
    argv = ["--world", "shapes", "--captions", "2", "--steps", "2", "--budgets", "4", "8",
            "--methods", "random", "steps", "zero-order", "--threads", "1", "--out", str(out), "--json", str(figures)]
    scaling.main(argv)
    strict = {"parse_constant": lambda name: pytest.fail(f"{name} in the bench's JSON")}
    report = json.loads(figures.read_text(), **strict)
    json.loads((out / "spec.json").read_text(), **strict)
    assert report["cells"] == 12 and report["ran"] == 12 and report["failed"] == 0
    assert set(report["overall"]) == {"random", "more steps, no search", "zero-order"}
    assert all(v in (0.0, 50.0, 100.0) for by in report["overall"].values() for v in by.values())
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 12 and {r["config"]["budget"] for r in rows} == {4, 8}   # budgets are NFEs
    printed = capsys.readouterr().out
    assert "accuracy % (shapes-oracle)" in printed and "by category" in printed
    assert (out / "report.html").stat().st_size > 1000 and (out / "accuracy.png").stat().st_size > 1000
    scaling.main(argv)   # the same command again: every cell is already done
    again = json.loads(figures.read_text())
    assert again["ran"] == 0 and again["overall"] == report["overall"]
    scaling.main([*argv[:argv.index("--budgets")], "--budgets", "4", *argv[argv.index("--methods"):]])
    assert set(json.loads(figures.read_text())["overall"]["random"]) == {"4"}   # only this sweep's cells


def test_digits_scaling_bench_reports_set_metrics(tmp_path):
    out = tmp_path / "d.json"
    scaling.main(["--world", "digits", "--per-class", "1", "--steps", "2", "--budgets", "2", "4", "--threads", "1",
                  "--out", str(tmp_path / "sweep"), "--json", str(out)])
    report = json.loads(out.read_text())
    assert set(report["overall"]) == {"random", "zero-order"} and report["cells"] == 40
    assert {"IS (digits)", "FID (digits)"} <= set(report["columns"])
    assert all(v is not None and v >= 0.0 for by in report["overall"].values() for v in by.values())
    assert all(row["IS (digits)"][0] >= 1.0 for row in report["table"])


def test_app_latency_bench_prints_the_three_targets(capsys):
    from tsearch.bench import app_latency

    figures = app_latency.main(["--model", "gmm", "--cls", "1", "--verifier", "gmm-density", "--candidates", "4",
                                "--steps", "2", "--repeat", "1", "--threads", "1"])
    out = capsys.readouterr().out
    assert "first candidate" in out and "whole search through the app" in out and "over the denoiser" in out
    assert figures["candidates"] == 4 and 0 < figures["first_candidate_s"] <= figures["app_total_s"]
    assert 0 < figures["denoiser_s"] <= figures["engine_total_s"]


def test_engine_bench_runs_the_gpu_paths_at_a_tiny_size_on_the_cpu(capsys):
    """The prepared GPU command (sd15-random, overlap, channels_last, compile) as a CPU dry run."""
    engine.main(["--model", "sd15-random", "--size", "tiny", "--candidates", "4", "--steps", "1", "--batch-size", "2",
                 "--naive-candidates", "2", "--threads", "1", "--overlap", "on", "--channels-last",
                 "--compile", "aot_eager"])
    out = capsys.readouterr().out
    assert "candidates/s" in out and "overlap on, compile aot_eager, channels_last on" in out


def test_app_latency_names_the_cpu_and_compares_the_first_candidate_with_one_alone(tmp_path, monkeypatch):
    import json

    from tsearch.app import pool
    from tsearch.app.pool import ModelPool
    from tsearch.bench import app_latency

    monkeypatch.setattr(pool, "POOL", ModelPool())   # --dtype hands the pool a model: keep it to this test

    out = tmp_path / "latency.json"
    figures = app_latency.main(["--model", "gmm", "--cls", "1", "--verifier", "gmm-density", "--candidates", "2",
                                "--steps", "2", "--repeat", "1", "--threads", "1", "--dtype", "float32",
                                "--out", str(out)])
    assert figures["dtype"] == "float32" and figures["cpu"] and isinstance(figures["native_bf16"], bool)
    assert figures["first_over_one"] == figures["first_candidate_s"] / figures["one_candidate_s"] > 0
    assert json.loads(out.read_text())["steps"] == 2
