"""Charts the benchmarks write for their pages (docs/benchmarks/): a PNG of a value against NFEs per method, drawn with PIL."""

from __future__ import annotations

import math
from pathlib import Path

COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127)]


def draw_png(overall: dict, budgets: list[int], title: str, path: Path, size=(900, 560),
             y_label: str = "oracle accuracy (%)", y_max: float = 100.0) -> None:
    """A plain line chart: a value in [0, y_max] against budget on a log axis, one coloured line per method.

    Drawn with PIL, so the benchmarks' PNGs need no browser or kaleido."""
    from PIL import Image, ImageDraw

    w, h = size
    left, right, top, bottom = 70, 170, 50, 60
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    lo, hi = math.log(min(budgets)), math.log(max(budgets))
    span = hi - lo or 1.0

    def x_of(b):
        return left + (math.log(b) - lo) / span * (w - left - right) if hi > lo else (left + w - right) / 2

    def y_of(v):
        return top + (1.0 - v / y_max) * (h - top - bottom)

    draw.text((left, 15), title, fill="black")
    for tick in range(6):
        v = y_max * tick / 5
        draw.line([(left, y_of(v)), (w - right, y_of(v))], fill=(225, 225, 225))
        draw.text((left - 30, y_of(v) - 6), f"{v:g}", fill="black")
    for b in budgets:
        draw.line([(x_of(b), h - bottom), (x_of(b), h - bottom + 5)], fill="black")
        draw.text((x_of(b) - 12, h - bottom + 8), str(b), fill="black")
    draw.rectangle([left, top, w - right, h - bottom], outline="black")
    draw.text(((left + w - right) / 2 - 40, h - 25), "budget (NFEs)", fill="black")
    draw.text((5, top - 20), y_label, fill="black")
    for n, (method, by) in enumerate(overall.items()):
        colour = COLOURS[n % len(COLOURS)]
        shift = 4 * (n - (len(overall) - 1) / 2)   # a few pixels apart, so equal values stay visible
        points = [(x_of(b) + shift, y_of(by[b])) for b in budgets if by[b] is not None]
        if len(points) > 1:
            draw.line(points, fill=colour, width=2)
        for x, y in points:
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
        draw.line([(w - right + 15, top + 10 + 18 * n), (w - right + 35, top + 10 + 18 * n)], fill=colour, width=3)
        draw.text((w - right + 40, top + 4 + 18 * n), method, fill="black")
    image.save(path)
