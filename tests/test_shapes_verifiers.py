"""shapes-clip and shapes-quality: training scripts run a few CPU steps; verifiers load what they wrote."""

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open

from tsearch.registry import Unavailable
from tsearch.verifiers import VERIFIERS, shapes_clip, shapes_quality, verifier_status
from tsearch.worlds.shapes import clip_model, data, eval_clip, grammar, train_clip, train_quality
from tsearch.worlds.shapes import hard_negatives


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A CLIP and a quality head, 3 CPU steps each, laid out as in assets/shapes/ (clip/ beside quality/)."""
    root = tmp_path_factory.mktemp("shapes")
    common = ["--device", "cpu", "--steps", "3", "--batch-size", "4", "--threads", "1", "--workers", "0"]
    train_clip.main([*common, "--out", str(root / "clip"), "--eval-per-category", "2"])
    train_quality.main([*common, "--clip", str(root / "clip"), "--out", str(root / "quality"), "--eval-per-kind", "2"])
    return root


def images(n=3, seed=0):
    batch, captions = data.sample_pairs(n, np.random.default_rng(seed))
    return data.to_unit(batch), captions


def test_train_clip_writes_fp16_weights_and_a_log(trained):
    folder = trained / "clip"
    assert clip_model.missing_files(folder) == []
    with safe_open(str(folder / clip_model.WEIGHTS_FILE), "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}
    log = json.loads((folder / "train_log.json").read_text())
    assert log["steps"] == 3 and np.isfinite(log["final_loss"])
    assert set(grammar.CATEGORIES) <= set(log["eval"]) and 0 <= log["eval"]["overall"]["pairwise"] <= 1
    assert log["held_out_captions"] == train_clip.held_out_captions(0.1)


def test_train_quality_writes_head_and_log(trained):
    log = json.loads((trained / "quality" / "train_log.json").read_text())
    assert log["steps"] == 3 and np.isfinite(log["final_loss"])
    assert set(data.DEGRADATIONS) <= set(log["eval"])


def test_clip_verifier_scores_are_clipscore_shaped_and_deterministic(trained):
    verifier = shapes_clip.build(path=trained / "clip")
    x, captions = images(3)
    first = verifier.score(x, captions[0])
    assert verifier.name == "shapes-clip" and first.shape == (3,) and first.device.type == "cpu"
    assert torch.isfinite(first).all() and (first >= 0).all() and (first <= 2.5).all()  # w * max(cos, 0), w = 2.5
    assert torch.equal(first, verifier.score(x, captions[0]))
    assert torch.equal(first, shapes_clip.build(path=trained / "clip").score(x, captions[0]))
    assert list(verifier._text) == [captions[0]]          # the caption was encoded once
    upscaled = torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest")
    assert verifier.score(upscaled, captions[0]).shape == (3,)  # other sizes are resized to 32x32


def test_clip_verifier_rejects_unknown_words_and_class_labels(trained):
    verifier = shapes_clip.build(path=trained / "clip")
    x, _ = images(1)
    with pytest.raises(ValueError, match="purple"):
        verifier.score(x, "a purple circle")
    with pytest.raises(ValueError, match="caption"):
        verifier.score(x, 3)


def test_quality_verifier_is_prompt_blind_and_deterministic(trained):
    verifier = shapes_quality.build(path=trained / "quality")
    x, _ = images(4)
    first = verifier.score(x, "a red circle")
    assert verifier.name == "shapes-quality" and first.shape == (4,) and torch.isfinite(first).all()
    assert torch.equal(first, verifier.score(x, "two squares"))
    assert torch.equal(first, shapes_quality.build(path=trained / "quality").score(x, None))


def test_quality_head_refuses_a_different_clip(trained, tmp_path):
    other = clip_model.load(trained / "clip")
    with torch.no_grad():
        other.clip.logit_scale += 1.0
    other.save(tmp_path / "clip")
    with pytest.raises(Unavailable, match="another CLIP"):
        shapes_quality.build(path=trained / "quality", clip_path=tmp_path / "clip")


def test_missing_weights_say_which_script_trains_them(tmp_path):
    with pytest.raises(Unavailable, match="train_clip"):
        shapes_clip.build(path=tmp_path / "nothing")
    with pytest.raises(Unavailable, match="train_quality"):
        shapes_quality.build(path=tmp_path / "quality")


def test_registered_with_an_availability_check():
    status = {name: (ok, reason) for name, ok, reason, _ in verifier_status()}
    for name, module in (("shapes-clip", shapes_clip), ("shapes-quality", shapes_quality)):
        assert VERIFIERS[name].kind == "bundled"
        assert status[name] == module.build.available()


@pytest.mark.parametrize("module", [shapes_clip, shapes_quality])
def test_shipped_weights_load(module):
    ok, reason = module.build.available()
    if not ok:
        pytest.skip(reason)
    x, captions = images(2)
    scores = module.build().score(x, captions[0])
    assert scores.shape == (2,) and torch.isfinite(scores).all()


def test_tokenizer_knows_every_caption_and_keeps_end_of_text_largest():
    tokenizer = clip_model.CompactTokenizer.from_texts(eval_clip.all_captions(), 16)
    tokens = tokenizer(eval_clip.all_captions())
    assert tokenizer.unknown_words(eval_clip.all_captions()) == [] and (tokens != 1).all()
    # open_clip pools the text at the argmax token id, which must be end-of-text
    ends = (tokens > 0).sum(1) - 1
    assert torch.equal(tokens.argmax(1), ends) and (tokens.max(1).values == tokenizer.vocab_size - 1).all()


def test_every_caption_is_enumerated_once():
    captions = eval_clip.all_captions()
    assert len(captions) == len(set(captions)) == len(data.all_specs()) == 126
    assert {grammar.caption_of(spec) for spec in data.all_specs()} == set(captions)


def test_twins_contradict_both_ways_and_held_out_captions_never_train():
    index, possibly_true = hard_negatives.possibly_true_matrix()
    assert possibly_true[index["a circle"], index["a red circle and a blue square"]]    # true of that image
    assert not possibly_true[index["a red circle"], index["a blue circle"]]
    held = train_clip.held_out_captions(0.1)
    assert len(held) == 9 and {grammar.category_of(c) for c in held} == {"position", "color_attr"}
    stream = iter(train_clip.PairStream(16, 3, 0.5, held, seed=0))
    batch, captions, negatives = next(stream)
    assert batch.shape == (32, 32, 32, 3) and len(captions) == len(negatives) == 32
    assert not set(captions) & set(held)
    for caption, twin in zip(captions[:16], captions[16:]):
        assert not possibly_true[index[caption], index[twin]] and not possibly_true[index[twin], index[caption]]


def test_contrastive_loss_is_finite_with_repeated_captions():
    model = clip_model.build(clip_model.ClipConfig(vision_layers=1, text_layers=1), eval_clip.all_captions())
    captions = ["a circle", "a circle", "a square", "a red circle"]
    twins = ["a square", "a square", "a circle", "a blue circle"]
    negatives = [data.contradicting_captions(c, np.random.default_rng(i), k=2) for i, c in enumerate(captions + twins)]
    loss = train_clip.contrastive_loss(model, torch.rand(8, 3, 32, 32), captions + twins, negatives, 1.0)
    loss.backward()
    assert torch.isfinite(loss) and all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_loss_never_pushes_away_a_caption_that_is_true_of_the_image():
    # rows 2 and 3 are the twins of rows 0 and 1; columns 4..7 are each row's one negative
    captions = ["a red circle and a blue square", "a circle", "a blue circle and a red square", "a square"]
    negatives = [["a blue circle and a red square"], ["a triangle"], ["a triangle"], ["a circle"]]
    logits = torch.zeros(4, 8)
    base = train_clip.loss_from_logits(logits, captions, negatives, 1.0)
    true_text = logits.clone()
    true_text[0, 1] = 5.0     # "a circle" is true of a red circle beside a blue square: not a negative
    true_text[1, 7] = 5.0     # row 3's negative repeats row 1's own caption
    assert torch.allclose(train_clip.loss_from_logits(true_text, captions, negatives, 1.0), base)
    false_text = logits.clone()
    false_text[0, 4] = 5.0    # its own contradiction (swapped colours) is a negative
    assert train_clip.loss_from_logits(false_text, captions, negatives, 1.0) > base + 0.5
    twin_image = logits.clone()
    twin_image[2, 0] = 5.0    # row 0's caption scoring its twin's image high is penalised
    assert train_clip.loss_from_logits(twin_image, captions, negatives, 1.0) > base + 0.5
