"""The two small digit classifiers: the verifier's CNN and the oracle metrics' feature network.

They are deliberately different networks trained from different seeds (the paper's verifiers and
its evaluation metrics come from different models; a search that hacks the verifier should not
automatically fool the metric):
- `ClassifierCNN` (verifier `digits-classifier`): three 3x3 conv stages with max pooling, ReLU.
- `FeatureNet` (Inception-Score / FID analogue): strided convolutions, GELU, GroupNorm and a
  64-d penultimate layer whose activations play Inception's pool features in FID.
Both take [b, 3 or 1, H, W] images in [0, 1] (any H, W; resized to 16x16 grey by `data.to_gray`).

On disk: `model.safetensors` (fp16) and `net.json` (which network and its widths, plus its
measured held-out accuracy), written by `save` and read by `load`.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from tsearch.worlds.digits.data import NUM_CLASSES, to_gray

NET_FILE = "net.json"
WEIGHTS_FILE = "model.safetensors"


class ClassifierCNN(nn.Module):
    """16 -> 8 -> 4 -> global average: the verifier's classifier."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        w = width
        self.body = nn.Sequential(
            nn.Conv2d(1, w, 3, padding=1), nn.ReLU(), nn.Conv2d(w, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(), nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 4 * w, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(4 * w, NUM_CLASSES))
        self.config = {"kind": "classifier", "width": width}

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.body((to_gray(images) - 0.5) / 0.5)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits [b, 10]."""
        return self.head(self.features(images))


class FeatureNet(nn.Module):
    """Strided convolutions 16 -> 8 -> 4, then a 64-d feature layer: the oracle metrics' network."""

    def __init__(self, width: int = 24, feature_dim: int = 64) -> None:
        super().__init__()
        w = width
        self.body = nn.Sequential(
            nn.Conv2d(1, w, 5, padding=2), nn.GroupNorm(4, w), nn.GELU(),
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1), nn.GroupNorm(4, 2 * w), nn.GELU(),
            nn.Conv2d(2 * w, 4 * w, 4, stride=2, padding=1), nn.GroupNorm(4, 4 * w), nn.GELU(),
            nn.Flatten(), nn.Linear(4 * w * 16, feature_dim), nn.GELU(),
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(feature_dim, NUM_CLASSES))
        self.config = {"kind": "features", "width": width, "feature_dim": feature_dim}

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """The penultimate activations [b, feature_dim] (FID's feature space)."""
        return self.body(to_gray(images) * 2 - 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits [b, 10] (IS's p(y|x) after a softmax)."""
        return self.head(self.features(images))


NETS = {"classifier": ClassifierCNN, "features": FeatureNet}


def build_net(kind: str, **config) -> nn.Module:
    if kind not in NETS:
        raise ValueError(f"unknown digits network {kind!r}; choose one of {sorted(NETS)}")
    return NETS[kind](**config)


def save(net: nn.Module, out: Path, **facts) -> None:
    from safetensors.torch import save_file

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    state = {name: value.detach().to("cpu", torch.float16).contiguous() for name, value in net.state_dict().items()}
    save_file(state, str(out / WEIGHTS_FILE))
    (out / NET_FILE).write_text(json.dumps({**net.config, **facts}, indent=2) + "\n")


def load(path: Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """(network in float32 eval mode, net.json as a dict) from a folder written by `save`."""
    from safetensors.torch import load_file

    path = Path(path)
    info = json.loads((path / NET_FILE).read_text())
    config = {key: info[key] for key in ("width", "feature_dim") if key in info}
    net = build_net(info["kind"], **config)
    net.load_state_dict({name: value.float() for name, value in load_file(str(path / WEIGHTS_FILE)).items()})
    return net.to(device).eval(), info


def files_missing(path: Path) -> list[str]:
    return [name for name in (NET_FILE, WEIGHTS_FILE) if not (Path(path) / name).is_file()]
