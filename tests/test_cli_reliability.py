"""The CLI never shows a traceback: every failure is one `error:` line on stderr and a known exit code.

Exit 2 for anything the user can act on, 130 when interrupted (the partial run is kept), 1 for an
internal error. Most tests call `tsearch.cli.main(argv)` in process (a subprocess costs ~3 s).
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import tsearch.engine
from tsearch.cli import main

REPO = Path(__file__).resolve().parents[1]
GMM = ["--model", "gmm", "--class", "1", "--verifier", "gmm-density"]

VERIFIERS = textwrap.dedent('''
    import torch

    calls = {"n": 0}

    def all_nan(images, condition):   # "module:function" verifiers get a list of PIL images
        return torch.full((len(images),), float("nan"))

    def raises(images, condition):
        raise RuntimeError("the scorer broke")

    def a_string(images, condition):
        return "high"

    def nothing(images, condition):
        return None

    def raises_on_third_call(images, condition):
        calls["n"] += 1
        if calls["n"] >= 3:
            raise RuntimeError("the scorer broke late")
        return [sum(image.getpixel((0, 0))) for image in images]

    def interrupted_on_third_call(images, condition):
        calls["n"] += 1
        if calls["n"] >= 3:
            raise KeyboardInterrupt
        return [sum(image.getpixel((0, 0))) for image in images]
''')


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    yield


@pytest.fixture
def custom(tmp_path, monkeypatch):
    """A module `cli_test_verifiers` of custom verifier functions on sys.path (fresh for each test)."""
    folder = tmp_path / "verifier_module"
    folder.mkdir()
    (folder / "cli_test_verifiers.py").write_text(VERIFIERS)
    monkeypatch.delitem(sys.modules, "cli_test_verifiers", raising=False)
    monkeypatch.syspath_prepend(str(folder))
    yield folder
    sys.modules.pop("cli_test_verifiers", None)


def run_argv(*extra, algorithm="random", budget="40", model=GMM):
    return ["run", *model, "--algorithm", algorithm, "--budget", budget, *extra]


def one_error(capsys, code, argv, *needles):
    """main(argv) returns `code` with exactly one stderr line, `error: ...`, holding every needle."""
    assert main(argv) == code
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ")
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0], captured.out


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error:")]


# --- --out ------------------------------------------------------------------------------------------------------
def test_out_pointing_at_a_file(capsys, tmp_path):
    target = tmp_path / "afile"
    target.write_text("x")
    one_error(capsys, 2, run_argv("--out", str(target)), "out folder", str(target), "is a file")
    assert target.read_text() == "x"


def test_out_under_a_file(capsys, tmp_path):
    target = tmp_path / "afile"
    target.write_text("x")
    one_error(capsys, 2, run_argv("--out", str(target / "run")), "out folder", str(target / "run"), "is a file")


def test_out_under_proc(capsys):
    line, out = one_error(capsys, 2, run_argv("--out", "/proc/tsearch-cli-test"), "out folder /proc/tsearch-cli-test")
    assert last_json(out)["error"] is not None


def test_out_already_holding_a_run(capsys, tmp_path):
    assert main(run_argv("--out", str(tmp_path / "r"))) == 0
    capsys.readouterr()
    one_error(capsys, 2, run_argv("--out", str(tmp_path / "r")), "already holds a run")


# --- --device ---------------------------------------------------------------------------------------------------
def test_device_that_is_not_a_torch_device(capsys):
    one_error(capsys, 2, run_argv("--device", "tpu9"), "device", "tpu9")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
def test_device_cuda_without_a_gpu(capsys):
    one_error(capsys, 2, run_argv("--device", "cuda"), "device 'cuda'", "no CUDA GPU")


# --- argparse's own errors: one line naming the argument, no usage block ------------------------------------------
@pytest.mark.parametrize("flag,value,needles", [
    ("--seed", "-1", ["argument --seed", "whole number in [0, 2^63)", "'-1'"]),
    ("--seed", "abc", ["argument --seed", "whole number", "'abc'"]),
    ("--seed", str(2**63), ["argument --seed", "[0, 2^63)"]),
    ("--budget", "1.5", ["argument --budget", "whole number", "'1.5'"]),
    ("--budget", "0", ["argument --budget", "at least 1"]),
    ("--steps", "nan", ["argument --steps", "whole number"]),
    ("--batch-size", "-3", ["argument --batch-size"]),
    ("--n", "2.5", ["argument --n", "whole number"]),
    ("--lam", "abc", ["argument --lam"]),
    ("--on-stall", "sometimes", ["argument --on-stall", "restart"]),
    ("--dtype", "float64", ["argument --dtype", "float32", "bfloat16"]),
    ("--algorithm", "nope", ["argument --algorithm", "zero-order"]),
])
def test_argparse_errors_are_one_line_naming_the_argument(capsys, flag, value, needles):
    argv = run_argv(algorithm="zero-order") + [flag, value]
    line, _ = one_error(capsys, 2, argv, *needles)
    assert "usage" not in line


def test_unknown_flag_is_one_line(capsys):
    one_error(capsys, 2, run_argv("--bogus", "3"), "unrecognized arguments", "--bogus")


def test_flag_without_its_value_is_one_line(capsys):
    one_error(capsys, 2, run_argv("--seed"), "argument --seed", "expected one argument")


def test_no_command_is_one_line(capsys):
    one_error(capsys, 2, [], "command")


def test_whole_floats_are_taken(capsys):
    assert main(run_argv("--seed", "3.0", budget="40.0")) == 0
    assert last_json(capsys.readouterr().out)["budget"] == 40


# --- flags the config refuses ------------------------------------------------------------------------------------
def test_missing_flags_without_from_say_what_is_needed(capsys):
    one_error(capsys, 2, ["run", "--model", "gmm"], "--verifier", "--algorithm", "--budget", "--prompt or --class",
              "--from")


def test_dtype_reaches_the_model(capsys):
    # gmm runs in float32 only: the refusal of bfloat16 shows the flag went through the config to the model's loader
    one_error(capsys, 2, run_argv("--dtype", "bfloat16"), "dtype")
    assert main(run_argv("--dtype", "float32")) == 0


def test_option_of_another_algorithm(capsys):
    one_error(capsys, 2, run_argv("--lam", "0.5"), "lam", "do not apply to algorithm 'random'")


# --- regenerate ---------------------------------------------------------------------------------------------------
@pytest.fixture
def saved_run(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(run_argv("--out", str(out), "--seed", "3", "--n", "2", algorithm="zero-order", budget="60")) == 0
    capsys.readouterr()
    return out


def test_regenerate_unknown_candidate(capsys, saved_run, tmp_path):
    one_error(capsys, 2, ["regenerate", str(saved_run), "--id", "9999", "--out", str(tmp_path / "c.png")],
              "no candidate 9999", "0..5")


def test_regenerate_out_unwritable(capsys, saved_run):
    one_error(capsys, 2, ["regenerate", str(saved_run), "--id", "1", "--out", "/proc/tsearch-c.png"],
              "--out /proc/tsearch-c.png", "cannot write")


def test_regenerate_out_under_a_file(capsys, saved_run, tmp_path):
    (tmp_path / "afile").write_text("x")
    one_error(capsys, 2, ["regenerate", str(saved_run), "--id", "1", "--out", str(tmp_path / "afile" / "c.png")],
              "--out", "is a file")


def test_regenerate_out_is_a_folder(capsys, saved_run, tmp_path):
    one_error(capsys, 2, ["regenerate", str(saved_run), "--id", "1", "--out", str(tmp_path)], "--out", "folder")


def test_regenerate_a_folder_that_is_not_a_run(capsys, tmp_path):
    one_error(capsys, 2, ["regenerate", str(tmp_path), "--id", "1", "--out", str(tmp_path / "c.png")],
              str(tmp_path), "not a tsearch run")


def test_regenerate_negative_id(capsys, saved_run, tmp_path):
    one_error(capsys, 2, ["regenerate", str(saved_run), "--id", "-2", "--out", str(tmp_path / "c.png")],
              "argument --id")


# --- eval ---------------------------------------------------------------------------------------------------------
def test_eval_on_a_file_that_is_not_an_image(capsys, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    one_error(capsys, 2, ["eval", "--world", "shapes", "--prompt", "a red square", str(text)], "eval", str(text))


def test_eval_on_a_missing_file(capsys, tmp_path):
    missing = tmp_path / "missing.png"
    one_error(capsys, 2, ["eval", "--world", "shapes", "--prompt", "a red square", str(missing)], "eval", str(missing))


def test_eval_on_a_truncated_png(capsys, tmp_path):
    from PIL import Image

    good = tmp_path / "good.png"
    Image.new("RGB", (32, 32), "red").save(good)
    bad = tmp_path / "torn.png"
    bad.write_bytes(good.read_bytes()[:60])
    one_error(capsys, 2, ["eval", "--world", "shapes", "--prompt", "a red square", str(bad)], "eval")


def test_eval_on_a_caption_outside_the_grammar(capsys, tmp_path):
    one_error(capsys, 2, ["eval", "--world", "shapes", "--prompt", "zzz qqq", str(tmp_path / "x.png")], "eval")


# --- custom verifiers that fail during the run ---------------------------------------------------------------------
@pytest.mark.parametrize("function,needle", [
    ("raises", "the scorer broke"),
    ("a_string", "cli_test_verifiers:a_string"),
    ("nothing", "cli_test_verifiers:nothing"),
])
def test_custom_verifier_failing_on_its_first_call(capsys, custom, tmp_path, function, needle):
    out = tmp_path / "run"
    argv = ["run", "--model", "gmm", "--class", "1", "--verifier", f"cli_test_verifiers:{function}",
            "--algorithm", "random", "--budget", "40", "--out", str(out)]
    _, stdout = one_error(capsys, 2, argv, "verifier", needle)
    summary = last_json(stdout)
    assert summary["error"] and summary["candidates"] == 0 and summary["stopped"] is False
    assert not (out / "run.json").exists()   # nothing was scored: no empty run left behind


def test_custom_verifier_failing_mid_run_keeps_what_was_scored(capsys, custom, tmp_path):
    out = tmp_path / "run"
    argv = ["run", "--model", "gmm", "--class", "1", "--verifier", "cli_test_verifiers:raises_on_third_call",
            "--algorithm", "random", "--budget", "60", "--batch-size", "1", "--out", str(out)]
    assert main(argv) == 2
    captured = capsys.readouterr()
    errors = error_lines(captured.err)
    assert len(errors) == 1 and "the scorer broke late" in errors[0] and str(out) in errors[0]
    assert captured.err.rstrip("\n").splitlines()[-1] == errors[0]
    summary = last_json(captured.out)
    assert summary["candidates"] == 2 and summary["out"] == str(out) and "the scorer broke late" in summary["error"]
    stored = json.loads((out / "run.json").read_text())["summary"]
    assert stored["candidates"] == 2 and "the scorer broke late" in stored["error"]
    assert len((out / "candidates.jsonl").read_text().splitlines()) == 2


def test_custom_verifier_that_does_not_import(capsys):
    one_error(capsys, 2, ["run", "--model", "gmm", "--class", "1", "--verifier", "no_such_module_xyz:f",
                          "--algorithm", "random", "--budget", "40"], "no_such_module_xyz")


def test_all_nan_verifier_gives_strict_json_with_null_best_score(capsys, custom, tmp_path):
    argv = ["run", "--model", "gmm", "--class", "1", "--verifier", "cli_test_verifiers:all_nan",
            "--algorithm", "zero-order", "--budget", "60", "--out", str(tmp_path / "run")]
    assert main(argv) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    summary = json.loads(line, parse_constant=lambda name: pytest.fail(f"non-strict JSON constant {name}"))
    assert summary["best_score"] is None and summary["error"] is None and summary["stopped"] is False
    assert summary["nfe_spent"] <= 60 and summary["candidates"] == 6
    assert set(summary) == {"nfe_spent", "budget", "best_score", "best_id", "candidates", "seconds", "final_nfe",
                            "verifier_seconds", "out", "stopped", "error"}


def test_all_nan_verifier_in_a_subprocess(custom, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(custom), str(REPO)])}
    result = subprocess.run([sys.executable, "-m", "tsearch", "run", "--model", "gmm", "--class", "1", "--verifier",
                             "cli_test_verifiers:all_nan", "--algorithm", "random", "--budget", "40"],
                            capture_output=True, text=True, timeout=120, env=env, cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip().splitlines()[-1]
    assert "Infinity" not in line and "NaN" not in line
    assert json.loads(line)["best_score"] is None


# --- interrupts and internal errors ---------------------------------------------------------------------------------
def test_keyboard_interrupt_exits_130_and_says_where_the_run_is(capsys, custom, tmp_path):
    out = tmp_path / "run"
    argv = ["run", "--model", "gmm", "--class", "1", "--verifier", "cli_test_verifiers:interrupted_on_third_call",
            "--algorithm", "random", "--budget", "60", "--batch-size", "1", "--out", str(out)]
    assert main(argv) == 130
    captured = capsys.readouterr()
    errors = error_lines(captured.err)
    assert len(errors) == 1 and "interrupted" in errors[0] and str(out) in errors[0]
    assert captured.err.rstrip("\n").splitlines()[-1] == errors[0]
    summary = last_json(captured.out)
    assert summary["stopped"] is True and summary["candidates"] == 2
    assert json.loads((out / "run.json").read_text())["summary"]["candidates"] == 2


def test_keyboard_interrupt_between_events_closes_the_run(capsys, tmp_path, monkeypatch):
    real = tsearch.engine.run

    def interrupted(plan, *args, **kwargs):
        for number, event in enumerate(real(plan, *args, **kwargs)):
            yield event
            if number == 2:
                raise KeyboardInterrupt

    monkeypatch.setattr(tsearch.engine, "run", interrupted)
    out = tmp_path / "run"
    assert main(run_argv("--out", str(out), "--batch-size", "1", budget="60")) == 130
    errors = error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and str(out) in errors[0]
    assert (out / "run.json").exists()


def test_internal_error_is_one_line_exit_1(capsys, monkeypatch):
    def broken(plan, *args, **kwargs):
        raise RuntimeError("boom\nsecond line")
        yield  # pragma: no cover

    monkeypatch.setattr(tsearch.engine, "run", broken)
    line, _ = one_error(capsys, 1, run_argv(), "internal error: RuntimeError: boom second line", "(please report)")


def test_internal_error_in_a_listing(capsys, monkeypatch):
    import tsearch.models

    def broken():
        raise KeyError("x")

    monkeypatch.setattr(tsearch.models, "model_status", broken)
    one_error(capsys, 1, ["models"], "internal error: KeyError")


# --- run --from ------------------------------------------------------------------------------------------------------
def test_run_from_reproduces_the_summary(capsys, saved_run, tmp_path):
    first = json.loads((saved_run / "run.json").read_text())["summary"]
    assert main(["run", "--from", str(saved_run), "--out", str(tmp_path / "again")]) == 0
    again = last_json(capsys.readouterr().out)
    assert (again["best_id"], again["best_score"]) == (first["best_id"], first["best_score"])
    assert (again["nfe_spent"], again["candidates"]) == (first["nfe_spent"], first["candidates"])
    stored = json.loads((saved_run / "run.json").read_text())["config"]
    assert json.loads((tmp_path / "again" / "run.json").read_text())["config"] == stored


def test_run_from_its_run_json(capsys, saved_run, tmp_path):
    first = json.loads((saved_run / "run.json").read_text())["summary"]
    assert main(["run", "--from", str(saved_run / "run.json"), "--out", str(tmp_path / "again")]) == 0
    assert last_json(capsys.readouterr().out)["best_score"] == first["best_score"]


def test_run_from_with_overrides(capsys, saved_run, tmp_path):
    out = tmp_path / "more"
    assert main(["run", "--from", str(saved_run), "--out", str(out), "--seed", "4", "--budget", "80",
                 "--lam", "0.5"]) == 0
    summary = last_json(capsys.readouterr().out)
    assert summary["budget"] == 80 and summary["nfe_spent"] <= 80
    config = json.loads((out / "run.json").read_text())["config"]
    assert config["seed"] == 4 and config["budget"] == 80 and config["algorithm"] == "zero-order"
    assert config["options"] == {"n": 2, "lam": 0.5} and config["condition"] == 1 and config["verifiers"] == ["gmm-density"]


def test_run_from_with_another_algorithm_drops_the_stored_options(capsys, saved_run, tmp_path):
    out = tmp_path / "random"
    assert main(["run", "--from", str(saved_run), "--out", str(out), "--algorithm", "random", "--class", "2"]) == 0
    config = json.loads((out / "run.json").read_text())["config"]
    assert config["algorithm"] == "random" and config["condition"] == 2
    assert set(config["options"]) <= {"per_round"}


def test_run_from_needs_out(capsys, saved_run):
    one_error(capsys, 2, ["run", "--from", str(saved_run)], "--out is required with --from")


def test_run_from_a_folder_that_is_not_a_run(capsys, tmp_path):
    one_error(capsys, 2, ["run", "--from", str(tmp_path), "--out", str(tmp_path / "new")], "--from", str(tmp_path))


def test_run_from_a_damaged_run_json(capsys, tmp_path):
    (tmp_path / "run.json").write_text("{not json")
    one_error(capsys, 2, ["run", "--from", str(tmp_path), "--out", str(tmp_path / "new")], "--from", "not valid JSON")


def test_run_from_into_its_own_folder_is_refused(capsys, saved_run):
    one_error(capsys, 2, ["run", "--from", str(saved_run), "--out", str(saved_run)], "already holds a run")


def test_run_from_a_run_made_on_a_gpu_with_device_cpu(capsys, saved_run, tmp_path):
    meta = json.loads((saved_run / "run.json").read_text())
    meta["config"]["device"] = "cuda:99"   # a GPU this machine does not have
    (saved_run / "run.json").write_text(json.dumps(meta))
    one_error(capsys, 2, ["run", "--from", str(saved_run), "--out", str(tmp_path / "a")], "device 'cuda:99'")
    assert main(["run", "--from", str(saved_run), "--out", str(tmp_path / "b"), "--device", "cpu"]) == 0
    assert last_json(capsys.readouterr().out)["best_score"] == meta["summary"]["best_score"]
