"""Batched image preprocessing on the verifier's device, the tensor form of CLIP-style transforms.

Real verifiers were trained on PIL pipelines (resize the shorter side, centre-crop, normalise).
Here images arrive as a float batch in [0, 1], so the same steps run on tensors: bicubic resize
with antialiasing, centre crop, per-channel normalisation. Differences from PIL's uint8 rounding
are below what any of these scorers resolves.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)   # OpenAI CLIP (also ImageReward, PickScore, HPSv2)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def check_images(images: torch.Tensor) -> torch.Tensor:
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"verifiers take a batch of RGB images [b, 3, H, W] in [0, 1], got shape {tuple(images.shape)}")
    return images


def resize_crop_normalize(images: torch.Tensor, size: int | tuple[int, int], mean, std,
                          device=None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """[b, 3, H, W] in [0, 1] -> network input of `size` (shorter side resized then centre-cropped)."""
    images = check_images(images).to(device or images.device, torch.float32)
    height, width = (size, size) if isinstance(size, int) else size
    h, w = images.shape[-2:]
    scale = max(height / h, width / w)
    target = (max(height, round(h * scale)), max(width, round(w * scale)))
    if target != (h, w):
        images = F.interpolate(images, size=target, mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)
    top, left = (images.shape[-2] - height) // 2, (images.shape[-1] - width) // 2
    images = images[..., top:top + height, left:left + width]
    mean = torch.tensor(mean, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(std, device=images.device).view(1, 3, 1, 1)
    return ((images - mean) / std).to(dtype)


def hf_image_settings(processor) -> tuple[tuple[int, int], tuple, tuple]:
    """(input size, mean, std) from a transformers image processor (CLIP, ViT, DINOv2 kinds).

    Processors that squash to a fixed size without cropping see the same input for square images;
    for other aspect ratios we centre-crop instead of squashing.
    """
    def field(size, key):  # transformers 4 uses dicts, 5 uses SizeDict objects
        value = size.get(key) if isinstance(size, dict) else getattr(size, key, None)
        return None if value is None else int(value)

    crop = getattr(processor, "crop_size", None) if getattr(processor, "do_center_crop", False) else None
    size = crop or getattr(processor, "size", None)
    if size is not None and field(size, "height") and field(size, "width"):
        hw = (field(size, "height"), field(size, "width"))
    else:
        edge = (field(size, "shortest_edge") if size is not None else None) or 224
        hw = (edge, edge)
    return hw, tuple(processor.image_mean), tuple(processor.image_std)
