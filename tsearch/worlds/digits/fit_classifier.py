"""Supervised training shared by the two digit classifiers (`train_classifier`, `train_features`).

Cross-entropy on the training split with light random affine warps (data.augment), AdamW with
warm-up and cosine decay; at the end the held-out accuracy is measured and saved beside the
weights, so every shipped network carries the number its tests check.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from tsearch.worlds.digits import nets
from tsearch.worlds.digits.data import augment, load_split
from tsearch.worlds.digits.training import Budget, lr_at, write_log


@torch.no_grad()
def accuracy(net: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, batch: int = 512) -> float:
    net.eval()
    hits = 0
    for start in range(0, len(labels), batch):
        logits = net(images[start:start + batch])
        hits += (logits.argmax(1).cpu() == labels[start:start + batch].cpu()).sum().item()
    return hits / len(labels)


def fit(
    kind: str, args, lr: float = 2e-3, weight_decay: float = 1e-4, augment_fraction: float = 0.8, label_smoothing: float = 0.0
) -> dict:
    """Train `nets.build_net(kind)` under args (device, steps, minutes, batch_size, seed, out) and save it."""
    torch.manual_seed(args.seed)
    cpu_rng = torch.Generator().manual_seed(args.seed)
    device = torch.device(args.device)
    images, labels = (t.to(device) for t in load_split("train"))
    test_images, test_labels = (t.to(device) for t in load_split("test"))

    net = nets.build_net(kind).to(device).train()
    optimiser = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    budget = Budget(args.steps, args.minutes, f"train_{kind}")
    loss_value = float("nan")
    while budget.running():
        index = torch.randint(len(labels), (args.batch_size,), generator=cpu_rng).to(device)
        x, y = images[index], labels[index]
        warp = (torch.rand(args.batch_size, generator=cpu_rng) < augment_fraction).to(device)
        x = torch.where(warp[:, None, None, None], augment(x, cpu_rng), x)
        for group in optimiser.param_groups:
            group["lr"] = lr_at(budget, lr, warmup=50)
        loss = F.cross_entropy(net(x), y, label_smoothing=label_smoothing)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        loss_value = loss.item()
        budget.tick(loss_value)

    held_out = accuracy(net, test_images, test_labels)
    facts = dict(
        steps=budget.step, held_out_accuracy=held_out, seed=args.seed, batch_size=args.batch_size, label_smoothing=label_smoothing
    )
    nets.save(net, args.out, **facts)
    log = dict(
        script=f"tsearch.worlds.digits.train_{kind}",
        seconds=round(budget.elapsed, 1),
        seconds_per_step=round(budget.elapsed / max(budget.step, 1), 4),
        final_loss=loss_value,
        device=str(device),
        **facts,
    )
    write_log(args.out, **log)
    print(f"[train_{kind}] held-out accuracy {held_out:.4f}; saved {args.out}", flush=True)
    return log
