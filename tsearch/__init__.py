"""tsearch: inference-time search over diffusion noise (Ma et al. 2025, arXiv 2501.09732)."""

from tsearch._compat import ensure_torchvision

ensure_torchvision()

from tsearch.version import __version__  # noqa: E402

from tsearch.api import SearchResult, prepare, search, stream  # noqa: E402
from tsearch.lineage import lineage_figure  # noqa: E402

__all__ = ["search", "stream", "prepare", "SearchResult", "lineage_figure", "__version__"]
