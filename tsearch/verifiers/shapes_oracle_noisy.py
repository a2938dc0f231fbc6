"""`shapes-oracle-e0.1` (and e0.2, e0.3, or `shapes-oracle-noisy` with rate=e): the exact oracle with
each atom's verdict flipped with probability e. A noised upper bound, never a realistic verifier.

Issue 27's verifier ladder: how search accuracy falls as the verifier errs. The oracle's detections
are judged atom by atom (each object, its colour, the count, the relation, and whether the image is
a scene at all) with the same atoms as the compositional verifiers (tsearch/verifiers/atoms.py),
which at e = 0 pass exactly the images the oracle passes. Each atom then flips with probability e,
decided by a hash of (seed, caption, image, atom), so a candidate's score never changes between
calls, whichever batch it is scored in. Score: 1 when every (noised) atom passes, plus 0.475 times
the share of atoms that pass, so a pass is >= 1 like the oracle's (`shapes_oracle.passed`).
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch
import torch.nn.functional as F

from tsearch.verifiers import atoms as atomics
from tsearch.verifiers.shapes_oracle import PARTIAL_WEIGHT
from tsearch.verifiers.shapes_parts import ask_of
from tsearch.worlds.shapes.grammar import normalize, parse
from tsearch.worlds.shapes.oracle import MISS_CAP, detect
from tsearch.worlds.shapes.render import IMAGE_SIZE

RATES = (0.1, 0.2, 0.3)   # the registered ladder rungs


def exact_atoms(image: np.ndarray, ask: atomics.Ask) -> list[atomics.Atom]:
    """The oracle's verdict split into atoms (p 0 or 1): its detections judged by the shared atoms,
    with GenEval's hard "> 0.5" relation test, plus a scene atom (the oracle's plausibility check)."""
    detections = detect(image)
    found = [atomics.Found(1.0, {d.shape: 1.0}, {d.color: 1.0}, d.box) for d in detections]
    out = atomics.judge(ask, found, margin=0.0)
    out.append(atomics.Atom("a scene", "scene", float(detections.scene.problem is None), detections.scene.problem or ""))
    return out


def uniforms(seed: int, caption: str, image: np.ndarray, count: int) -> np.ndarray:
    """`count` numbers in [0, 1) fixed by (seed, caption, image bytes): one per atom."""
    digest = hashlib.blake2b(f"{seed}|{caption}|".encode() + image.tobytes(), digest_size=16).digest()
    return np.random.default_rng(list(np.frombuffer(digest, dtype=np.uint32))).random(count)


class NoisyOracle:
    def __init__(self, rate: float, seed: int = 0):
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate <= 1.0:
            raise ValueError(f"shapes-oracle-noisy: rate (the chance each atom's verdict flips) must be in [0, 1], got {rate!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"shapes-oracle-noisy: seed must be a whole number >= 0, got {seed!r}")
        self.rate, self.seed = float(rate), seed
        self.name = f"shapes-oracle-e{self.rate:g}"
        self._asks: dict[str, atomics.Ask] = {}

    def _ask(self, condition) -> atomics.Ask:
        if not isinstance(condition, str):
            raise ValueError(f"{self.name} judges captions of the shapes grammar (e.g. 'a red circle'), got {condition!r}")
        if condition not in self._asks:
            self._asks[condition] = ask_of(parse(condition))
        return self._asks[condition]

    def check(self, condition) -> None:
        self._ask(condition)

    def noisy_atoms(self, images: torch.Tensor, condition) -> list[list[atomics.Atom]]:
        """Per image, its atoms after the flips."""
        ask = self._ask(condition)
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"{self.name} takes images [b, 3, H, W] in [0, 1], got shape {tuple(images.shape)}")
        images = images.detach().float().cpu().clamp(0, 1)
        if images.shape[-2:] != (IMAGE_SIZE, IMAGE_SIZE):
            images = F.adaptive_avg_pool2d(images, IMAGE_SIZE)
        out = []
        for image in (images.permute(0, 2, 3, 1) * 255).round().to(torch.uint8).numpy():
            atoms = exact_atoms(image, ask)
            flips = uniforms(self.seed, normalize(condition), image, len(atoms)) < self.rate
            out.append([atomics.Atom(a.text, a.kind, 1.0 - a.p if flip else a.p, a.detail + (" (flipped)" if flip else ""))
                        for a, flip in zip(atoms, flips)])
        return out

    def score(self, images: torch.Tensor, condition) -> torch.Tensor:
        scores = []
        for atoms in self.noisy_atoms(images, condition):
            passing = [a.verdict == "pass" for a in atoms]
            scores.append(float(all(passing)) + PARTIAL_WEIGHT * MISS_CAP * sum(passing) / len(passing))
        return torch.tensor(scores, dtype=torch.float32)


def build(model=None, device: str = "cpu", rate: float = 0.1, seed: int = 0) -> NoisyOracle:
    """Needs no weights and runs on the CPU whatever `device` says; `rate` is e, `seed` fixes the flips."""
    return NoisyOracle(rate, seed)


def _rung(rate: float):
    def factory(model=None, device: str = "cpu", seed: int = 0) -> NoisyOracle:
        return NoisyOracle(rate, seed)
    factory.__doc__ = f"The oracle with each atom flipped with probability {rate}."
    return factory


build_e10, build_e20, build_e30 = (_rung(r) for r in RATES)
