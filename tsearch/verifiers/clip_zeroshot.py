"""`clip-zeroshot`: a CLIP zero-shot classifier's logit for the target class (Ma et al. 2025, sec. 4).

The class's text embedding is the normalised mean over prompt templates ("a photo of a {}.", ...)
of the class name's embeddings (Radford et al. 2021, sec. 3.1.4); the score is the logit
100 * cos(E_image, w_class). Class names are open_clip's curated ImageNet names by default, or the
searched model's own class names (`classes="model"`).
"""

from __future__ import annotations

import torch

from tsearch.verifiers import openclip
from tsearch.verifiers.clipscore import DEFAULT_NAME, DEFAULT_PRETRAINED, DEFAULT_REPO
from tsearch.verifiers.preprocess import resize_crop_normalize


class ClipZeroShot:
    name = "clip-zeroshot"

    def __init__(self, clip: openclip.OpenClip, class_names: list[str], templates, batch_size: int = 32):
        if not class_names:
            raise ValueError("clip-zeroshot needs class names")
        self.clip, self.class_names, self.templates, self.batch_size = clip, class_names, templates, batch_size
        self._weights: dict[int, torch.Tensor] = {}

    def class_weight(self, index) -> torch.Tensor:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(self.class_names):
            raise ValueError(f"clip-zeroshot needs a class index in 0..{len(self.class_names) - 1}, got {index!r}")
        if index not in self._weights:  # only the searched class is ever needed: encode it once
            texts = [template(self.class_names[index]) for template in self.templates]
            self._weights[index] = torch.nn.functional.normalize(self.clip.embed_texts(texts).mean(0), dim=0)
        return self._weights[index]

    def score(self, images: torch.Tensor, condition) -> torch.Tensor:
        weight = self.class_weight(condition)
        logits = []
        for chunk in images.split(self.batch_size):
            pixels = resize_crop_normalize(chunk, self.clip.size, self.clip.mean, self.clip.std, self.clip.device)
            logits.append(100.0 * self.clip.embed_images(pixels) @ weight)
        return torch.cat(logits).cpu()


def build(model=None, device: str = "cpu", name: str = DEFAULT_NAME, pretrained: str | None = DEFAULT_PRETRAINED,
          classes: str = "imagenet", batch_size: int = 32) -> ClipZeroShot:
    """classes: "imagenet" (open_clip's curated names) or "model" (the searched model's `classes`)."""
    from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES, SIMPLE_IMAGENET_TEMPLATES

    if classes == "imagenet":
        names = list(IMAGENET_CLASSNAMES)
    elif classes == "model":
        names = list(getattr(model, "classes", None) or [])
        if not names:
            raise ValueError("clip-zeroshot with classes='model' needs a class-conditional model with class names")
    else:
        raise ValueError(f"classes must be 'imagenet' or 'model', got {classes!r}")
    return ClipZeroShot(openclip.load(name, pretrained, device, "clip-zeroshot"), names, SIMPLE_IMAGENET_TEMPLATES,
                        batch_size)


build.available = lambda: openclip.status(DEFAULT_NAME, DEFAULT_PRETRAINED, DEFAULT_REPO)
