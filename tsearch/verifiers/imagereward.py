"""`imagereward`: ImageReward (Xu et al. 2023) loaded into transformers' BLIP classes.

ImageReward is BLIP (a ViT-L/16 image encoder and a BERT text encoder that cross-attends to the
image) with an MLP on the text encoder's [CLS] state, standardised with the training set's mean
and std. Ma et al. 2025 use it as a text-to-image verifier (their table: 0.97 without search, 1.58
with ImageReward-guided random search). The original checkpoint (THUDM/ImageReward, ImageReward.pt)
is mapped key by key onto `BlipVisionModel` and `BlipTextModel`, so the `image-reward` package and
its pinned dependencies are not needed. Sizes come from the checkpoint and its med_config.json.
"""

from __future__ import annotations

import json
import re

import torch

from tsearch.verifiers import weights
from tsearch.verifiers.preprocess import CLIP_MEAN, CLIP_STD, resize_crop_normalize
from tsearch.verifiers.reward_head import load_checkpoint, reward_mlp

REPO, CHECKPOINT, MED_CONFIG = "THUDM/ImageReward", "ImageReward.pt", "med_config.json"
TOKENIZER = "google-bert/bert-base-uncased"
REWARD_MEAN, REWARD_STD = 0.16717362830052426, 1.0333394966054072  # ImageReward's standardisation
MAX_TOKENS = 35                                                      # ImageReward pads prompts to 35 tokens
VIT_HEAD_DIM = 64                                                    # BLIP's ViTs (B/16, L/16) use 64-d heads

# original BLIP ViT (timm naming) -> transformers BlipVisionModel
VISION_RULES = [
    (r"^cls_token$", "embeddings.class_embedding"),
    (r"^pos_embed$", "embeddings.position_embedding"),
    (r"^patch_embed\.proj\.", "embeddings.patch_embedding."),
    (r"^blocks\.(\d+)\.norm1\.", r"encoder.layers.\1.layer_norm1."),
    (r"^blocks\.(\d+)\.norm2\.", r"encoder.layers.\1.layer_norm2."),
    (r"^blocks\.(\d+)\.attn\.qkv\.", r"encoder.layers.\1.self_attn.qkv."),
    (r"^blocks\.(\d+)\.attn\.proj\.", r"encoder.layers.\1.self_attn.projection."),
    (r"^blocks\.(\d+)\.mlp\.", r"encoder.layers.\1.mlp."),
    (r"^norm\.", "post_layernorm."),
]


def split_checkpoint(state: dict) -> tuple[dict, dict, dict]:
    """ImageReward.pt -> (vision, text, head) state dicts in transformers' naming."""
    vision, text, head = {}, {}, {}
    for key, value in state.items():
        if key.startswith("blip.visual_encoder."):
            name = key[len("blip.visual_encoder."):]
            for pattern, replacement in VISION_RULES:
                if re.match(pattern, name):
                    vision[re.sub(pattern, replacement, name)] = value
                    break
        elif key.startswith("blip.text_encoder."):
            text[key[len("blip.text_encoder."):]] = value  # BLIP's BERT and BlipTextModel share names
        elif key.startswith("mlp."):
            head[key[len("mlp."):]] = value
    return vision, text, head


def _load_into(module: torch.nn.Module, state: dict, part: str) -> torch.nn.Module:
    missing = module.load_state_dict(state, strict=False).missing_keys
    if missing:
        raise ValueError(f"imagereward: the checkpoint's {part} lacks {missing[:4]}{'...' if len(missing) > 4 else ''}")
    return module.eval()


def build_networks(state: dict, med_config: dict):
    """The BLIP vision and text towers and the reward head, sized from the checkpoint and med_config."""
    from transformers import BlipTextConfig, BlipTextModel, BlipVisionConfig, BlipVisionModel

    vision_state, text_state, head_state = split_checkpoint(state)
    width = vision_state["embeddings.class_embedding"].shape[-1]
    patch = vision_state["embeddings.patch_embedding.weight"].shape[-1]
    grid = round((vision_state["embeddings.position_embedding"].shape[1] - 1) ** 0.5)
    layers = len({k.split(".")[2] for k in vision_state if k.startswith("encoder.layers.")})
    vision = BlipVisionModel(BlipVisionConfig(
        hidden_size=width, intermediate_size=vision_state["encoder.layers.0.mlp.fc1.weight"].shape[0],
        num_hidden_layers=layers, num_attention_heads=max(1, width // VIT_HEAD_DIM), image_size=grid * patch,
        patch_size=patch, layer_norm_eps=1e-6, hidden_act="gelu"))
    text = BlipTextModel(BlipTextConfig(
        vocab_size=med_config["vocab_size"], hidden_size=med_config["hidden_size"],
        num_hidden_layers=med_config["num_hidden_layers"], num_attention_heads=med_config["num_attention_heads"],
        intermediate_size=med_config["intermediate_size"], hidden_act=med_config.get("hidden_act", "gelu"),
        max_position_embeddings=med_config.get("max_position_embeddings", 512),
        layer_norm_eps=med_config.get("layer_norm_eps", 1e-12), encoder_hidden_size=width,
        is_decoder=True),  # builds the cross-attention layers; the forward pass runs bidirectionally
        add_pooling_layer=False)
    return (_load_into(vision, vision_state, "vision encoder"), _load_into(text, text_state, "text encoder"),
            reward_mlp(head_state))


class ImageReward:
    name = "imagereward"

    def __init__(self, vision, text, head, tokenizer, device: str = "cpu", batch_size: int = 16):
        self.device = torch.device(device)
        self.vision, self.text, self.head = vision.to(self.device), text.to(self.device), head.to(self.device)
        self.tokenizer, self.batch_size = tokenizer, batch_size
        self.size = vision.config.image_size
        self._tokens: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def tokens(self, condition) -> tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(condition, str) or not condition.strip():
            raise ValueError(f"imagereward scores images against a prompt string, got {condition!r}")
        if condition not in self._tokens:
            encoded = self.tokenizer(condition, padding="max_length", truncation=True, max_length=MAX_TOKENS,
                                     return_tensors="pt")
            self._tokens[condition] = (encoded.input_ids.to(self.device), encoded.attention_mask.to(self.device))
        return self._tokens[condition]

    @torch.no_grad()
    def score(self, images: torch.Tensor, condition) -> torch.Tensor:
        ids, mask = self.tokens(condition)
        scores = []
        for chunk in images.split(self.batch_size):
            pixels = resize_crop_normalize(chunk, self.size, CLIP_MEAN, CLIP_STD, self.device)
            image_states = self.vision(pixel_values=pixels).last_hidden_state
            b = image_states.shape[0]
            states = self.text(input_ids=ids.expand(b, -1), attention_mask=mask.expand(b, -1),
                               encoder_hidden_states=image_states,
                               encoder_attention_mask=torch.ones(image_states.shape[:2], dtype=torch.long,
                                                                 device=self.device)).last_hidden_state
            scores.append((self.head(states[:, 0].float())[:, 0] - REWARD_MEAN) / REWARD_STD)
        return torch.cat(scores).cpu()


def build(model=None, device: str = "cpu", path: str = REPO, tokenizer: str = TOKENIZER,
          batch_size: int = 16) -> ImageReward:
    """`path`: the hub repo or a folder with ImageReward.pt and med_config.json; `tokenizer`: BERT's (uncased)."""
    from transformers import BertTokenizer

    state = load_checkpoint(weights.hub_file(path, CHECKPOINT, "imagereward"))
    with open(weights.hub_file(path, MED_CONFIG, "imagereward"), encoding="utf-8") as handle:
        med_config = json.load(handle)
    try:
        bert_tokenizer = BertTokenizer.from_pretrained(tokenizer)
    except OSError as error:
        raise weights.unavailable("imagereward", tokenizer, error) from error
    return ImageReward(*build_networks(state, med_config), bert_tokenizer, device, batch_size)


build.available = lambda: weights.status((REPO, CHECKPOINT), (REPO, MED_CONFIG), (TOKENIZER, "tokenizer.json"))
