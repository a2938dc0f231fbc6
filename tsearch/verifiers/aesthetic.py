"""`aesthetic`: the LAION aesthetic predictor v2 (an MLP over CLIP ViT-L/14 image embeddings).

C. Schuhmann's "improved aesthetic predictor" (sac+logos+ava1-l14-linearMSE) regresses the 1-10
AVA-style rating from the L2-normalised OpenAI CLIP ViT-L/14 image embedding; Ma et al. 2025 use
it as their prompt-blind verifier (their table: about 5.8 to 6.1 on DrawBench with FLUX.1-dev).
The head's weights are read from the copy TRL's DDPO example publishes on the hub by default.
"""

from __future__ import annotations

import torch

from tsearch.verifiers import openclip, weights
from tsearch.verifiers.clipscore import DEFAULT_NAME, DEFAULT_PRETRAINED, DEFAULT_REPO
from tsearch.verifiers.preprocess import resize_crop_normalize
from tsearch.verifiers.reward_head import load_checkpoint, reward_mlp

HEAD_REPO, HEAD_FILE = "trl-lib/ddpo-aesthetic-predictor", "aesthetic-model.pth"


class Aesthetic:
    name = "aesthetic"

    def __init__(self, clip: openclip.OpenClip, head: torch.nn.Module, batch_size: int = 32):
        self.clip, self.head, self.batch_size = clip, head.to(clip.device), batch_size
        width = getattr(clip.model.visual, "output_dim", head[0].in_features)
        if width != head[0].in_features:
            raise ValueError(f"the aesthetic head takes {head[0].in_features}-d CLIP embeddings but this CLIP model "
                             f"gives {width}-d; use ViT-L-14 (the predictor was trained on it)")

    @torch.no_grad()
    def score(self, images: torch.Tensor, condition=None) -> torch.Tensor:
        """Predicted aesthetic rating per image; the condition is ignored (prompt-blind)."""
        scores = []
        for chunk in images.split(self.batch_size):
            pixels = resize_crop_normalize(chunk, self.clip.size, self.clip.mean, self.clip.std, self.clip.device)
            scores.append(self.head(self.clip.embed_images(pixels))[:, 0])
        return torch.cat(scores).float().cpu()


def build(model=None, device: str = "cpu", name: str = DEFAULT_NAME, pretrained: str | None = DEFAULT_PRETRAINED,
          head: str = HEAD_REPO, batch_size: int = 32) -> Aesthetic:
    """`head`: a hub repo holding aesthetic-model.pth, a folder with it, or the .pth file; `model` is unused."""
    mlp = reward_mlp(load_checkpoint(weights.hub_file(head, HEAD_FILE, "aesthetic")))
    return Aesthetic(openclip.load(name, pretrained, device, "aesthetic"), mlp, batch_size)


def available() -> tuple[bool, str]:
    ok, reason = openclip.status(DEFAULT_NAME, DEFAULT_PRETRAINED, DEFAULT_REPO)
    head_ok, head_reason = weights.status((HEAD_REPO, HEAD_FILE))
    return ok and head_ok, reason if not ok else head_reason


build.available = available
