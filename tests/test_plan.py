"""The compute planner (`python -m tsearch arena plan`): its grid, its read-off choices, its frontier, its errors.

The read-off is checked against real searches: a k-candidate choice and a draft-then-commit choice read off
the pooled cells give the very oracle scores that running those searches gives.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tsearch.api import search
from tsearch.arena import plan_cli, plan_frontier, plan_grid, plan_read

TINY = ["--models", "shapes-small", "--steps", "1", "2", "--captions", "2", "--seeds", "1", "--top", "3",
        "--reference-steps", "2", "--most", "6", "--threads", "1", "--no-progress", "--reps", "50",
        "--time-reps", "1", "--verifiers", "shapes-clip", "shapes-parts", "--default-seconds", "100"]


@pytest.fixture(scope="module")
def tiny_plan(tmp_path_factory):
    out = tmp_path_factory.mktemp("plan")
    assert plan_cli.main([*TINY, "--out", str(out)]) == 0
    return out, json.loads((out / "plan.json").read_text())


def test_the_grid_spends_equal_flops_on_every_setting_within_its_cap():
    grid = plan_grid.settings(["shapes", "shapes-small"], [2, 4], top=2, reference_steps=4, most=100)
    by = {s.name: s for s in grid}
    budget = 2 * by["shapes@4"].flops
    assert by["shapes@4"].candidates == 2 and by["shapes@2"].candidates == 4
    for s in grid:
        assert s.candidates * s.flops <= budget * plan_grid.SLACK
        assert (s.candidates + 1) * s.flops > budget * plan_grid.SLACK
    assert by["shapes-small@4"].candidates == 7     # a quarter of the FLOPs per NFE: about four times the candidates
    capped = plan_grid.settings(["shapes", "shapes-small"], [2], top=2, reference_steps=2, most=3)
    assert max(s.candidates for s in capped) == 3


def test_a_unit_held_by_finished_cells_is_not_run_again():
    grid = plan_grid.settings(["shapes-small"], [2], top=2, reference_steps=2, most=4)
    sweep = plan_grid.sweep_of(grid, [0], ["shapes-clip", "shapes-parts"],
                               {"evaluators": ["shapes-oracle"], "batch_size": 16, "device": "cpu",
                                "prompts": ["a circle", "a square"]}, ".")
    first = sweep.cells[0].config.to_dict()
    halves = [{"config": {**first, "verifiers": [v], "budget": first["budget"] * 2}, "summary": {}} for v in
              ("shapes-clip", "shapes-parts")]
    for row in halves:
        row["summary"] = {"candidates": 1}
    todo = plan_grid.to_run(sweep, halves)
    assert [c.config.condition for c in todo] == ["a square"]          # the circle's unit is held by two cells
    assert len(plan_grid.to_run(sweep, halves[:1])) == 2                  # one verifier is not every verifier


def test_the_tiny_plan_reports_a_frontier_on_every_axis_and_a_default(tiny_plan):
    out, plan = tiny_plan
    assert plan["units"] == 2 and set(plan["frontier"]) == {"seconds", "flops", "nfe"}
    for axis, line in plan["frontier"].items():
        costs = [b["cost"][axis] for b in line]
        accuracies = [b["accuracy"] for b in line]
        assert costs == sorted(costs) and accuracies == sorted(accuracies) and len(set(accuracies)) == len(line)
    assert plan["default"]["choice"]["model"] == "shapes-small"
    assert json.loads((out / "seconds.json").read_text())["settings"].keys() == {"shapes-small@1", "shapes-small@2"}
    text = (out / "plan.md").read_text()
    assert "## The frontier in seconds" in text and "with search against" in text


def _read(out, choice):
    args = plan_cli.parse([*TINY, "--out", str(out)])
    grid = plan_grid.settings(args.models, args.steps, args.top, args.reference_steps, args.most)
    units, pools = plan_read.pools(out, grid, 0.5)
    by = {s.name: s for s in grid}
    return units, plan_read.judged_scores(choice, by, pools), by


@pytest.mark.parametrize("choice", [plan_read.Choice("shapes-small", 2, 3, "shapes-parts"),
                                    plan_read.Choice("shapes-small", 2, 4, "shapes-clip", draft_steps=1, commit=2)])
def test_a_choice_read_off_the_pools_is_what_running_it_gives(tiny_plan, choice):
    out, _ = tiny_plan
    units, judged, by = _read(out, choice)
    full = by[f"shapes-small@{choice.steps}"].nfe
    for (condition, seed), value in zip(units, judged):
        kwargs = {"budget": choice.candidates * full}
        if choice.draft_steps:
            kwargs = {"steps": choice.draft_steps, "final_steps": choice.steps, "final_top": choice.commit,
                      "budget": choice.candidates * by[f"shapes-small@{choice.draft_steps}"].nfe + choice.commit * full}
        result = search(model="shapes-small", condition=condition, seed=seed, verifiers=[choice.verifier],
                        evaluators=["shapes-oracle"], algorithm="random", batch_size=16,
                        **{"steps": choice.steps, **kwargs})
        assert result.summary.best_evals[0] == pytest.approx(value, abs=1e-6)


def _row(model, cost, acc, units=(1, 0, 1, 1)):
    return {"choice": plan_read.Choice(model, 10, 1, None), "accuracy": acc, "values": np.array(units, float),
            "cost": {"seconds": cost, "flops": cost * 1e9, "nfe": cost * 10}}


def test_the_frontier_keeps_what_no_cheaper_choice_matches_and_the_best_within_prefers_the_cheaper():
    rows = [_row("a", 1.0, 50.0), _row("b", 2.0, 50.0), _row("c", 3.0, 75.0), _row("d", 0.5, 25.0)]
    assert [r["cost"]["seconds"] for r in plan_frontier.frontier(rows, "seconds")] == [0.5, 1.0, 3.0]
    assert plan_frontier.best_within(rows, "seconds", 2.5)["choice"].model == "a"
    assert plan_frontier.best_within(rows, "seconds", 0.1) is None
    vs = plan_frontier.versus(rows[2], rows[3], reps=50)
    assert vs["difference"] == 0.0 and vs["units"] == 4


def test_bad_flags_are_one_line_naming_the_flag(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        plan_cli.main(["--steps", "4", "6", "--reference-steps", "10", "--out", str(tmp_path)])
    assert stop.value.code == 2 and "--reference-steps 10" in capsys.readouterr().err
    assert plan_cli.main([*TINY, "--no-run", "--out", str(tmp_path / "empty")]) == 2
    assert "without --no-run" in capsys.readouterr().err


def test_the_page_opens_on_the_planners_documented_choice():
    """The shipped default (catalog.PLANNED) is the planner's choice in docs/bench/plan_hard.json, which the docs
    name; the page opens on its model with its verifier, steps and budget, and its default algorithm can spend
    that budget at those steps."""
    from pathlib import Path

    from tsearch.app import catalog
    from tsearch.models import load_model
    from tsearch.search import Costs, fit_budget

    root = Path(__file__).resolve().parent.parent
    plan = json.loads((root / "docs/bench/plan_hard.json").read_text())
    chosen, planned = plan["default"]["choice"], catalog.PLANNED
    assert (planned.model, planned.steps, planned.candidates, planned.verifier, planned.draft_steps, planned.commit) \
        == (chosen["model"], chosen["steps"], chosen["candidates"], chosen["verifier"], chosen["draft_steps"],
            chosen["commit"])
    assert planned.budget == plan["default"]["cost"]["nfe"] and chosen["name"] in (root / "docs/planner.md").read_text()
    assert catalog.PREFERRED_MODELS[0] == planned.model and catalog.default_model()[0] == planned.model
    assert catalog.DEFAULT_ALGORITHM == planned.algorithm == ("random-draft" if chosen["draft_steps"] else "random")
    preset = catalog.preset(planned.model)
    assert (preset.verifiers, preset.steps, preset.budget) == ((planned.verifier,), planned.steps, planned.budget)
    model = load_model(planned.model)
    fit_budget(catalog.DEFAULT_ALGORITHM, preset.budget, Costs(model.default_solver, model.nfe_per_eval), preset.steps)
    from tsearch.app.choices import following

    assert following(planned.model)["steps"]["value"] == planned.steps
