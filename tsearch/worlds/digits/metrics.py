"""Oracle metrics of the digits world: Inception-Score and FID analogues on a separate network.

The paper evaluates class-conditional search with Inception Score and FID (PAPER.md,
"Verifier hacking"). Here both come from `nets.FeatureNet`, trained apart from the verifier
(`python -m tsearch.worlds.digits.train_features`), and FID compares with the 360 held-out real
digits that no network trained on:
- IS = exp( E_x KL( p(y|x) || p(y) ) ), p(y) the mean of p(y|x) over the images
  (Salimans et al. 2016, sec. 4), one split: high when every image is confidently one digit and
  the digits are diverse (at most 10).
- FID = |mu_g - mu_r|^2 + Tr(S_g + S_r - 2 (S_g S_r)^(1/2)) over the 64-d penultimate features
  (Heusel et al. 2017, eq. 6): low when the images look like real digits in mean and spread.
Both take images [n, 3, H, W] (or [n, 1, H, W]) float in [0, 1].
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch

from tsearch.registry import Unavailable
from tsearch.worlds.digits import nets
from tsearch.worlds.digits.data import load_split

DEFAULT_PATH = Path(__file__).resolve().parents[3] / "assets" / "digits" / "features"
TRAIN_COMMAND = "python -m tsearch.worlds.digits.train_features --device cpu --out assets/digits/features"


@functools.lru_cache(maxsize=4)
def feature_net(path: str | None = None) -> torch.nn.Module:
    """The oracle feature network on the CPU (cached per path)."""
    folder = Path(path) if path is not None else DEFAULT_PATH
    missing = nets.files_missing(folder)
    if missing:
        raise Unavailable(f"digits feature network missing in {folder} ({', '.join(missing)}); train it with: {TRAIN_COMMAND}")
    return nets.load(folder, "cpu")[0]


@torch.no_grad()
def _run(images: torch.Tensor, path: str | None, batch: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """(features [n, d], probabilities [n, 10]) in float64."""
    if images.ndim != 4 or images.shape[0] < 2:
        raise ValueError(f"metrics need a batch of at least 2 images [n, 3, H, W], got shape {tuple(images.shape)}")
    net = feature_net(path)
    features, probs = [], []
    for start in range(0, images.shape[0], batch):
        f = net.features(images[start:start + batch].detach().float().cpu())
        features.append(f.double())
        probs.append(torch.softmax(net.head(f).double(), dim=1))
    return torch.cat(features), torch.cat(probs)


def inception_score(images: torch.Tensor, path: str | None = None) -> float:
    """exp of the mean KL between p(y|x) and the marginal p(y), in [1, 10]."""
    _, p = _run(images, path)
    marginal = p.mean(0, keepdim=True)
    kl = (p * (torch.log(p.clamp_min(1e-12)) - torch.log(marginal.clamp_min(1e-12)))).sum(1)
    return float(torch.exp(kl.mean()))


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Frechet distance between two Gaussians (Heusel et al. 2017, eq. 6)."""
    from scipy import linalg

    covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        # A near-singular product (few images): regularise both covariances slightly, as pytorch-fid does.
        offset = np.eye(sigma1.shape[0]) * 1e-6
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    covmean = covmean.real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def statistics(images: torch.Tensor, path: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(mean, covariance) of the feature network's penultimate activations."""
    f, _ = _run(images, path)
    f = f.numpy()
    return f.mean(0), np.cov(f, rowvar=False)


@functools.lru_cache(maxsize=4)
def reference_statistics(path: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The feature statistics of the held-out real digits (the FID reference)."""
    images, _ = load_split("test")
    return statistics(images, path)


def fid(images: torch.Tensor, path: str | None = None) -> float:
    """Frechet distance of the images' features to the held-out real digits' (lower is better).

    Like FID it is biased upwards for small sets: compare only values computed on equal numbers of images.
    """
    mu, sigma = statistics(images, path)
    mu_ref, sigma_ref = reference_statistics(path)
    return frechet_distance(mu, sigma, mu_ref, sigma_ref)
