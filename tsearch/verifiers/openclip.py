"""Loading open_clip models for verifiers: built-in names with pretrained tags, hf-hub: and local-dir:.

Used by clipscore, aesthetic, clip-zeroshot and hpsv2. Loading never silently falls back to random
weights (`require_pretrained`), OpenAI tags get their QuickGELU, and a weights problem becomes an
`Unavailable` that names the verifier and says how to provide them.
"""

from __future__ import annotations

import os

import torch

from tsearch.verifiers import weights

OPEN_CLIP_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")


class OpenClip:
    """An open_clip model with its tokenizer and input settings, embedding batches on one device."""

    def __init__(self, model, tokenizer, device: str):
        import open_clip

        self.model, self.tokenizer, self.device = model.eval(), tokenizer, torch.device(device)
        config = open_clip.get_model_preprocess_cfg(model)
        self.size, self.mean, self.std = config["size"], config["mean"], config["std"]
        self.dtype = next(model.parameters()).dtype

    @torch.no_grad()
    def embed_images(self, pixels: torch.Tensor) -> torch.Tensor:
        """Normalised image embeddings [b, D] (float32) of preprocessed pixels."""
        return torch.nn.functional.normalize(self.model.encode_image(pixels.to(self.device, self.dtype)).float(), dim=-1)

    @torch.no_grad()
    def embed_texts(self, texts: list[str]) -> torch.Tensor:
        tokens = self.tokenizer(texts).to(self.device)
        return torch.nn.functional.normalize(self.model.encode_text(tokens).float(), dim=-1)


def load(name: str, pretrained: str | None, device: str, verifier: str, precision: str = "fp32") -> OpenClip:
    """`name` is an open_clip architecture (with `pretrained` a tag or a checkpoint file), or hf-hub:/local-dir:."""
    import open_clip

    kwargs = {}
    schema = name.split(":", 1)[0] + ":" if name.startswith(("hf-hub:", "local-dir:")) else None
    if schema is None:
        if not pretrained:
            raise ValueError(f"{verifier}: give pretrained weights for {name!r} (a tag such as 'openai' or a file)")
        if not os.path.isfile(pretrained):
            tag = open_clip.get_pretrained_cfg(name, pretrained)
            if not tag:
                raise ValueError(f"{verifier}: open_clip has no pretrained tag {pretrained!r} for {name!r}; "
                                 f"known: {open_clip.list_pretrained_tags_by_model(name)}")
            kwargs["force_quick_gelu"] = bool(tag.get("quick_gelu", False))
    try:
        model = open_clip.create_model(name, pretrained=None if schema else pretrained, device=device,
                                       precision=precision, require_pretrained=True, **kwargs)
    except (RuntimeError, OSError) as error:
        raise weights.unavailable(verifier, f"{name} {pretrained or ''}".strip(), error) from error
    return OpenClip(model, open_clip.get_tokenizer(name), device)


def status(name: str, pretrained: str | None, hub_repo: str | None = None) -> tuple[bool, str]:
    """Cheap availability: a local folder or file exists, or the known hub repository is cached."""
    if name.startswith("local-dir:"):
        path = name[len("local-dir:"):]
        return (True, "local folder") if os.path.isdir(path) else (False, f"no folder {path}")
    if name.startswith("hf-hub:"):
        return weights.status((name[len("hf-hub:"):], "open_clip_config.json"))
    if pretrained and os.path.isfile(pretrained):
        return True, "local checkpoint file"
    if hub_repo is None:
        return True, f"open_clip downloads {name}/{pretrained} on first use"
    return weights.status((hub_repo, OPEN_CLIP_FILES))
