"""`geneval-owlv2`: a GenEval-style compositional verifier for real models over OWLv2, a zero-shot detector.

GenEval (Ghosh et al. 2023) detects the prompt's objects, then checks presence, exact counts,
colours and relations from box centres. Here the detector is OWLv2 (Minderer et al. 2023,
transformers' Owlv2ForObjectDetection) queried with the prompt's object names; each box's colour is
the nearest named colour to the median of its centre's pixels; atoms, geometry and the combination
into one score are tsearch/verifiers/atoms.py, shared with `shapes-parts`.

The condition is one of GenEval's templated prompts ("a photo of a red car and a blue bench",
"a photo of three dogs", "a photo of a cat left of a dog") or GenEval's prompt metadata as JSON
({"include": [{"class": "cat", "count": 1}, {"class": "dog", "count": 1, "position": ["right of", 0]}]},
where an item's "position" [relation, j] says it lies in that relation to item j).
"""

from __future__ import annotations

import json
import re

import numpy as np
import torch

from tsearch.verifiers import atoms as atomics
from tsearch.verifiers import weights
from tsearch.verifiers.atoms import Ask, Found, Want

MODEL = "google/owlv2-base-patch16-ensemble"
CONFIDENT = 0.3       # a box scoring this for a class is a sure detection (GenEval's own threshold)
MIN_SCORE = 0.05      # boxes below this for every class are dropped
NMS_IOU = 0.5         # boxes overlapping more than this keep only the higher-scoring one
COLOR_TEMPERATURE = 0.08
# GenEval's ten colours, as RGB in [0, 1]
COLORS = {"red": (0.85, 0.1, 0.1), "orange": (1.0, 0.55, 0.1), "yellow": (0.95, 0.9, 0.15), "green": (0.15, 0.65, 0.2),
          "blue": (0.15, 0.3, 0.85), "purple": (0.5, 0.2, 0.65), "pink": (1.0, 0.6, 0.75), "brown": (0.5, 0.3, 0.15),
          "black": (0.05, 0.05, 0.05), "white": (0.95, 0.95, 0.95)}
RELATION_WORDS = {"left of": "left", "right of": "right", "above": "above", "below": "below",
                  "to the left of": "left", "to the right of": "right"}
NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
EXAMPLE = "'a photo of a red car and a blue bench' or GenEval metadata JSON with an \"include\" list"


def singular(word: str) -> str:
    """English plural to singular for GenEval's counting prompts (good for COCO's names)."""
    irregular = {"people": "person", "mice": "mouse", "sheep": "sheep", "skis": "skis", "scissors": "scissors",
                 "knives": "knife", "wine glasses": "wine glass", "buses": "bus", "benches": "bench"}
    if word in irregular:
        return irregular[word]
    head, _, last = word.rpartition(" ")
    for plural, single in (("ies", "y"), ("ches", "ch"), ("shes", "sh"), ("sses", "ss"), ("xes", "x"), ("s", "")):
        if last.endswith(plural) and len(last) > len(plural) + 1:
            last = last[: -len(plural)] + single
            break
    return f"{head} {last}".strip()


def _noun(text: str, prompt: str) -> Want:
    """'a red car' or 'an apple' -> Want."""
    words = text.split()
    if not words or words[0] not in ("a", "an"):
        raise ValueError(f"geneval-owlv2: cannot read {text!r} in {prompt!r} as 'a [colour] object'; e.g. {EXAMPLE}")
    words = words[1:]
    color = words.pop(0) if len(words) > 1 and words[0] in COLORS else None
    if not words:
        raise ValueError(f"geneval-owlv2: no object named in {text!r} of {prompt!r}; e.g. {EXAMPLE}")
    return Want(" ".join(words), 1, color)


def parse_prompt(prompt: str) -> Ask:
    """One of GenEval's templated prompts -> Ask (ValueError naming what did not fit)."""
    text = " ".join(prompt.strip().rstrip(".").lower().split())
    text = re.sub(r"^(a photo of|a picture of|an image of)\b\s*", "", text)
    first = text.split(" ", 1)
    if first[0] in NUMBERS and len(first) == 2:
        return Ask((Want(singular(first[1]), NUMBERS[first[0]], exact=True),))
    for phrase in sorted(RELATION_WORDS, key=len, reverse=True):
        left, found, right = text.partition(f" {phrase} ")
        if found:
            return Ask((_noun(left, prompt), _noun(right, prompt)), (0, RELATION_WORDS[phrase], 1))
    left, found, right = text.partition(" and ")
    if found:
        return Ask((_noun(left, prompt), _noun(right, prompt)))
    return Ask((_noun(text, prompt),))


def parse_metadata(metadata: dict) -> Ask:
    """GenEval's prompt metadata ({"tag", "include": [{"class", "count", "color", "position"}]}) -> Ask."""
    include = metadata.get("include") if isinstance(metadata, dict) else None
    if not isinstance(include, list) or not include or not all(isinstance(i, dict) and isinstance(i.get("class"), str) for i in include):
        raise ValueError(f"geneval-owlv2: metadata needs an \"include\" list of objects with a \"class\", got {metadata!r}")
    exact = metadata.get("tag") == "counting"
    wants, relation = [], None
    for index, item in enumerate(include):
        count = item.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"geneval-owlv2: count of {item['class']!r} must be a whole number >= 1, got {count!r}")
        color = item.get("color")
        if color is not None and color not in COLORS:
            raise ValueError(f"geneval-owlv2: colour {color!r} is not one of {', '.join(COLORS)}")
        wants.append(Want(item["class"], count, color, exact))
        if "position" in item:
            phrase, other = item["position"]
            if phrase not in RELATION_WORDS or not isinstance(other, int) or not 0 <= other < len(include) or other == index:
                raise ValueError(f"geneval-owlv2: position {item['position']!r} must be [one of {', '.join(RELATION_WORDS)}, "
                                 f"the index of another object]")
            relation = (index, RELATION_WORDS[phrase], other)
    return Ask(tuple(wants), relation)


def ask_of(condition) -> Ask:
    if isinstance(condition, dict):
        return parse_metadata(condition)
    if not isinstance(condition, str) or not condition.strip():
        raise ValueError(f"geneval-owlv2 needs a prompt, {EXAMPLE}; got {condition!r}")
    if condition.lstrip().startswith("{"):
        try:
            return parse_metadata(json.loads(condition))
        except json.JSONDecodeError as error:
            raise ValueError(f"geneval-owlv2: the condition starts with '{{' but is not JSON ({error})") from None
    return parse_prompt(condition)


def color_probabilities(pixels: np.ndarray) -> dict[str, float]:
    """Soft nearest named colour of a box's centre pixels [n, 3] in [0, 1] (median colour, RGB distance)."""
    median = np.median(pixels.reshape(-1, 3), axis=0)
    names = list(COLORS)
    distance = np.linalg.norm(np.asarray([COLORS[n] for n in names]) - median, axis=1)
    weights_ = np.exp(-(distance - distance.min()) / COLOR_TEMPERATURE)
    return {n: float(w) for n, w in zip(names, weights_ / weights_.sum())}


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou: float) -> list[int]:
    """Indices kept by greedy non-maximum suppression, best first."""
    order, keep = scores.argsort(descending=True).tolist(), []
    area = (boxes[:, 2] - boxes[:, 0]).clamp(min=0) * (boxes[:, 3] - boxes[:, 1]).clamp(min=0)
    for i in order:
        if all(_iou(boxes, area, i, j) <= iou for j in keep):
            keep.append(i)
    return keep


def _iou(boxes, area, i, j) -> float:
    lo, hi = torch.maximum(boxes[i, :2], boxes[j, :2]), torch.minimum(boxes[i, 2:], boxes[j, 2:])
    inter = float((hi - lo).clamp(min=0).prod())
    return inter / max(float(area[i] + area[j]) - inter, 1e-9)


class GenEvalOwlv2:
    name = "geneval-owlv2"

    def __init__(self, model, processor, device: str = "cpu"):
        self.device = torch.device(device)
        self.model, self.processor = model.to(self.device).eval(), processor

    def check(self, condition) -> None:
        ask_of(condition)

    @torch.no_grad()
    def detect(self, images: torch.Tensor, labels: list[str]) -> list[list[Found]]:
        """Boxes in each image [b, 3, H, W] in [0, 1], each with its score for every label."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"geneval-owlv2 takes images [b, 3, H, W] in [0, 1], got shape {tuple(images.shape)}")
        pixels = (images.detach().float().cpu().clamp(0, 1).permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
        queries = [f"a photo of a {label}" for label in labels]
        inputs = self.processor(text=[queries] * len(pixels), images=list(pixels), return_tensors="pt", padding=True)
        output = self.model(**{k: v.to(self.device) for k, v in inputs.items()})
        scores = output.logits.float().sigmoid().cpu()                # [b, boxes, queries]
        side = max(images.shape[-2:])                                 # OWLv2 pads to a square, bottom and right
        cx, cy, w, h = (output.pred_boxes.float().cpu() * side).unbind(-1)
        boxes = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)
        out = []
        for image, box, score in zip(pixels, boxes, scores):
            best = score.max(-1).values
            chosen = torch.nonzero(best >= MIN_SCORE).flatten()
            found = []
            for i in chosen[nms(box[chosen], best[chosen], NMS_IOU)].tolist():
                found.append(Found(1.0, {lab: min(float(s) / CONFIDENT, 1.0) for lab, s in zip(labels, score[i])},
                                   color_probabilities(_centre(image, box[i])), tuple(float(v) for v in box[i])))
            out.append(found)
        return out

    def _judged(self, images, condition) -> list[tuple[list[Found], list[atomics.Atom]]]:
        ask = ask_of(condition)
        labels = list(dict.fromkeys(w.label for w in ask.objects))
        return [(found, atomics.judge(ask, found)) for found in self.detect(images, labels)]

    def score(self, images: torch.Tensor, condition) -> torch.Tensor:
        return torch.tensor([atomics.combine(atoms) for _, atoms in self._judged(images, condition)], dtype=torch.float32)

    def atoms(self, images: torch.Tensor, condition) -> list[dict]:
        """Per image: its atoms, its boxes (in pixels of the image) and its score, for the page to draw."""
        return [{"atoms": [a.to_json() for a in atoms], "boxes": [f.to_json() for f in found],
                 "frame": int(max(images.shape[-2:])), "score": atomics.combine(atoms)}
                for found, atoms in self._judged(images, condition)]


def _centre(image: np.ndarray, box: torch.Tensor) -> np.ndarray:
    """The middle half of a box's pixels (in [0, 1]); the whole box, or its nearest pixel, when small."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = box.tolist()
    qx, qy = (x1 - x0) / 4, (y1 - y0) / 4
    c0, r0 = int(np.clip(x0 + qx, 0, w - 1)), int(np.clip(y0 + qy, 0, h - 1))
    c1, r1 = max(int(np.clip(x1 - qx, 0, w)), c0 + 1), max(int(np.clip(y1 - qy, 0, h)), r0 + 1)
    return image[r0:r1, c0:c1].astype(np.float32) / 255


def build(model=None, device: str = "cpu", path: str = MODEL) -> GenEvalOwlv2:
    """`path`: a hub id or a local folder holding Owlv2ForObjectDetection and its Owlv2Processor; `model` is unused."""
    from transformers import Owlv2ForObjectDetection, Owlv2Processor

    try:
        detector = Owlv2ForObjectDetection.from_pretrained(path)
        processor = Owlv2Processor.from_pretrained(path)
    except OSError as error:
        raise weights.unavailable("geneval-owlv2", path, error) from error
    return GenEvalOwlv2(detector, processor, device)


build.available = lambda: weights.status((MODEL, "config.json"))
