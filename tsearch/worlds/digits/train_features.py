"""Train the oracle metrics' feature network (IS/FID analogue), separate from the verifier.

    python -m tsearch.worlds.digits.train_features --device cpu --threads 1 --out assets/digits/features

Another architecture (nets.FeatureNet) and another default seed than `train_classifier`, so the
metric is not the verifier it judges. Writes DIR/{model.safetensors (fp16), net.json, train_log.json}.
"""

from __future__ import annotations

from tsearch.worlds.digits.fit_classifier import fit
from tsearch.worlds.digits.training import Defaults, parse_args

CPU = Defaults(steps=1500, batch_size=128, minutes=10.0)
CUDA = Defaults(steps=1500, batch_size=128, minutes=2.0)
SEED = 1  # the verifier trains from seed 0
# Inception v3 was trained with label smoothing 0.1 (Szegedy et al. 2016, sec. 7); here it also keeps
# p(y|x) from saturating, so the IS analogue still moves when search makes digits less ambiguous.
LABEL_SMOOTHING = 0.1


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(__doc__.splitlines()[0], CPU, CUDA, argv, default_seed=SEED)
    return fit("features", args, label_smoothing=LABEL_SMOOTHING)


if __name__ == "__main__":
    main()
