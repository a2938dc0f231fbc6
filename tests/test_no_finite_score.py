"""Issue 21: a search whose verifier never gave a finite score says so, in the summary, on the CLI and in the app."""

import math

import pytest

import tsearch
from tsearch.cli import main


def nan_scores(images, condition):
    return [math.nan] * len(images)


def test_all_nan_or_inf_scores_warn_everywhere(tmp_path, monkeypatch, capsys, one_thread):
    out = tmp_path / "run"
    result = tsearch.search(model="gmm", cls=1, verifiers=[nan_scores], budget=40, steps=4, out=str(out))
    assert result.best_score is None and result.summary.candidates == 10
    assert result.summary.warning.startswith("no finite score: the verifier gave none of the 10 candidate(s)")
    good = tsearch.search(model="gmm", cls=1, verifiers=["gmm-density"], budget=40, steps=4)
    assert good.summary.warning is None

    (tmp_path / "infmod.py").write_text("def score(images, condition):\n    return [float('inf')] * len(images)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["run", "--model", "gmm", "--class", "1", "--verifier", "infmod:score", "--algorithm", "random",
                 "--budget", "40", "--steps", "4"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("warning: no finite score")

    from tsearch.app import views
    from tsearch.app.state import LiveRun
    from tsearch.runs import load_run

    line = views.status_line(LiveRun.from_run(load_run(out)))
    assert line.startswith("Done:") and "warning: no finite score" in line
