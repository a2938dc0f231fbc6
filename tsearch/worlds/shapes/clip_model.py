"""The shapes world's tiny CLIP: an open_clip model from a small custom config (CLIPScore analogue).

Radford et al. 2021 (CLIP) in miniature; scored like CLIPScore (Hessel et al. 2021, eq. 1):
`w * max(cos(E_image, E_text), 0)`. The caption grammar uses about 25 words, so the text tower's
token table keeps only those: captions go through open_clip's own tokenizer, and its ids are mapped
onto a compact table (pad 0, unknown 1, the known ids in ascending order, so end-of-text stays the
largest id and open_clip's default argmax pooling still finds it). That keeps the model a few MB
instead of spending 49,408 x width parameters on words the world never uses.

A folder written by `save` holds:
  open_clip_config.json   open_clip's local-dir format ({"model_cfg": ..., "preprocess_cfg": ...});
                          `open_clip.create_model("local-dir:DIR")` reads it with the weights
  open_clip_model.safetensors   fp16 weights
  shapes_clip.json        what open_clip does not know: the token table and the score weight
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F


CONFIG_FILE = "open_clip_config.json"
WEIGHTS_FILE = "open_clip_model.safetensors"
EXTRA_FILE = "shapes_clip.json"

# Words of the caption grammar (DESIGN.md, "The bundled worlds"); training adds any others it sees.
GRAMMAR_WORDS = (
    "a an and of the to left right above below circle circles square squares triangle triangles "
    "red green blue yellow two three four"
).split()


@dataclass
class ClipConfig:
    embed_dim: int = 128        # shared embedding size
    image_size: int = 32        # the world renders 32x32
    patch_size: int = 4         # 8x8 patches: fine enough for positions and small objects
    vision_width: int = 128
    vision_layers: int = 4
    text_width: int = 128
    text_layers: int = 2        # captions are at most ~10 tokens from a fixed grammar
    heads_width: int = 32       # 4 heads at width 128
    context_length: int = 16    # longest caption is ~10 tokens plus start/end
    score_weight: float = 2.5   # CLIPScore's w (Hessel et al. 2021)

    def model_cfg(self, vocab_size: int) -> dict:
        """open_clip's model_cfg dict (the same keys as its bundled ViT-B-32.json)."""
        return {
            "embed_dim": self.embed_dim,
            "vision_cfg": {"image_size": self.image_size, "patch_size": self.patch_size,
                           "width": self.vision_width, "layers": self.vision_layers,
                           "head_width": self.heads_width},
            "text_cfg": {"context_length": self.context_length, "vocab_size": vocab_size,
                         "width": self.text_width, "heads": self.text_width // self.heads_width,
                         "layers": self.text_layers},
        }


class CompactTokenizer:
    """open_clip's SimpleTokenizer, then its ids mapped onto the compact table of known tokens."""

    def __init__(self, known_ids: list[int], context_length: int):
        from open_clip.tokenizer import SimpleTokenizer

        self.base = SimpleTokenizer(context_length=context_length)
        self.known_ids = sorted(set(known_ids) | {self.base.sot_token_id, self.base.eot_token_id})
        self.lookup = torch.ones(len(self.base.encoder), dtype=torch.long)  # 1 = unknown word
        self.lookup[0] = 0                                                   # padding stays 0
        self.lookup[torch.tensor(self.known_ids)] = torch.arange(2, 2 + len(self.known_ids))
        self._row_of: dict[str, int] = {}                                    # text -> row of _table
        self._table = torch.zeros((0, context_length), dtype=torch.long)

    @classmethod
    def from_texts(cls, texts, context_length: int) -> "CompactTokenizer":
        from open_clip.tokenizer import SimpleTokenizer

        base = SimpleTokenizer(context_length=context_length)
        ids = base(list(GRAMMAR_WORDS) + list(texts))
        return cls(sorted(set(ids.flatten().tolist()) - {0}), context_length)

    @property
    def vocab_size(self) -> int:
        return len(self.known_ids) + 2

    def unknown_words(self, texts) -> list[str]:
        """Words of `texts` outside the table (they would all read as one 'unknown' token)."""
        words = {w for text in texts for w in text.lower().split()}
        return sorted(w for w in words if (self([w]) == 1).any())

    def __call__(self, texts: list[str]) -> torch.Tensor:
        # a training batch repeats the grammar's 126 captions thousands of times: tokenise each once
        missing = [text for text in dict.fromkeys(texts) if text not in self._row_of]
        if missing:
            first = len(self._row_of)
            self._row_of.update((text, first + i) for i, text in enumerate(missing))
            self._table = torch.cat([self._table, self.lookup[self.base(missing)]])
        return self._table[torch.tensor([self._row_of[text] for text in texts], dtype=torch.long)]


class ShapesClip(torch.nn.Module):
    """An open_clip CLIP plus its compact tokenizer; images are float [b,3,32,32] in [0,1]."""

    def __init__(self, config: ClipConfig, tokenizer: CompactTokenizer, clip: torch.nn.Module | None = None):
        super().__init__()
        import open_clip

        self.config = config
        self.tokenizer = tokenizer
        self.clip = clip if clip is not None else open_clip.CLIP(**_as_open_clip_args(config.model_cfg(tokenizer.vocab_size)))

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        """Unit-norm image embeddings; images in [0,1] are centred to [-1,1] first."""
        size = self.config.image_size
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be [b,3,H,W] floats in [0,1], got shape {tuple(images.shape)}")
        if images.shape[-2:] != (size, size):
            images = F.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        return self.clip.encode_image(images * 2 - 1, normalize=True)

    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        device = self.clip.logit_scale.device
        return self.clip.encode_text(self.tokenizer(texts).to(device), normalize=True)

    def clip_score(self, image_emb: torch.Tensor, text_emb: torch.Tensor) -> torch.Tensor:
        """CLIPScore (Hessel et al. 2021, eq. 1): w * max(cos, 0), one per image."""
        return self.config.score_weight * (image_emb @ text_emb.T).clamp(min=0)

    def save(self, folder: str | Path, extra: dict | None = None) -> Path:
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().to("cpu", torch.float16).contiguous() for k, v in self.clip.state_dict().items()}
        save_file(state, str(folder / WEIGHTS_FILE))
        open_clip_cfg = {"model_cfg": self.config.model_cfg(self.tokenizer.vocab_size),
                         "preprocess_cfg": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}}
        (folder / CONFIG_FILE).write_text(json.dumps(open_clip_cfg, indent=2))
        ours = {"config": asdict(self.config), "known_token_ids": self.tokenizer.known_ids, **(extra or {})}
        (folder / EXTRA_FILE).write_text(json.dumps(ours, indent=2))
        return folder


def _as_open_clip_args(model_cfg: dict) -> dict:
    from open_clip.model import CLIPTextCfg, CLIPVisionCfg

    return {"embed_dim": model_cfg["embed_dim"], "vision_cfg": CLIPVisionCfg(**model_cfg["vision_cfg"]),
            "text_cfg": CLIPTextCfg(**model_cfg["text_cfg"])}


def missing_files(folder: str | Path) -> list[str]:
    folder = Path(folder)
    return [name for name in (CONFIG_FILE, WEIGHTS_FILE, EXTRA_FILE) if not (folder / name).is_file()]


def load(folder: str | Path, device: str = "cpu") -> ShapesClip:
    """Load what `save` wrote; the weights go through open_clip's own local-dir loader."""
    import open_clip

    folder = Path(folder)
    missing = missing_files(folder)
    if missing:
        raise FileNotFoundError(f"{folder} lacks {', '.join(missing)}")
    extra = json.loads((folder / EXTRA_FILE).read_text())
    config = ClipConfig(**extra["config"])
    tokenizer = CompactTokenizer(extra["known_token_ids"], config.context_length)
    clip = open_clip.create_model(f"local-dir:{folder}", device=device)
    return ShapesClip(config, tokenizer, clip).eval().requires_grad_(False)


def build(config: ClipConfig, captions) -> ShapesClip:
    """A freshly initialised model whose token table covers the grammar and `captions`."""
    return ShapesClip(config, CompactTokenizer.from_texts(captions, config.context_length))


if __name__ == "__main__":
    model = build(ClipConfig(), ["a red circle to the left of a blue square"])
    print(sum(p.numel() for p in model.parameters()), "parameters;", model.tokenizer.vocab_size, "tokens")
    scores = model.clip_score(model.encode_images(torch.rand(2, 3, 32, 32)), model.encode_texts(["a red circle"]))
    print(scores.shape)
