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
