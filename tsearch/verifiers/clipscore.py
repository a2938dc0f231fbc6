"""`clipscore`: CLIPScore with any open_clip model (default ViT-L/14, OpenAI weights).

CLIPScore (Hessel et al. 2021, eq. 1) is w * max(cos(E_image, E_text), 0) with w = 2.5; Ma et al.
2025 (sec. 5) use it as one of their text-to-image verifiers (their table: about 0.71 to 0.77 on
DrawBench with FLUX.1-dev). The prompt's embedding is computed once per prompt and cached.
"""

from __future__ import annotations

import torch

from tsearch.verifiers import openclip
from tsearch.verifiers.preprocess import resize_crop_normalize

DEFAULT_NAME, DEFAULT_PRETRAINED = "ViT-L-14", "openai"
DEFAULT_REPO = "timm/vit_large_patch14_clip_224.openai"   # where open_clip fetches that tag


class ClipScore:
    name = "clipscore"

    def __init__(self, clip: openclip.OpenClip, weight: float = 2.5, batch_size: int = 32):
        self.clip, self.weight, self.batch_size = clip, weight, batch_size
        self._text: dict[str, torch.Tensor] = {}

    def text_embedding(self, condition) -> torch.Tensor:
        if not isinstance(condition, str) or not condition.strip():
            raise ValueError(f"{self.name} scores images against a prompt string, got {condition!r}")
        if condition not in self._text:
            self._text[condition] = self.clip.embed_texts([condition])[0]
        return self._text[condition]

    def cosine(self, images: torch.Tensor, condition) -> torch.Tensor:
        """cos(E_image, E_text) per image, [b] on the CPU."""
        text = self.text_embedding(condition)
        cosines = []
        for chunk in images.split(self.batch_size):
            pixels = resize_crop_normalize(chunk, self.clip.size, self.clip.mean, self.clip.std, self.clip.device)
            cosines.append(self.clip.embed_images(pixels) @ text)
        return torch.cat(cosines).cpu()

    def score(self, images: torch.Tensor, condition) -> torch.Tensor:
        return self.weight * self.cosine(images, condition).clamp(min=0)


def build(model=None, device: str = "cpu", name: str = DEFAULT_NAME, pretrained: str | None = DEFAULT_PRETRAINED,
          batch_size: int = 32) -> ClipScore:
    """`name`: an open_clip architecture, "hf-hub:org/repo" or "local-dir:/path"; `model` is unused."""
    return ClipScore(openclip.load(name, pretrained, device, "clipscore"), batch_size=batch_size)


build.available = lambda: openclip.status(DEFAULT_NAME, DEFAULT_PRETRAINED, DEFAULT_REPO)
