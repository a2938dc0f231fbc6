"""`imagenet-classifier`: the logit of the target class from an ImageNet classifier (transformers).

For class-conditional models (DiT on ImageNet) Ma et al. 2025 (sec. 4) score samples with a
classifier's logit of the conditioning class (their DINOv2 linear head and CLIP zero-shot
verifiers). Any transformers image-classification checkpoint works (default: ViT-B/16 on
ImageNet-1k); the class index is the model's label index, ImageNet's 0-999 for the default.
"""

from __future__ import annotations

import torch

from tsearch.verifiers import weights
from tsearch.verifiers.preprocess import hf_image_settings, resize_crop_normalize

DEFAULT = "google/vit-base-patch16-224"


class ImagenetClassifier:
    name = "imagenet-classifier"

    def __init__(self, classifier, image_processor, device: str = "cpu", batch_size: int = 32):
        self.device = torch.device(device)
        self.classifier, self.batch_size = classifier.to(self.device).eval(), batch_size
        self.size, self.mean, self.std = hf_image_settings(image_processor)
        self.num_labels = classifier.config.num_labels

    @torch.no_grad()
    def score(self, images: torch.Tensor, condition) -> torch.Tensor:
        if isinstance(condition, bool) or not isinstance(condition, int) or not 0 <= condition < self.num_labels:
            raise ValueError(f"imagenet-classifier needs a class index in 0..{self.num_labels - 1}, got {condition!r}")
        logits = []
        for chunk in images.split(self.batch_size):
            pixels = resize_crop_normalize(chunk, self.size, self.mean, self.std, self.device, self.classifier.dtype)
            logits.append(self.classifier(pixel_values=pixels).logits[:, condition].float())
        return torch.cat(logits).cpu()


def build(model=None, device: str = "cpu", path: str = DEFAULT, batch_size: int = 32) -> ImagenetClassifier:
    """`path`: a hub id or a local folder of a transformers image classifier; `model` is unused."""
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    try:
        classifier = AutoModelForImageClassification.from_pretrained(path)
        processor = AutoImageProcessor.from_pretrained(path)
    except OSError as error:
        raise weights.unavailable("imagenet-classifier", path, error) from error
    return ImagenetClassifier(classifier, processor, device, batch_size)


build.available = lambda: weights.status((DEFAULT, "config.json"))
