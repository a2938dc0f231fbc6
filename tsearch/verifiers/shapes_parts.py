"""`shapes-parts`: a compositional verifier for the shapes world, built the way GenEval is.

GenEval (Ghosh et al. 2023) detects objects, then checks each part of the prompt against them.
Here the detector is a tiny segmenter trained on rendered scenes (tsearch/worlds/shapes/train_parts.py):
per pixel, background or one (colour, shape). Connected components of its prediction are the
objects (colour, shape, confidence, box); the caption, parsed by the grammar, becomes atoms (each
object, its colour, the count, the relation) judged and combined by tsearch/verifiers/atoms.py.
It never calls the oracle nor reads the renderer's labels: it sees only the image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from tsearch.registry import Unavailable
from tsearch.verifiers import atoms as atomics
from tsearch.verifiers.atoms import Ask, Found, Want
from tsearch.worlds.shapes.grammar import COLORS, SHAPES, Spec, parse

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "assets" / "shapes" / "parts"
TRAIN_COMMAND = "python -m tsearch.worlds.shapes.train_parts --threads 1 --minutes 28 --out assets/shapes/parts"
SIZE = 32            # the segmenter's resolution (the world's)
FOREGROUND = 0.5     # a pixel is an object's when the background has less than this probability
MIN_AREA = 6         # components smaller than this many pixels are specks
MAX_OBJECTS = 6      # like the oracle and GenEval: a couple of objects beyond the grammar's 4 are allowed


def ask_of(spec: Spec) -> Ask:
    """The atoms' view of a parsed caption: counting is exact, the rest is presence (GenEval)."""
    if spec.category == "counting":
        obj = spec.objects[0]
        return Ask((Want(obj.shape, obj.count, exact=True),))
    wants = tuple(Want(o.shape, 1, o.color) for o in spec.objects)
    return Ask(wants, (0, spec.relation, 1) if spec.relation else None)


def objects_of(probs: np.ndarray) -> list[Found]:
    """Objects from one image's class probabilities [1 + colours * shapes, H, W]: connected
    components of the foreground, one colour at a time (so touching objects of two colours split)."""
    background = probs[0]
    grid = probs[1:].reshape(len(COLORS), len(SHAPES), *background.shape)
    colour_mass, shape_mass = grid.sum(1), grid.sum(0)
    foreground = background < FOREGROUND
    colour_of = colour_mass.argmax(0)
    found = []
    for c in range(len(COLORS)):
        labels, _ = ndimage.label(foreground & (colour_of == c))
        for k, region in enumerate(ndimage.find_objects(labels), start=1):
            mask = labels[region] == k
            if mask.sum() < MIN_AREA:
                continue
            mass = 1.0 - background[region][mask]
            shapes = shape_mass[:, region[0], region[1]][:, mask].sum(1) / mass.sum()
            colours = colour_mass[:, region[0], region[1]][:, mask].sum(1) / mass.sum()
            found.append(Found(float(mass.mean()), {s: float(v) for s, v in zip(SHAPES, shapes)},
                               {n: float(v) for n, v in zip(COLORS, colours)},
                               (region[1].start, region[0].start, region[1].stop, region[0].stop)))
    return found


class ShapesParts:
    name = "shapes-parts"

    def __init__(self, net, device: str = "cpu"):
        self.net = net.to(device).eval()
        self.device = device
        self._asks: dict[str, Ask] = {}

    def _ask(self, condition) -> Ask:
        if not isinstance(condition, str):
            raise ValueError(f"shapes-parts judges captions of the shapes grammar (e.g. 'a red circle'), got {condition!r}")
        if condition not in self._asks:
            self._asks[condition] = ask_of(parse(condition))
        return self._asks[condition]

    def check(self, condition) -> None:
        """ValueError before a search starts when the caption is not of the shapes grammar."""
        self._ask(condition)

    @torch.inference_mode()
    def detect(self, images: torch.Tensor) -> list[list[Found]]:
        """The objects in each image [b, 3, H, W] in [0, 1]."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"shapes-parts takes images [b, 3, H, W] in [0, 1], got shape {tuple(images.shape)}")
        x = images.detach().to(self.device, torch.float32).clamp(0, 1)
        if x.shape[-2:] != (SIZE, SIZE):
            x = F.adaptive_avg_pool2d(x, SIZE) if min(x.shape[-2:]) >= SIZE else F.interpolate(x, (SIZE, SIZE), mode="bilinear")
        probs = self.net(x).softmax(1).cpu().numpy()
        return [objects_of(p) for p in probs]

    def judge(self, found: list[Found], ask: Ask) -> list[atomics.Atom]:
        out = atomics.judge(ask, found)
        sure = sum(f.presence >= 0.5 for f in found)
        if sure > MAX_OBJECTS:   # no scene: GenEval's detector finds nothing in noise
            out.append(atomics.Atom("a scene", "scene", 0.0, f"{sure} objects (a scene has at most {MAX_OBJECTS})"))
        return out

    def score(self, images: torch.Tensor, condition) -> torch.Tensor:
        ask = self._ask(condition)
        return torch.tensor([atomics.combine(self.judge(f, ask)) for f in self.detect(images)], dtype=torch.float32)

    def atoms(self, images: torch.Tensor, condition) -> list[dict]:
        """Per image: its atoms (text, kind, verdict, confidence, detail), its detected boxes
        (label, colour, confidence, box in the 32x32 frame) and its score, for the page to draw."""
        ask = self._ask(condition)
        out = []
        for found in self.detect(images):
            judged = self.judge(found, ask)
            out.append({"atoms": [a.to_json() for a in judged], "boxes": [f.to_json() for f in found],
                        "frame": SIZE, "score": atomics.combine(judged)})
        return out


def _missing(path: Path) -> list[str]:
    from tsearch.worlds.shapes import parts_model

    return parts_model.missing_files(path)


def build(model=None, device: str = "cpu", path: str | Path | None = None) -> ShapesParts:
    """The verifier from a folder written by train_parts (default assets/shapes/parts); `model` is unused."""
    path = Path(path) if path is not None else DEFAULT_PATH
    missing = _missing(path)
    if missing:
        raise Unavailable(f"shapes-parts weights missing in {path} ({', '.join(missing)}); train them with: {TRAIN_COMMAND}")
    from tsearch.worlds.shapes import parts_model

    return ShapesParts(parts_model.load(path, device=device), device)


def available() -> tuple[bool, str]:
    missing = _missing(DEFAULT_PATH)
    return (False, f"weights missing in {DEFAULT_PATH}; train them with: {TRAIN_COMMAND}") if missing else (True, "ok")


build.available = available
