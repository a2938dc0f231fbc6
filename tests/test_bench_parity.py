"""bench parity: two shapes generators or dtypes paired on the same captions and noises, judged by the oracle."""

import json

import pytest

from tsearch.bench import parity
from tsearch.models import shapes as shapes_module

pytestmark = pytest.mark.usefixtures("one_thread")


def test_the_sign_test_is_exact():
    assert parity.sign_test(0, 0) == 1.0 and parity.sign_test(3, 3) == 1.0
    assert parity.sign_test(0, 6) == pytest.approx(2 / 64) and parity.sign_test(6, 0) == parity.sign_test(0, 6)
    assert parity.sign_test(1, 5) == pytest.approx(2 * 7 / 64)


def test_the_same_side_twice_agrees_on_every_caption_and_writes_strict_json(tmp_path):
    if not shapes_module.available()[0]:
        pytest.skip(shapes_module.available()[1])
    out = tmp_path / "parity.json"
    r = parity.main(["--a", "shapes-teacher:float32", "--b", "shapes:float32", "--captions", "6", "--steps", "1",
                     "--candidates", "2", "--out", str(out)])
    assert r["differ"] == 0 and r["a_overall"] == r["b_overall"] and r["captions"] == 6
    assert r["a_model"]["nfe"] == r["b_model"]["nfe"] == 6 * 2 * 1 * 2   # captions x candidates x steps x CFG passes
    assert json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(c))["sign_test_p"] == 1.0
    again = parity.main(["--a", "shapes:float32", "--b", "shapes-teacher:float32", "--captions", "6", "--steps", "1",
                         "--candidates", "2", "--reuse-a", str(out)])   # side a read back, only b computed
    assert again["a_verdicts"] == r["b_verdicts"] == again["b_verdicts"] and again["speed_b_over_a"] is None
    with pytest.raises(ValueError, match="--reuse-a: .* was measured with"):
        parity.main(["--a", "shapes:float32", "--captions", "6", "--steps", "2", "--candidates", "2",
                     "--reuse-a", str(out)])


def test_a_side_names_its_own_guidance_steps_and_solver():
    assert parity.side_options("shapes-distilled:bfloat16@guidance=4,solver=euler") == (
        "shapes-distilled", "bfloat16", {"guidance": 4.0, "solver": "euler"})
    assert parity.side_options("/some/folder@steps=5") == ("/some/folder", "", {"steps": 5})
    assert parity.side_options("shapes") == ("shapes", "", {})
    for bad in ("shapes@shift=3", "shapes@steps=", "shapes@solver=ddim"):
        with pytest.raises(ValueError, match="side"):
            parity.side_options(bad)


def test_side_steps_and_guidance_reach_the_sampler():
    if not shapes_module.available()[0]:
        pytest.skip(shapes_module.available()[1])
    r = parity.main(["--a", "shapes-teacher:float32@steps=2", "--b", "shapes-teacher:float32@guidance=1,solver=euler",
                     "--captions", "6", "--steps", "1"])
    assert r["a_model"]["nfe"] == 6 * 2 * 2 and r["a_model"]["steps"] == 2   # captions x steps x CFG passes
    assert r["b_model"]["nfe"] == 6 * 1 * 1 and r["b_model"]["guidance"] == 1.0   # guidance 1: one pass
    assert r["b_model"]["solver"] == "euler" and r["a_model"]["solver"] == "dpmpp-2m"
