"""A quality head on the shapes CLIP's image embedding: clean render or degraded? (aesthetic analogue)

The LAION aesthetic predictor is an MLP on a frozen CLIP image embedding, blind to the prompt;
the paper (Ma et al. 2025, sec. 5) uses it as the "Aesthetic" verifier. Here the same shape of
model learns what makes a shapes-world image look right: flat colours and crisp edges, not noise,
blur, torn rows, colour smears or holes. Its score is the logit of "clean", higher is better.

A folder written by `save` holds head.safetensors (fp16) and quality.json (sizes, and the SHA-256
of the CLIP weights it was trained on, so it is never paired with another CLIP by mistake).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from tsearch.worlds.shapes import clip_model

HEAD_FILE = "head.safetensors"
CONFIG_FILE = "quality.json"


@dataclass
class HeadConfig:
    embed_dim: int = 128   # the CLIP's embedding size (read from it at training time)
    hidden: int = 128
    dropout: float = 0.1


class QualityHead(nn.Module):
    def __init__(self, config: HeadConfig):
        super().__init__()
        self.config = config
        self.net = nn.Sequential(nn.Linear(config.embed_dim, config.hidden), nn.GELU(), nn.Dropout(config.dropout),
                                 nn.Linear(config.hidden, config.hidden), nn.GELU(), nn.Linear(config.hidden, 1))

    def forward(self, image_emb: torch.Tensor) -> torch.Tensor:
        """Logit of "clean" per unit-norm image embedding [b, d] -> [b]."""
        return self.net(image_emb).squeeze(-1)


def clip_fingerprint(clip_folder: str | Path) -> str:
    return hashlib.sha256((Path(clip_folder) / clip_model.WEIGHTS_FILE).read_bytes()).hexdigest()


def save(head: QualityHead, folder: str | Path, clip_folder: str | Path, extra: dict | None = None) -> Path:
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().to("cpu", torch.float16).contiguous() for k, v in head.state_dict().items()},
              str(folder / HEAD_FILE))
    info = {"config": asdict(head.config), "clip_sha256": clip_fingerprint(clip_folder), **(extra or {})}
    (folder / CONFIG_FILE).write_text(json.dumps(info, indent=2))
    return folder


def missing_files(folder: str | Path) -> list[str]:
    return [name for name in (HEAD_FILE, CONFIG_FILE) if not (Path(folder) / name).is_file()]


def default_clip_folder(folder: str | Path) -> Path:
    """The CLIP beside the head: assets/shapes/quality -> assets/shapes/clip."""
    return Path(folder).resolve().parent / "clip"


def load(folder: str | Path, clip_folder: str | Path | None = None, device: str = "cpu"):
    """(head, clip) from a folder written by `save`; the CLIP must be the one it was trained on."""
    from safetensors.torch import load_file

    folder = Path(folder)
    missing = missing_files(folder)
    if missing:
        raise FileNotFoundError(f"{folder} lacks {', '.join(missing)}")
    clip_folder = Path(clip_folder) if clip_folder is not None else default_clip_folder(folder)
    info = json.loads((folder / CONFIG_FILE).read_text())
    if clip_model.missing_files(clip_folder):
        raise FileNotFoundError(f"the quality head in {folder} needs its CLIP in {clip_folder}, which lacks "
                                f"{', '.join(clip_model.missing_files(clip_folder))}")
    if clip_fingerprint(clip_folder) != info["clip_sha256"]:
        raise ValueError(f"the quality head in {folder} was trained on another CLIP than the one in {clip_folder}; "
                         "retrain it: python -m tsearch.worlds.shapes.train_quality --clip CLIP_DIR --out DIR")
    head = QualityHead(HeadConfig(**info["config"]))
    head.load_state_dict({k: v.float() for k, v in load_file(str(folder / HEAD_FILE)).items()})
    clip = clip_model.load(clip_folder, device=device)
    return head.to(device).eval().requires_grad_(False), clip
