"""Train the verifier `digits-classifier`: a small CNN on the training split (an ImageNet-classifier analogue).

    python -m tsearch.worlds.digits.train_classifier --device cpu --threads 1 --out assets/digits/classifier

Writes DIR/{model.safetensors (fp16), net.json (with the held-out accuracy), train_log.json}.
"""

from __future__ import annotations

from tsearch.worlds.digits.fit_classifier import fit
from tsearch.worlds.digits.training import Defaults, parse_args

CPU = Defaults(steps=1500, batch_size=128, minutes=10.0)
CUDA = Defaults(steps=1500, batch_size=128, minutes=2.0)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(__doc__.splitlines()[0], CPU, CUDA, argv)
    return fit("classifier", args)


if __name__ == "__main__":
    main()
