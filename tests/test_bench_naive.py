"""The peers' naive loop (tsearch.bench.naive) at tiny size: one pipeline call and one prompt encoding per candidate."""

import pytest
import torch

import tsearch  # noqa: F401  (torchvision fix before diffusers)
from tsearch.bench.naive import naive_pipeline_loop
from tsearch.models.random_arch import build_random


@pytest.mark.parametrize("name", ["sd15-random", "flux-random"])
def test_naive_loop_reencodes_the_prompt_per_candidate(name):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = build_random(name, "cpu", size="tiny")
        encodings, encode = [], model.pipe.encode_prompt
        model.pipe.encode_prompt = lambda *a, **k: (encodings.append(1), encode(*a, **k))[1]
        seconds = naive_pipeline_loop(name, "a red circle", n=3, steps=2, device="cpu", model=model)
    finally:
        torch.set_num_threads(threads)
    assert seconds > 0 and len(encodings) == 3
    with pytest.raises(ValueError, match="at least 1"):
        naive_pipeline_loop(name, "a red circle", n=0, steps=2, model=model)
