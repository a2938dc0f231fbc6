"""Issue 17/21: every setting describes itself once (help, default, range, label, group), and the one validation
checks every model option and algorithm option against it: non-finite, out of range, wrong type -> a ValueError
naming the option, never a silent clamp."""

import dataclasses
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tsearch
from tsearch.config import SETTINGS, SearchConfig
from tsearch.models import MODEL_OPTIONS, checked_model_options
from tsearch.options import GROUPS, Setting, check
from tsearch.search import ALGORITHMS, make_options, option_settings


def test_every_field_and_option_describes_itself():
    assert set(SETTINGS) == {f.name for f in dataclasses.fields(SearchConfig)}
    every = [*SETTINGS.values(), *MODEL_OPTIONS.values(),
             *(s for name in ALGORITHMS for s in option_settings(name).values())]
    for s in every:
        assert s.help and s.group in GROUPS and s.kind in (int, float, str, bool, tuple, dict), s
    for name in ALGORITHMS:
        for s in option_settings(name).values():
            assert s.label, f"{name}.{s.name} has no readable label"
            assert s.kind is str or s.minimum is not None, f"{name}.{s.name} has no range"
    assert option_settings("zero-order")["lam"].label == "neighbour similarity (λ)"
    assert option_settings("zero-order")["lam"].range_text() == "> 0 and < 1"
    assert MODEL_OPTIONS["guidance"].range_text() == ">= 0 and <= 30"


def test_guidance_nan_and_huge_are_refused_through_the_api():
    for value, words in ((math.nan, "guidance must be a finite number >= 0"), (1e6, "guidance must be a scale >= 0 and <= 30"),
                         ("3", "guidance must be a scale >= 0")):
        with pytest.raises(ValueError, match=words.replace("[", r"\[").replace("]", r"\]")):
            tsearch.search(model="shapes", prompt="a circle", verifiers=["shapes-clip"], budget=20,
                           model_options={"guidance": value})


def test_a_world_verifier_is_refused_on_another_world():
    with pytest.raises(ValueError, match="evaluator 'shapes-quality' cannot score this search: it scores the shapes world's images.*gmm-density"):
        SearchConfig("gmm", 1, ("gmm-density",), ("shapes-quality",)).validate()
    with pytest.raises(ValueError, match="verifier 'digits-classifier' cannot score"):
        SearchConfig("shapes", "a circle", ("digits-classifier",)).validate()


BAD = [math.nan, math.inf, -math.inf, "x", True, [1], 1e300, -1e300]


@settings(max_examples=40, deadline=None, database=None)
@given(name=st.sampled_from(sorted(MODEL_OPTIONS)), value=st.sampled_from(BAD + [2.5, -1, 10**6]))
def test_every_model_option_refuses_bad_values_by_name(name, value):
    s = MODEL_OPTIONS[name]
    if s.kind is str and isinstance(value, str):
        return   # any text is a negative prompt
    if s.kind is float and value == 2.5:
        return   # a valid guidance
    with pytest.raises(ValueError, match=rf"^{name} "):
        checked_model_options({name: value})


@settings(max_examples=60, deadline=None, database=None)
@given(pick=st.sampled_from([(a, o) for a in ALGORITHMS for o in option_settings(a)]), value=st.sampled_from(BAD))
def test_every_algorithm_option_refuses_bad_values_by_name(pick, value):
    algorithm, option = pick
    s = option_settings(algorithm)[option]
    if s.kind is str and isinstance(value, str):
        return
    with pytest.raises(ValueError, match=rf"option {option} of '{algorithm}'"):
        make_options(algorithm, **{option: value})


def test_out_of_range_is_refused_never_clamped():
    s = Setting("x", float, 0.5, "a fraction", minimum=0.0, maximum=1.0, exclusive=(True, False))
    assert check(s, 1) == 1.0 and check(s, 0.25) == 0.25
    for value in (0.0, 1.0000001, -3):
        with pytest.raises(ValueError, match=r"x must be a number > 0 and <= 1"):
            check(s, value)
    with pytest.raises(ValueError, match="option ess of 'smc' must be a number >= 0 and <= 1"):
        make_options("smc", ess=1.5)


def test_summary_and_a_stored_config_come_back_as_their_dataclasses(tmp_path):
    from tsearch.events import Summary
    from tsearch.runs import load_run

    result = tsearch.search(model="gmm", cls=1, verifiers=["gmm-density"], budget=40, steps=4, out=str(tmp_path / "r"))
    run = load_run(tmp_path / "r")
    assert Summary.from_row(run.summary) == result.summary
    assert Summary.from_row(result.summary.to_row()) == result.summary
    config = SearchConfig.from_row(run.config)
    assert config.to_row() == result.config.to_row() and config.verifiers == ("gmm-density",)
    with pytest.raises(ValueError, match="summary best_id is \\[1\\]"):
        Summary.from_row({**run.summary, "best_id": [1]})
    with pytest.raises(ValueError, match="config budget is 'lots'"):
        SearchConfig.from_row({**run.config, "budget": "lots"})
    nan = dataclasses.replace(result.summary, best_score=math.nan, best_evals=(math.inf,))
    assert nan.to_row()["best_score"] is None and nan.to_row()["best_evals"] == [None]


def test_the_cli_prints_the_summary_row(tmp_path, capsys):
    import json

    from tsearch.cli import main
    from tsearch.events import Summary

    argv = ["run", "--model", "gmm", "--class", "1", "--verifier", "gmm-density", "--algorithm", "random",
            "--budget", "40", "--steps", "4", "--out", str(tmp_path / "r")]
    assert main(argv) == 0
    line = json.loads(capsys.readouterr().out.splitlines()[-1])
    row = Summary.from_row(json.loads((tmp_path / "r" / "run.json").read_text())["summary"]).to_row()
    assert line.pop("out") == row["run_dir"] == str(tmp_path / "r")
    assert line == {key: round(row[key], 3) if key.endswith("seconds") else row[key] for key in line}


@settings(max_examples=25, deadline=None, database=None)
@given(name=st.sampled_from(sorted(MODEL_OPTIONS)), value=st.sampled_from(["nan", "inf", "-1", "1e6", "abc", "2.5"]))
def test_the_cli_refuses_a_bad_model_option_in_one_line_naming_it(name, value):
    import contextlib
    import io

    from tsearch.cli import main

    if MODEL_OPTIONS[name].kind is str or (name == "guidance" and value == "2.5"):
        return
    flag = "--" + name.replace("_", "-")
    argv = ["run", "--model", "shapes", "--prompt", "a circle", "--verifier", "shapes-clip", "--algorithm", "random",
            "--budget", "20", flag, value]
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(argv) == 2
    err = err.getvalue()
    assert err.count("\n") == 1 and err.startswith("error:") and flag in err, err


@settings(max_examples=25, deadline=None, database=None)
@given(name=st.sampled_from(sorted(MODEL_OPTIONS)), value=st.sampled_from(BAD + [-1, 10**6]))
def test_the_app_refuses_a_bad_model_option_naming_it(name, value):
    import gradio as gr

    from tsearch.app import handlers
    from tsearch.app.state import Session

    if MODEL_OPTIONS[name].kind is str and isinstance(value, str):
        return
    with pytest.raises(gr.Error, match=rf"(?<![a-z_]){name}(?![a-z_])"):
        list(handlers.search(model="shapes", prompt="a circle", cls=None, verifiers=["shapes-clip"], algorithm="random",
                             budget=20, steps=2, seed=0, session=Session(), **{name: value}))
