"""Verifier registry: one line per verifier. Factories take (model, device) and return a Verifier."""

from __future__ import annotations

from tsearch.registry import Entry, resolve, status, unknown
from tsearch.verifiers.base import Verifier

VERIFIERS: dict[str, Entry] = {
    "gmm-density": Entry("tsearch.verifiers.gmm_density:build", "log-density of the chosen mixture component (gmm only; exact optimum known)", kind="analytic"),
    "shapes-clip": Entry("tsearch.verifiers.shapes_clip:build", "tiny CLIP trained on shape scenes, scored like CLIPScore", kind="bundled"),
    "shapes-quality": Entry("tsearch.verifiers.shapes_quality:build", "quality head on the shapes CLIP's image embedding, blind to the prompt (aesthetic analogue)", kind="bundled"),
    "shapes-oracle": Entry("tsearch.verifiers.shapes_oracle:build", "exact oracle for the shapes world (upper bound: GenEval-style checks)", kind="bundled"),
    "shapes-parts": Entry("tsearch.verifiers.shapes_parts:build", "compositional, GenEval-style: a segmenter trained on shape scenes finds the objects; each object, colour, count and relation is judged pass/fail/undecidable", kind="bundled"),
    "shapes-oracle-noisy": Entry("tsearch.verifiers.shapes_oracle_noisy:build", "noised upper bound: the exact oracle with each atom's verdict flipped with probability rate (option rate=e, default 0.1; seed=)", kind="bundled"),
    "shapes-oracle-e0.1": Entry("tsearch.verifiers.shapes_oracle_noisy:build_e10", "noised upper bound: the exact oracle, each atom's verdict flipped with probability 0.1 (seeded)", kind="bundled"),
    "shapes-oracle-e0.2": Entry("tsearch.verifiers.shapes_oracle_noisy:build_e20", "noised upper bound: the exact oracle, each atom's verdict flipped with probability 0.2 (seeded)", kind="bundled"),
    "shapes-oracle-e0.3": Entry("tsearch.verifiers.shapes_oracle_noisy:build_e30", "noised upper bound: the exact oracle, each atom's verdict flipped with probability 0.3 (seeded)", kind="bundled"),
    "digits-classifier": Entry("tsearch.verifiers.digits_classifier:build", "small CNN classifier: logit of the target digit, an unbounded log-odds score, not a probability (ImageNet-classifier analogue)", kind="bundled"),
    "clipscore": Entry("tsearch.verifiers.clipscore:build", "CLIPScore, 2.5 max(cos, 0), open_clip ViT-L/14 OpenAI by default (Hessel et al. 2021)", requires=("open_clip",), kind="real", condition="text"),
    "aesthetic": Entry("tsearch.verifiers.aesthetic:build", "LAION aesthetic predictor v2: MLP over CLIP ViT-L/14 image embeddings, prompt-blind (1-10)", requires=("open_clip",), kind="real"),
    "imagereward": Entry("tsearch.verifiers.imagereward:build", "ImageReward (BLIP reward model, THUDM/ImageReward) in transformers BLIP classes", requires=("transformers",), kind="real", condition="text"),
    "pickscore": Entry("tsearch.verifiers.pickscore:build", "PickScore v1: CLIP ViT-H/14 preference logit (yuvalkirstain/PickScore_v1)", requires=("transformers",), kind="real", condition="text"),
    "hpsv2": Entry("tsearch.verifiers.hpsv2:build", "HPSv2.1: human-preference cosine from open_clip ViT-H/14 (xswu/HPSv2)", requires=("open_clip",), kind="real", condition="text"),
    "imagenet-classifier": Entry("tsearch.verifiers.imagenet_classifier:build", "logit of the target class from a transformers ImageNet classifier (google/vit-base-patch16-224); class-conditional", requires=("transformers",), kind="real", condition="class"),
    "clip-zeroshot": Entry("tsearch.verifiers.clip_zeroshot:build", "CLIP zero-shot logit of the target class over prompt templates (ImageNet names); class-conditional", requires=("open_clip",), kind="real", condition="class"),
    "ssl-similarity": Entry("tsearch.verifiers.ssl_similarity:build", "label-free: DINOv2 cosine between the final sample and its clean estimate at t=0.4 (needs the engine to pass reference=)", requires=("transformers",), kind="real"),
    "geneval-owlv2": Entry("tsearch.verifiers.geneval_owlv2:build", "GenEval-style atoms (objects, counts, colours, relation) over the OWLv2 zero-shot detector (google/owlv2-base-patch16-ensemble); GenEval prompts or metadata JSON", requires=("transformers",), kind="real", condition="text"),
    "llm-grader": Entry("tsearch.verifiers.llm_grader:build", "VLM grader with the paper rubric (0-100) over any OpenAI-compatible endpoint (TSEARCH_LLM_URL/KEY/MODEL)", kind="real", condition="text"),
}


def load_verifier(name: str, model=None, device: str = "cpu", **options) -> Verifier:
    """Build a verifier by registered name, or from "module:function" (a custom scoring function).

    `options` go to the verifier's factory (e.g. clipscore's name/pretrained, or a local weights path).
    """
    if name not in VERIFIERS:
        if ":" in name:
            from tsearch.verifiers.custom import from_import_path

            return from_import_path(name)
        raise unknown("verifier", name, VERIFIERS)
    factory = resolve(VERIFIERS[name])
    try:
        return factory(model=model, device=device, **options)
    except TypeError as error:  # an option the factory does not take
        raise ValueError(f"verifier {name!r} does not take these options: {error}") from None


def verifier_status() -> list[tuple[str, bool, str, str]]:
    return [(name, *status(entry), entry.description) for name, entry in VERIFIERS.items()]


__all__ = ["VERIFIERS", "Verifier", "load_verifier", "verifier_status"]
