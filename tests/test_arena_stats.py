"""The arena's paired statistics against hand-computed cases."""


import numpy as np
import pytest

from tsearch.sweep import stats


def test_paired_difference_by_hand():
    # differences (1, 0): the bootstrap mean is 1 (p 1/4), 0.5 (p 1/2) or 0 (p 1/4), so the 95% interval is [0, 1]
    result = stats.paired_difference([1, 0], [0, 0], reps=4000, seed=1)
    assert result == {"difference": 0.5, "low": 0.0, "high": 1.0, "wins": 1, "losses": 0, "ties": 1, "units": 2}
    assert stats.verdict(result) == "reaches"
    # a constant difference has a degenerate interval; wins and losses are counted unit by unit
    assert stats.paired_difference([1, 1, 1], [0, 0, 0])["low"] == 1.0
    assert stats.verdict(stats.paired_difference([1, 1, 1], [0, 0, 0])) == "better"
    worse = stats.paired_difference([0, 0, 0, 1], [1, 1, 1, 1])
    assert (worse["wins"], worse["losses"], worse["ties"]) == (0, 3, 1) and worse["difference"] == -0.75
    assert stats.verdict(worse) == "worse"


def test_pairing_is_kept():
    # a method equal to the target on every unit differs by exactly 0 in every resample, however noisy the units
    values = np.random.default_rng(0).random(50)
    result = stats.paired_difference(values, values)
    assert result["low"] == result["high"] == 0.0


def test_to_reach_by_hand():
    target = [1, 0, 1, 0]                                   # random search: 50%
    curve = {10: [0, 0, 1, 0], 20: [1, 0, 1, 0], 40: [1, 1, 1, 1]}
    seconds = {10: [1, 1, 1, 1], 20: [2, 2, 2, 4], 40: [8, 8, 8, 8]}
    result = stats.to_reach(curve, target, seconds, reps=500, seed=0)
    assert result["budget"][0] == 20 and result["cost"][0] == 2.5   # the first budget at 50%, its mean seconds
    low, high = result["budget"][1:]
    assert low in (10, 20) and high in (20, 40)
    assert result["reached_share"] == 1.0                   # 40 is right everywhere: every resample reaches
    never = stats.to_reach({10: [0, 0], 20: [0, 0]}, [1, 1], reps=50)
    assert never["budget"] == [None, None, None] and never["reached_share"] == 0.0


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="paired_difference"):
        stats.paired_difference([1, 0], [1])
    with pytest.raises(ValueError, match="to_reach"):
        stats.to_reach({10: [1, 0, 1]}, [1, 0])


def test_leaderboard_by_hand():
    from tsearch.arena.curves import Outcome
    from tsearch.arena.leaderboard import build

    def cell(method, budget, values, seconds):
        return [Outcome(method, f"u{i}", budget, v, budget, seconds, budget // 10) for i, v in enumerate(values)]

    outcomes = (cell("random", 40, [1, 0, 1, 0], 4.0) + cell("random", 20, [1, 0, 0, 0], 2.0)
                + cell("random", 10, [0, 0, 0, 0], 1.0) + cell("fast", 10, [1, 0, 1, 0], 3.0)
                + cell("fast", 20, [1, 1, 1, 0], 6.0) + cell("fast", 40, [1, 1, 1, 1], 12.0))
    board = build(outcomes, "accuracy % (oracle)", "cpu, 1 thread", reps=200)
    verdicts = {(v["axis"], v["fraction"]): v for v in board["verdicts"]}
    # a quarter of random's NFEs (10): fast is right where random at 40 is: difference 0, 0 wins, 0 losses
    assert verdicts[("nfe", 0.25)]["vs_random_at_top"]["difference"] == 0.0 and verdicts[("nfe", 0.25)]["budget"] == 10
    assert verdicts[("nfe", 0.5)]["vs_random_at_top"]["difference"] == 25.0          # 75% against 50%
    # in seconds fast is three times slower per NFE: half of random's 4 s buys nothing; all of it, budget 10
    assert verdicts[("seconds", 0.5)]["verdict"] == "no budget that fast"
    assert board["to_reach"]["fast"]["nfe"][0] == 10 and board["to_reach"]["fast"]["seconds"][0] == 3.0
    at = {(e["method"], e["reference_budget"]): e for e in board["equal_seconds"]}
    assert at[("fast", 40)]["budget"] == 10 and at[("fast", 40)]["value"] == 50.0 and at[("fast", 20)]["budget"] is None
