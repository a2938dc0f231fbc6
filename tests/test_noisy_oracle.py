"""The noisy oracle (issue 27): the exact oracle's atoms, each flipped with probability e, seeded."""

import math

import numpy as np
import pytest
import torch

from tsearch.verifiers import load_verifier
from tsearch.verifiers.shapes_oracle import passed
from tsearch.verifiers.shapes_oracle_noisy import NoisyOracle, exact_atoms
from tsearch.verifiers.shapes_parts import ask_of
from tsearch.worlds.shapes import data, oracle
from tsearch.worlds.shapes.grammar import parse

pytestmark = pytest.mark.usefixtures("one_thread")


def _renders(n, seed):
    """n renders, each with its own caption or (every other one) a contradicting caption, some degraded."""
    rng = np.random.default_rng(seed)
    images, captions = data.sample_pairs(n, rng)
    captions = [c if i % 2 else data.contradicting_captions(c, rng)[0] for i, c in enumerate(captions)]
    images[::3] = data.gaussian_noise(data.gaussian_blur(images[::3], 1.0), rng, 0.1)
    return images, captions


def test_at_rate_zero_the_atoms_pass_exactly_what_the_oracle_passes():
    images, captions = _renders(90, seed=1)
    noisy = NoisyOracle(0.0)
    verdicts = [bool(oracle.evaluate(image, caption).ok) for image, caption in zip(images, captions)]
    assert 0.2 < np.mean(verdicts) < 0.8   # both kinds are there
    scores = [float(noisy.score(data.to_unit(image), caption)[0]) for image, caption in zip(images, captions)]
    assert [passed(s) for s in scores] == verdicts


def test_each_atom_flips_at_the_rate_asked_within_binomial_bounds():
    images, captions = _renders(150, seed=2)
    for rate in (0.1, 0.3):
        noisy, flips, atoms = NoisyOracle(rate, seed=7), 0, 0
        for image, caption in zip(images, captions):
            exact = exact_atoms(image, ask_of(parse(caption)))
            noised = noisy.noisy_atoms(data.to_unit(image), caption)[0]
            assert [a.text for a in noised] == [a.text for a in exact]
            flips += sum(a.verdict != b.verdict for a, b in zip(exact, noised))
            atoms += len(exact)
        bound = 4 * math.sqrt(atoms * rate * (1 - rate))   # 4 standard deviations of Binomial(atoms, rate)
        assert atoms > 400 and abs(flips - atoms * rate) < bound, (rate, flips, atoms)


def test_a_candidates_score_never_changes_between_calls_and_the_seed_changes_the_flips():
    images, captions = _renders(24, seed=3)
    caption = captions[0]
    batch = data.to_unit(images)
    noisy = NoisyOracle(0.3, seed=0)
    once = noisy.score(batch, caption)
    again = torch.cat([noisy.score(batch[i:i + 1], caption) for i in reversed(range(len(batch)))]).flip(0)
    assert torch.equal(once, again)
    assert torch.equal(once, load_verifier("shapes-oracle-e0.3").score(batch, caption))
    other = NoisyOracle(0.3, seed=1).score(batch, caption)
    assert not torch.equal(once, other)


def test_the_ladder_rungs_are_registered_and_bad_rates_are_refused():
    for rate in (0.1, 0.2, 0.3):
        verifier = load_verifier(f"shapes-oracle-e{rate}")
        assert verifier.rate == rate and verifier.name == f"shapes-oracle-e{rate}"
    assert load_verifier("shapes-oracle-noisy", rate=0.25).name == "shapes-oracle-e0.25"
    with pytest.raises(ValueError, match="rate"):
        load_verifier("shapes-oracle-noisy", rate=1.5)
    with pytest.raises(ValueError, match="shapes grammar"):
        NoisyOracle(0.1).check(3)
