"""Make a CPU torch usable beside a torchvision wheel whose compiled ops do not load.

PyPI's torchvision can be built for another torch than the one installed (for example the CPU
build of torch 2.13 beside torchvision 0.28). Importing it then fails with
"operator torchvision::nms does not exist", and that failure breaks transformers, diffusers and
open_clip, which import torchvision. Only in that case we declare the two op schemas that
torchvision's Python code registers fake kernels for, and import again. On a normal install this
does nothing.
"""

import importlib
import sys


def ensure_torchvision() -> None:
    try:
        importlib.import_module("torchvision")
        return
    except ModuleNotFoundError:
        return  # not installed: the libraries that need it will say so themselves
    except RuntimeError as error:
        if "torchvision::nms does not exist" not in str(error):
            raise
    import torch

    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]
    library = torch.library.Library("torchvision", "FRAGMENT")
    library.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    library.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _KEEP.append(library)  # the schemas live as long as the Library object
    importlib.import_module("torchvision")


_KEEP: list = []
