"""The arena command and `report` are as careful as `run` and `sweep` (issue 25): one `error:` line naming the flag
(never a traceback, never a MemoryError), exit 1 when cells fail, a results row without a budget passed over with a
note, and `report --html` never writes over what it reads. Tiny gmm arenas (a second or two each)."""

import json
import threading

import pytest

from tsearch.cli import main

ARENA = ["arena", "--model", "gmm", "--captions", "2", "--candidates", "2", "--steps", "2", "--methods", "random",
         "--reps", "20", "--threads", "1", "--no-progress"]


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error:")]


def refused(argv, capsys, flag: str) -> None:
    """Exit 2 within a guard (no work done first), one error line naming the flag, no traceback."""
    done = {}
    worker = threading.Thread(target=lambda: done.setdefault("code", main(argv)), daemon=True)
    worker.start()
    worker.join(20)
    assert not worker.is_alive() and done["code"] == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(error_lines(err)) == 1 and flag in error_lines(err)[0], err


@pytest.mark.parametrize("extra,flag", [
    (["--seeds", "100000000"], "--seeds"), (["--reps", str(10**12)], "--reps"), (["--device", "nope"], "--device"),
    (["--captions", "9"], "--captions"), (["--threads", str(10**9)], "--threads"),
    (["--candidates", "900000000", "--steps", "1000"], "--candidates"), (["--batch-size", str(10**12)], "--batch-size"),
    (["--draw-seed", str(2**70)], "--draw-seed"), (["--seeds", "100000", "--captions", "2"], "--seeds"),
])
def test_hostile_arena_flags_are_one_line_errors_naming_the_flag(tmp_path, capsys, extra, flag):
    refused([*ARENA, "--out", str(tmp_path / "arena"), *extra], capsys, flag)


def test_arena_out_pointing_at_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "file.txt"
    target.write_text("mine")
    refused([*ARENA, "--out", str(target)], capsys, "--out")
    assert target.read_text() == "mine"


def test_no_method_fitting_the_budgets_says_which_and_what_to_do(tmp_path, capsys):
    refused([*ARENA, "--out", str(tmp_path / "a"), "--budgets", "1", "--steps", "4"], capsys, "--budgets")


def test_the_arena_exits_1_when_cells_fail(tmp_path, capsys, monkeypatch):
    import tsearch.sweep.local as local

    real = local.api.plan_for

    def failing(config, *args, **kwargs):   # every cell of class 1 fails, as a verifier that breaks would
        if getattr(config, "condition", None) == 1:
            raise ValueError("the verifier broke")
        return real(config, *args, **kwargs)

    monkeypatch.setattr(local.api, "plan_for", failing)
    out = tmp_path / "arena"
    assert main([*ARENA, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "1 of 2 cell(s) run failed" in err and "the verifier broke" in err and "Traceback" not in err


def test_no_run_passes_over_a_row_without_a_budget(tmp_path, capsys):
    out = tmp_path / "arena"
    assert main([*ARENA, "--out", str(out)]) == 0
    results = out / "results.jsonl"
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    del rows[0]["config"]["budget"]
    results.write_text("".join(json.dumps(r) + "\n" for r in rows))
    capsys.readouterr()
    assert main([*ARENA, "--out", str(out), "--no-run"]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "no whole-number 'budget'" in captured.out


def test_report_refuses_to_write_its_html_over_the_results(tmp_path, capsys):
    out = tmp_path / "arena"
    assert main([*ARENA, "--out", str(out)]) == 0
    before = (out / "results.jsonl").read_text()
    capsys.readouterr()
    assert main(["report", str(out), "--html", str(out / "results.jsonl"), "--no-set-metrics"]) == 2
    err = capsys.readouterr().err
    assert len(error_lines(err)) == 1 and "--html" in err and "results.jsonl" in err
    assert (out / "results.jsonl").read_text() == before
    assert main(["report", str(out), "--html", str(out / "runs"), "--no-set-metrics"]) == 2   # a folder


def test_report_html_to_an_unwritable_path_is_one_line_exit_1(tmp_path, capsys):
    out = tmp_path / "arena"
    assert main([*ARENA, "--out", str(out)]) == 0
    capsys.readouterr()
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert main(["report", str(out), "--html", str(blocker / "report.html"), "--no-set-metrics"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(error_lines(err)) == 1 and "--html" in error_lines(err)[0]


@pytest.mark.parametrize("flag,value", [("--reps", str(10**12)), ("--seed", str(2**70))])
def test_report_bounds_its_numbers(tmp_path, capsys, flag, value):
    assert main(["report", str(tmp_path), flag, value]) == 2
    assert flag in capsys.readouterr().err
