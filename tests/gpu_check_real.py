"""GPU checks for the real adapters and verifiers, prepared for a lent GPU (not collected by pytest).

Sections (each its own process; CHECK_DEVICE=cpu runs A and B on the CPU as a dry run):
  A     tiny pipelines of every family loaded in half precision on the GPU: finite, repeatable, near fp32
  B     tiny verifiers on the GPU give the CPU's scores
  sd15  full-size random SD 1.5: the naive diffusers loop (one call per candidate) and OOM halving in VAE decode
  flux  full-size random FLUX.1-dev: the naive diffusers loop
With the engine benchmark, on a machine holding diffusers and open_clip (carry the wheels):
  python tests/gpu_check_real.py A; python tests/gpu_check_real.py B
  python -m tsearch.bench engine --model sd15-random --candidates 64 --steps 20 --batch-size 16 --naive-candidates 8
  python tests/gpu_check_real.py sd15
  python -m tsearch.bench engine --model flux-random --candidates 8 --steps 4 --batch-size 4 --naive-candidates 2
  python tests/gpu_check_real.py flux
"""
import importlib.util
import json
import os
import sys
import tempfile
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import torch  # noqa: E402

import tsearch  # noqa: E402,F401
from tsearch import noise  # noqa: E402
from tsearch.recipes import denoise  # noqa: E402

DEV = os.environ.get("CHECK_DEVICE", "cuda")


def load_test_module(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "tests", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def section_a():
    """Tiny adapters of every family on CUDA in their half precision, against float32 on CUDA."""
    from tsearch.models import hub
    T = load_test_module("test_real_models")
    root = tempfile.mkdtemp()
    for family, (builder, options, condition) in T.FAMILIES.items():
        try:
            torch.manual_seed(0)
            path = os.path.join(root, family)
            builder().save_pretrained(path)
            if family == "dit":
                index = json.load(open(os.path.join(path, "model_index.json")))
                json.dump({**index, "id2label": T.DIT_LABELS}, open(os.path.join(path, "model_index.json"), "w"))
            half = hub.load_pretrained(path, DEV, **options)
            full = hub.load_pretrained(path, DEV, dtype="fp32", **options)
            x = torch.stack([noise.gaussian(half.noise_shape, s) for s in (1, 2)]).to(DEV) * half.prior_scale
            sig = half.sigmas(3)
            a = half.decode(denoise(half, half.encode(condition), x, sig))
            b = half.decode(denoise(half, half.encode(condition), x, sig))
            c = full.decode(denoise(full, full.encode(condition), x, sig))
            print(f"A {family:13s} dtype={half.dtype} finite={bool(torch.isfinite(a).all())} shape={tuple(a.shape)} "
                  f"repeat_diff={float((a - b).abs().max()):.2e} half_vs_fp32={float((a - c).abs().max()):.3f}", flush=True)
        except Exception:
            print(f"A {family} FAILED\n{traceback.format_exc()}", flush=True)


def section_b():
    """Tiny verifiers on CUDA: same scores as on the CPU."""
    from pathlib import Path
    from tsearch.verifiers import imagereward, ssl_similarity, clipscore
    from open_clip.model import CLIP
    from safetensors.torch import save_file
    V = load_test_module("test_real_verifiers")
    images = V._images(4)
    tmp = Path(tempfile.mkdtemp())
    V._blip_original_checkpoint(tmp)
    pairs = {"imagereward": lambda d: imagereward.build(device=d, path=str(tmp), tokenizer=str(tmp / "tokenizer"))}
    clip_dir = tmp / "clip"
    clip_dir.mkdir()
    torch.manual_seed(0)
    (clip_dir / "open_clip_config.json").write_text(json.dumps({"model_cfg": V.OPEN_CLIP_CFG}))
    save_file(CLIP(**V.OPEN_CLIP_CFG).state_dict(), str(clip_dir / "open_clip_model.safetensors"))
    pairs["clipscore(cosine)"] = lambda d: clipscore.build(device=d, name=f"local-dir:{clip_dir}", pretrained=None)
    from transformers import BitImageProcessor, Dinov2Config, Dinov2Model
    Dinov2Model(Dinov2Config(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37,
                             image_size=32, patch_size=8)).save_pretrained(tmp / "dino")
    BitImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(tmp / "dino")
    pairs["ssl-similarity"] = lambda d: ssl_similarity.build(device=d, path=str(tmp / "dino"))
    for name, make in pairs.items():
        try:
            cpu, gpu = make("cpu"), make(DEV)
            if name == "ssl-similarity":
                s_cpu, s_gpu = cpu.score(images, None, reference=images.flip(0)), gpu.score(images.to(DEV), None, reference=images.flip(0).to(DEV))
            elif name.startswith("clipscore"):
                s_cpu, s_gpu = cpu.cosine(images, "a red circle"), gpu.cosine(images.to(DEV), "a red circle")
            else:
                s_cpu, s_gpu = cpu.score(images, "a red circle"), gpu.score(images.to(DEV), "a red circle")
            print(f"B {name:18s} device_out={s_gpu.device} cpu_vs_cuda={float((s_cpu - s_gpu).abs().max()):.2e}", flush=True)
        except Exception:
            print(f"B {name} FAILED\n{traceback.format_exc()}", flush=True)


def section_naive(name, n, steps, **options):
    """The peers' loop (one pipeline call per candidate) on a full-size random architecture, and OOM halving."""
    from tsearch.bench.naive import naive_pipeline_loop
    from tsearch.models.random_arch import build_random
    t0 = time.perf_counter()
    model = build_random(name, DEV, **options)
    torch.cuda.synchronize()
    print(f"N {name}: built on {torch.cuda.get_device_name()} in {time.perf_counter() - t0:.1f} s, "
          f"dtype {model.dtype}, noise {model.noise_shape}, memory {torch.cuda.memory_allocated() / 2**30:.1f} GiB", flush=True)
    naive_pipeline_loop(name, "a photo of a red circle", 1, 2, DEV, model=model)  # warm-up
    seconds = naive_pipeline_loop(name, "a photo of a red circle", n, steps, DEV, model=model)
    print(f"N {name}: naive diffusers loop {n} candidates x {steps} steps: {seconds:.2f} s = {n / seconds:.3f} candidates/s", flush=True)
    if name == "sd15-random":
        model.decoder.max_batch = 96
        latents = torch.randn(96, *model.noise_shape, device=DEV)
        torch.cuda.reset_peak_memory_stats()
        images = model.decode(latents)
        print(f"N {name}: VAE decode of 96 latents with decode_batch=96: halvings={model.decoder.halvings}, "
              f"batch now {model.decoder.max_batch}, images {tuple(images.shape)}, "
              f"peak {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB", flush=True)


if __name__ == "__main__":
    which = sys.argv[1]
    {"A": section_a, "B": section_b,
     "sd15": lambda: section_naive("sd15-random", 8, 20),
     "flux": lambda: section_naive("flux-random", 2, 4)}[which]()
