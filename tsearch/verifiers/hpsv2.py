"""`hpsv2`: Human Preference Score v2 / v2.1 (Wu et al. 2023) loaded into open_clip's ViT-H/14.

HPSv2 fine-tunes OpenCLIP ViT-H/14 on human preference pairs; its score is the cosine similarity of
the image and prompt embeddings (about 0.25-0.32 for typical generations). The checkpoint
(xswu/HPSv2, HPS_v2.1_compressed.pt by default) is a plain open_clip state dict, so the `hpsv2`
package and its pinned dependencies are not needed.
"""

from __future__ import annotations

import torch

from tsearch.verifiers import openclip, weights
from tsearch.verifiers.clipscore import ClipScore

REPO, CHECKPOINT, ARCHITECTURE = "xswu/HPSv2", "HPS_v2.1_compressed.pt", "ViT-H-14"


class HPSv2(ClipScore):
    name = "hpsv2"

    def score(self, images: torch.Tensor, condition) -> torch.Tensor:
        return self.cosine(images, condition)  # HPSv2 reports the raw cosine (no CLIPScore weight or clipping)


def build(model=None, device: str = "cpu", path: str = REPO, checkpoint: str = CHECKPOINT,
          architecture: str = ARCHITECTURE, batch_size: int = 32) -> HPSv2:
    """`path`: the hub repo, a folder or the .pt file; `checkpoint`: HPS_v2.1_compressed.pt or HPS_v2_compressed.pt."""
    file = weights.hub_file(path, checkpoint, "hpsv2")
    return HPSv2(openclip.load(architecture, file, device, "hpsv2"), batch_size=batch_size)


build.available = lambda: weights.status((REPO, CHECKPOINT))
