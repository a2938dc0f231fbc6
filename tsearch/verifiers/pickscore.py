"""`pickscore`: PickScore (Kirstain et al. 2023), a CLIP ViT-H/14 fine-tuned on Pick-a-Pic preferences.

The score is the CLIP logit, logit_scale.exp() * cos(E_image, E_text), of the prompt and the image
(about 20-23 for typical generations). Loaded with transformers' CLIPModel; the processor (tokenizer
and image settings) is LAION's CLIP-ViT-H-14, as in the model card.
"""

from __future__ import annotations

import torch

from tsearch.verifiers import weights
from tsearch.verifiers.preprocess import hf_image_settings, resize_crop_normalize

MODEL, PROCESSOR = "yuvalkirstain/PickScore_v1", "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"


def features(output) -> torch.Tensor:
    """transformers 5 returns a model output whose pooler_output is the projected embedding; 4.x a tensor."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output


class PickScore:
    name = "pickscore"

    def __init__(self, model, processor, device: str = "cpu", batch_size: int = 32):
        self.device = torch.device(device)
        self.model, self.tokenizer, self.batch_size = model.to(self.device).eval(), processor.tokenizer, batch_size
        self.size, self.mean, self.std = hf_image_settings(processor.image_processor)
        self._text: dict[str, torch.Tensor] = {}

    @torch.no_grad()
    def text_embedding(self, condition) -> torch.Tensor:
        if not isinstance(condition, str) or not condition.strip():
            raise ValueError(f"pickscore scores images against a prompt string, got {condition!r}")
        if condition not in self._text:
            tokens = self.tokenizer([condition], padding=True, truncation=True, max_length=77, return_tensors="pt")
            embedding = features(self.model.get_text_features(**tokens.to(self.device)))
            self._text[condition] = torch.nn.functional.normalize(embedding.float(), dim=-1)[0]
        return self._text[condition]

    @torch.no_grad()
    def score(self, images: torch.Tensor, condition) -> torch.Tensor:
        text, scale = self.text_embedding(condition), self.model.logit_scale.exp().float()
        scores = []
        for chunk in images.split(self.batch_size):
            pixels = resize_crop_normalize(chunk, self.size, self.mean, self.std, self.device, self.model.dtype)
            image = torch.nn.functional.normalize(features(self.model.get_image_features(pixel_values=pixels)).float(), dim=-1)
            scores.append(scale * image @ text)
        return torch.cat(scores).cpu()


def build(model=None, device: str = "cpu", path: str = MODEL, processor: str = PROCESSOR,
          batch_size: int = 32) -> PickScore:
    """`path`, `processor`: hub ids or local folders (CLIPModel and CLIPProcessor); `model` is unused."""
    from transformers import CLIPModel, CLIPProcessor

    try:
        clip = CLIPModel.from_pretrained(path)
    except OSError as error:
        raise weights.unavailable("pickscore", path, error) from error
    try:
        clip_processor = CLIPProcessor.from_pretrained(processor)
    except OSError as error:
        raise weights.unavailable("pickscore", processor, error) from error
    return PickScore(clip, clip_processor, device, batch_size)


build.available = lambda: weights.status((MODEL, "config.json"), (PROCESSOR, "preprocessor_config.json"))
