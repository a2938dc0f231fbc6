"""Every number is bounded by what it means and checked in O(1) before any work (issue 25): a huge final_top once ran
a Python loop up to its value (10^9: minutes, 10^12: days, holding the GIL). Each case must be refused, with a
message naming the setting, before a generous guard of a few seconds runs out (the old checks took minutes to days,
so the guard tells a closed form from a loop; it is not a timing)."""

import threading

import pytest

from tsearch import api
from tsearch.cli import main

BASE = dict(model="gmm", cls=2, verifiers=["gmm-density"], budget=200)
GUARD = 10.0   # seconds; far above an O(1) check, far below what any loop up to these values takes


def refused_in_time(call):
    """The ValueError `call()` raises, failing the test if it runs past GUARD or accepts."""
    outcome = {}

    def target():
        try:
            call()
            outcome["accepted"] = True
        except ValueError as error:
            outcome["error"] = error
        except Exception as error:   # noqa: BLE001 -- a crash, reported as one
            outcome["crash"] = error

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(GUARD)
    assert not worker.is_alive(), f"still checking after {GUARD} s: a loop over the value"
    assert "crash" not in outcome, f"crashed: {outcome.get('crash')!r}"
    assert "error" in outcome, "a huge value was accepted"
    assert "\n" not in str(outcome["error"])
    return outcome["error"]


@pytest.mark.parametrize("top", [10**9, 10**12, 10**400])
def test_a_huge_final_top_is_refused_at_once_on_the_api(top):
    error = refused_in_time(lambda: api.prepare(**BASE, final_steps=4, final_top=top))
    assert "final_top" in str(error)


def test_final_top_within_the_settings_range_but_over_the_budget_is_refused_at_once():
    """final_top just under its static cap (5 * 10^8) against the largest budget: the exact check is closed form."""
    error = refused_in_time(lambda: api.prepare(**{**BASE, "budget": 10**9}, steps=4, final_steps=4,
                                                final_top=4 * 10**8))
    assert "final_top" in str(error) and "at most 125000000" in str(error)


def test_final_top_over_half_the_budget_names_the_budget():
    error = refused_in_time(lambda: api.prepare(**BASE, final_steps=4, final_top=101))
    assert "final_top=101" in str(error) and "at most 100" in str(error)


def test_a_huge_final_top_is_refused_at_once_on_the_cli(capsys):
    argv = ["run", "--model", "gmm", "--class", "1", "--verifier", "gmm-density", "--budget", "200",
            "--final-steps", "4", "--final-top", str(10**12)]
    done = {}
    worker = threading.Thread(target=lambda: done.setdefault("code", main(argv)), daemon=True)
    worker.start()
    worker.join(GUARD)
    assert not worker.is_alive() and done["code"] == 2
    assert "final" in capsys.readouterr().err


@pytest.mark.parametrize("algorithm,option,value", [
    ("random", "per_round", 10**400), ("zero-order", "n", 10**12), ("zero-order", "rounds", 10**400),
    ("smc", "k", 10**400), ("cem", "grid", 10**12), ("cem", "channels", 10**12), ("evolution", "population", 10**12),
    ("paths", "L", 10**400), ("prune", "n", 10**400), ("tree", "branch", 10**400),
])
def test_huge_algorithm_options_are_refused_by_name(algorithm, option, value):
    error = refused_in_time(lambda: api.prepare(**BASE, algorithm=algorithm, **{option: value}))
    assert option in str(error)


def test_a_coarse_band_larger_than_any_noise_is_refused_before_it_is_allocated():
    error = refused_in_time(lambda: api.prepare(**BASE, algorithm="cem", grid=1024, channels=1024))
    assert "grid" in str(error) and "channels" in str(error)


def test_paths_rounds_that_barely_move_are_refused_before_they_are_listed():
    error = refused_in_time(lambda: api.prepare(**{**BASE, "budget": 10**9}, algorithm="paths", delta_f=0.5,
                                                delta_b=0.5 + 1e-15))
    assert "delta_b" in str(error) and "delta_f" in str(error)


def test_smc_with_a_shrinking_population_sizes_the_largest_budget_at_once():
    """The largest population the budget buys was found by counting down from the most (~budget steps)."""
    outcome = {}
    worker = threading.Thread(target=lambda: outcome.setdefault("plan", api.prepare(
        **{**BASE, "budget": 10**9}, algorithm="smc", final_particles=1e-6)), daemon=True)
    worker.start()
    worker.join(GUARD)
    assert not worker.is_alive()
    algorithm = outcome["plan"].algorithm
    size = algorithm._size()
    assert algorithm._cost(size) <= 10**9 < algorithm._cost(size + 1)


@pytest.mark.parametrize("field", ["steps", "batch_size", "final_steps", "budget", "seed"])
def test_huge_search_settings_are_refused_by_name(field):
    error = refused_in_time(lambda: api.prepare(**{**BASE, field: 10**400}))
    assert field in str(error) or (field == "final_steps" and "final render" in str(error))


@pytest.mark.parametrize("spec,named", [
    ({"seeds": 10**8}, "seeds"),
    ({"seeds": 1000, "classes": [0, 1, 2, 3], "budgets": [40, 80, 120, 160]}, "cells"),   # 16,000 x 8 per_round
])
def test_a_sweep_spec_too_large_is_refused_before_its_cells_are_built(tmp_path, spec, named):
    from tsearch.sweep import parse_spec

    data = {"model": "gmm", "classes": [0, 1], "verifiers": ["gmm-density"], "budgets": [40],
            "algorithm": [{"name": "random", "per_round": list(range(1, 9))}], **spec}
    error = refused_in_time(lambda: parse_spec(data, base=tmp_path))
    assert named in str(error) and str(10**5) in str(error)
