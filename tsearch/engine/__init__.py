"""The engine (DESIGN.md, Engine): the one loop where models, verifiers and search algorithms meet.

One NFE is one forward pass of the denoiser over one sample (two with two-pass CFG); each run counts
them around the denoiser call and checks the count against the algorithm's plan on every batch.

- `loop`: `run(plan)`, the search as a generator of events;
- `state`: one running search's state (`RunState`): groups, accounting, records, the best;
- `runners`: where a batch's work runs (`LocalRunner`, `evaluate_batch`); `overlap`: the overlapped runner;
- `records`: `Plan`, and a batch as it crosses a runner (`Batch` in, `Scored` out, `Accounted`).
"""

from tsearch.engine.loop import StopCheckError, run
from tsearch.engine.records import Batch, Plan, Scored
from tsearch.engine.runners import LocalRunner, evaluate_batch
from tsearch.recipes import start_noise, to_pil
from tsearch.verifiers.deadline import VerifierError

__all__ = ["Batch", "LocalRunner", "Plan", "Scored", "StopCheckError", "VerifierError", "evaluate_batch", "run", "start_noise", "to_pil"]
