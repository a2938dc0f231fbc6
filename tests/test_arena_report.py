"""`tsearch report` compares on three cost axes: NFEs, seconds (verifier included, naming the device and
thread count) and verifier calls; its HTML switches the x-axis between them."""

import json

from tsearch.sweep import report


def test_report_rows_carry_seconds_and_verifier_calls(tmp_path):
    out = tmp_path / "sweep"
    (out / "runs" / "k0").mkdir(parents=True)
    (out / "runs" / "k0" / "run.json").write_text(json.dumps({"config": {}, "torch_threads": 3}))
    rows = []
    for i, (seconds, candidates) in enumerate([(2.0, 4), (4.0, 8)]):
        config = {"model": "gmm", "algorithm": "random", "options": {}, "budget": 40, "seed": i, "condition": 1,
                  "steps": 4, "verifiers": ["gmm-density", "gmm-density"], "evaluators": [], "device": "cpu"}
        rows.append({"key": f"k{i}", "config": config, "metadata": {}, "run_dir": f"runs/k{i}", "error": None,
                     "summary": {"best_score": 1.0, "nfe_spent": 40, "seconds": seconds, "candidates": candidates,
                                 "evals": {}, "scores": {}}})
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = report.build(out, reps=50)
    header, body = report.table_rows(data)
    assert header[2:5] == ["NFEs", "seconds", "verifier calls"]
    assert body[0][2:5] == ["40", "3.00", "12"]          # mean 3 s; mean 6 images x 2 verifiers
    assert "cpu (" in report.render_text(data) and "3 torch thread(s) per search" in report.render_text(data)
    page = report.write_html(data, out / "report.html").read_text()
    assert '"verifier calls"' in page and '"updatemenus"' in page and "seconds (verifier included; cpu" in page
