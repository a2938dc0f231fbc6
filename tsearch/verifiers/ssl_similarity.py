"""`ssl-similarity`: the paper's label-free verifier (Ma et al. 2025, sec. 4, "self-supervised").

A sample is scored by the cosine similarity between self-supervised features (DINOv2's [CLS]
embedding) of the final image and of the clean estimate x0_hat predicted at an intermediate noise
level (sigma = 0.4 on SiT, normalised time 0.4 here): trajectories whose early guess already
looks like the result score high. It needs no labels and no prompt.

The score of a batch needs both images, so `score` takes the decoded clean estimates of the same
candidates, in the same order, as `reference`. An engine provides them by integrating each
candidate from t = 1 to `reference_t`, decoding predict_x0 there (the solver's own evaluation at
that node, no extra NFE when t = 0.4 is a node of the schedule), and continuing to t = 0.
"""

from __future__ import annotations

import torch

from tsearch.verifiers import weights
from tsearch.verifiers.preprocess import hf_image_settings, resize_crop_normalize

DEFAULT = "facebook/dinov2-base"


class SSLSimilarity:
    name = "ssl-similarity"
    reference_t = 0.4   # normalised time of the clean estimate each sample is compared with

    def __init__(self, encoder, image_processor, device: str = "cpu", batch_size: int = 32):
        self.device = torch.device(device)
        self.encoder, self.batch_size = encoder.to(self.device).eval(), batch_size
        self.size, self.mean, self.std = hf_image_settings(image_processor)

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Normalised [CLS] features [b, D] (float32, on the verifier's device)."""
        out = []
        for chunk in images.split(self.batch_size):
            pixels = resize_crop_normalize(chunk, self.size, self.mean, self.std, self.device, self.encoder.dtype)
            out.append(self.encoder(pixel_values=pixels).last_hidden_state[:, 0].float())
        return torch.nn.functional.normalize(torch.cat(out), dim=-1)

    def similarity(self, images: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        """cos(f(images[i]), f(reference[i])) for each pair, [b] on the CPU."""
        if images.shape[0] != reference.shape[0]:
            raise ValueError(f"ssl-similarity pairs each image with its clean estimate: got {images.shape[0]} images "
                             f"and {reference.shape[0]} references")
        return (self.features(images) * self.features(reference)).sum(-1).cpu()

    def score(self, images: torch.Tensor, condition=None, reference: torch.Tensor | None = None) -> torch.Tensor:
        if reference is None:
            raise ValueError(f"ssl-similarity compares each sample with its decoded clean estimate at normalised time "
                             f"{self.reference_t}; pass those images as reference= (same order as images)")
        return self.similarity(images, reference)


def build(model=None, device: str = "cpu", path: str = DEFAULT, batch_size: int = 32) -> SSLSimilarity:
    """`path`: a hub id or local folder of a transformers vision backbone with a [CLS] token (DINOv2)."""
    from transformers import AutoImageProcessor, AutoModel

    try:
        encoder = AutoModel.from_pretrained(path)
        processor = AutoImageProcessor.from_pretrained(path)
    except OSError as error:
        raise weights.unavailable("ssl-similarity", path, error) from error
    return SSLSimilarity(encoder, processor, device, batch_size)


build.available = lambda: weights.status((DEFAULT, "config.json"))
