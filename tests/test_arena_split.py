"""The shapes world's hard split: distinct captions of the hard kinds, drawn from the grammar with a seed."""

import collections
import json
from pathlib import Path

import pytest

from tsearch.worlds.shapes import grammar


def test_hard_split_is_distinct_seeded_and_only_hard_kinds():
    rows = grammar.split_captions("hard", 48, seed=0)
    assert rows == grammar.split_captions("hard", 48, seed=0)
    assert rows != grammar.split_captions("hard", 48, seed=1)
    assert len({r["prompt"] for r in rows}) == 48
    kinds = collections.Counter(r["category"] for r in rows)
    assert kinds == {"color_attr": 21, "position": 21, "counting_3_4": 6}   # counting of 3-4 has six captions
    for row in rows:
        spec = grammar.parse(row["prompt"])
        if row["category"] == "counting_3_4":
            assert spec.category == "counting" and spec.objects[0].count in (3, 4)
        else:
            assert spec.category == row["category"]
    assert grammar.split_captions("hard", 96, seed=0)[:48] == rows   # a larger draw extends a smaller one


def test_split_refuses_bad_input_by_name():
    with pytest.raises(ValueError, match="split must be one of"):
        grammar.split_captions("medium", 4)
    with pytest.raises(ValueError, match="from 1 to 102"):
        grammar.split_captions("hard", 103)


def test_shipped_prompts_file_is_the_seed_0_draw():
    lines = Path(__file__).parents[1].joinpath("sweeps", "shapes_hard.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == grammar.split_captions("hard", 96, seed=0)


def test_benchmarks_draw_the_hard_split():
    from types import SimpleNamespace

    from tsearch.bench import eval_shapes, scaling

    args = SimpleNamespace(split="hard", captions=9, seed=2, per_category=None)
    assert scaling._prompts(args) == grammar.split_captions("hard", 9, 2)
    assert eval_shapes.eval_captions(9, 2, "hard") == [(r["category"], r["prompt"]) for r in scaling._prompts(args)]
