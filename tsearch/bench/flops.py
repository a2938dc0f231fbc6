"""The bundled models' FLOPs per NFE, per decode and per verifier call, as the engine counts them (issue 28).

    python -m tsearch.bench flops            # the bundled models, on one real forward each
    python -m tsearch.bench flops --real     # also SD 1.5's UNet and FLUX.1-dev's transformer, shapes only

Counted with torch's FLOP counter (`tsearch.flops`): matrix products, convolutions and attention, a
multiply-add as 2 FLOPs; elementwise work is not counted (so the analytic gmm counts 0). With --real the two
published architectures are built at their real sizes on torch's meta device (no weights, no compute: the
counter needs only shapes) and one pass over one sample is counted at their native resolution, for scale.
"""

from __future__ import annotations

from tsearch.flops import of_search

BUNDLED = (("gmm", 1, ["gmm-density"]), ("digits", 3, ["digits-classifier"]),
           ("shapes", "a red circle", ["shapes-clip", "shapes-quality", "shapes-oracle"]),
           ("shapes-distilled", "a red circle", ["shapes-clip"]), ("shapes-small", "a red circle", ["shapes-clip"]))


def real_architectures() -> dict:
    """FLOPs of one pass over one sample of SD 1.5's UNet at 512x512 and FLUX.1-dev's transformer at 1024x1024."""
    import torch
    from diffusers import FluxTransformer2DModel, UNet2DConditionModel

    from tsearch.flops import count

    out = {}
    with torch.device("meta"):
        unet = UNet2DConditionModel(   # runwayml/stable-diffusion-v1-5's unet/config.json
            sample_size=64, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=(320, 640, 1280, 1280),
            down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3, cross_attention_dim=768, attention_head_dim=8)
        out["sd15 unet, 512x512 (64x64 latent, 77 text tokens)"] = count(
            lambda: unet(torch.randn(1, 4, 64, 64), torch.tensor([500]), encoder_hidden_states=torch.randn(1, 77, 768)))
        flux = FluxTransformer2DModel(   # black-forest-labs/FLUX.1-dev's transformer/config.json
            patch_size=1, in_channels=64, num_layers=19, num_single_layers=38, attention_head_dim=128,
            num_attention_heads=24, joint_attention_dim=4096, pooled_projection_dim=768, guidance_embeds=True,
            axes_dims_rope=(16, 56, 56))
        image, text = 4096, 512   # 1024x1024: a 128x128 latent in 2x2 patches; T5's 512 tokens
        out["flux.1-dev transformer, 1024x1024 (4096 image + 512 text tokens)"] = count(lambda: flux(
            hidden_states=torch.randn(1, image, 64), encoder_hidden_states=torch.randn(1, text, 4096),
            pooled_projections=torch.randn(1, 768), timestep=torch.tensor([0.5]), img_ids=torch.zeros(image, 3),
            txt_ids=torch.zeros(text, 3), guidance=torch.tensor([3.5])))
    return out


def main(argv=None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tsearch.bench flops", description=__doc__.split("\n")[0])
    parser.add_argument("--real", action="store_true", help="also count SD 1.5's UNet and FLUX.1-dev's transformer")
    args = parser.parse_args(argv)
    from tsearch.models import load_model
    from tsearch.verifiers import load_verifier

    for name, condition, verifiers in BUNDLED:
        try:
            m = load_model(name)
            cost = of_search(m, m.encode(condition), [load_verifier(v, model=m) for v in verifiers], condition)
        except Exception as error:  # noqa: BLE001 - a listing: say why and go on
            print(f"{name}: {error}")
            continue
        calls = ", ".join(f"{v} {f:,}" if f is not None else f"{v} not counted" for v, f in cost.per_call.items())
        print(f"{name}: {cost.per_nfe:,} FLOPs per NFE ({m.noise_shape}, {m.nfe_per_eval} pass(es) an evaluation, "
              f"counted over {cost.rows} rows); decode {cost.per_decode:,}; one verifier call: {calls}")
    if args.real:
        for name, figure in real_architectures().items():
            print(f"{name}: {figure:,} FLOPs per NFE (architecture only, on the meta device)")


if __name__ == "__main__":
    main()
