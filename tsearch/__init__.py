"""tsearch: inference-time search over diffusion noise (Ma et al. 2025, arXiv 2501.09732)."""

from tsearch._compat import ensure_torchvision

ensure_torchvision()

__version__ = "0.1.0"
