"""A fixed random-weight convolutional denoiser and scorer of realistic per-sample cost, for benchmarks.

Nothing is trained or downloaded: the weights come from a fixed seed. The text encoder is a small
transformer so that re-encoding the prompt per candidate (as peers do) costs what it costs.
"""

from __future__ import annotations

import torch
from torch import nn

from tsearch.models.base import Model


class _Net(nn.Module):
    def __init__(self, width: int = 48, text_width: int = 128):
        super().__init__()
        self.inp = nn.Conv2d(3, width, 3, padding=1)
        self.blocks = nn.ModuleList([nn.Conv2d(width, width, 3, padding=1) for _ in range(4)])
        self.film = nn.Linear(text_width + 1, 2 * width)
        self.out = nn.Conv2d(width, 3, 3, padding=1)

    def forward(self, x, sigma, text):
        h = self.inp(x)
        scale, shift = self.film(torch.cat([text, sigma[:, None]], 1)).chunk(2, 1)
        for block in self.blocks:
            h = h + torch.nn.functional.silu(block(h)) * (1 + 0.1 * scale[:, :, None, None]) + 0.1 * shift[:, :, None, None]
        return self.out(h)


class ToyConvModel(Model):
    """A rectified-flow model over 3x32x32 with random weights: realistic cost, meaningless images."""
    name = "toy-conv"
    conditioning = "text"

    def __init__(self, device: str = "cpu", seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.noise_shape = (3, 32, 32)
        self.device = torch.device(device)
        self.net = _Net().to(self.device).eval()
        self.embed = nn.Embedding(256, 128).to(self.device)
        layer = nn.TransformerEncoderLayer(128, 4, 512, batch_first=True)
        self.text = nn.TransformerEncoder(layer, 4).to(self.device).eval()

    @torch.no_grad()
    def encode(self, condition: str):
        tokens = torch.tensor([list(condition.encode()[:64].ljust(64, b" "))], device=self.device)
        return self.text(self.embed(tokens)).mean(1)

    @torch.no_grad()
    def forward_x0(self, x, cond, sigma):
        b = x.shape[0]
        s = torch.full((b,), sigma, device=x.device)
        return x - sigma * self.net(x, s, cond.expand(b, -1)) * 0.1

    def decode(self, x):
        return ((x.float() + 1) / 2).clamp(0, 1)


class ToyScorer:
    """A random-weight conv scorer standing in for a verifier network."""
    name = "toy-scorer"

    def __init__(self, device: str = "cpu"):
        torch.manual_seed(1)
        self.net = nn.Sequential(nn.Conv2d(3, 32, 3, 2, 1), nn.SiLU(), nn.Conv2d(32, 64, 3, 2, 1), nn.SiLU(),
                                 nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 1)).to(device).eval()
        self.device = device

    @torch.no_grad()
    def score(self, images, condition):
        return self.net(images.to(self.device)).reshape(-1).cpu()
