"""Property (issue 21): every algorithm option, given a non-finite, wrongly typed, out-of-range or clashing
value, is refused by the one front door with a message naming it; a count the budget cannot buy is refused,
never clamped. Built with `api.prepare` on gmm (nothing is denoised), so each draw takes milliseconds."""

import math
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tsearch import api
from tsearch.search import ALGORITHMS, option_fields, option_kind

STEPS, BUDGET = 10, 400          # gmm: 10 NFEs a candidate, 40 candidates
NON_FINITE = [math.nan, math.inf, -math.inf]
WRONG_TYPE = {int: ["abc", "", None, [1], {"a": 1}, True, 2.5], float: ["abc", "", None, [0.5], True],
              str: [None, 1, 2.5, True, ["a"]], bool: ["yes", 1, None]}
# option -> values out of its range (each alone, the others at their defaults)
OUT_OF_RANGE = {
    "smc": {"k": [-1, 10**6], "intervals": [-1, STEPS + 1, 100], "lam": [-1.0], "ess": [-0.1, 1.5],
            "churn": [-0.1, 1.5], "potential": ["best"]},
    "prune": {"n": [-1, 10**6], "eta": [0.5, -2.0], "checkpoints": ["0.7,,0.4", "0.7,", "0.7,0.9", "1.5", "a", ""]},
    "evolution": {"population": [0, -3], "elites": [0, 9], "lam": [0.0, 1.0], "crossover": [-0.1, 1.5],
                  "cross_cos": [0.0, 1.0]},
    "cem": {"population": [0], "elites": [0, 9], "preview_steps": [0], "grid": [0], "channels": [0],
            "smoothing": [0.0, 1.5], "min_std": [-1.0]},
    "zero-order": {"n": [0], "lam": [0.0, 1.0], "rounds": [-1], "on_stall": ["never"]},
    "paths": {"n": [0], "m": [0], "sigma": [0.0, 1.0], "delta_f": [0.9], "delta_b": [0.5], "L": [0]},
    "random": {"per_round": [0]},
    "steps": {"growth": [1.0, 0.5]},
    "tree": {"branch": [0, -1], "levels": [-1, STEPS + 1], "churn": [0.0, 1.5], "lam": [-1.0], "c": [-1.0],
             "per_round": [0]},
}
OUT_OF_RANGE["smc"].update({"final_particles": [0.0, 1.5], "early": [-1.0], "resample": ["bogus"]})
CLASHES = [   # combinations each fine alone
    ("evolution", {"population": 3, "elites": 4}, ("elites", "population")),
    ("cem", {"population": 3, "elites": 4}, ("elites", "population")),
    ("smc", {"intervals": 8}, ("intervals", "steps"), 6),
    ("tree", {"levels": 8}, ("levels", "steps"), 6),
    ("smc", {"k": 40, "intervals": 4}, ("k", "budget")),
    ("prune", {"n": 80}, ("n", "budget")),
]


def refused(algorithm: str, options: dict, steps: int = STEPS) -> str:
    with pytest.raises(ValueError) as caught:
        api.prepare(model="gmm", cls=1, verifiers=["gmm-density"], algorithm=algorithm, budget=BUDGET, steps=steps,
                    **options)
    return str(caught.value)


def names(message: str, option: str) -> bool:
    return re.search(rf"(?<![A-Za-z_]){re.escape(option)}(?![A-Za-z_])", message) is not None


@st.composite
def bad_values(draw):
    algorithm = draw(st.sampled_from(sorted(ALGORITHMS)))
    fields = option_fields(algorithm)
    name = draw(st.sampled_from(sorted(fields)))
    kind = option_kind(fields[name])
    pool = list(WRONG_TYPE[kind]) + OUT_OF_RANGE[algorithm].get(name, [])
    if kind in (int, float):
        pool += NON_FINITE
    return algorithm, name, draw(st.sampled_from(pool))


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_thread):
    yield


def test_every_algorithm_option_has_out_of_range_values_here():
    assert {a: set(option_fields(a)) - {"potential", "on_stall"} for a in ALGORITHMS} == \
        {a: set(OUT_OF_RANGE[a]) - {"potential", "on_stall"} for a in ALGORITHMS}


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(bad_values())
def test_a_bad_option_is_refused_naming_it(drawn):
    algorithm, name, value = drawn
    message = refused(algorithm, {name: value})
    assert names(message, name), f"{algorithm} {name}={value!r}: {message}"


@pytest.mark.parametrize("clash", CLASHES, ids=lambda c: f"{c[0]}-{'-'.join(c[1])}")
def test_clashing_options_are_refused_naming_both(clash):
    algorithm, options, both, *steps = clash
    message = refused(algorithm, options, *steps)
    assert all(names(message, n) for n in both), message


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["smc", "prune"]), st.integers(1, 200))
def test_a_count_runs_whole_or_is_refused_never_clamped(algorithm, count):
    key = "k" if algorithm == "smc" else "n"
    try:
        plan = api.prepare(model="gmm", cls=1, verifiers=["gmm-density"], algorithm=algorithm, budget=BUDGET,
                           steps=STEPS, **{key: count})
    except ValueError as error:
        assert names(str(error), key) and "budget" in str(error)
        return
    assert len(plan.algorithm.ask()) == count   # the first population / round of halving, whole


@pytest.mark.parametrize("algorithm,flags,option", [
    ("smc", ["--intervals", "100"], "intervals"), ("smc", ["--k", "1000000"], "k"),
    ("smc", ["--lam", "nan"], "lam"), ("prune", ["--n", "1000000"], "n"),
    ("prune", ["--checkpoints", "0.7,,0.4"], "checkpoints"), ("evolution", ["--elites", "20", "--population", "4"],
                                                              "elites"),
    ("cem", ["--smoothing", "inf"], "smoothing"),
])
def test_the_cli_refuses_the_same_in_one_line(algorithm, flags, option, capsys):
    from tsearch.cli import main

    argv = ["run", "--model", "gmm", "--class", "1", "--verifier", "gmm-density", "--algorithm", algorithm,
            "--budget", str(BUDGET), "--steps", str(STEPS), *flags]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and names(err[0], option), err


@pytest.mark.parametrize("algorithm,options,option", [
    ("smc", {"smc_intervals": 100}, "intervals"), ("smc", {"smc_k": 10**6}, "k"),
    ("prune", {"prune_n": 10**6}, "n"), ("prune", {"prune_checkpoints": "0.7,,0.4"}, "checkpoints"),
    ("evolution", {"evolution_elites": 20, "evolution_population": 4}, "elites"),
    ("cem", {"cem_min_std": math.nan}, "min_std"),
])
def test_the_app_refuses_the_same_naming_the_option(algorithm, options, option, tmp_path, monkeypatch):
    import gradio as gr

    from tsearch.app import handlers
    from tsearch.app.state import Session

    monkeypatch.setenv("TSEARCH_APP_RUNS", str(tmp_path))
    with pytest.raises(gr.Error) as caught:
        list(handlers.search(model="gmm", prompt="", cls=1, verifiers=["gmm-density"], algorithm=algorithm,
                             budget=BUDGET, steps=STEPS, seed=0, session=Session(), **options))
    assert names(caught.value.message, option), caught.value.message
