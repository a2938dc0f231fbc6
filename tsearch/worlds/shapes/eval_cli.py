"""Judge image files against a shapes-world caption: one JSON-able verdict per image.

Backs `python -m tsearch eval --world shapes --prompt TEXT IMAGE...` (issue 3, item 2); also
runnable as `python -m tsearch.worlds.shapes.eval_cli --prompt TEXT IMAGE...`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from tsearch.worlds.shapes.grammar import parse
from tsearch.worlds.shapes.oracle import detect, judge
from tsearch.worlds.shapes.render import IMAGE_SIZE


def load_image(path: str | Path) -> np.ndarray:
    """uint8 [32, 32, 3]; larger or smaller files are area-resized to the world's 32x32."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no image file at {str(path)!r}")
    with Image.open(path) as image:
        image = image.convert("RGB")
        if image.size != (IMAGE_SIZE, IMAGE_SIZE):
            image = image.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BOX)
        return np.asarray(image, dtype=np.uint8)


def run(prompt: str, paths: list[str]) -> list[dict]:
    """Verdicts {path, ok, failed, partial, category, found} for each image, in order.

    The prompt is parsed first, so a caption outside the grammar fails (ValueError) before any
    file is read.
    """
    spec = parse(prompt)
    results = []
    for path in paths:
        verdict = judge(detect(load_image(path)), spec)
        results.append({
            "path": str(path),
            "ok": verdict.ok,
            "failed": verdict.failed,
            "partial": round(verdict.partial, 4),
            "category": verdict.category,
            "found": list(verdict.found),
        })
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompt", required=True, help="a caption of the shapes grammar, e.g. 'a red circle'")
    parser.add_argument("images", nargs="+", help="image files (PNG, JPEG, ...)")
    args = parser.parse_args(argv)
    try:
        results = run(args.prompt, args.images)
    except ValueError as error:
        parser.error(str(error))
    for result in results:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
