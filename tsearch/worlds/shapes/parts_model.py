"""The `shapes-parts` segmenter: a tiny U-Net labelling each pixel background or one (colour, shape).

GenEval (Ghosh et al. 2023) judges an image by detecting its objects and checking the caption's
parts against them. This is the detector half for the shapes world, trained here on rendered scenes
(train_parts.py); tsearch/verifiers/shapes_parts.py turns its per-pixel classes into objects.
It knows nothing of the renderer or the oracle: it is a network and its weights.

A folder written by `save` holds parts.safetensors (fp16) and parts.json (its sizes).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from tsearch.worlds.shapes.grammar import COLORS, SHAPES

# class 0 is background; class 1 + c * len(SHAPES) + s is colour c, shape s
CLASSES = ("background",) + tuple(f"{c} {s}" for c in COLORS for s in SHAPES)
WEIGHTS_FILE = "parts.safetensors"
CONFIG_FILE = "parts.json"


def class_of(color: str, shape: str) -> int:
    return 1 + COLORS.index(color) * len(SHAPES) + SHAPES.index(shape)


@dataclass(frozen=True)
class PartsConfig:
    width: int = 16      # channels at full resolution; 2x and 3x that at 1/2 and 1/4
    classes: int = len(CLASSES)


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.GroupNorm(4, cout), nn.SiLU(),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.GroupNorm(4, cout), nn.SiLU())


class PartsNet(nn.Module):
    """Images [b, 3, H, W] in [0, 1] -> class logits [b, classes, H, W] (H, W divisible by 4).

    Three scales: at 1/4 resolution a 3x3 kernel sees about 20 pixels of a 32x32 scene, more than
    the largest shape (11 px), so a pixel's shape is judged from its whole object."""

    def __init__(self, config: PartsConfig = PartsConfig()):
        super().__init__()
        w = config.width
        self.config = config
        self.enc1, self.enc2, self.enc3 = _block(3, w), _block(w, 2 * w), _block(2 * w, 3 * w)
        self.dec2, self.dec1 = _block(3 * w + 2 * w, 2 * w), _block(2 * w + w, w)
        self.head = nn.Conv2d(w, config.classes, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images * 2 - 1
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        e3 = self.enc3(F.max_pool2d(e2, 2))
        d2 = self.dec2(torch.cat([F.interpolate(e3, scale_factor=2.0, mode="nearest"), e2], 1))
        d1 = self.dec1(torch.cat([F.interpolate(d2, scale_factor=2.0, mode="nearest"), e1], 1))
        return self.head(d1)


def save(net: PartsNet, folder: str | Path, extra: dict | None = None) -> Path:
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().to("cpu", torch.float16).contiguous() for k, v in net.state_dict().items()},
              str(folder / WEIGHTS_FILE))
    (folder / CONFIG_FILE).write_text(json.dumps({"config": asdict(net.config), "classes": list(CLASSES), **(extra or {})},
                                                 indent=2))
    return folder


def missing_files(folder: str | Path) -> list[str]:
    return [name for name in (WEIGHTS_FILE, CONFIG_FILE) if not (Path(folder) / name).is_file()]


def load(folder: str | Path, device: str = "cpu") -> PartsNet:
    """The segmenter from a folder written by `save`, in float32 and eval mode."""
    from safetensors.torch import load_file

    folder = Path(folder)
    missing = missing_files(folder)
    if missing:
        raise FileNotFoundError(f"shapes-parts weights missing in {folder}: {', '.join(missing)}")
    info = json.loads((folder / CONFIG_FILE).read_text())
    if tuple(info.get("classes", ())) != CLASSES:
        raise ValueError(f"{folder / CONFIG_FILE} labels classes {info.get('classes')}, this code expects {list(CLASSES)}")
    net = PartsNet(PartsConfig(**info["config"]))
    net.load_state_dict({k: v.float() for k, v in load_file(str(folder / WEIGHTS_FILE)).items()})
    return net.to(device).eval()
