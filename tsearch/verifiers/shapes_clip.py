"""`shapes-clip`: the shapes world's tiny CLIP, scored like CLIPScore (the paper's CLIP verifier in miniature).

CLIPScore (Hessel et al. 2021, eq. 1) is `w * max(cos(E_image, E_text), 0)` with w = 2.5; Ma et al.
2025 (sec. 5) use it as one of their text-to-image verifiers. The model is trained here with hard
negative captions (tsearch/worlds/shapes/train_clip.py); weights live in assets/shapes/clip/.
"""

from __future__ import annotations

from pathlib import Path

import torch

from tsearch.registry import Unavailable

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "assets" / "shapes" / "clip"
TRAIN_COMMAND = "python -m tsearch.worlds.shapes.train_clip --device cuda --minutes 8 --out assets/shapes/clip"


class ShapesClipScore:
    name = "shapes-clip"

    def __init__(self, clip, device: str = "cpu"):
        self.clip = clip.to(device)
        self.device = device
        self._text: dict[str, torch.Tensor] = {}   # a search scores one prompt many times

    def check(self, condition) -> None:
        """ValueError before a search starts when this verifier cannot score its condition."""
        self._text_embedding(condition)

    def _text_embedding(self, condition) -> torch.Tensor:
        if not isinstance(condition, str):
            raise ValueError(f"shapes-clip scores images against a caption, got {condition!r}; e.g. 'a red circle'")
        if condition not in self._text:
            self._text[condition] = self._encode(condition)
        return self._text[condition]

    def _encode(self, condition: str) -> torch.Tensor:
        from tsearch.worlds.shapes import grammar

        try:   # the caption as the shapes model reads it ("A red circle." -> "a red circle")
            condition = grammar.normalize(condition)
        except ValueError:
            pass   # not of the grammar: the tokenizer below names the words it does not know
        unknown = self.clip.tokenizer.unknown_words([condition])
        if unknown:
            raise ValueError(f"shapes-clip does not know the word(s) {', '.join(unknown)}; it knows the shapes "
                             "world's captions, e.g. 'a red circle and a blue square'")
        return self.clip.encode_texts([condition])[0]

    @torch.inference_mode()
    def score(self, images: torch.Tensor, condition) -> torch.Tensor:
        text = self._text_embedding(condition)
        image_emb = self.clip.encode_images(images.to(self.device, torch.float32).clamp(0, 1))
        return self.clip.clip_score(image_emb, text[None])[:, 0].float().cpu()


def _missing(path: Path) -> list[str]:
    from tsearch.worlds.shapes import clip_model

    return clip_model.missing_files(path)


def build(model=None, device: str = "cpu", path: str | Path | None = None) -> ShapesClipScore:
    """The verifier from a folder written by train_clip (default assets/shapes/clip); `model` is unused."""
    path = Path(path) if path is not None else DEFAULT_PATH
    missing = _missing(path)
    if missing:
        raise Unavailable(f"shapes-clip weights missing in {path} ({', '.join(missing)}); train them with: {TRAIN_COMMAND}")
    from tsearch.worlds.shapes import clip_model

    return ShapesClipScore(clip_model.load(path, device=device), device)


def available() -> tuple[bool, str]:
    missing = _missing(DEFAULT_PATH)
    return (False, f"weights missing in {DEFAULT_PATH}; train them with: {TRAIN_COMMAND}") if missing else (True, "ok")


build.available = available
