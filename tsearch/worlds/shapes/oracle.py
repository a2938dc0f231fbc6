"""The shapes world's exact oracle: judge an image against a caption the way GenEval does.

GenEval (Ghosh et al. 2023) detects objects, then checks presence (single, two objects), exact
counts (counting), colours where the caption names one, and relations from box centres. Here
the detector is exact for this world: colour segmentation (brightness against the black
background, then nearest of the four hues), connected components per colour (specks dropped),
shape by analysis by synthesis (the best least-squares fit among anti-aliased, blurred circle,
square and triangle templates at the component's brightness centroid), relations by GenEval's
`relative_position` on the component boxes. A soft `partial` credit in [0, 1]
ranks near misses above far misses, so the oracle can also serve as a search verifier.

GenEval's detector finds nothing in noise; an exact colour segmenter finds blobs everywhere. So an
image is judged only if it is a plausible scene (`SceneCheck`): mostly black, at most
MAX_OBJECTS solid objects (area, template fit and a hue near one of the four), and little lit
clutter outside them. Anything else fails with "scene: ..." and at most JUNK_CREDIT partial credit.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import ndimage

from tsearch.worlds.shapes.grammar import RELATIONS, SHAPES, Spec, parse
from tsearch.worlds.shapes.render import IMAGE_SIZE, RELATION_AXIS, RGB, relative_direction

BRIGHTNESS = 0.5       # a pixel is foreground when its brightest channel exceeds this (in [0, 1])
MIN_AREA = 8           # components smaller than this (at 32x32; scaled with the image) are specks
SMOOTH = 0.5           # Gaussian sigma (pixels) applied before thresholding: damps pixel noise

# What a scene is. Each bound sits well outside what the renders reach (measured by
# `python -m tsearch.worlds.shapes.oracle`, 2,000 renders, clean / blurred 1 px + noise 0.1) and
# well inside what junk reaches (pure noise, coloured noise, renders drowned in noise, blobs).
DARK = 0.3             # a background pixel: brightest channel below this
MIN_DARK = 0.6         # share of dark pixels a scene needs (renders >= 0.75 clean, 0.68 degraded;
                       # noise, coloured noise, drowned renders <= 0.55; noise on black ~0.3-0.6)
MIN_OBJECT_AREA = 16   # an object covers at least this many pixels (renders >= 31 / 24; noise: 8-12)
MIN_FIT = 0.8          # and its best template explains this share of its energy (renders >= 0.95;
                       # a 300-step generator's lumpy objects: 95% above 0.83, so they still count)
MAX_HUE_ERROR = 0.6    # and its mean chroma lies this close to one of the four hues (renders <= 0.12;
                       # orange is 0.5 from red and yellow; magenta, cyan, white, grey 1.0)
MAX_OBJECTS = 6        # the grammar needs 4; like GenEval, a couple of extra objects are allowed
MAX_CLUTTER = 0.03     # share of the image lit outside every object (renders <= 0.001, about one
                       # small shape; random blobs 0.03-0.27; noise on black is lit all over)
HUES = np.array([RGB[c] for c in RGB], dtype=np.float32) / 255.0   # red, green, blue, yellow
HUE_NAMES = tuple(RGB)


@dataclass(frozen=True)
class Detection:
    shape: str
    color: str
    box: tuple[int, int, int, int]   # x0, y0, x1, y1 (x1, y1 exclusive)
    area: int
    fit: float = 1.0                 # share of the object's energy its best template explains
    hue_error: float = 0.0           # distance of its mean chroma from its hue's

    def describe(self) -> str:
        cx, cy = (self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2
        return f"{self.color} {self.shape} at ({cx:.0f}, {cy:.0f})"


@dataclass(frozen=True)
class Verdict:
    ok: bool                      # the image satisfies the caption
    failed: str | None            # "check: detail" of the first failed check; None when ok
    partial: float                # soft credit in [0, 1]: 1 when ok, higher for nearer misses
    category: str = ""            # the caption's category
    found: tuple[str, ...] = ()   # what the detector saw, e.g. "red circle at (12, 20)"


def as_unit_hwc(image) -> np.ndarray:
    """uint8 HxWx3, or float [3,H,W] / [H,W,3] in [0, 1] (numpy or torch) -> float32 HxWx3."""
    if hasattr(image, "detach"):
        image = image.detach().cpu().numpy()
    array = np.asarray(image)
    if array.ndim != 3 or 3 not in (array.shape[0], array.shape[-1]):
        raise ValueError(f"expected one RGB image, HxWx3 or 3xHxW, got shape {array.shape}")
    if array.shape[-1] != 3:
        array = array.transpose(1, 2, 0)
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    return np.clip(array.astype(np.float32), 0.0, 1.0)


# ---- shape by analysis by synthesis ---------------------------------------------------------------
# Blur rounds a square's corners and a triangle's tips until thresholded masks look alike, so the
# shape is judged on the raw brightness instead: each shape is rendered anti-aliased at many sides
# and blurs, placed at the component's brightness centroid (which blur does not move), and the
# shape whose best template fits by least squares (free amplitude) wins.

WINDOW = 21                                   # template window side, pixels (odd)
SIDES = np.arange(5.0, 14.01, 0.5)            # template sides, pixels
BLURS = (0.0, 0.6, 1.0, 1.4)                  # template Gaussian blurs, pixels
SUPER = 4                                     # supersampling per pixel; centroids to 1/SUPER px


def _hires_shape(shape: str, side: float) -> np.ndarray:
    """A shape of `side` pixels drawn at SUPER x resolution, centroid on the window's centre."""
    n = WINDOW * SUPER
    c = (np.arange(n) + 0.5) / SUPER - (WINDOW // 2 + 0.5 / SUPER)   # pixels from the centroid
    y, x = np.meshgrid(c, c, indexing="ij")
    u = x / side + 0.5
    if shape == "triangle":   # apex up: the centroid sits 2/3 of the way down
        v = y / side + 2.0 / 3.0
        return ((v >= 0) & (v <= 1) & (np.abs(u - 0.5) <= v / 2)).astype(np.float32)
    v = y / side + 0.5
    if shape == "circle":
        return ((u - 0.5) ** 2 + (v - 0.5) ** 2 <= 0.25).astype(np.float32)
    return ((u >= 0) & (u <= 1) & (v >= 0) & (v <= 1)).astype(np.float32)


@lru_cache(maxsize=1)
def template_library() -> tuple[np.ndarray, np.ndarray]:
    """Templates [shape, side*blur, offset_y*SUPER + offset_x, WINDOW**2] and their squared norms."""
    library = np.zeros((len(SHAPES), len(SIDES) * len(BLURS), SUPER * SUPER, WINDOW * WINDOW), np.float32)
    for a, shape in enumerate(SHAPES):
        for b, side in enumerate(SIDES):
            hires = _hires_shape(shape, side)
            for d, blur in enumerate(BLURS):
                blurred = ndimage.gaussian_filter(hires, blur * SUPER, mode="constant") if blur else hires
                for oy in range(SUPER):
                    for ox in range(SUPER):
                        shifted = np.roll(blurred, (oy, ox), axis=(0, 1))
                        pixels = shifted.reshape(WINDOW, SUPER, WINDOW, SUPER).mean(axis=(1, 3))
                        library[a, b * len(BLURS) + d, oy * SUPER + ox] = pixels.ravel()
    return library, (library ** 2).sum(-1)


def classify_shape(brightness: np.ndarray, support: np.ndarray | None = None) -> tuple[str, dict[str, float]]:
    """The shape best fitting one object's brightness, with each shape's fit in [0, 1].

    `support` (default: where brightness > 0) marks the pixels that belong to the object; the
    least-squares fit of every template is taken over those pixels only, so a fringe cut short
    by a neighbour is not mistaken for a sharp edge. Fit = share of the energy explained.
    """
    if support is None:
        support = brightness > 0
    values = np.where(support, brightness, 0.0)
    weight = values.sum()
    ys, xs = np.nonzero(values)
    cy = (values[ys, xs] * (ys + 0.5)).sum() / weight
    cx = (values[ys, xs] * (xs + 0.5)).sum() / weight
    iy, ix = int(cy), int(cx)
    oy, ox = min(int((cy - iy) * SUPER), SUPER - 1), min(int((cx - ix) * SUPER), SUPER - 1)
    half = WINDOW // 2
    window = (slice(iy, iy + WINDOW), slice(ix, ix + WINDOW))   # centred on pixel (iy, ix)
    inside = np.flatnonzero(np.pad(support, half)[window])
    patch = np.pad(values, half)[window].ravel()[inside]
    library, _ = template_library()
    templates = library[:, :, oy * SUPER + ox][:, :, inside]
    dots = templates @ patch
    norms = np.maximum((templates ** 2).sum(-1), 1e-9)
    explained = np.where(dots > 0, dots ** 2 / norms, 0.0).max(axis=1)
    energy = max(float(patch @ patch), 1e-9)
    fits = {shape: float(e / energy) for shape, e in zip(SHAPES, explained)}
    return max(fits, key=fits.get), fits


@dataclass(frozen=True)
class SceneCheck:
    """Whether an image is a scene the oracle may judge, and the measurements that decided it."""
    dark: float          # share of near-black pixels (brightest channel below DARK)
    objects: int         # components accepted as objects
    rejected: int        # components too small, too ragged or off-hue to be objects
    clutter: float       # share of pixels lit (raw brightness above BRIGHTNESS) outside objects
    problem: str | None  # "detail" of the first failed check; None for a plausible scene

    @property
    def plausibility(self) -> float:
        """In [0, 1]: 1 for a scene, lower the further each measurement is past its bound."""
        return (min(1.0, self.dark / MIN_DARK) * min(1.0, MAX_OBJECTS / max(self.objects, 1))
                * min(1.0, MAX_CLUTTER / max(self.clutter, 1e-9)))


def check_scene(dark: float, objects: int, rejected: int, clutter: float) -> SceneCheck:
    """The scene checks in order: a black background, a handful of objects, little clutter."""
    problem = None
    if dark < MIN_DARK:
        problem = f"only {dark:.0%} of the image is near-black background (a scene needs {MIN_DARK:.0%})"
    elif objects > MAX_OBJECTS:
        problem = f"{objects} objects (a scene has at most {MAX_OBJECTS})"
    elif clutter > MAX_CLUTTER:
        problem = (f"{clutter:.0%} of the image is lit outside any object ({rejected} blobs too small, "
                   f"ragged or off-hue to be shapes; a scene allows {MAX_CLUTTER:.0%})")
    return SceneCheck(dark, objects, rejected, clutter, problem)


class Detections(list):
    """The accepted objects (a list of Detection) and the scene check that decides if they count."""

    def __init__(self, objects, scene: SceneCheck):
        super().__init__(objects)
        self.scene = scene


def detect(image) -> Detections:
    """Every object in the image: one per solid connected same-colour region, plus the scene check.

    Components of MIN_AREA or more pixels are candidates (smaller ones are specks); a candidate is
    an object if it covers MIN_OBJECT_AREA pixels, its best template fits to MIN_FIT and its mean
    chroma lies within MAX_HUE_ERROR of its hue. Lit pixels outside the objects are clutter.
    """
    rgb = as_unit_hwc(image)
    raw_bright = rgb.max(axis=-1)
    if SMOOTH:   # segment a slightly smoothed copy, so pixel noise neither splits nor joins objects
        rgb = ndimage.gaussian_filter(rgb, sigma=(SMOOTH, SMOOTH, 0), mode="constant")
    bright = rgb.max(axis=-1)
    chroma = rgb / np.maximum(bright, 1e-6)[..., None]
    hue = (chroma @ HUES.T - 0.5 * (HUES ** 2).sum(-1)).argmax(-1)   # nearest hue
    foreground = bright > BRIGHTNESS
    scale = rgb.shape[0] * rgb.shape[1] / IMAGE_SIZE ** 2
    components = []   # (colour index, mask, box)
    for index in range(len(HUE_NAMES)):
        pixels = foreground & (hue == index)
        if pixels.sum() < MIN_AREA * scale:
            continue
        labels, _ = ndimage.label(pixels)
        for label, region in enumerate(ndimage.find_objects(labels), start=1):
            mask = labels == label
            if mask.sum() >= MIN_AREA * scale:
                box = (region[1].start, region[0].start, region[1].stop, region[0].stop)
                components.append((index, mask, box))
    taken = np.zeros(foreground.shape, dtype=np.int32)   # how many components claim each pixel
    grown = [ndimage.binary_dilation(mask, iterations=2) for _, mask, _ in components]
    for area in grown:
        taken += area
    detections, covered = [], np.zeros(foreground.shape, dtype=bool)
    for (index, mask, box), area in zip(components, grown):
        # the object's own blurred fringe, minus pixels nearer another object
        support = area & ((taken == 1) | mask)
        shape, fits = classify_shape(raw_bright, support)
        hue_error = float(np.linalg.norm(chroma[mask].mean(axis=0) - HUES[index]))
        if mask.sum() >= MIN_OBJECT_AREA * scale and fits[shape] >= MIN_FIT and hue_error <= MAX_HUE_ERROR:
            detections.append(Detection(shape, HUE_NAMES[index], box, int(mask.sum()), fits[shape], hue_error))
            covered |= area
    scene = check_scene(dark=float((raw_bright < DARK).mean()), objects=len(detections),
                        rejected=len(components) - len(detections),
                        clutter=float(((raw_bright > BRIGHTNESS) & ~covered).mean()))
    return Detections(detections, scene)


# ---- judging ------------------------------------------------------------------------------------

# partial credit of one detection for one named object: being there, the right shape, the right colour
PRESENT, SHAPE, COLOR = 0.2, 0.5, 0.3
MISS_CAP = 0.95   # the most partial credit a failed verdict can get


def _object_credit(det: Detection, shape: str, color: str | None) -> float:
    if color is None:
        return PRESENT + (SHAPE + COLOR) * (det.shape == shape)
    return PRESENT + SHAPE * (det.shape == shape) + COLOR * (det.color == color)


def _relation(a: Detection, b: Detection, relation: str) -> float:
    """GenEval's direction component of A relative to B along the relation (> 0.5 holds)."""
    axis, sign = RELATION_AXIS[relation]
    return sign * relative_direction(a.box, b.box)[axis]


JUNK_CREDIT = 0.1  # the most partial credit an image that is no scene can get: below near misses


def _verdict(spec: Spec, detections: list[Detection], failed: str | None, partial: float) -> Verdict:
    # a miss never scores 1, so ok stays the top of the ranking
    partial = 1.0 if failed is None else float(min(partial, MISS_CAP))
    scene = getattr(detections, "scene", None)
    if scene is not None and scene.problem is not None:
        # no scene: not judged (GenEval's detector finds nothing in noise); credit only enough to
        # rank junk that is nearer a scene, and shows more of the caption, above the rest
        failed = f"scene: {scene.problem}"
        partial = JUNK_CREDIT * scene.plausibility * partial
    return Verdict(failed is None, failed, partial, spec.category, tuple(d.describe() for d in detections))


def judge(detections: list[Detection], spec: Spec) -> Verdict:
    """GenEval's checks of a parsed caption against detected objects, with partial credit.

    `detections` from `detect` carry a scene check: an image that is no scene fails with
    "scene: ..." whatever it shows (a plain list of detections is judged as a scene).

    Presence for single and two objects (extra objects allowed), the exact count of the named
    shape for counting, colour where the caption names one, and for position some pair of the
    named shapes in GenEval's relation (direction component beyond 0.5).
    """
    if spec.category == "counting":
        obj = spec.objects[0]
        have = sum(d.shape == obj.shape for d in detections)
        closeness = lambda k: max(0.0, 1.0 - abs(k - obj.count) / obj.count)  # noqa: E731
        partial = 0.8 * closeness(have) + 0.2 * closeness(len(detections))
        failed = None if have == obj.count else f"count: expected {obj.count} {obj.shape}s, found {have}"
        return _verdict(spec, detections, failed, partial)
    credits, failed = [], None
    for obj in spec.objects:
        credits.append(max((_object_credit(d, obj.shape, obj.color) for d in detections), default=0.0))
        shaped = [d for d in detections if d.shape == obj.shape]
        if failed is None and not shaped:
            failed = f"presence: no {obj.shape} found"
        elif failed is None and obj.color is not None and not any(d.color == obj.color for d in shaped):
            colors = ", ".join(sorted({d.color for d in shaped}))
            failed = f"color: no {obj.color} {obj.shape} (the {obj.shape}s found are {colors})"
    if spec.category == "position":
        a, b = spec.objects
        best = max((_relation(x, y, spec.relation) for x in detections if x.shape == a.shape
                    for y in detections if y.shape == b.shape), default=None)
        # credit 0 with the pair on the opposite side, 1 where GenEval's test starts to pass
        credits.append(0.0 if best is None else float(np.clip((best + 1.0) / 1.5, 0.0, 1.0)))
        if failed is None and not best > 0.5:
            failed = f"position: no {a.shape} {RELATIONS[spec.relation]} a {b.shape} (best direction {best:.2f}, needs > 0.5)"
    return _verdict(spec, detections, failed, float(np.mean(credits)))


def evaluate(image, caption: str | Spec) -> Verdict:
    """Judge one image against one caption of the grammar (ValueError if it is not one)."""
    spec = caption if isinstance(caption, Spec) else parse(caption)
    return judge(detect(image), spec)


def junk_report(kind: str, n: int, rng: np.random.Generator) -> dict:
    """How the oracle treats n junk images of one kind, each judged against a random caption of
    every category: the share refused as no scene, the share accepted, and the partial credit."""
    from tsearch.worlds.shapes.data import junk_images
    from tsearch.worlds.shapes.grammar import CATEGORIES, random_caption

    refused, accepted, partial = [], {c: [] for c in CATEGORIES}, []
    for image in junk_images(n, rng, kind):
        found = detect(image)
        refused.append(found.scene.problem is not None)
        for category in CATEGORIES:
            verdict = judge(found, parse(random_caption(rng, category)))
            accepted[category].append(verdict.ok)
            partial.append(verdict.partial)
    return {"refused": float(np.mean(refused)), "accepted": float(np.mean([a for v in accepted.values() for a in v])),
            "accepted_by_category": {c: float(np.mean(v)) for c, v in accepted.items()},
            "partial_mean": float(np.mean(partial)), "partial_max": float(np.max(partial))}


if __name__ == "__main__":
    # Issue 3, item 2: 2,000 random renders, each judged against its caption and against one
    # contradicting caption, clean and then blurred by 1 pixel with noise of std 0.1; then junk
    # (no scene at all), which must be refused whatever the caption. Prints the measurements the
    # scene bounds were chosen from.
    import argparse

    from tsearch.worlds.shapes.data import JUNK, contradicting_captions, gaussian_blur, gaussian_noise, sample_pairs

    parser = argparse.ArgumentParser(description="Measure the shapes oracle on renders and on junk.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--renders", type=int, default=2000)
    parser.add_argument("--junk", type=int, default=200, help="images per junk kind")
    args = parser.parse_args()
    generator = np.random.default_rng(args.seed)
    images, captions = sample_pairs(args.renders, generator)
    negatives = [contradicting_captions(c, generator)[0] for c in captions]
    degraded = gaussian_noise(gaussian_blur(images, 1.0), generator, 0.1)
    for label, batch in (("clean", images), ("blur 1px + noise 0.1", degraded)):
        found = [detect(image) for image in batch]
        positives = np.mean([judge(f, parse(c)).ok for f, c in zip(found, captions)])
        rejected = np.mean([not judge(f, parse(c)).ok for f, c in zip(found, negatives)])
        print(f"{label:22s} true captions accepted {positives:.2%}, contradicting captions rejected "
              f"{rejected:.2%}, overall {(positives + rejected) / 2:.2%}")
        objects = [d for f in found for d in f]
        print(f"{'':22s} scenes refused {np.mean([f.scene.problem is not None for f in found]):.2%}; "
              f"dark share >= {min(f.scene.dark for f in found):.3f} (bound {MIN_DARK}), "
              f"clutter <= {max(f.scene.clutter for f in found):.4f} ({MAX_CLUTTER}), "
              f"components refused {sum(f.scene.rejected for f in found)}; objects: area >= "
              f"{min(d.area for d in objects)} ({MIN_OBJECT_AREA}), fit >= {min(d.fit for d in objects):.3f} "
              f"({MIN_FIT}), hue error <= {max(d.hue_error for d in objects):.3f} ({MAX_HUE_ERROR})")
    print(f"junk, {args.junk} images per kind, each judged against a random caption of every category:")
    for kind in JUNK:
        report = junk_report(kind, args.junk, generator)
        worst = max(report["accepted_by_category"].items(), key=lambda item: item[1])
        print(f"  {kind:11s} refused as no scene {report['refused']:7.2%}, accepted {report['accepted']:6.2%} "
              f"(most: {worst[0]} {worst[1]:.2%}), partial mean {report['partial_mean']:.3f} max {report['partial_max']:.3f}")
