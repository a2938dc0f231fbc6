"""The digits world: class-conditional miniature of SiT on ImageNet (DESIGN.md, "The bundled worlds").

- data.py: scikit-learn's bundled 8x8 digits at 16x16, fixed stratified 80/20 split
- generator.py, train_generator.py: class-conditional UNet2DModel, rectified flow, CFG dropout
- nets.py, fit_classifier.py, train_classifier.py: the `digits-classifier` verifier's CNN
- train_features.py, metrics.py: a separate feature network for IS- and FID-style oracle metrics
The model adapter is tsearch/models/digits.py, the verifier tsearch/verifiers/digits_classifier.py; the
generator with no search, measured by the verifier and the metrics, is tsearch/bench/eval_digits.py
(so no world imports models or verifiers).
"""
