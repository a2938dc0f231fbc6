"""The verifier's evidence on the page (issue 27, item 4): why one image beat another.

For verifiers that judge a prompt atom by atom (they offer `.atoms`, e.g. `shapes-parts`,
`geneval-owlv2`), each gallery candidate gets a line of marks under its thumbnail, one per atom in
the prompt's order (✓ pass, ✗ fail, ? undecidable), and the best image is shown with the detected
boxes drawn over it. Other verifiers add nothing. Each image is judged once (cached by its file).
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import numpy as np

from tsearch.engine import exiting

LOG = logging.getLogger(__name__)
MARKS = {"pass": "✓", "fail": "✗", "undecidable": "?"}
BOX_SIDE = 256   # the boxed best image is drawn at about this many pixels (nearest-neighbour upscaling)


def _atom_judge(run) -> str | None:
    """The first verifier of the run (then held-out evaluator) that judges atoms, if any."""
    return next((name for name in (*run.verifiers, *run.evaluators) if name in ATOM_JUDGES), None)


ATOM_JUDGES = ("shapes-parts", "geneval-owlv2")   # registered verifiers whose objects offer .atoms


@lru_cache(maxsize=4096)
def explain(model: str, name: str, image_path: str, condition: str) -> dict | None:
    """The verifier's atoms and boxes for one image file (None when it cannot judge it)."""
    import torch
    from PIL import Image

    from tsearch.app.pool import POOL

    try:
        verifier = POOL.get(model).load_verifier(name)
        pixels = np.asarray(Image.open(image_path).convert("RGB"), dtype=np.float32) / 255
        with exiting.busy():   # an interpreter exit waits for it (tsearch.engine.exiting)
            return verifier.atoms(torch.from_numpy(pixels).permute(2, 0, 1)[None], condition)[0]
    except Exception as error:   # evidence is an extra: the page goes on without it, and the log says why
        LOG.warning("no atoms from %s for %s: %s", name, image_path, error)
        return None


def _explained(run, image_path: str | None) -> dict | None:
    name = _atom_judge(run)
    if name is None or not image_path or not isinstance(run.condition, str):
        return None
    return explain(run.model, name, image_path, run.condition)


def marks(run, candidate) -> str:
    """'\\n✓ ✓ ✗' for a candidate's atoms (pass, pass, fail), or '' when no verifier judges atoms."""
    found = _explained(run, candidate.image_path)
    return "\n" + " ".join(MARKS[a["verdict"]] for a in found["atoms"]) if found else ""


def boxed(run, image_path: str | None) -> str | None:
    """The best image with the detected boxes drawn over it (a PNG beside it), else `image_path` itself."""
    found = _explained(run, image_path)
    if not found or not found["boxes"]:
        return image_path
    from PIL import Image, ImageDraw

    image = Image.open(image_path).convert("RGB")
    scale = max(1, BOX_SIDE // max(image.size))
    image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    draw = ImageDraw.Draw(image)
    unit = max(image.size) / found["frame"]
    for box in found["boxes"]:
        x0, y0, x1, y1 = (v * unit for v in box["box"])
        draw.rectangle((x0, y0, x1 - 1, y1 - 1), outline=(255, 255, 255), width=max(1, scale // 4))
        # above the box, else under it where the image's top edge (and the page's "Best so far" tag) would hide it
        top = y0 - 11 if y0 >= 11 else (y1 + 1 if y1 + 11 <= image.height else y0 + 1)
        draw.text((x0 + 2, top), f"{box['color'] or ''} {box['label']} {box['confidence']:.2f}".strip(),
                  fill=(255, 255, 255))
    out = Path(image_path).with_name(f"{Path(image_path).stem}_boxes.png")
    image.save(out)
    return str(out)
