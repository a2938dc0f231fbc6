"""`geneval-owlv2` (issue 27, item 3): GenEval's prompts and metadata as atoms over a tiny random OWLv2."""

import json

import numpy as np
import pytest
import torch

import tsearch  # noqa: F401  (torchvision fix before the libraries)
from tsearch.models import random_arch as ra
from tsearch.registry import Unavailable
from tsearch.verifiers import geneval_owlv2 as owl
from tsearch.verifiers import load_verifier
from tsearch.verifiers.atoms import Ask, Want

pytestmark = pytest.mark.usefixtures("one_thread")


def _tokenizer():
    """A CLIP tokenizer over single characters whose start token is not id 0: OWLv2 masks out a
    query whose first id is 0 (its padding queries)."""
    from transformers import CLIPTokenizer

    vocab = {"!": 0, "<|startoftext|>": 1, "<|endoftext|>": 2}
    for piece in [*ra.LETTERS, *(c + "</w>" for c in ra.LETTERS)]:
        vocab.setdefault(piece, len(vocab))
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=16)


@pytest.fixture(scope="module")
def tiny_owl(tmp_path_factory):
    """A tiny random Owlv2ForObjectDetection and its processor, saved as a hub folder is laid out."""
    from transformers import Owlv2Config, Owlv2ForObjectDetection, Owlv2ImageProcessor, Owlv2Processor

    folder = tmp_path_factory.mktemp("owlv2")
    torch.manual_seed(0)
    tokenizer = _tokenizer()
    config = Owlv2Config(text_config={"vocab_size": len(tokenizer), "hidden_size": 32, "intermediate_size": 37,
                                      "num_hidden_layers": 1, "num_attention_heads": 2, "bos_token_id": 1,
                                      "eos_token_id": 2, "pad_token_id": 2, "max_position_embeddings": 16},
                         vision_config={"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 1,
                                        "num_attention_heads": 2, "image_size": 32, "patch_size": 8}, projection_dim=32)
    Owlv2ForObjectDetection(config).save_pretrained(folder)
    Owlv2Processor(image_processor=Owlv2ImageProcessor(size={"height": 32, "width": 32}), tokenizer=tokenizer).save_pretrained(folder)
    return folder


def test_geneval_prompts_and_metadata_read_as_the_same_atoms():
    assert owl.parse_prompt("a photo of a red car and a blue bench") == Ask((Want("car", 1, "red"), Want("bench", 1, "blue")))
    assert owl.parse_prompt("a photo of three dogs") == Ask((Want("dog", 3, exact=True),))
    assert owl.parse_prompt("a photo of four wine glasses") == Ask((Want("wine glass", 4, exact=True),))
    assert owl.parse_prompt("a photo of an orange potted plant") == Ask((Want("potted plant", 1, "orange"),))
    position = owl.parse_prompt("a photo of a dog right of a cat")
    assert position == Ask((Want("dog"), Want("cat")), (0, "right", 1))
    # GenEval's metadata: the second item lies "right of" item 0
    metadata = {"tag": "position", "include": [{"class": "cat", "count": 1}, {"class": "dog", "count": 1, "position": ["right of", 0]}]}
    assert owl.ask_of(json.dumps(metadata)) == Ask((Want("cat"), Want("dog")), (1, "right", 0))
    counting = {"tag": "counting", "include": [{"class": "dog", "count": 3}]}
    assert owl.ask_of(counting) == owl.parse_prompt("a photo of three dogs")
    for bad in ("", "a photo of", '{"include": []}', '{"include": [{"class": "cat", "color": "mauve"}]}', "{not json", 7):
        with pytest.raises(ValueError, match="geneval-owlv2"):
            owl.ask_of(bad)


def test_the_tiny_random_owlv2_loads_and_scores_through_the_real_path(tiny_owl):
    verifier = load_verifier("geneval-owlv2", path=str(tiny_owl))
    images = torch.rand(3, 3, 40, 48, generator=torch.Generator().manual_seed(1))
    scores = verifier.score(images, "a photo of a red car left of a blue bench")
    assert scores.shape == (3,) and torch.isfinite(scores).all()
    assert torch.equal(scores, verifier.score(images, "a photo of a red car left of a blue bench"))
    # a detector sure of every box: each query is found, so presence passes and the count of three is a fail
    with torch.no_grad():
        head = verifier.model.class_head
        head.logit_shift.weight.zero_(), head.logit_shift.bias.fill_(20.0)
        head.logit_scale.weight.zero_(), head.logit_scale.bias.fill_(1.0)
    explained = verifier.atoms(images, "a photo of three dogs")
    assert [a["text"] for a in explained[0]["atoms"]] == ["a dog", "three dogs"]
    assert explained[0]["atoms"][0]["verdict"] == "pass" and explained[0]["boxes"]
    for box in explained[0]["boxes"]:
        assert box["label"] == "dog" and len(box["box"]) == 4


class _Scripted(torch.nn.Module):
    """Stands in for OWLv2: two boxes, box 0 sure of query 0 and box 1 sure of query 1."""

    def forward(self, input_ids=None, pixel_values=None, **_):
        b = pixel_values.shape[0]
        logits = torch.full((b, 2, 2), -9.0)
        logits[:, 0, 0] = logits[:, 1, 1] = 9.0
        boxes = torch.tensor([[0.25, 0.5, 0.3, 0.3], [0.75, 0.5, 0.3, 0.3]]).expand(b, 2, 4)   # cx, cy, w, h
        return type("Out", (), {"logits": logits, "pred_boxes": boxes})()


def test_geometry_colour_and_combination_follow_geneval(tiny_owl):
    from transformers import Owlv2Processor

    verifier = owl.GenEvalOwlv2(_Scripted(), Owlv2Processor.from_pretrained(tiny_owl))
    image = torch.zeros(1, 3, 32, 32)
    image[0, 0, 12:20, 5:13] = 0.9                    # red where box 0 (the car) is, on the left
    image[0, 2, 12:20, 21:29] = 0.9                   # blue where box 1 (the bench) is, on the right
    score = lambda prompt: float(verifier.score(image, prompt)[0])   # noqa: E731
    right = score("a photo of a red car left of a blue bench")
    assert right >= 2.0                                               # every atom passes
    assert score("a photo of a car right of a bench") < 1.0           # the relation fails
    assert score("a photo of a blue car and a red bench") < 1.0       # the colours fail
    atoms = verifier.atoms(image, "a photo of a red car and a blue bench")[0]["atoms"]
    assert [(a["kind"], a["verdict"]) for a in atoms] == [("object", "pass"), ("color", "pass"), ("object", "pass"), ("color", "pass")]


def test_missing_weights_say_how_to_get_them(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(Unavailable, match="geneval-owlv2.*huggingface-cli"):
        owl.build(path="google/owlv2-base-patch16-ensemble")
    ok, reason = owl.build.available()
    assert ok is False and "HF_HUB_OFFLINE" in reason
