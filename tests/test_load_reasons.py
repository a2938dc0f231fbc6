"""Issue 21: loading a run says how many candidate rows were skipped and why (API and app); a zip with a
folder named run.json is refused as such."""

import json
import zipfile

import pytest

import tsearch
from tsearch.runs import load_run


@pytest.fixture
def run_dir(tmp_path, one_thread):
    out = tmp_path / "run"
    tsearch.search(model="gmm", cls=1, verifiers=["gmm-density"], budget=20, steps=4, out=str(out))
    return out


def test_skipped_rows_are_counted_with_their_reasons(run_dir):
    rows = (run_dir / "candidates.jsonl").read_text().splitlines()
    (run_dir / "candidates.jsonl").write_text("\n".join([rows[0], '{"id": 1, "nfe_spe', "[1, 2]",
                                                         json.dumps({"id": "x"}), json.dumps({"id": -3})]) + "\n")
    run = load_run(run_dir)
    assert len(run.candidates) == 1 and run.skipped == 4
    assert run.skipped_why.startswith("4 row(s) of candidates.jsonl skipped: 1 not valid JSON")
    assert "1 not a JSON object" in run.skipped_why and "2 not a candidate row (e.g. " in run.skipped_why
    assert load_run(run_dir.parent / "run").skipped_why == run.skipped_why


def test_the_app_says_when_every_row_of_a_loaded_zip_was_skipped(run_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("TSEARCH_APP_RUNS", str(tmp_path / "app"))
    from tsearch.app import views
    from tsearch.app.export import export_zip, load_live

    (run_dir / "candidates.jsonl").write_text("garbage\n" * 3)
    live = load_live(export_zip(str(run_dir), tmp_path))
    line = views.status_line(live)
    assert "0 candidates" in line and "3 row(s) of candidates.jsonl skipped: 3 not valid JSON" in line

    bad = tmp_path / "folder.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("run.json/", "")
        archive.writestr("r/run.json", json.dumps({"config": {}}))
    with pytest.raises(ValueError, match="holds a folder named run.json"):
        load_live(bad)
