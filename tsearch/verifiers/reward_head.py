"""The small MLP that both the LAION aesthetic predictor v2 and ImageReward put on top of an embedding.

Both checkpoints store it as `layers.{0,2,4,6,7}` of an nn.Sequential (Linear, Dropout, Linear,
Dropout, Linear, Dropout, Linear, Linear: 1024-128-64-16-1, no activations). The sizes are read
from the checkpoint, so tiny test heads load through the same code.
"""

from __future__ import annotations

import torch
from torch import nn

LINEAR_INDICES = (0, 2, 4, 6, 7)


def reward_mlp(state_dict: dict, prefix: str = "layers.") -> nn.Sequential:
    """Build the head from a state dict with keys `{prefix}{i}.weight/bias` and load it (eval mode)."""
    missing = [f"{prefix}{i}.weight" for i in LINEAR_INDICES if f"{prefix}{i}.weight" not in state_dict]
    if missing:
        raise ValueError(f"not a reward-MLP checkpoint: missing {missing}")
    shapes = [state_dict[f"{prefix}{i}.weight"].shape for i in LINEAR_INDICES]
    dropouts = {1: 0.2, 3: 0.2, 5: 0.1}
    modules = []
    for position in range(8):
        if position in dropouts:
            modules.append(nn.Dropout(dropouts[position]))
        else:
            out_features, in_features = shapes[LINEAR_INDICES.index(position)]
            modules.append(nn.Linear(in_features, out_features))
    head = nn.Sequential(*modules)
    head.load_state_dict({key[len(prefix):]: value for key, value in state_dict.items() if key.startswith(prefix)})
    return head.eval()


def load_checkpoint(path: str) -> dict:
    """A plain tensor state dict saved with torch.save (weights_only: no code runs on load)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state.get("state_dict", state)
