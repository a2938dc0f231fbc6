"""channels_last and torch.compile (issue 13, the GPU path), run at a tiny size on the CPU: the same
images as the plain path to float tolerance, applied to the pipeline's own modules, bad values named."""

from __future__ import annotations

import pytest
import torch

import tsearch
from tsearch.models import random_arch as ra
from tsearch.models.hub import from_pipeline

pytestmark = pytest.mark.usefixtures("one_thread")


def _search(pipe, **options):
    result = tsearch.search(model=from_pipeline(pipe, **options), prompt="a red circle", verifiers=[_redness],
                            algorithm="random", budget=8, steps=2, batch_size=2)
    return [c.score for c in result.history]


def _redness(images, prompt):
    return [float(torch.tensor(list(image.convert('RGB').tobytes()), dtype=torch.float32).view(-1, 3)[:, 0].mean()) for image in images]


def test_channels_last_keeps_the_images_and_changes_the_pipelines_own_unet():
    torch.manual_seed(0)
    pipe = ra.sd15_pipeline("tiny")
    plain = _search(pipe)
    model = from_pipeline(pipe, channels_last=True)
    weight = next(m.weight for m in pipe.unet.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3))
    assert model.pipe is pipe and weight.is_contiguous(memory_format=torch.channels_last)
    assert _search(pipe, channels_last=True) == pytest.approx(plain, abs=1.0)   # 0-255 red channel means


def test_compile_runs_the_denoiser_through_torch_compile_with_the_same_results():
    torch.manual_seed(0)
    pipe = ra.sd15_pipeline("tiny")
    plain = _search(pipe)
    compiled = _search(pipe, compile="aot_eager")   # dynamo's path without a C++ build
    graph = pipe.unet._compiled_call_impl
    assert graph is not None
    from_pipeline(pipe, compile="aot_eager").with_options(guidance=3.0)
    assert pipe.unet._compiled_call_impl is graph   # compiled once: adapters over one pipeline share it
    assert compiled == pytest.approx(plain, abs=1.0)


@pytest.mark.parametrize("options, needle", [({"channels_last": "yes"}, "channels_last is true or false"),
                                             ({"compile": 3}, "compile is true, false or a torch.compile backend")])
def test_bad_values_are_named(options, needle):
    with pytest.raises(ValueError, match=needle):
        from_pipeline(ra.sd15_pipeline("tiny"), **options)
