"""Train the class-conditional digits generator with rectified flow and guidance dropout.

    python -m tsearch.worlds.digits.train_generator --device cuda --minutes 5 --out DIR
    python -m tsearch.worlds.digits.train_generator --device cpu --threads 2 --out DIR   # <= 30 min

Loss: || v_theta(x_t, t, y) - (e - x0) ||^2 with x_t = (1 - t) x0 + t e and t drawn logit-normal
(SD3, Esser et al. 2024, sec. 3.1 and eq. 19), which spends the steps on the middle of the path
where the velocity is hardest to predict. 10% of labels are replaced by the null class so the same
network also gives the unconditional velocity for classifier-free guidance. The weights saved are
an exponential moving average of the trained ones. Writes DIR/{config.json,
diffusion_pytorch_model.safetensors, digits.json, train_log.json}.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import torch

from tsearch.worlds.digits import generator as gen
from tsearch.worlds.digits.data import augment, load_split
from tsearch.worlds.digits.training import Budget, Defaults, lr_at, parse_args, write_log

CPU = Defaults(steps=2500, batch_size=64, minutes=30.0)      # measured 0.6 s/step on one shared core: ~25 min
CUDA = Defaults(steps=20000, batch_size=256, minutes=5.0)


@dataclass(frozen=True)
class Recipe:
    lr: float = 1e-3            # AdamW peak learning rate (warm-up then cosine, training.lr_at)
    weight_decay: float = 0.0
    ema: float = 0.999          # EMA decay, ramped as (1 + n) / (10 + n) early so short runs still average
    label_dropout: float = 0.1  # fraction of labels replaced by the null class (CFG)
    augment: float = 0.5        # fraction of images given a light random affine warp
    checkpoints: int = 4        # also save at every quarter of the budget, in case the job is killed


def train(args, recipe: Recipe = Recipe()) -> dict:
    torch.manual_seed(args.seed)
    cpu_rng = torch.Generator().manual_seed(args.seed)
    device = torch.device(args.device)
    images, labels = load_split("train")
    images, labels = gen.to_pixels(images).to(device), labels.to(device)

    unet = gen.build_unet().to(device).train()
    ema = copy.deepcopy(unet).eval().requires_grad_(False)
    optimiser = torch.optim.AdamW(unet.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu", enabled=False)
    budget = Budget(args.steps, args.minutes, "train_generator")
    facts = dict(recipe=asdict(recipe), batch_size=args.batch_size, seed=args.seed, device=str(device))
    next_checkpoint, loss_value, losses = 1.0 / recipe.checkpoints, float("nan"), []

    while budget.running():
        index = torch.randint(len(labels), (args.batch_size,), generator=cpu_rng).to(device)
        x0, y = images[index], labels[index].clone()
        warp = (torch.rand(args.batch_size, generator=cpu_rng) < recipe.augment).to(device)
        if warp.any():
            x0 = torch.where(warp[:, None, None, None], gen.to_pixels(augment(gen.from_pixels(x0), cpu_rng)), x0)
        drop = (torch.rand(args.batch_size, generator=cpu_rng) < recipe.label_dropout).to(device)
        y[drop] = gen.NULL_CLASS
        t = torch.sigmoid(torch.randn(args.batch_size, generator=cpu_rng)).to(device)   # logit-normal(0, 1)
        e = torch.randn(x0.shape, generator=cpu_rng).to(device)
        xt = (1 - t[:, None, None, None]) * x0 + t[:, None, None, None] * e

        for group in optimiser.param_groups:
            group["lr"] = lr_at(budget, recipe.lr)
        with autocast:
            loss = (gen.velocity(unet, xt, t, y).float() - (e - x0)).pow(2).mean()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        optimiser.step()
        decay = min(recipe.ema, (1 + budget.step) / (10 + budget.step))
        with torch.no_grad():
            for p_ema, p in zip(ema.parameters(), unet.parameters()):
                p_ema.lerp_(p, 1 - decay)

        loss_value = loss.item()
        losses.append(loss_value)
        budget.tick(loss_value)
        if budget.progress >= next_checkpoint and budget.running():
            gen.save(ema, args.out, steps=budget.step, checkpoint=True, **facts)
            next_checkpoint += 1.0 / recipe.checkpoints

    recent = losses[-100:]
    log = dict(
        script="tsearch.worlds.digits.train_generator",
        steps=budget.step,
        seconds=round(budget.elapsed, 1),
        seconds_per_step=round(budget.elapsed / max(budget.step, 1), 4),
        final_loss=loss_value,
        mean_loss_last_100=sum(recent) / max(len(recent), 1),
        **facts,
    )
    gen.save(ema, args.out, steps=budget.step, checkpoint=False, **facts)
    write_log(args.out, **log)
    print(f"[train_generator] saved {args.out} after {budget.step} steps in {budget.elapsed:.0f}s", flush=True)
    return log


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(__doc__.splitlines()[0], CPU, CUDA, argv)
    return train(args)


if __name__ == "__main__":
    main()
