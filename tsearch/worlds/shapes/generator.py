"""The shapes generator: a small diffusers UNet over 32x32 RGB, text-conditioned, rectified flow.

Rectified flow (Liu et al. 2022; Esser et al. 2024, SD3 sec. 2): x_t = (1 - t) x0 + t e with t = 1
pure noise. The UNet predicts the velocity v = e - x0 (SD3 eq. 3's target), so the clean estimate
is x0 = x_t - t v. Text enters twice: per-token states through cross-attention at 8x8 and in the
mid block, and the pooled end-of-text state added to the time embedding (`class_embed_type=
"projection"`), which a trial here showed colour needs. Classifier-free guidance (Ho & Salimans
2022) uses the empty caption as the null condition; both passes run as one batch.

The folder layout (written by `save`, read by `load`), diffusers-style:
  unet/           UNet2DConditionModel.save_pretrained, fp16 weights
  text_encoder/   config.json + model.safetensors (ShapesTextEncoder)
  model_index.json  parameterisation, prediction target, default steps and guidance, training log
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import asdict, dataclass

import torch

from tsearch.worlds.shapes.text_encoder import ShapesTextEncoder, TextEncoderConfig

NULL_CAPTION = ""  # the unconditional caption for guidance dropout and CFG
GUIDANCE_DIM = 64  # sinusoidal features of the guidance scale a distilled student takes (`distill.py`)


def guidance_features(guidance: torch.Tensor) -> torch.Tensor:
    """[b] scales -> [b, GUIDANCE_DIM]: sin and (cos - 1) of (w - 1) at geometric frequencies, all zero at w = 1.

    A guidance-distilled student (Meng et al. 2023, sec. 4.1, w-conditioned; LCM's `timestep_cond`) adds a
    zero-initialised projection of these to its timestep features, so w = 1 is exactly its plain conditional pass."""
    half = GUIDANCE_DIM // 2
    freqs = torch.exp(torch.linspace(-3.0, 1.5, half, device=guidance.device))   # 0.05 .. 4.5 radians per unit
    angle = (guidance.float() - 1.0)[:, None] * freqs[None]
    return torch.cat([torch.sin(angle), torch.cos(angle) - 1.0], dim=1)


@dataclass
class UNetConfig:
    channels: tuple[int, int, int] = (32, 64, 128)  # at 32x32, 16x16, 8x8
    heads: int = 4                  # attention heads at 8x8 and in the mid block
    text_width: int = 128           # = TextEncoderConfig.width


def build_unet(config: UNetConfig):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=32, in_channels=3, out_channels=3,
        block_out_channels=tuple(config.channels), layers_per_block=1,
        # cross-attention only where the map is small (8x8) and in the mid block: cheap, global
        down_block_types=("DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
        mid_block_type="UNetMidBlock2DCrossAttn",
        cross_attention_dim=config.text_width,
        attention_head_dim=config.heads,  # diffusers' legacy name: this is the number of heads
        norm_num_groups=8,
        # the pooled text vector, projected and added to the time embedding
        class_embed_type="projection", projection_class_embeddings_input_dim=config.text_width,
    )


class Generator(torch.nn.Module):
    """UNet + text encoder, with the rectified-flow and guidance arithmetic in one place."""

    def __init__(self, unet, text_encoder: ShapesTextEncoder, meta: dict | None = None):
        super().__init__()
        self.unet, self.text_encoder = unet, text_encoder
        self.meta = dict(meta or {})

    @property
    def distilled(self) -> bool:
        """Guidance-distilled: the scale is an input (one pass per step at any guidance), not two passes."""
        return self.unet.config.get("time_cond_proj_dim") is not None

    def velocity(self, x: torch.Tensor, t: torch.Tensor, states: torch.Tensor, pooled: torch.Tensor,
                 guidance: torch.Tensor | None = None) -> torch.Tensor:
        """v = e - x0 at time t in [0, 1] (the UNet sees 1000 t, the usual timestep range); a distilled
        student also takes the guidance scale per sample (default 1: its conditional pass)."""
        cond = None
        if self.distilled:
            cond = guidance_features(torch.ones_like(t) if guidance is None else guidance).to(x.dtype)
        return self.unet(x, t * 1000.0, encoder_hidden_states=states, class_labels=pooled, timestep_cond=cond).sample

    def x0(self, x: torch.Tensor, t: float, cond: tuple[torch.Tensor, ...], guidance: float) -> torch.Tensor:
        """Clean estimate x0 = x - t v; with guidance != 1, v = v_null + g (v_text - v_null), one batch."""
        states, pooled, null_states, null_pooled = cond
        b = x.shape[0]
        if self.distilled:  # one pass: the student was trained to match v_null + g (v_text - v_null)
            tt = torch.full((b,), float(t), device=x.device, dtype=x.dtype)
            g = torch.full((b,), float(guidance), device=x.device)
            return x - float(t) * self.velocity(x, tt, states.expand(b, -1, -1), pooled.expand(b, -1), g)
        if guidance == 1.0:
            states_b, pooled_b, xs = states.expand(b, -1, -1), pooled.expand(b, -1), x
        else:
            states_b = torch.cat([states.expand(b, -1, -1), null_states.expand(b, -1, -1)])
            pooled_b = torch.cat([pooled.expand(b, -1), null_pooled.expand(b, -1)])
            xs = torch.cat([x, x])
        tt = torch.full((xs.shape[0],), float(t), device=x.device, dtype=x.dtype)
        v = self.velocity(xs, tt, states_b, pooled_b)
        if guidance != 1.0:
            v_text, v_null = v.chunk(2)
            v = v_null + guidance * (v_text - v_null)
        return x - float(t) * v

    @torch.no_grad()
    def condition(self, caption: str) -> tuple[torch.Tensor, ...]:
        """(states, pooled, null states, null pooled), each with batch 1, to broadcast over a batch."""
        states, pooled = self.text_encoder.encode([caption, NULL_CAPTION])
        return states[:1], pooled[:1], states[1:], pooled[1:]

    def save(self, folder: str, meta: dict | None = None) -> None:
        os.makedirs(folder, exist_ok=True)
        # a half-precision copy, so training can go on in float32 with the original
        from diffusers.utils import logging

        verbosity = logging.get_verbosity()
        logging.set_verbosity_error()  # diffusers warns about .to(float16); this model has no fp32-only modules
        try:
            copy.deepcopy(self.unet).to("cpu", torch.float16).save_pretrained(os.path.join(folder, "unet"))
        finally:
            logging.set_verbosity(verbosity)
        self.text_encoder.save_pretrained(os.path.join(folder, "text_encoder"))
        with open(os.path.join(folder, "model_index.json"), "w") as f:
            json.dump({**self.meta, **(meta or {})}, f, indent=1)

    @classmethod
    def load(cls, folder: str, device: str = "cpu") -> "Generator":
        from diffusers import UNet2DConditionModel

        with open(os.path.join(folder, "model_index.json")) as f:
            meta = json.load(f)
        unet = UNet2DConditionModel.from_pretrained(
            os.path.join(folder, "unet"), torch_dtype=torch.float32, low_cpu_mem_usage=False,  # no accelerate needed
        )
        text_encoder = ShapesTextEncoder.from_pretrained(os.path.join(folder, "text_encoder"))
        return cls(unet, text_encoder, meta).to(device).eval()


def new_generator(vocab: list[int], unet_config: UNetConfig | None = None, text_config: TextEncoderConfig | None = None) -> Generator:
    """A randomly initialised generator with its metadata (what `load` needs to rebuild it)."""
    unet_config = unet_config or UNetConfig()
    text_config = text_config or TextEncoderConfig(vocab=vocab, width=unet_config.text_width)
    text_config.vocab = vocab
    meta = {
        "_class_name": "ShapesGenerator",
        "parameterization": "rf",          # x_t = (1 - t) x0 + t e, t = 1 is noise
        "prediction": "velocity",          # v = e - x0; x0 = x_t - t v
        "image_size": 32,
        "pixel_range": [-1, 1],
        "null_caption": NULL_CAPTION,
        "default_steps": 20,
        "default_guidance": 1.0,
        "unet_config": asdict(unet_config),
    }
    return Generator(build_unet(unet_config), ShapesTextEncoder(text_config), meta)
