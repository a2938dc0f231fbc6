import json
import subprocess
import sys

import pytest

from tsearch.cli import main


def cli(*args):
    return subprocess.run([sys.executable, "-m", "tsearch", *args], capture_output=True, text=True, timeout=120)


def test_run_prints_the_summary_as_its_last_line(tmp_path):
    out = tmp_path / "run"
    result = cli("run", "--model", "gmm", "--class", "1", "--verifier", "gmm-density", "--algorithm", "zero-order",
                 "--budget", "120", "--steps", "6", "--seed", "3", "--out", str(out), "--n", "3", "--lam", "0.9")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"nfe_spent", "budget", "best_score", "best_id", "candidates", "seconds", "out"} <= set(summary)
    assert summary["nfe_spent"] <= 120 == summary["budget"] and summary["candidates"] == 20
    assert summary["out"] == str(out) and (out / "run.json").exists()
    assert "NFE" in result.stderr  # the progress bar


@pytest.mark.parametrize("args,needle", [
    (["--model", "nope"], "unknown model 'nope'"),
    (["--verifier", "nope"], "unknown verifier 'nope'"),
    (["--budget", "3"], "below one candidate's cost"),
    (["--lam", "1.5"], "lam"),
    (["--delta-f", "0.5"], "do not apply to algorithm 'zero-order'"),
])
def test_bad_arguments_exit_nonzero_with_one_line(capsys, args, needle):
    base = {"--model": "gmm", "--class": "1", "--verifier": "gmm-density", "--algorithm": "zero-order", "--budget": "100"}
    for flag, value in zip(args[::2], args[1::2]):
        base[flag] = value
    argv = ["run"] + [x for pair in base.items() for x in pair]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1


def test_unknown_algorithm_names_the_choices():
    result = cli("run", "--model", "gmm", "--class", "1", "--verifier", "gmm-density", "--algorithm", "nope", "--budget", "10")
    assert result.returncode == 2 and "random" in result.stderr and "zero-order" in result.stderr


def test_models_and_verifiers_listings():
    models, verifiers = cli("models"), cli("verifiers")
    assert models.returncode == verifiers.returncode == 0
    assert "gmm" in models.stdout and "available" in models.stdout
    assert "gmm-density" in verifiers.stdout


def test_regenerate_writes_the_same_image(tmp_path):
    out = tmp_path / "run"
    assert main(["run", "--model", "gmm", "--class", "0", "--verifier", "gmm-density", "--algorithm", "random",
                 "--budget", "60", "--steps", "6", "--out", str(out)]) == 0
    assert main(["regenerate", str(out), "--id", "4", "--out", str(tmp_path / "c.png")]) == 0
    assert (tmp_path / "c.png").read_bytes() == (out / "images" / "000004.png").read_bytes()


def test_an_option_the_model_does_not_take(capsys):
    argv = ["run", "--model", "gmm", "--class", "1", "--verifier", "gmm-density", "--algorithm", "random",
            "--budget", "20", "--guidance", "2"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --guidance applies to shapes, digits") and "model 'gmm' takes none" in err
