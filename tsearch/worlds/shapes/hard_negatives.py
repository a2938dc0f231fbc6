"""Which captions may be true of which renders, and "twin" negatives that contradict both ways.

Built on the data module's exact `surely_false` (judged as the oracle judges: presence, exact
counts, colours, relations), so the shapes CLIP's loss never treats a caption that holds for an
image as its negative ("a circle" for a red circle beside a square), and its evaluation compares
an image only with images that really fail its caption.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from tsearch.worlds.shapes import data


@lru_cache(maxsize=1)
def possibly_true_matrix() -> tuple[dict[str, int], torch.Tensor]:
    """Index of every caption (126), and M[t, c] = caption t may hold on a render of caption c."""
    specs = data.all_specs()
    index = {data.caption_of(spec): i for i, spec in enumerate(specs)}
    matrix = torch.tensor([[not data.surely_false(claim, truth) for truth in specs] for claim in specs])
    return index, matrix


def twin(caption: str, rng: np.random.Generator, candidates: list[str] = (), exclude=frozenset()) -> str:
    """A contradicting caption whose renders also fail `caption` (the first such of `candidates`,
    else a fresh draw). "two circles" is no twin of "a circle": two circles do show a circle."""
    index, possibly_true = possibly_true_matrix()
    candidates = list(candidates)
    for _ in range(50):
        for negative in candidates:
            if negative not in exclude and not possibly_true[index[caption], index[negative]]:
                return negative
        candidates = data.contradicting_captions(caption, rng, k=4)
    raise RuntimeError(f"no mutually contradicting caption found for {caption!r}")
