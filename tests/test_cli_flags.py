"""The CLI is generated from the settings: every algorithm option's help, default and range is on `run --help`,
options are namespaced per algorithm, and an option named like a run flag never becomes a traceback."""

import json

import pytest

import tsearch
from tsearch.cli import main
from tsearch.search import ALGORITHMS, option_settings
from throwaway import ClashingSearch

RUN = ["run", "--model", "gmm", "--class", "1", "--verifier", "gmm-density", "--budget", "40", "--steps", "4"]


def test_run_help_lists_every_option_of_every_algorithm(capsys):
    assert main(["run", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for name in ALGORITHMS:
        for s in option_settings(name).values():
            flag = f"--{name}.{s.name.replace('_', '-')}"
            assert flag in text, flag
            assert " ".join(s.describe().split()) in text, flag   # help, default and range
    assert "> 0 and < 1" in text and "--guidance" in text and ">= 0 and <= 30" in text


def test_per_algorithm_help_shows_only_that_algorithm(capsys):
    assert main(["run", "--algorithm", "smc", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--smc.lam" in text and ">= 0 and <= 1000" in text and "--zero-order.lam" not in text


def test_namespaced_flags_set_the_chosen_algorithm_and_refuse_another(capsys):
    assert main(RUN + ["--algorithm", "zero-order", "--zero-order.n", "2", "--zero-order.on-stall", "keep"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["nfe_spent"] <= 40
    assert main(RUN + ["--algorithm", "zero-order", "--smc.lam", "5"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --smc.lam is an option of algorithm 'smc', but the algorithm is 'zero-order'")
    assert main(RUN + ["--algorithm", "smc", "--smc.lam", "nan"]) == 2
    assert "argument --smc.lam: must be a finite number >= 0 and <= 1000, got 'nan'" in capsys.readouterr().err


def test_an_option_named_like_a_run_flag_never_becomes_a_traceback(monkeypatch, capsys):
    monkeypatch.setitem(ALGORITHMS, "clash", ClashingSearch)
    assert main(["models"]) == 0   # every other command still works
    capsys.readouterr()
    assert main(["run", "--help"]) == 0
    assert "option 'steps' has the name of the search setting SearchConfig.steps" in \
        " ".join(capsys.readouterr().out.split())
    assert main(RUN + ["--algorithm", "clash"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "algorithm 'clash' cannot be used: its option 'steps' has the name of the search setting " \
           "SearchConfig.steps (--steps)" in err
    assert main(RUN + ["--algorithm", "zero-order"]) == 0   # the other algorithms are untouched
    with pytest.raises(ValueError, match="option 'steps' has the name of the search setting"):
        tsearch.search(model="gmm", cls=1, verifiers=["gmm-density"], algorithm="clash", budget=40, steps=4)


def test_the_docs_options_table_is_the_generated_one(capsys):
    from pathlib import Path

    from tsearch.describe import table_in

    table = table_in((Path(__file__).parent.parent / "docs" / "cli.md").read_text(encoding="utf-8"))
    assert main(["options"]) == 0
    assert table == capsys.readouterr().out.strip(), \
        "docs/cli.md's options table drifted: run `python -m tsearch options --write docs/cli.md`"
    for name in ALGORITHMS:
        assert f"| `{name}` |" in table


def test_options_write_puts_the_table_between_a_pages_markers(tmp_path, capsys):
    from tsearch.describe import TABLE_END, TABLE_START, options_table, table_in

    page = tmp_path / "page.md"
    page.write_text(f"# Options\n\n{TABLE_START}| stale |\n{TABLE_END}\n\nAfter.\n", encoding="utf-8")
    assert main(["options", "--write", str(page)]) == 0
    assert "options table updated" in capsys.readouterr().out
    text = page.read_text(encoding="utf-8")
    assert table_in(text) == options_table() and text.startswith("# Options\n") and text.endswith("After.\n")
    assert main(["options", "--write", str(page)]) == 0
    assert "already up to date" in capsys.readouterr().out and page.read_text(encoding="utf-8") == text
    page.write_text("no markers\n", encoding="utf-8")
    assert main(["options", "--write", str(page)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--write" in err and "options table" in err and "Traceback" not in err
    assert page.read_text(encoding="utf-8") == "no markers\n"
