"""bench accel: a variant copies the bundled network and changes only the copy (compile itself is too slow for CI)."""

import pytest
import torch

from tsearch.bench import accel
from tsearch.models.digits import DigitsModel
from tsearch.worlds.digits import generator as digits_gen

pytestmark = pytest.mark.usefixtures("one_thread")


def test_a_channels_last_variant_is_a_copy_that_agrees_with_the_plain_network():
    torch.manual_seed(0)
    model = DigitsModel(digits_gen.build_unet(channels=(16, 32)).eval(), dtype="float32")
    other = accel.variant(model, "channels_last")
    conv = next(m for m in accel.network(other).modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert accel.network(other) is not accel.network(model)   # the plain model is untouched
    x, cond = torch.randn(4, 1, 16, 16, generator=torch.Generator().manual_seed(1)), model.encode(3)
    assert torch.allclose(other.forward_x0(x, cond, 0.5), model.forward_x0(x, cond, 0.5), atol=1e-4)
