"""The verifier ladder (issue 27 item 1): agreement, ties and picks on hand-made pools, its board with the oracle
labelled as the upper bound, and a tiny ladder arena end to end (pooled random cells read per verifier)."""

import json

import numpy as np
import pytest
import torch

from tsearch.arena import ladder_pools as lp
from tsearch.arena.ladder_board import NOISED, UPPER_BOUND, Search, build, render_markdown


def _pool(scores: dict, oracle, nfe=None) -> lp.Pool:
    names = tuple(scores)
    n = len(oracle)
    nfe = np.arange(1, n + 1) * 10.0 if nfe is None else np.asarray(nfe, dtype=float)
    return lp.Pool(names, np.array([scores[k] for k in names], dtype=float).T, np.asarray(oracle, dtype=float), nfe,
                   np.ones(n), np.full(n, 0.25), tuple(range(n)))


def test_agreement_counts_the_pairs_ordered_as_the_oracle_orders_them():
    oracle = np.array([1.5, 0.4, 0.2, 0.2])                  # pairs with different oracle scores: 5 of 6
    assert lp.agreement(np.array([3.0, 2.0, 1.0, 0.0]), oracle) == (5, 5)
    assert lp.agreement(np.array([0.0, 1.0, 2.0, 3.0]), oracle) == (0, 5)
    # a tie under the verifier is not the oracle's order; pairs the oracle ties are not counted
    assert lp.agreement(np.array([1.0, 1.0, 1.0, 1.0]), oracle) == (0, 5)
    assert lp.agreement(np.array([2.0, 1.0, 3.0, 0.0]), oracle) == (3, 5)   # (0,1) (0,2)x (0,3) (1,2)x (1,3)
    # pass/fail pairs only: candidate 0 passes (>= 1.0), the others fail
    assert lp.agreement(np.array([2.0, 1.0, 3.0, 0.0]), oracle, passes_only=1.0) == (2, 3)
    assert lp.agreement(np.array([1.0, 2.0]), np.array([np.nan, 0.3])) == (0, 0)   # unjudged: no pair


def test_tie_rate_and_pick_take_the_first_of_equal_bests():
    assert lp.tied_best(np.array([1.0, 3.0, 3.0])) and not lp.tied_best(np.array([3.0, 1.0, 1.0]))
    assert not lp.tied_best(np.array([5.0]))
    assert lp.pick(np.array([1.0, 3.0, 3.0])) == 1 and lp.pick(np.array([])) is None


def test_an_ensembles_scores_are_the_engines_mean_rank_over_the_same_pool():
    from tsearch.verifiers.ensemble import MeanRank

    rng = np.random.default_rng(0)
    raw = np.round(rng.random((9, 2)), 1)                     # rounded: ties, which count half
    pool = _pool({"a": raw[:, 0], "b": raw[:, 1]}, np.zeros(9))
    ranks = MeanRank(2)
    ranks.add(torch.tensor(raw))
    expected = [ranks.value(i) for i in range(9)]
    assert np.allclose(lp.entry_scores(pool, ("a", "b")), expected)
    assert np.array_equal(lp.entry_scores(pool, ("b",)), raw[:, 1])
    # within a smaller budget the ensemble ranks among the candidates seen by then
    assert len(pool.within(35.0)) == 3 and lp.entry_scores(pool.within(35.0), ("a", "b")).shape == (3,)


def test_cells_of_one_unit_join_by_candidate_and_refuse_other_candidates():
    a = _pool({"shapes-clip": [1.0, 2.0]}, [0.2, 1.5])
    b = _pool({"shapes-oracle": [0.2, 1.5], "shapes-clip": [9.0, 9.0]}, [0.2, 1.5])
    joined = lp.join([a, b])
    assert joined.names == ("shapes-clip", "shapes-oracle")
    assert joined.scores.tolist() == [[1.0, 0.2], [2.0, 1.5]]          # the first cell's column is kept
    other = lp.Pool(b.names, b.scores, b.oracle, b.nfe_spent, b.seconds, b.verifier_seconds, (7, 8))
    assert lp.join([a, other]) is None


def test_pooled_seconds_keep_the_denoising_and_the_entrys_share_of_the_verifier_time():
    pool = _pool({"shapes-clip": [1.0], "shapes-oracle": [1.0]}, [1.0])          # 1 s, of which 0.25 s verifiers
    cost = {"shapes-clip": 3.0, "shapes-oracle": 1.0}
    assert lp.apportioned_seconds(pool, ("shapes-clip",), (), cost)[0] == pytest.approx(0.75 + 0.25 * 3 / 4)
    with_judge = lp.apportioned_seconds(pool, ("shapes-clip",), ("shapes-oracle",), cost)[0]
    assert with_judge == pytest.approx(0.75 + 0.25 * 4 / 5)   # the judge is scored in every cell: its time stays
    joined = lp.join([_pool({"shapes-oracle": [1.0]}, [1.0]), _pool({"shapes-clip": [1.0]}, [1.0])])
    assert lp.apportioned_seconds(joined, ("shapes-clip",), (), cost)[0] == pytest.approx(0.75 + 0.25 * 3)


def _search(method, entry, unit, budget, value, kind, tied=False, agree=(1, 2)):
    return Search(method, entry, unit, budget, value, budget, budget / 10, kind, tied, agree, agree, 4)


def test_the_board_labels_the_oracle_as_the_upper_bound_and_measures_the_gap_against_it():
    found = []
    for i in range(8):
        kind = "position" if i < 4 else "counting"
        for budget in (20, 40):
            found.append(_search("random", ("shapes-oracle",), f"u{i}", budget, 1.0, kind, tied=True, agree=(3, 3)))
            found.append(_search("random", ("shapes-clip",), f"u{i}", budget, float(i % 2 == 0 or kind == "counting"),
                                 kind, tied=i == 0, agree=(1, 3)))
    board = build(found, [("shapes-oracle",), ("shapes-clip",)], ["shapes-oracle"], "cpu (test)", reps=200)
    json.loads(json.dumps(board, allow_nan=False))                          # strict JSON
    row = {(r["verifier"], r["budget"]): r for r in board["rows"]}
    clip, oracle = row[("shapes-clip", 40)], row[("shapes-oracle", 40)]
    assert clip["value"] == 75.0 and clip["gap_to_oracle"]["difference"] == -25.0
    assert clip["gap_by_kind"]["position"]["difference"] == -50.0 and clip["gap_by_kind"]["counting"]["difference"] == 0
    assert clip["agreement"]["value"] == pytest.approx(100 / 3) and clip["agreement"]["pairs"] == 24
    assert clip["tie_rate"]["value"] == 12.5 and oracle["tie_rate"]["value"] == 100.0
    assert oracle["gap_to_oracle"] is None and oracle["upper_bound"] and not clip["upper_bound"]
    text = render_markdown(board)
    oracle_lines = [line for line in text.splitlines() if "| shapes-oracle" in line]
    assert oracle_lines and all(UPPER_BOUND in line for line in oracle_lines)
    assert all(UPPER_BOUND not in line for line in text.splitlines() if "| shapes-clip |" in line)
    assert "judged by the same oracle" in text and "position" in text and "-50.0 [" in text
    # every other entry is paired against the arena's default verifier too (the oracle here: +50 on position)
    assert oracle["vs_reference_by_kind"]["position"]["difference"] == 50.0 and clip["vs_reference"] is None
    assert oracle["vs_reference"]["difference"] == 25.0 and "**Against shapes-clip, by kind" in text


def test_a_partial_ladder_compares_only_the_units_every_entry_has():
    found = [_search("random", ("shapes-oracle",), "u0", 20, 1.0, "position"),
             _search("random", ("shapes-clip",), "u0", 20, 0.0, "position"),
             _search("random", ("shapes-oracle",), "u1", 20, 1.0, "position")]     # clip has not done u1
    board = build(found, [("shapes-oracle",), ("shapes-clip",)], ["shapes-oracle"], "cpu", reps=50)
    assert board["units"] == 1 and all(r["units"] == 1 for r in board["rows"])


# --- end to end ------------------------------------------------------------------------------------
class NoisyStandIn:
    """A test-local stand-in for a noised oracle (the real one is its own verifier): the oracle's score with its
    pass/fail verdict flipped on a seeded half of the images, so the ladder takes it by its registered name."""
    name = "shapes-oracle-e0.5"

    def __init__(self):
        from tsearch.verifiers.shapes_oracle import ShapesOracle

        self.oracle = ShapesOracle()

    def score(self, images, condition):
        exact = self.oracle.score(images, condition)
        flip = torch.rand(len(exact), generator=torch.Generator().manual_seed(int(images.sum() * 1e3))) < 0.5
        return torch.where(flip, 1.5 - exact, exact)


def noisy_stand_in(model=None, device="cpu"):
    return NoisyStandIn()


ARGS = ["arena", "--split", "hard", "--captions", "2", "--candidates", "1", "2", "--steps", "1", "--reps", "50",
        "--threads", "1", "--no-progress"]


def test_a_tiny_ladder_arena_pools_random_search_and_reads_each_verifier_off_it(tmp_path, capsys, monkeypatch,
                                                                                one_thread):
    from tsearch.cli import main
    from tsearch.registry import Entry
    from tsearch.sweep.results import finished
    from tsearch.verifiers import VERIFIERS

    monkeypatch.setitem(VERIFIERS, NoisyStandIn.name, Entry(f"{__name__}:noisy_stand_in", "test stand-in", kind="bundled"))

    out = tmp_path / "ladder"
    # first a ladder of one verifier: its random cells are the plain arena's random cells (same keys)
    assert main([*ARGS, "--methods", "random", "--verifiers", "shapes-clip", "--out", str(out)]) == 0
    first = json.loads((out / "ladder.json").read_text())
    plain = tmp_path / "plain"
    assert main([*ARGS, "--methods", "random", "--out", str(plain)]) == 0
    assert set(finished(out)) == set(finished(plain))
    # then the ladder: the units lack the oracle only, so the pooled cells score with it alone, joined by candidate
    argv = [*ARGS, "--methods", "random", "zero-order", "--verifiers", "shapes-oracle", "shapes-clip",
            "shapes-clip+shapes-oracle", NoisyStandIn.name, "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    rows = list(finished(out).values())
    pooled = [r for r in rows if r["config"]["algorithm"] == "random"]
    lacking = ("shapes-oracle", NoisyStandIn.name)   # the verifiers the first ladder's pools lacked, in one cell
    assert sorted(tuple(r["config"]["verifiers"]) for r in pooled) == [("shapes-clip",)] * 2 + [lacking] * 2
    zero = [tuple(r["config"]["verifiers"]) for r in rows if r["config"]["algorithm"] == "zero-order"]
    assert set(zero) == {("shapes-oracle",), ("shapes-clip",), ("shapes-clip", "shapes-oracle"),
                         (NoisyStandIn.name,)}   # one cell per entry
    board = json.loads((out / "ladder.json").read_text(), parse_constant=lambda c: 1 / 0)          # strict JSON
    by = {(r["method"], r["verifier"], r["budget"]): r for r in board["rows"]}
    for r in first["rows"]:   # shapes-clip's picks read off the joined pool are the ones of its own cells
        assert by[("random", "shapes-clip", r["budget"])]["value"] == r["value"]
        assert by[("random", "shapes-clip", r["budget"])]["nfe"] == r["nfe"]
    agreement = by[("random", "shapes-oracle", board["top_budget"])]["agreement"]
    assert agreement is None or agreement["value"] == 100.0                # the oracle orders its pairs as it does
    assert all(r["upper_bound"] == ("shapes-oracle" in r["verifier"].split("+")) for r in board["rows"])
    assert f"shapes-oracle: {UPPER_BOUND}; judged by the same oracle" in printed
    assert f"{NoisyStandIn.name}: {NOISED}" in printed and ("random", NoisyStandIn.name, 4) in by
    assert (out / "ladder.md").read_text().startswith("**Verifier ladder**")
    assert set(json.loads((out / "verifier_costs.json").read_text())) >= {"shapes-clip", "shapes-oracle"}
    assert main(argv) == 0                                                 # again: every cell is already done
    assert "0 cells ran" in capsys.readouterr().out


def test_a_ladder_names_a_bad_verifier_in_one_line(tmp_path, capsys):
    from tsearch.cli import main

    assert main([*ARGS, "--methods", "random", "--verifiers", "shapes-clip", "nonsense+shapes-clip",
                 "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert "--verifiers" in err and "nonsense" in err and "Traceback" not in err
    assert main(["arena", "--model", "gmm", "--captions", "1", "--candidates", "1", "--steps", "1", "--methods",
                 "random", "--verifiers", "gmm-density", "--out", str(tmp_path / "gmm"), "--no-progress"]) == 2
    assert "exact oracle" in capsys.readouterr().err


def test_the_arena_tab_shows_the_shipped_ladder_with_the_oracle_as_upper_bound_and_a_hosts_own(tmp_path):
    import gradio as gr

    from tsearch.app.arena_ladder import load_ladder, shipped_ladder
    from tsearch.app.arena_tab import arena_tab

    with gr.Blocks(), gr.Tabs():
        parts = arena_tab(str(tmp_path))
    shipped = parts["ladder"].value
    assert shipped.strip() == shipped_ladder().strip() and f"shapes-oracle: {UPPER_BOUND}" in shipped and "shapes-clip" in shipped
    assert load_ladder(str(tmp_path)) == shipped_ladder()        # the host's folder has no ladder yet
    (tmp_path / "ladder.md").write_text("**Verifier ladder** of this host\n")
    assert load_ladder(str(tmp_path)).startswith("**Verifier ladder** of this host")
