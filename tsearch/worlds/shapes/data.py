"""The shapes world's data API: (image, caption) pairs, hard-negative captions, degraded images, junk.

Used by the training scripts of the generator and of the `shapes-clip` / `shapes-quality`
verifiers (issue 3, items 3-4), and by the oracle's tests (junk it must refuse to judge). A scene holds exactly the objects its caption names; every
attribute the caption leaves open (colour, size, position) is drawn at random.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from tsearch.worlds.shapes.grammar import (
    CATEGORIES, COLORS, NUMBERS, RELATIONS, SHAPES, ObjectSpec, Spec, caption_of, parse, random_spec,
)
from tsearch.worlds.shapes.render import (
    BORDER, IMAGE_SIZE, RELATION_AXIS, SIZES, Obj, Scene, overlaps, relative_direction, render,
)

RELATION_MARGIN = 0.7   # sampled position scenes put the named direction beyond 0.7 (GenEval: 0.5)
CROSS_LIMIT = 0.3       # ... and the other axis within 0.3, so no second relation holds
OPPOSITE = {"left": "right", "right": "left", "above": "below", "below": "above"}


def _sizes_for(count: int) -> tuple[int, ...]:
    # four objects of side 11 with gaps cannot always fit; crowded scenes use the small sizes
    return SIZES if count <= 2 else SIZES[:3] if count == 3 else SIZES[:2]


def _relation_ok(a: Obj, b: Obj, relation: str) -> bool:
    direction = relative_direction(a.box, b.box)
    axis, sign = RELATION_AXIS[relation]
    return sign * direction[axis] >= RELATION_MARGIN and abs(direction[1 - axis]) <= CROSS_LIMIT


def sample_scene(spec: Spec | str, rng: np.random.Generator) -> Scene:
    """A random scene satisfying the caption exactly: its named objects and nothing else."""
    if isinstance(spec, str):
        spec = parse(spec)
    kinds = []
    for obj in spec.objects:
        for _ in range(obj.count):
            kinds.append((obj.shape, obj.color or COLORS[rng.integers(len(COLORS))]))
    choices = _sizes_for(len(kinds))
    for _ in range(200):
        sizes = rng.choice(choices, size=len(kinds))
        corners = rng.random((len(kinds), 32, 2))   # 32 tries at a free spot per object
        placed: list[Obj] = []
        for (shape, color), size, tries in zip(kinds, sizes, corners):
            span = IMAGE_SIZE - 2 * BORDER - int(size) + 1
            for u, v in tries:
                candidate = Obj(shape, color, BORDER + int(u * span), BORDER + int(v * span), int(size))
                if not any(overlaps(candidate, other) for other in placed):
                    placed.append(candidate)
                    break
            else:
                break
        if len(placed) < len(kinds):
            continue
        if spec.relation is not None and not _relation_ok(placed[0], placed[1], spec.relation):
            continue
        return Scene(tuple(placed))
    raise RuntimeError(f"could not place the objects of {caption_of(spec)!r} after 200 tries")


def sample_pairs(n: int, rng: np.random.Generator, categories=None) -> tuple[np.ndarray, list[str]]:
    """n random (image, caption) pairs: images uint8 [n, 32, 32, 3], categories uniform."""
    categories = tuple(categories) if categories is not None else CATEGORIES
    unknown = [c for c in categories if c not in CATEGORIES]
    if unknown or not categories:
        raise ValueError(f"unknown categories {unknown}; choose from: {', '.join(CATEGORIES)}")
    images = np.zeros((n, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    captions = []
    picks = rng.integers(len(categories), size=n)
    for i in range(n):
        spec = random_spec(rng, categories[picks[i]])
        render(sample_scene(spec, rng), out=images[i])
        captions.append(caption_of(spec))
    return images, captions


# ---- hard negatives ---------------------------------------------------------------------------

@lru_cache(maxsize=1)
def all_specs() -> tuple[Spec, ...]:
    """Every caption of the grammar (126 of them), as specs."""
    specs = [Spec("single", (ObjectSpec(s),)) for s in SHAPES]
    specs += [Spec("colors", (ObjectSpec(s, c),)) for s in SHAPES for c in COLORS]
    specs += [Spec("counting", (ObjectSpec(s, None, n),)) for s in SHAPES for n in NUMBERS.values()]
    pairs = [(a, b) for a in SHAPES for b in SHAPES if a != b]
    specs += [Spec("two_objects", (ObjectSpec(a), ObjectSpec(b))) for a, b in pairs]
    specs += [Spec("position", (ObjectSpec(a), ObjectSpec(b)), r) for a, b in pairs for r in RELATIONS]
    specs += [Spec("color_attr", (ObjectSpec(a, ca), ObjectSpec(b, cb)))
              for a, b in pairs for ca in COLORS for cb in COLORS if ca != cb]
    return tuple(specs)


def surely_false(claim: Spec, truth: Spec) -> bool:
    """True if `claim` fails on every scene that `sample_scene(truth)` can produce.

    A truth scene holds exactly truth's objects (shape counts known; colours known only where
    named). Judged as the oracle judges (GenEval): presence, exact counts, colours, relations.
    """
    counts = Counter()
    colors: dict[str, set] = {}
    for obj in truth.objects:
        counts[obj.shape] += obj.count
        colors.setdefault(obj.shape, set()).add(obj.color)   # None = any colour
    if claim.category == "counting":
        obj = claim.objects[0]
        return counts[obj.shape] != obj.count
    for obj in claim.objects:
        if counts[obj.shape] == 0:
            return True
        if obj.color is not None and None not in colors[obj.shape] and obj.color not in colors[obj.shape]:
            return True
    if claim.category == "position" and truth.category == "position":
        a, b = (o.shape for o in claim.objects)
        ta, tb = (o.shape for o in truth.objects)
        if (a, b) == (ta, tb):
            return claim.relation != truth.relation
        if (a, b) == (tb, ta):
            return claim.relation != OPPOSITE[truth.relation]
    return False


SAME_CATEGORY = 0.75  # share of the negatives drawn from the caption's own category (the hardest)


def _tokens(text: str) -> Counter:
    for name, phrase in RELATIONS.items():   # a relation phrase counts as one word
        text = text.replace(phrase, name)
    return Counter(text.split())


@lru_cache(maxsize=256)
def _negatives(caption: str) -> tuple[tuple[str, ...], np.ndarray]:
    truth = parse(caption)
    words = _tokens(caption_of(truth))
    groups: dict[str, list[tuple[str, float]]] = {}
    for claim in all_specs():
        if surely_false(claim, truth):
            text = caption_of(claim)
            other = _tokens(text)
            changed = max(sum(words.values()), sum(other.values())) - sum((other & words).values())
            # a swapped colour or relation changes no word; each changed word makes it 8x rarer
            groups.setdefault(claim.category, []).append((text, 8.0 ** -changed))
    others = [c for c in groups if c != truth.category]
    negatives, weights = [], []
    for category, members in groups.items():
        share = SAME_CATEGORY if category == truth.category else (1 - SAME_CATEGORY) / max(len(others), 1)
        if truth.category not in groups:
            share = 1 / len(groups)
        total = sum(w for _, w in members)
        for text, w in members:
            negatives.append(text)
            weights.append(share * w / total)
    weights = np.asarray(weights)
    return tuple(negatives), weights / weights.sum()


def contradicting_captions(caption: str, rng: np.random.Generator, k: int = 1) -> list[str]:
    """k valid captions that no render of `caption` satisfies, favouring near misses.

    Near misses (swapped colours, swapped or turned relations, wrong counts, wrong shapes) share
    most words with the caption and are drawn far more often; distinct while k allows.
    """
    negatives, weights = _negatives(caption)
    replace = k > len(negatives)
    return [negatives[i] for i in rng.choice(len(negatives), size=k, replace=replace, p=weights)]


# ---- degradations (negatives for the quality head) -------------------------------------------

DEGRADATIONS = ("noise", "blur", "jitter", "smear", "erase")


def gaussian_blur(images: np.ndarray, sigma: float) -> np.ndarray:
    """Blur uint8 [n, H, W, 3] images spatially with a Gaussian of `sigma` pixels."""
    out = gaussian_filter(images.astype(np.float32), sigma=(0, sigma, sigma, 0), mode="constant")
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def gaussian_noise(images: np.ndarray, rng: np.random.Generator, std: float) -> np.ndarray:
    """Add Gaussian noise of `std` in [0, 1] units to uint8 images."""
    out = images.astype(np.float32) + rng.normal(0.0, 255.0 * std, images.shape)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _jitter(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Tear rows sideways by up to 2 pixels (a shaky, misregistered scan)."""
    shifts = rng.integers(-2, 3, size=image.shape[0]) * (rng.random(image.shape[0]) < 0.6)
    columns = (np.arange(image.shape[1])[None, :] - shifts[:, None]) % image.shape[1]
    return image[np.arange(image.shape[0])[:, None], columns]


def _smear(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Shift one colour channel against the others and bleed colour sideways."""
    out = image.copy()
    channel = rng.integers(3)
    out[..., channel] = np.roll(image[..., channel], tuple(rng.integers(1, 3, size=2) * rng.choice([-1, 1], size=2)), axis=(0, 1))
    bled = gaussian_filter(out.astype(np.float32), sigma=(0, rng.uniform(1.0, 2.5), 0))
    return np.clip(np.rint(bled), 0, 255).astype(np.uint8)


def _erase(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Black out a rectangle centred on a random lit pixel, cutting into an object."""
    out = image.copy()
    lit = np.argwhere(image.max(axis=-1) > 0)
    cy, cx = lit[rng.integers(len(lit))] if len(lit) else rng.integers(IMAGE_SIZE, size=2)
    h, w = rng.integers(4, 10, size=2)
    out[max(cy - h // 2, 0):cy + h - h // 2, max(cx - w // 2, 0):cx + w - w // 2] = 0
    return out


def degrade(images: np.ndarray, rng: np.random.Generator, kind: str | None = None) -> np.ndarray:
    """Degraded copies of uint8 [n, H, W, 3] images; kind None picks one of DEGRADATIONS per image."""
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(f"degrade takes uint8 [n, H, W, 3] images, got {images.dtype} {images.shape}")
    if kind is not None and kind not in DEGRADATIONS:
        raise ValueError(f"unknown degradation {kind!r}; choose one of: {', '.join(DEGRADATIONS)} (or None)")
    out = np.empty_like(images)
    for i, image in enumerate(images):
        which = kind or DEGRADATIONS[rng.integers(len(DEGRADATIONS))]
        if which == "noise":
            out[i] = gaussian_noise(image, rng, rng.uniform(0.08, 0.25))
        elif which == "blur":
            out[i] = gaussian_blur(image[None], rng.uniform(0.8, 1.6))[0]
        elif which == "jitter":
            out[i] = _jitter(image, rng)
        elif which == "smear":
            out[i] = _smear(image, rng)
        else:
            out[i] = _erase(image, rng)
    return out


# ---- junk (images that are no scene, which the oracle must refuse to judge) --------------------

JUNK = ("noise", "dark_noise", "uniform", "blend", "blobs", "blur_noise", "crowded")


def _unit_to_uint8(images: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(images * 255.0), 0, 255).astype(np.uint8)


def _blobs(n: int, rng: np.random.Generator) -> np.ndarray:
    """8-24 soft Gaussian blobs of random colours (any RGB), summed on black."""
    out = np.zeros((n, IMAGE_SIZE, IMAGE_SIZE, 3))
    yy, xx = np.mgrid[:IMAGE_SIZE, :IMAGE_SIZE]
    for image in out:
        for _ in range(rng.integers(8, 25)):
            (cy, cx), sigma = rng.uniform(0, IMAGE_SIZE, 2), rng.uniform(1.0, 4.0)
            bump = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma ** 2))
            image += rng.uniform(0.6, 1.5) * bump[..., None] * rng.random(3)
    return _unit_to_uint8(out)


def _crowded(n: int, rng: np.random.Generator) -> np.ndarray:
    """8-12 small random objects packed 1 pixel apart: twice what any caption asks for."""
    out = np.zeros((n, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    for image in out:
        want, placed = rng.integers(8, 13), []
        while len(placed) < want:   # random packing can jam: start again (a jam is rare at <= 12)
            placed = []
            for _ in range(500):
                size = int(rng.choice((6, 7)))
                x, y = rng.integers(0, IMAGE_SIZE - size + 1, size=2)
                candidate = Obj(SHAPES[rng.integers(len(SHAPES))], COLORS[rng.integers(len(COLORS))], int(x), int(y), size)
                if not any(overlaps(candidate, other, gap=1) for other in placed):
                    placed.append(candidate)
                    if len(placed) == want:
                        break
        render(Scene(tuple(placed)), out=image)
    return out


def junk_images(n: int, rng: np.random.Generator, kind: str) -> np.ndarray:
    """n uint8 [32, 32, 3] images of one kind of junk, what an untrained or broken generator makes.

    noise: Gaussian noise, mean 0.3-0.7, std 0.2-0.6 per channel (an untrained generator's output
    is this, about mean 0.45, std 0.35); dark_noise: Gaussian noise of std 0.3-0.6 on black;
    uniform: uniform random colours; blend: renders mixed 50/50 with noise N(0.5, 0.5);
    blobs: 8-24 soft blobs of random colours; blur_noise: renders blurred by 1.5-3 pixels, then
    noise of std 0.3-0.5; crowded: 8-12 objects, beyond any caption's 4 and GenEval's slack.
    """
    size = (n, IMAGE_SIZE, IMAGE_SIZE, 3)
    if kind == "noise":
        return _unit_to_uint8(rng.uniform(0.3, 0.7, (n, 1, 1, 1)) + rng.uniform(0.2, 0.6, (n, 1, 1, 1)) * rng.standard_normal(size))
    if kind == "dark_noise":
        return _unit_to_uint8(rng.uniform(0.3, 0.6, (n, 1, 1, 1)) * rng.standard_normal(size))
    if kind == "uniform":
        return _unit_to_uint8(rng.random(size))
    if kind == "blend":
        images, _ = sample_pairs(n, rng)
        return _unit_to_uint8(0.5 * images / 255.0 + 0.5 * np.clip(0.5 + 0.5 * rng.standard_normal(size), 0, 1))
    if kind == "blobs":
        return _blobs(n, rng)
    if kind == "blur_noise":
        images, _ = sample_pairs(n, rng)
        return np.stack([gaussian_noise(gaussian_blur(image[None], rng.uniform(1.5, 3.0))[0], rng, rng.uniform(0.3, 0.5))
                         for image in images])
    if kind == "crowded":
        return _crowded(n, rng)
    raise ValueError(f"unknown junk kind {kind!r}; choose one of: {', '.join(JUNK)}")


# ---- tensors ----------------------------------------------------------------------------------

def to_unit(images: np.ndarray) -> torch.Tensor:
    """uint8 [n, H, W, 3] (or one [H, W, 3]) -> float32 [n, 3, H, W] in [0, 1]."""
    if images.ndim == 3:
        images = images[None]
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255.0)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 [n, H, W, 3] (or one [H, W, 3]) -> float32 [n, 3, H, W] in [-1, 1] (diffusion scale)."""
    return to_unit(images).mul_(2.0).sub_(1.0)


if __name__ == "__main__":
    import time

    generator = np.random.default_rng(0)
    start = time.perf_counter()
    batch, texts = sample_pairs(4000, generator)
    rate = len(texts) / (time.perf_counter() - start)
    print(f"sample_pairs: {rate:.0f} pairs/s on one core; e.g. {texts[:3]}")
    for text in texts[:6]:
        print(f"{text!r:45s} -> {contradicting_captions(text, generator, k=3)}")
