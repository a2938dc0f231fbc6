"""The shapes generator's text encoder: open_clip's tokenizer, a compact vocabulary, a tiny transformer.

Captions are tokenised with open_clip's own BPE tokenizer (`SimpleTokenizer`, bundled with the
package, so it works offline). The grammar uses about 30 words, so instead of shipping a 49k-row
embedding table we keep only the token ids the grammar produces (`vocab`, saved in config.json)
and map every other id to UNK. The encoder returns per-token states (for the UNet's
cross-attention) and a pooled vector, the state at the end-of-text token as in CLIP (Radford et
al. 2021, sec. 2.4), which the UNet adds to its time embedding: the global path that lets colour
words reach every pixel.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field

import torch
from safetensors.torch import load_file, save_file
from torch import nn

PAD, UNK = 0, 1  # rows of the compact table; open_clip ids start at row 2

# The grammar's words (DESIGN.md, "The bundled worlds"); training adds any token its captions use.
WORDS = (
    "a an and the to of left right above below one two three four "
    "circle circles square squares triangle triangles red green blue yellow"
).split()


def clip_tokenizer():
    """open_clip's BPE tokenizer (no download: its vocabulary ships inside the package)."""
    from open_clip.tokenizer import SimpleTokenizer

    return SimpleTokenizer()


def vocabulary(captions: list[str] = ()) -> list[int]:
    """Sorted open_clip token ids of the grammar's words, the given captions, start and end of text."""
    tokenizer = clip_tokenizer()
    ids = {tokenizer.sot_token_id, tokenizer.eot_token_id}
    for text in [*WORDS, *captions]:
        ids.update(tokenizer.encode(text))
    return sorted(ids)


class CaptionTokenizer:
    """Captions -> rows of the compact table [b, context_length], PAD after the end of text.

    Plain Python (no torch module), so data-loader workers can tokenise while the GPU trains.
    """

    def __init__(self, vocab: list[int], context_length: int):
        self.row = {token: i + 2 for i, token in enumerate(vocab)}
        self.context_length = context_length
        self.clip = clip_tokenizer()

    def __call__(self, captions: list[str]) -> torch.Tensor:
        clip, length = self.clip, self.context_length
        out = torch.full((len(captions), length), PAD, dtype=torch.long)
        for i, caption in enumerate(captions):
            ids = [clip.sot_token_id, *clip.encode(caption), clip.eot_token_id]
            if len(ids) > length:
                raise ValueError(
                    f"caption {caption!r} is {len(ids)} tokens long; the shapes text encoder reads at most {length}"
                )
            out[i, : len(ids)] = torch.tensor([self.row.get(t, UNK) for t in ids])
        return out


@dataclass
class TextEncoderConfig:
    vocab: list[int] = field(default_factory=list)  # open_clip token ids kept (row = index + 2)
    context_length: int = 16    # the longest caption of the grammar is 10 tokens with start and end
    width: int = 128            # token state size = the UNet's cross_attention_dim
    layers: int = 2
    heads: int = 4


class ShapesTextEncoder(nn.Module):
    """Caption token rows [b, L] -> (states [b, L, width], pooled [b, width])."""

    def __init__(self, config: TextEncoderConfig):
        super().__init__()
        if not config.vocab:
            raise ValueError("TextEncoderConfig.vocab is empty: build it with text_encoder.vocabulary(captions)")
        self.config = config
        self.embed = nn.Embedding(len(config.vocab) + 2, config.width, padding_idx=PAD)
        self.position = nn.Parameter(torch.zeros(config.context_length, config.width))
        nn.init.normal_(self.position, std=0.02)
        layer = nn.TransformerEncoderLayer(
            config.width, config.heads, 4 * config.width, dropout=0.0,
            activation="gelu", batch_first=True, norm_first=True,
        )
        self.transformer = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(config.width)
        self.tokenizer = CaptionTokenizer(config.vocab, config.context_length)

    def tokenize(self, captions: list[str]) -> torch.Tensor:
        return self.tokenizer(captions)

    def forward(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pad = rows == PAD
        h = self.embed(rows) + self.position[: rows.shape[1]]
        h = self.norm(self.transformer(h, src_key_padding_mask=pad))
        last = (~pad).sum(1) - 1  # the end-of-text token is the last non-pad one
        pooled = h[torch.arange(rows.shape[0], device=rows.device), last]
        return h, pooled

    def encode(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        device = self.position.device
        return self(self.tokenize(captions).to(device))

    # --- a diffusers-like folder: config.json + model.safetensors -------------------------
    def save_pretrained(self, folder: str, dtype: torch.dtype = torch.float16) -> None:
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump({"_class_name": type(self).__name__, **asdict(self.config)}, f, indent=1)
        state = {k: v.detach().to("cpu", dtype).contiguous() for k, v in self.state_dict().items()}
        save_file(state, os.path.join(folder, "model.safetensors"))

    @classmethod
    def from_pretrained(cls, folder: str, dtype: torch.dtype = torch.float32) -> "ShapesTextEncoder":
        with open(os.path.join(folder, "config.json")) as f:
            config = json.load(f)
        config.pop("_class_name", None)
        model = cls(TextEncoderConfig(**config))
        state = load_file(os.path.join(folder, "model.safetensors"))
        model.load_state_dict({k: v.to(dtype) for k, v in state.items()})
        return model.to(dtype).eval()
