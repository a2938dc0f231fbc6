"""The benchmarks run end to end at a tiny size (their figures are printed by the commands in the README)."""

import json

from tsearch.bench import engine, scaling


def test_engine_bench_prints_all_three_ways(capsys):
    engine.main(["--candidates", "4", "--steps", "1", "--batch-size", "2", "--naive-candidates", "2", "--threads", "1"])
    out = capsys.readouterr().out
    assert "engine (batched" in out and "naive loop" in out and "speed-up" in out and "bare batched" in out


def test_shapes_scaling_bench_tiny(tmp_path, capsys):
    out = tmp_path / "s.json"
    scaling.main(["--world", "shapes", "--per-category", "1", "--steps", "2", "--budgets", "1", "2",
                  "--search-budgets", "2", "--skip", "paths", "--threads", "1", "--json", str(out)])
    report = json.loads(out.read_text())
    assert len(report["per_caption"]) == 6
    assert set(report["overall"]) >= {"random + shapes-clip", "more steps, no search", "zero-order + shapes-clip"}
    assert "accuracy (%) per category" in capsys.readouterr().out


def test_digits_scaling_bench_tiny(tmp_path):
    out = tmp_path / "d.json"
    scaling.main(["--world", "digits", "--per-class", "1", "--steps", "2", "--budgets", "1", "2", "--threads", "1",
                  "--json", str(out)])
    report = json.loads(out.read_text())
    assert set(report["results"]) == {"random", "zero-order"}
    assert all(v["is"] >= 1.0 and v["fid"] >= 0.0 for r in report["results"].values() for v in r.values())
