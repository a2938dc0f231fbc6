"""Writes docs/tutorial.ipynb from the cells below: `python docs/make_tutorial.py [--execute]`.

Edit the tutorial here, not in the .ipynb, and regenerate. `--execute` runs it top to bottom with
nbclient (the app's cell is not launched) and stores the outputs, so the notebook reads as a
finished tutorial on GitHub. tests/test_notebook.py executes the written notebook at a tiny size.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE / "tutorial.ipynb"

PARAMETERS = '''\
# Parameters (a test runs this notebook at a tiny size by replacing this cell)
PROMPT = "a red circle and a blue square"   # any caption of the shapes world
STEPS = 10          # denoising steps per candidate (the shapes model's default, with dpmpp-2m)
CANDIDATES = 16     # N in best-of-N
LAUNCH = True       # False: the last cell does not start the app'''

CELLS = [
    ("md", '''\
# Searching over noise: a tsearch tutorial

A diffusion model turns a random **noise** into an image, and always the same image for the same
noise. Some noises give better images than others. Ma et al. (2025, "Inference-time Scaling for
Diffusion Models beyond Scaling Denoising Steps", arXiv 2501.09732) showed that spending compute on
**trying noises** keeps improving results long after more denoising steps stop helping:

- a **verifier** scores each finished image (higher is better);
- a **search algorithm** decides which noises to try next;
- compute is counted in **NFEs**: one forward pass of the denoiser over one image.

This notebook runs on a laptop CPU in a few minutes, with the tiny *shapes* model bundled with tsearch:
32x32 scenes of circles, squares and triangles, captioned like GenEval's prompts. Its verifier
`shapes-clip` is a small CLIP trained for it; `shapes-oracle` checks a caption exactly (1 or more =
correct), so we can see whether search improves what we care about or only the verifier's opinion.

Run it from a clone of the repository (`pip install -r requirements.txt`, or `pip install -e .`).'''),
    ("code", PARAMETERS),
    ("code", '''\
import sys
import tempfile
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", message="IProgress not found")   # tqdm's note about Jupyter widgets
try:
    import tsearch
except ImportError:   # a clone's docs/ folder without `pip install -e .`: use the clone
    sys.path.insert(0, str(Path.cwd().parent))
    import tsearch

import numpy as np
from PIL import Image, ImageDraw

from tsearch.models import load_model
from tsearch.verifiers.shapes_oracle import passed   # the oracle's pass mark: a score of 1 or more

model = load_model("shapes")   # loaded once; every search below reuses it (model="shapes" would load it each time)
RUNS = Path(tempfile.mkdtemp(prefix="tsearch-tutorial-"))   # every search writes its run here


def grid(images, labels, scale=4, columns=8):
    """Images in rows of `columns`, enlarged without blurring, each with a label underneath."""
    size, columns = images[0].width * scale, min(columns, len(images))
    rows = -(-len(images) // columns)
    sheet = Image.new("RGB", (columns * (size + 8), rows * (size + 22)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (image, label) in enumerate(zip(images, labels)):
        x, y = (i % columns) * (size + 8), (i // columns) * (size + 22)
        sheet.paste(image.convert("RGB").resize((size, size), Image.NEAREST), (x, y))
        draw.text((x + 2, y + size + 5), label, fill="black")
    return sheet'''),
    ("md", '''\
## One candidate: no search

`tsearch.search` runs one search. With a budget of exactly one candidate it draws one noise and
denoises it: the plain model. The shapes model uses classifier-free guidance with two passes, so a
step costs 2 NFEs and a candidate `2 * STEPS`.'''),
    ("code", '''\
COST = 2 * STEPS   # NFEs of one candidate
one = tsearch.search(model=model, prompt=PROMPT, verifiers=["shapes-clip"], evaluators=["shapes-oracle"],
                     algorithm="random", budget=COST, steps=STEPS, seed=0, out=RUNS / "one")
first = one.history[0]
print(f"{one.summary.nfe_spent} NFEs; shapes-clip {first.score:.3f}; "
      f"oracle {first.evals['shapes-oracle']:.2f} ({'correct' if passed(first.evals['shapes-oracle']) else 'wrong'})")
grid([one.best_image], [f"#0 {first.score:.2f}"], scale=6)'''),
    ("md", '''\
## Best of N: random search

Random search spends the budget on N independent noises and keeps the one the verifier likes best.
Its first noise is the same as above (same seed), so candidate #0 is the image we just saw.'''),
    ("code", '''\
best = tsearch.search(model=model, prompt=PROMPT, verifiers=["shapes-clip"], evaluators=["shapes-oracle"],
                      algorithm="random", budget=CANDIDATES * COST, steps=STEPS, seed=0, out=RUNS / "best-of-n")
ranked = sorted(best.history, key=lambda c: -c.score)
print(f"{best.summary.nfe_spent} NFEs, {len(best.history)} candidates; best #{best.best_id}: "
      f"shapes-clip {best.best_score:.3f}, oracle {ranked[0].evals['shapes-oracle']:.2f}")
print("correct by the oracle:", sum(passed(c.evals["shapes-oracle"]) for c in best.history), "of", len(best.history))
grid([Image.open(c.image_path) for c in ranked],
     [f"#{c.id} {c.score:.2f}" + (" ok" if passed(c.evals["shapes-oracle"]) else "") for c in ranked])'''),
    ("md", '''\
Every candidate is written to the run folder with the **recipe** of its noise, so any of them can be
rebuilt bit for bit (`python -m tsearch regenerate RUN --id N`). The candidates above are sorted by the
verifier's score; "ok" marks the ones the oracle calls correct.

## Compute against score

The app draws this chart live; here it is drawn from the run on disk: every candidate at the NFEs spent
when it was scored, the best-so-far line, and the held-out oracle's verdict on that best (right axis).'''),
    ("code", '''\
import plotly.graph_objects as go

from tsearch.app import charts
from tsearch.app.state import LiveRun
from tsearch.runs import load_run

figure = go.Figure(charts.run_figure(LiveRun.from_run(load_run(best.run_dir))))
figure.show(renderer="plotly_mimetype+notebook_connected")'''),
    ("md", '''\
## Your own verifier, and the ask/tell loop

A search algorithm is an **ask/tell** object, like a CMA-ES library: `ask()` proposes candidates (each a
recipe: a noise seed, its neighbours, the interval to denoise), `tell()` takes one score per proposal.
It never sees the model or the verifier, so the loop that joins them is yours.

A verifier can be any function `f(images, condition) -> one score per image` that takes a list of PIL
images. This one likes red: the mean amount by which red exceeds green and blue. Note the prompt below
says nothing about colour.'''),
    ("code", '''\
def redness(images, condition):
    """How red each image is: the mean of max(0, R - max(G, B)) over its pixels, in [0, 1]."""
    scores = []
    for image in images:
        rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
        scores.append(float(np.clip(rgb[..., 0] - rgb[..., 1:].max(axis=-1), 0.0, 1.0).mean()))
    return scores'''),
    ("md", '''\
Zero-order search keeps a pivot noise and tries neighbours at a fixed cosine similarity `lam` to it,
moving to a neighbour that scores better. To run its proposals ourselves we need the model (loaded
above) and one function that turns a recipe into an image; then the loop is four lines.'''),
    ("code", '''\
from tsearch.recipes import Counter, regenerate_state, to_pil
from tsearch.search import Costs, make_algorithm

condition = model.encode("a circle")
counter = Counter()   # counts every NFE the denoiser runs


def image_of(proposal):
    """Denoise one proposal's recipe and decode it to a PIL image."""
    return to_pil(model.decode(regenerate_state(model, condition, proposal.ops, model.default_solver, counter))[0])


algorithm = make_algorithm("zero-order", budget=CANDIDATES * COST, costs=Costs(model.default_solver, model.nfe_per_eval),
                           steps=STEPS, seed=0, n=4, lam=0.9)
while not algorithm.done:
    proposals = algorithm.ask()
    algorithm.tell(proposals, redness([image_of(p) for p in proposals], "a circle"))

best_id, best_redness = algorithm.best
print(f"{counter.nfe} NFEs counted; the algorithm's best is candidate #{best_id}, redness {best_redness:.3f}")'''),
    ("md", '''\
`tsearch.search` runs the same loop for you: batched, with the condition encoded once, every
candidate written to disk and the NFEs checked against the budget. The custom verifier goes in as is.
The same algorithm, seed and scores give the same best candidate.'''),
    ("code", '''\
red = tsearch.search(model=model, prompt="a circle", verifiers=[redness], algorithm="zero-order",
                     budget=CANDIDATES * COST, steps=STEPS, seed=0, n=4, lam=0.9, out=RUNS / "red")
print(f"best #{red.best_id}, redness {red.best_score:.3f} (the loop above: #{best_id}, {best_redness:.3f})")
first_red = red.history[0]
grid([Image.open(first_red.image_path), red.best_image],
     [f"first {first_red.score:.2f}", f"best #{red.best_id} {red.best_score:.2f}"], scale=6)'''),
    ("md", '''\
## Which candidate came from which

Every candidate records its parent, its round and its recipe, and that is what tells the algorithms apart.
`tsearch.lineage_figure` draws it: each candidate at (NFEs spent, score), a line from the one it came from,
the best's ancestry in red; here zero-order's walk from pivot to pivot (`x="round"` puts rounds across).
`python -m tsearch report RUN --lineage lineage.html` writes the same figure as a page.'''),
    ("code", '''\
lineage = tsearch.lineage_figure(red, best=red.best_id)
lineage.show(renderer="plotly_mimetype+notebook_connected")'''),
    ("md", '''\
## The app, in the notebook

The same searches with a live gallery, the chart growing as NFEs are spent, Stop, comparisons of
algorithms and verifiers, and export of runs. `launch(inline=True)` embeds it below this cell.'''),
    ("code", '''\
from tsearch.app import build_demo

if LAUNCH:
    demo = build_demo(model="shapes", budget=CANDIDATES * COST)   # the page opens on shapes with this budget
    demo.launch(inline=True)'''),
]


def build() -> nbformat.NotebookNode:
    notebook = new_notebook(metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"}})
    for kind, source in CELLS:
        cell = new_markdown_cell(source) if kind == "md" else new_code_cell(source)
        if source is PARAMETERS:
            cell.metadata["tags"] = ["parameters"]   # papermill's convention for the cell to override
        notebook.cells.append(cell)
    return notebook


def with_parameters(notebook: nbformat.NotebookNode, source: str) -> nbformat.NotebookNode:
    """A copy whose parameters cell (the first code cell) has `source` instead."""
    notebook = nbformat.from_dict(notebook)
    cell = next(c for c in notebook.cells if c.cell_type == "code")
    cell.source = source
    return notebook


def execute(notebook: nbformat.NotebookNode, timeout: int = 1800) -> nbformat.NotebookNode:
    """Run it from docs/ without serving the app; the stored parameters cell keeps its own text."""
    from nbclient import NotebookClient

    ran = with_parameters(notebook, PARAMETERS.replace("LAUNCH = True ", "LAUNCH = False"))
    NotebookClient(ran, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}).execute()
    next(c for c in ran.cells if c.cell_type == "code").source = PARAMETERS
    for cell in ran.cells:
        cell.metadata.pop("execution", None)   # timestamps would change the file on every run
    return ran


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--execute", action="store_true", help="run the notebook and store its outputs")
    args = parser.parse_args(argv)
    notebook = build()
    if args.execute:
        notebook = execute(notebook)
    nbformat.validate(notebook)
    nbformat.write(notebook, NOTEBOOK)
    print(f"wrote {NOTEBOOK}" + (" with outputs" if args.execute else ""))


if __name__ == "__main__":
    main()
