"""The arena's labelled variants (random-draft: draft-then-commit over random search) and final_top in sweep
specs: budgets never exceeded, drafts and commits both counted, the spec round-trips final_top, and the
keys of the cells of today's methods are those main computes (the lead's arena resumes by them)."""

import itertools
import json

import pytest

import tsearch
from tsearch.arena import cli as arena_cli
from tsearch.arena import variants
from tsearch.cli import main
from tsearch.config import SearchConfig
from tsearch.search import Costs, fit_budget
from tsearch.sweep import parse_spec
from tsearch.sweep.spec import cell_key

GMM = {"model": "gmm", "classes": [1], "verifiers": ["gmm-density"]}


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_thread):
    yield


def test_random_draft_never_exceeds_its_budget_and_counts_drafts_and_commits():
    ran = 0
    costs = Costs("euler", 1)
    for budget, steps in itertools.product((10, 23, 40, 97), (2, 5, 10)):
        try:   # the one budget check every door asks (tsearch.search.fit_budget)
            fit_budget("random", budget, costs, variants.draft_steps("random-draft", steps), 0, final_steps=steps,
                       final_top=2)
        except ValueError as error:
            assert "budget" in str(error)
            continue
        left = budget - 2 * costs.full(steps)
        table = variants.table("random-draft", steps)
        result = tsearch.search(model="gmm", condition=2, verifiers=["gmm-density"], algorithm=table["name"],
                                budget=budget, steps=table["steps"], final_steps=table["final_steps"],
                                final_top=table["final_top"], solver="euler", seed=3)
        s = result.summary
        commits = [c for c in result.history if c.id in set(s.commits)]
        assert s.nfe_spent <= budget and s.draft_nfe <= left, (budget, steps)
        assert s.draft_nfe + s.final_nfe == s.nfe_spent and len(commits) == 2 == len(s.commits)
        assert s.final_nfe == 2 * steps and all(c.recipe[-1]["steps"] == steps for c in commits)
        assert s.best_id in s.commits
        ran += 1
    assert ran >= 8


def test_the_variant_table_is_random_with_drafts_at_six_tenths_and_two_commits():
    assert variants.table("random-draft", 10) == {"name": "random", "label": "random-draft", "steps": 6,
                                                  "final_steps": 10, "final_top": 2}
    assert variants.draft_steps("random-draft", 1) == 1
    assert variants.method_of({"config": {"algorithm": "random"}, "metadata": {"label": "random-draft"}}) == \
        "random-draft"
    assert variants.method_of({"config": {"algorithm": "smc"}, "metadata": {"category": "position"}}) == "smc"


def test_the_spec_round_trips_final_top_per_method_and_sweep_wide():
    spec = {**GMM, "budgets": [60], "steps": 3, "final_steps": 6, "final_top": 2,
            "algorithm": [{"name": "random"}, {"name": "random", "final_top": [1, 3], "label": "mine"}]}
    cells = parse_spec(spec).cells
    assert [c.config.final_top for c in cells] == [2, 1, 3]
    for cell in cells:
        again = SearchConfig.from_dict(cell.config.to_dict())
        assert again.final_top == cell.config.final_top and cell_key(again) == cell.key
    assert "final_top" not in cells[1].config.to_dict()   # unset (1): the dict, and so the key, as before
    with pytest.raises(ValueError, match="final_top"):
        parse_spec({**GMM, "budgets": [60], "steps": 3, "final_top": 2, "algorithm": [{"name": "random"}]})


def test_prompts_limit_keeps_the_files_first_prompts(tmp_path):
    (tmp_path / "p.jsonl").write_text("".join(json.dumps({"prompt": f"p{i}"}) + "\n" for i in range(5)))
    base = {"model": "gmm", "prompts_file": "p.jsonl", "verifiers": ["gmm-density"], "budgets": [10],
            "algorithm": [{"name": "random"}]}
    assert len(parse_spec({**base, "prompts_limit": 3}, base=tmp_path).cells) == 3   # validated later by the model
    for bad in (0, "3", True):
        with pytest.raises(ValueError, match="prompts_limit"):
            parse_spec({**base, "prompts_limit": bad}, base=tmp_path)


# keys main computed for the lead's arena (`arena --split hard --captions 48 --seeds 2 --candidates 4 8 16 32
# --steps 10 --methods random zero-order paths smc prune evolution cem tree --batch-size 16`), caption
# 'a yellow square and a blue circle', seed 0: a change here would re-run cells the arena has done
PINNED = {("random", 640): "938216b28aa1f70b", ("zero-order", 640): "0e7f882f36b0799c",
          ("paths", 640): "d1a2c247fa8421b0", ("smc", 80): "5dad87aee79e3646", ("smc", 320): "29840cca6494f89d",
          ("prune", 160): "d99723bdc2223bdf", ("evolution", 640): "7f6041365863e885",
          ("cem", 640): "a5b1dcbc7011ad9e", ("tree", 640): "74f6af5aa80c5f6f"}


def test_the_keys_of_todays_methods_cells_are_unchanged(tmp_path):
    argv = ["--split", "hard", "--captions", "48", "--seeds", "2", "--candidates", "4", "8", "16", "32", "--steps",
            "10", "--methods", "random", "zero-order", "paths", "smc", "prune", "evolution", "cem", "tree",
            "--batch-size", "16", "--out", str(tmp_path)]
    args = arena_cli.parse(argv)
    spec, _, _ = arena_cli.plan(args)
    cells = parse_spec(spec, base=tmp_path).cells
    assert len(cells) == 1632
    keys = {(c.config.algorithm, c.config.budget): c.key for c in cells
            if c.config.condition == "a yellow square and a blue circle" and c.config.seed == 0}
    assert {k: keys[k] for k in PINNED} == PINNED
    more = argv.index("tree") + 1
    with_variant = arena_cli.plan(arena_cli.parse([*argv[:more], "random-draft", *argv[more:]]))[0]
    assert {c.key for c in cells} <= {c.key for c in parse_spec(with_variant, base=tmp_path).cells}


def test_arena_runs_the_variant_end_to_end_and_names_it(tmp_path, capsys):
    out = tmp_path / "arena"
    argv = ["arena", "--model", "gmm", "--captions", "2", "--candidates", "2", "4", "--steps", "5", "--methods",
            "random", "random-draft", "--reps", "50", "--threads", "1", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    assert "| random-draft |" in capsys.readouterr().out
    board = json.loads((out / "leaderboard.json").read_text())
    rows = [r for r in board["rows"] if r["method"] == "random-draft"]
    assert rows and all(r["nfe"] <= r["budget"] and r["units"] == 2 for r in rows)
    assert "random-draft" not in board["anytime"]
    table = json.loads((out / "spec.json").read_text())["algorithm"][1]
    assert table == {"name": "random", "label": "random-draft", "steps": 3, "final_steps": 5, "final_top": 2,
                     "budgets": [20]}
    assert arena_cli.parse(["--methods", "all"]).methods[-1] == "random-draft"
