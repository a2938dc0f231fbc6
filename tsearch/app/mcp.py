"""The search as one MCP tool: `python app.py --mcp` lets an agent search a model's noise by name.

Gradio turns every public API endpoint into an MCP tool, described by its function's docstring (the
`Args:` lines become the parameters' descriptions) and typed by its hints. The page's endpoints keep a
per-tab `Session` (Stop, Export), which an MCP call cannot carry, so agents get an endpoint of their
own: `search_noise`, one whole search per call, added with `gr.api` (no component on the page) and
the only tool the MCP server lists (`launch`); gradio_client still sees every endpoint. It goes through
the app's front door: names are checked by `validate`, the model comes from the shared `handlers.POOL`
(loaded once for the page and the agents alike), `tsearch.api.prepare` builds the plan and
`engine.run` runs it.

The endpoint is unqueued: gradio 6.31 hands a queued tool's several outputs to an MCP client that asks
for no progress as one text of a Python tuple, while an unqueued call returns the image, the score and
the summary as three contents. So it bounds its own concurrency (`RUNNING`), like the page's queue.
"""

# No `from __future__ import annotations`: gradio derives the tool's schema from the live type hints.
import dataclasses
import threading
import warnings
from pathlib import Path

import gradio as gr

from tsearch import engine
from tsearch.api import prepare
from tsearch.app import catalog, gpu, handlers
from tsearch.app.runs_root import new_run_dir
from tsearch.app.ui import CONCURRENCY
from tsearch.app.validate import DEFAULT_BATCH, check_names, config_for
from tsearch.events import SearchDone
from tsearch.jsonio import dumps, finite
from tsearch.registry import Unavailable

API_NAME = "search_noise"   # the endpoint (/search_noise) and the MCP tool's name
MAX_BUDGET = 20000          # NFEs per call (the page's slider ends here too): a call runs to the end, no Stop
WAIT_SECONDS = 600          # how long a call waits for a free search slot before it is refused
RUNNING = threading.BoundedSemaphore(CONCURRENCY)   # agent searches at once, as many as the page runs


def search_noise(model: str = "shapes", prompt: str = "", cls: int | None = None, verifiers: list[str] | None = None,
                 evaluator: str = "", algorithm: str = "random", budget: int = 400, steps: int = 0,
                 seed: int = 0) -> tuple[gr.FileData, float | None, str]:
    """Search a diffusion model's starting noise for the image a verifier scores best.

    Inference-time search (Ma et al. 2025, arXiv 2501.09732): candidate noises are denoised and scored
    until the compute budget is spent; the best image is returned with its score and the run's summary.
    The bundled models run on a CPU in seconds: shapes (text prompts about circles, squares and triangles
    in red, green, blue and yellow, e.g. 'a red circle and a blue square'), digits (classes 0-9) and gmm
    (an analytic Gaussian mixture, classes 0-3).

    Args:
        model: registered model name: shapes, digits or gmm (bundled), or one the host has loaded.
        prompt: the text prompt, for text-to-image models such as shapes; leave empty for class-conditional models.
        cls: the class index, for class-conditional models such as digits (0-9) or gmm; leave empty for text models.
        verifiers: verifier names that score each candidate (several are combined by mean rank), e.g. ['shapes-clip'] for shapes, ['digits-classifier'] for digits, ['gmm-density'] for gmm; empty uses the model's preset.
        evaluator: an optional held-out verifier recorded for every candidate but never told to the search, e.g. 'shapes-oracle'; empty for none.
        algorithm: random (best-of-N), zero-order, paths, smc, prune, evolution, cem, or steps (the baseline: one noise, more denoising steps).
        budget: the compute budget in NFEs (one denoiser pass over one image; two with classifier-free guidance), at least one candidate's cost.
        steps: denoising steps per candidate; 0 uses the model's default.
        seed: the search's seed; the same arguments and seed give the same result.

    Returns:
        the best image (PNG), its verifier score (higher is better; with several verifiers, its mean rank), and the run's summary as a JSON object: model, algorithm, condition, budget, nfe_spent, candidates, best_id, best_score, best_evals (the evaluator's score), seconds, stopped, run_dir, error.
    """
    if verifiers in (None, [], ()) and isinstance(model, str) and model in catalog.PRESETS:
        verifiers = list(catalog.preset(model).verifiers)
    check_names(model, verifiers, evaluator, algorithm)   # names first: gr.Error naming a wrong one, nothing loaded
    try:
        slot = handlers.POOL.get(model)   # the page's shared instance: loaded once for the page and the agents
    except (ValueError, Unavailable, OSError) as error:
        raise gr.Error(f"model: cannot load {model!r} here: {error}") from None
    config = config_for(model, slot.model.conditioning, prompt, cls, verifiers, evaluator, algorithm, budget, steps,
                        seed, None, DEFAULT_BATCH, {})
    if config.budget > MAX_BUDGET:
        raise gr.Error(f"budget: one call runs to the end without a Stop, so it takes at most {MAX_BUDGET} NFEs; "
                       f"got {config.budget}")
    try:
        plan = prepare(config, loader=slot)   # every check before anything is written or spent
        if gpu.on_zerogpu():   # each batch is one GPU call there, as for the page's searches
            gpu.check_batch_fits(plan, handlers.ESTIMATOR.per_nfe(plan.model_name))
    except (ValueError, Unavailable) as error:
        raise gr.Error(str(error)) from None
    if not RUNNING.acquire(timeout=WAIT_SECONDS):
        raise gr.Error(f"{CONCURRENCY} agent searches have been running for over {WAIT_SECONDS} s; try again later")
    try:
        plan = dataclasses.replace(plan, out=str(new_run_dir(f"mcp-{config.algorithm}")))
        runner = gpu.batch_runner(plan, "app", handlers.ESTIMATOR.per_nfe(plan.model_name))   # None off ZeroGPU
        done = None
        for event in engine.run(plan, batch_runner=runner):
            if isinstance(event, SearchDone):
                done = event
    except (ValueError, Unavailable) as error:
        raise gr.Error(f"the search stopped: {error}. Everything found before is kept in {plan.out}") from None
    finally:
        RUNNING.release()
    summary = done.summary
    handlers.ESTIMATOR.observe(config.model, summary.seconds, summary.nfe_spent)
    best = Path(summary.run_dir) / ("final.png" if summary.final_nfe else "best.png")
    if not best.is_file():
        raise gr.Error(f"the search ended without a best image ({summary.candidates} candidates scored)")
    image = gr.FileData(path=str(best), mime_type="image/png", orig_name=best.name)
    return image, finite(summary.best_score), dumps(dataclasses.asdict(summary))


def add_tool(demo: gr.Blocks) -> gr.Blocks:
    """Add the `search_noise` endpoint to a built app (no component on the page); returns the same Blocks."""
    with demo:
        gr.api(search_noise, api_name=API_NAME, queue=False)
    return demo


def launch(demo: gr.Blocks, prevent_thread_lock: bool = False, **kwargs):
    """`demo.launch(mcp_server=True, **kwargs)` with `search_noise` as the only MCP tool; blocks like launch.

    Gradio would list every public endpoint as a tool (and warn that the page's ones take a gr.State);
    those need a browser tab's session, which an MCP call never has. gradio_client still reaches them."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="This MCP server includes a tool that has a gr.State input")
        result = demo.launch(mcp_server=True, prevent_thread_lock=True, **kwargs)
    server = demo.mcp_server_obj
    if server is None:   # gradio could not start it; demo.mcp_error says why
        demo.close()
        raise RuntimeError(f"the MCP server did not start: {demo.mcp_error}")
    server.tool_to_endpoint = {name: endpoint for name, endpoint in server.tool_to_endpoint.items()
                               if endpoint == f"/{API_NAME}"}
    if not prevent_thread_lock:
        demo.block_thread()
    return result
