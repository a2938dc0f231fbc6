"""Render shapes-world scenes: 32x32 RGB, black background, flat-coloured non-overlapping shapes.

DESIGN.md, "The bundled worlds". Each shape is a precomputed boolean mask per size, so rendering
is a few array assignments (fast enough to sample thousands of training pairs a second).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tsearch.worlds.shapes.grammar import COLORS, SHAPES

IMAGE_SIZE = 32
SIZES = (7, 8, 9, 10, 11)   # bounding-box side in pixels; 7 keeps shapes distinguishable
GAP = 3                     # min background pixels between bounding boxes, so a blurred or noisy
                            # render still separates into one connected component per object
BORDER = 1                  # min background pixels between a bounding box and the image edge

RGB = {
    "red": (255, 0, 0),
    "green": (0, 255, 0),
    "blue": (0, 0, 255),
    "yellow": (255, 255, 0),
}
assert tuple(RGB) == COLORS


@dataclass(frozen=True)
class Obj:
    shape: str   # one of SHAPES
    color: str   # one of COLORS
    x: int       # left column of the bounding box
    y: int       # top row of the bounding box
    size: int    # side of the square bounding box, one of SIZES

    @property
    def box(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) of the bounding box, x1 and y1 exclusive."""
        return self.x, self.y, self.x + self.size, self.y + self.size


@dataclass(frozen=True)
class Scene:
    objects: tuple[Obj, ...]


def shape_mask(shape: str, size: int) -> np.ndarray:
    """Boolean [size, size] mask of a shape filling its bounding box (triangles point up)."""
    c = (np.arange(size) + 0.5) / size            # pixel centres in [0, 1]
    v, u = np.meshgrid(c, c, indexing="ij")        # v down the rows, u along the columns
    if shape == "square":
        return np.ones((size, size), dtype=bool)
    if shape == "circle":
        return (u - 0.5) ** 2 + (v - 0.5) ** 2 <= 0.25
    if shape == "triangle":
        # apex at the top centre, base along the bottom row; the 0.5/size lets the apex pixel in
        return np.abs(u - 0.5) <= v / 2 + 0.5 / size
    raise ValueError(f"unknown shape {shape!r}; choose one of: {', '.join(SHAPES)}")


MASKS = {(shape, size): shape_mask(shape, size) for shape in SHAPES for size in SIZES}


def overlaps(a: Obj, b: Obj, gap: int = GAP) -> bool:
    """True if the bounding boxes come closer than `gap` background pixels."""
    return not (a.x + a.size + gap <= b.x or b.x + b.size + gap <= a.x
                or a.y + a.size + gap <= b.y or b.y + b.size + gap <= a.y)


def relative_direction(box_a: tuple[float, float, float, float], box_b: tuple[float, float, float, float]) -> tuple[float, float]:
    """GenEval's relative position of box A to box B (x0, y0, x1, y1): a unit-ish (dx, dy).

    As in GenEval's evaluate_images.py: the centre offset, shrunk per axis by 0.1 of the summed
    box sides, divided by the offset's length. "left of" is dx < -0.5, "right of" dx > 0.5,
    "above" dy < -0.5, "below" dy > 0.5 (rows grow downwards). (0, 0) when boxes share a centre.
    """
    ax, ay = (box_a[0] + box_a[2]) / 2, (box_a[1] + box_a[3]) / 2
    bx, by = (box_b[0] + box_b[2]) / 2, (box_b[1] + box_b[3]) / 2
    ox, oy = ax - bx, ay - by
    norm = (ox * ox + oy * oy) ** 0.5
    if norm < 1e-6:
        return 0.0, 0.0
    shrink_x = 0.1 * ((box_a[2] - box_a[0]) + (box_b[2] - box_b[0]))
    shrink_y = 0.1 * ((box_a[3] - box_a[1]) + (box_b[3] - box_b[1]))
    dx = max(abs(ox) - shrink_x, 0.0) * (1 if ox > 0 else -1) / norm
    dy = max(abs(oy) - shrink_y, 0.0) * (1 if oy > 0 else -1) / norm
    return dx, dy


# relation -> (axis of (dx, dy), sign): "left" means dx < -0.5
RELATION_AXIS = {"left": (0, -1), "right": (0, 1), "above": (1, -1), "below": (1, 1)}


def render(scene: Scene, out: np.ndarray | None = None) -> np.ndarray:
    """uint8 [32, 32, 3] image of the scene (written into `out` if given, which must be black)."""
    image = np.zeros((IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8) if out is None else out
    for obj in scene.objects:
        if obj.x < 0 or obj.y < 0 or obj.x + obj.size > IMAGE_SIZE or obj.y + obj.size > IMAGE_SIZE:
            raise ValueError(f"{obj} does not fit in a {IMAGE_SIZE}x{IMAGE_SIZE} image")
        mask = MASKS.get((obj.shape, obj.size))
        if mask is None:
            mask = shape_mask(obj.shape, obj.size)
        if obj.color not in RGB:
            raise ValueError(f"unknown colour {obj.color!r}; choose one of: {', '.join(COLORS)}")
        image[obj.y:obj.y + obj.size, obj.x:obj.x + obj.size][mask] = RGB[obj.color]
    return image


if __name__ == "__main__":
    for (shape, size), mask in MASKS.items():
        if size in (7, 11):
            print(shape, size, f"fill {mask.mean():.2f}")
            print("\n".join("".join("#" if m else "." for m in row) for row in mask))
