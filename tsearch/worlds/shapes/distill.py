"""Distil the shapes generator's classifier-free guidance into one pass per step.

    python -m tsearch.worlds.shapes.distill --minutes 80 --threads 2 --out /tmp/shapes-distilled [--bf16]

The student (Meng et al. 2023, "On Distillation of Guided Diffusion Models", sec. 4.1, stage one; the
guidance embedding of FLUX.1-dev and LCM) is the teacher's UNet plus a guidance input: sinusoidal
features of the scale w (`generator.guidance_features`, zero at w = 1) projected by a zero-initialised
linear layer into the timestep features (diffusers' `time_cond_proj_dim`). It starts as the teacher's
conditional branch and is trained to match the teacher's guided velocity
v_null + w (v_text - v_null) at w drawn from [--guidance-min, --guidance-max] (a share at the default
scale), at states x_t = (1 - t) x0 + t e of rendered scenes with their grammar captions, t uniform or
one of the default 10-step schedule's points. The text encoder is the teacher's, frozen. EMA weights
are saved in the generator's folder layout; a checkpoint under --out every few minutes makes a stopped
run resumable (--resume).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import signal
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from tsearch import schedule as schedules
from tsearch.worlds.shapes import data
from tsearch.worlds.shapes.generator import GUIDANCE_DIM, NULL_CAPTION, Generator


@dataclass
class DistillConfig:
    teacher: str = "assets/shapes/generator"
    out: str = "assets/shapes/distilled"
    device: str = "cpu"
    minutes: float = 60.0          # wall-clock budget, set-up and saving included
    steps: int = 100_000           # step cap (whichever comes first)
    batch_size: int = 32
    lr: float = 1e-4               # AdamW peak: a fine-tune of the teacher, 10x below its training lr
    warmup: int = 50               # linear warm-up steps, then cosine to 10% of lr over the budget
    ema: float = 0.995             # EMA decay (ramped up as min(ema, (1 + k) / (10 + k)))
    guidance_min: float = 0.0      # the scales trained for (w = 0: unconditional, 1: no guidance)
    guidance_max: float = 6.0
    default_share: float = 0.3     # share of samples at the teacher's default scale (the app's default)
    schedule_share: float = 0.5    # share of t at the default 10-step schedule's points, the rest uniform
    bf16: bool = False             # autocast teacher and student to bfloat16 (fast on AMX/AVX512-BF16 CPUs)
    seed: int = 0
    threads: int = 1
    checkpoint_minutes: float = 5.0
    resume: bool = False


def student_of(teacher: Generator, guidance_range: tuple[float, float]) -> Generator:
    """The teacher's UNet with a zero-initialised guidance input: at first exactly its conditional branch."""
    from diffusers import UNet2DConditionModel

    config = dict(teacher.unet.config)
    config["time_cond_proj_dim"] = GUIDANCE_DIM
    unet = UNet2DConditionModel.from_config(config)
    missing, unexpected = unet.load_state_dict(teacher.unet.state_dict(), strict=False)
    if unexpected or missing != ["time_embedding.cond_proj.weight"]:
        raise RuntimeError(f"teacher and student differ beyond the guidance input: {missing} {unexpected}")
    torch.nn.init.zeros_(unet.time_embedding.cond_proj.weight)
    meta = {**teacher.meta, "guidance_distilled": True, "guidance_range": list(guidance_range),
            "default_steps": 10}
    meta.pop("training", None)
    return Generator(unet, teacher.text_encoder, meta)


def sample_batch(config: DistillConfig, rng: np.random.Generator, teacher: Generator, points: torch.Tensor):
    """(x_t, t, w, states, pooled, target) for one batch; target is the teacher's guided velocity."""
    b, device = config.batch_size, config.device
    images, captions = data.sample_pairs(b, rng)
    x0 = data.to_tensor(images).float().to(device)
    e = torch.from_numpy(rng.standard_normal(x0.shape, dtype=np.float32)).to(device)
    on_grid = torch.from_numpy(rng.random(b) < config.schedule_share)
    t = torch.where(on_grid, points[torch.from_numpy(rng.integers(len(points), size=b))],
                    torch.from_numpy(rng.random(b, dtype=np.float32)).clamp(1e-3, 1.0)).to(device)
    w = rng.uniform(config.guidance_min, config.guidance_max, size=b)
    w[rng.random(b) < config.default_share] = float(teacher.meta.get("default_guidance", 3.0))
    w = torch.tensor(w, dtype=torch.float32, device=device)
    x_t = (1 - t.view(-1, 1, 1, 1)) * x0 + t.view(-1, 1, 1, 1) * e
    with torch.no_grad(), torch.autocast(torch.device(device).type, torch.bfloat16, enabled=config.bf16):
        states, pooled = teacher.text_encoder.encode(list(captions) + [NULL_CAPTION])
        null_states, null_pooled = states[-1:].expand(b, -1, -1), pooled[-1:].expand(b, -1)
        states, pooled = states[:-1], pooled[:-1]
        v = teacher.velocity(torch.cat([x_t, x_t]), torch.cat([t, t]), torch.cat([states, null_states]),
                             torch.cat([pooled, null_pooled])).float()
    v_text, v_null = v.chunk(2)
    target = v_null + w.view(-1, 1, 1, 1) * (v_text - v_null)
    return x_t, t, w, states.float(), pooled.float(), target


def learning_rate(config: DistillConfig, step: int, progress: float) -> float:
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    return config.lr * (0.1 + 0.45 * (1 + math.cos(math.pi * min(progress, 1.0))))


def distill(config: DistillConfig, teacher: Generator | None = None) -> dict:
    launched = time.time()
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    teacher = (teacher or Generator.load(config.teacher)).to(config.device).eval().requires_grad_(False)
    student = student_of(teacher, (config.guidance_min, config.guidance_max)).to(config.device)
    student.unet.train()
    ema = copy.deepcopy(student.unet).eval().requires_grad_(False)
    optimizer = torch.optim.AdamW(student.unet.parameters(), lr=config.lr, weight_decay=0.0)
    rng, step, losses, seconds_before = np.random.default_rng(config.seed), 0, [], 0.0
    checkpoint = os.path.join(config.out, "checkpoint.pt")
    if config.resume and os.path.exists(checkpoint):
        state = torch.load(checkpoint, weights_only=False)
        student.unet.load_state_dict(state["student"]), ema.load_state_dict(state["ema"])
        optimizer.load_state_dict(state["optimizer"])
        rng.bit_generator.state, step, losses = state["rng"], state["step"], state["losses"]
        seconds_before = state["seconds"]
        print(f"resumed at step {step}", flush=True)
    points = schedules.sigmas(schedules.RectifiedFlow(), 10)[:-1].float()
    stop = {"signal": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(signal=True))
    budget = max(1.0, config.minutes * 60.0 - (time.time() - launched) - 20.0)
    start = last_checkpoint = time.time()
    params, ema_params = list(student.unet.parameters()), list(ema.parameters())
    print(f"distilling {config.teacher} -> {config.out}: batch {config.batch_size}, lr {config.lr:.1e}, "
          f"bf16 {config.bf16}, {config.threads} threads, budget {budget:.0f}s", flush=True)
    while step < config.steps and time.time() - start < budget and not stop["signal"]:
        progress = max(step / config.steps, (time.time() - start + seconds_before) / (budget + seconds_before))
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(config, step, progress)
        x_t, t, w, states, pooled, target = sample_batch(config, rng, teacher, points)
        with torch.autocast(torch.device(config.device).type, torch.bfloat16, enabled=config.bf16):
            v = student.velocity(x_t, t, states, pooled, w)
        loss = torch.nn.functional.mse_loss(v.float(), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        with torch.no_grad():
            torch._foreach_lerp_(ema_params, params, 1 - min(config.ema, (1 + step) / (10 + step)))
        losses.append(loss.item())
        step += 1
        if step % 25 == 0:
            print(f"step {step} loss {np.mean(losses[-25:]):.5f} lr {optimizer.param_groups[0]['lr']:.2e} "
                  f"elapsed {time.time() - start:.0f}s", flush=True)
        if time.time() - last_checkpoint > config.checkpoint_minutes * 60:
            _checkpoint(checkpoint, student, ema, optimizer, rng, step, losses, seconds_before + time.time() - start)
            last_checkpoint = time.time()
    seconds = seconds_before + time.time() - start
    _checkpoint(checkpoint, student, ema, optimizer, rng, step, losses, seconds)
    log = {"steps": step, "seconds": round(seconds, 1), "seconds_per_step": round(seconds / max(step, 1), 3),
           "final_loss": round(float(np.mean(losses[-100:])), 6) if losses else None, "config": asdict(config)}
    Generator(ema, student.text_encoder, student.meta).save(config.out, meta={"training": log})
    with open(os.path.join(config.out, "train_log.json"), "w") as f:
        json.dump(log, f, indent=1)
    print(f"saved {config.out}: {json.dumps(log)}", flush=True)
    return log


def _checkpoint(path, student, ema, optimizer, rng, step, losses, seconds) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save({"student": student.unet.state_dict(), "ema": ema.state_dict(), "optimizer": optimizer.state_dict(),
                "rng": rng.bit_generator.state, "step": step, "losses": losses, "seconds": seconds}, path + ".tmp")
    os.replace(path + ".tmp", path)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    defaults = DistillConfig()
    for name, value in asdict(defaults).items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            parser.add_argument(flag, action="store_true")
        else:
            parser.add_argument(flag, type=type(value), default=value)
    return distill(DistillConfig(**vars(parser.parse_args(argv))))


if __name__ == "__main__":
    main()
