"""`shapes-quality`: a head on the shapes CLIP's image embedding, blind to the prompt (aesthetic analogue).

The paper's "Aesthetic" verifier (Ma et al. 2025, sec. 5) is the LAION aesthetic predictor, an MLP
on a frozen CLIP image embedding that never reads the prompt. This one was trained to tell clean
renders from degraded ones (tsearch/worlds/shapes/train_quality.py); the score is the logit of
"clean". Weights live in assets/shapes/quality/, beside the CLIP in assets/shapes/clip/.
"""

from __future__ import annotations

from pathlib import Path

import torch

from tsearch.registry import Unavailable

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "assets" / "shapes" / "quality"
TRAIN_COMMAND = ("python -m tsearch.worlds.shapes.train_quality --clip assets/shapes/clip --device cuda "
                 "--minutes 1.5 --out assets/shapes/quality (after train_clip)")


class ShapesQuality:
    name = "shapes-quality"

    def __init__(self, head, clip, device: str = "cpu"):
        self.head, self.clip, self.device = head.to(device), clip.to(device), device

    @torch.inference_mode()
    def score(self, images: torch.Tensor, condition=None) -> torch.Tensor:
        """Logit of "clean" per image; the condition is ignored (the aesthetic predictor is prompt-blind)."""
        image_emb = self.clip.encode_images(images.to(self.device, torch.float32).clamp(0, 1))
        return self.head(image_emb).float().cpu()


def _missing(path: Path, clip_path: Path | None) -> list[str]:
    """The folders that lack files, e.g. ['assets/shapes/quality (head.safetensors, quality.json)']."""
    from tsearch.worlds.shapes import clip_model, quality_head

    clip_path = clip_path if clip_path is not None else quality_head.default_clip_folder(path)
    lacking = [(path, quality_head.missing_files(path)), (clip_path, clip_model.missing_files(clip_path))]
    return [f"{folder} ({', '.join(names)})" for folder, names in lacking if names]


def build(model=None, device: str = "cpu", path: str | Path | None = None,
          clip_path: str | Path | None = None) -> ShapesQuality:
    """The verifier from a folder written by train_quality (default assets/shapes/quality) and its CLIP
    (default: the `clip` folder beside it); `model` is unused."""
    path = Path(path) if path is not None else DEFAULT_PATH
    clip_path = Path(clip_path) if clip_path is not None else None
    missing = _missing(path, clip_path)
    if missing:
        raise Unavailable(f"shapes-quality weights missing in {' and '.join(missing)}; train them with: {TRAIN_COMMAND}")
    from tsearch.worlds.shapes import quality_head

    try:
        head, clip = quality_head.load(path, clip_path, device=device)
    except ValueError as error:   # trained on another CLIP
        raise Unavailable(str(error)) from error
    return ShapesQuality(head, clip, device)


def available() -> tuple[bool, str]:
    missing = _missing(DEFAULT_PATH, None)
    return (False, f"weights missing in {' and '.join(missing)}; train them with: {TRAIN_COMMAND}") if missing else (True, "ok")


build.available = available
