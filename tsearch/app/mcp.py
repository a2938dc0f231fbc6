"""The search as one MCP tool: `python app.py --mcp` lets an agent search a model's noise by name.

Gradio turns every public API endpoint into an MCP tool, described by its function's docstring (the
`Args:` lines become the parameters' descriptions) and typed by its hints. The page's endpoints keep a
per-tab `Session` (Stop, Export), which an MCP call cannot carry, so agents get an endpoint of their
own: `search_noise`, one whole search per call, added with `gr.api` (no component on the page) and
the only tool the MCP server lists (`launch`); gradio_client still sees every endpoint. It goes through
the app's front door and takes the page's one path: names are checked by `validate`, `form.build`
validates the config once, `one_path.prepared` lends the model from the shared pool (loaded once for
the page and the agents alike) and builds the plan, and `one_path.drive` runs it. Its algorithms and
their options are the registry's (`tool_doc`), so a new algorithm reaches agents untouched; and after the
hand-described parameters (model, prompt, cls, verifiers, evaluator, algorithm, budget, steps, seed,
options) come every other SearchConfig setting a remote caller may set (`TOOL_SETTINGS`: batch_size,
solver, final_steps, final_top, ...), typed and described by its setting, so a new field reaches agents
untouched too.

The endpoint is unqueued: gradio 6.31 hands a queued tool's several outputs to an MCP client that asks
for no progress as one text of a Python tuple, while an unqueued call returns the image, the score and
the summary as three contents. So it bounds its own concurrency (`RUNNING`), like the page's queue.
"""

# No `from __future__ import annotations`: gradio derives the tool's schema from the live type hints.
import inspect
import threading
import warnings
from pathlib import Path

import gradio as gr

from tsearch.app import catalog, form, one_path
from tsearch.app.contain import contain
from tsearch.app.pool import CONCURRENCY
from tsearch.app.state import LiveRun, Pace, RunHandle
from tsearch.app.validate import check_names
from tsearch.describe import algorithm_summary
from tsearch.jsonio import dumps, finite
from tsearch.config import SETTINGS, offered_settings
from tsearch.options import Setting
from tsearch.search import ALGORITHMS

API_NAME = "search_noise"   # the endpoint (/search_noise) and the MCP tool's name
MAX_BUDGET = catalog.MOST_NFES   # NFEs per call (a page Run's limit too): a call runs to the end, no Stop
WAIT_SECONDS = 600          # how long a call waits for a free search slot before it is refused
RUNNING = threading.BoundedSemaphore(CONCURRENCY)   # agent searches at once, as many as the page runs


# the settings the hand-described parameters give; every other one a remote caller may set is a parameter of its own
HAND = ("model", "condition", "verifiers", "evaluators", "algorithm", "options", "budget", "steps", "seed")
TOOL_SETTINGS = tuple(name for name, s in SETTINGS.items()
                      if s.remote and s.kind in (int, float, str, bool) and name not in HAND)


def _search_noise(model: str = "shapes", prompt: str = "", cls: int | None = None, verifiers: list[str] | None = None,
                  evaluator: str = "", algorithm: str = "random", budget: int = 400, steps: int = 0,
                  seed: int = 0, options: dict | None = None, **settings) -> tuple[gr.FileData, float | None, str]:
    if isinstance(budget, (int, float)) and not isinstance(budget, bool) and budget > MAX_BUDGET:
        raise gr.Error(f"budget: one call runs to the end without a Stop, so it takes at most {MAX_BUDGET} NFEs; "
                       f"got {budget}")
    if isinstance(budget, (int, float)) and not isinstance(budget, bool) and budget < 1:
        raise gr.Error(f"budget: the NFEs to spend, from one candidate's cost to {MAX_BUDGET} a call; got {budget}")
    if verifiers in (None, [], ()) and isinstance(model, str) and model in catalog.PRESETS:
        verifiers = list(catalog.preset(model).verifiers)
    model, verifiers, evaluator, algorithm = check_names(model, verifiers, evaluator, algorithm)
    slot = one_path.lend(model)   # the page's shared instance: loaded once for the page and the agents
    config = form.build(model, slot.model.conditioning, prompt=prompt, cls=cls, verifiers=verifiers,
                        evaluator=evaluator, algorithm=algorithm, budget=budget, steps=steps, seed=seed,
                        options=_options(algorithm, options), **settings)
    if config.budget > MAX_BUDGET:   # a float such as 5e4 arrives here as a whole number
        raise gr.Error(f"budget: one call runs to the end without a Stop, so it takes at most {MAX_BUDGET} NFEs; "
                       f"got {config.budget}")
    plan = one_path.prepared(config, slot)   # every check before anything is written or spent
    if not RUNNING.acquire(timeout=WAIT_SECONDS):
        raise gr.Error(f"{CONCURRENCY} agent searches have been running for over {WAIT_SECONDS} s; try again later")
    run = LiveRun(seed=config.seed, label=config.algorithm)
    try:
        for _ in one_path.drive(plan, f"mcp-{config.algorithm}", run, RunHandle(), Pace(), lambda chart: None):
            pass
    finally:
        RUNNING.release()
    summary = run.summary
    best = Path(summary.run_dir) / ("final.png" if summary.final_nfe else "best.png")
    if not best.is_file():
        raise gr.Error(f"the search ended without a best image ({summary.candidates} candidates scored)")
    image = gr.FileData(path=str(best), mime_type="image/png", orig_name=best.name)
    return image, finite(summary.best_score), dumps(summary.to_row())


def _hint(s: Setting):
    """A setting's type hint, from which gradio writes the tool's schema."""
    return s.kind | None if s.optional else s.kind


def _tool():
    """`_search_noise` with a signature of its own parameters then one per `TOOL_SETTINGS` (gradio reads the
    signature and the hints for the endpoint and the MCP schema)."""
    hand = inspect.signature(_search_noise)
    parameters = [p for p in hand.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    parameters += [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=SETTINGS[name].default,
                                     annotation=_hint(SETTINGS[name])) for name in TOOL_SETTINGS]
    signature = hand.replace(parameters=parameters)

    def search_noise(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return _search_noise(**bound.arguments)

    search_noise.__signature__ = signature
    search_noise.__annotations__ = {**{p.name: p.annotation for p in parameters},
                                    "return": signature.return_annotation}
    return search_noise


search_noise = _tool()   # the docstring (gradio's tool description) is written by `tool_doc` when the tool is added


def _options(algorithm: str, options) -> dict:
    """The tool's `options` object as the form's <algorithm>_<option> keys; gr.Error naming a wrong one."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise gr.Error(f"options: an object of {algorithm}'s options, e.g. {{\"{_example(algorithm)}\": ...}}, "
                       f"got {options!r}")
    known = offered_settings(algorithm)
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise gr.Error(f"options: {', '.join(unknown)} do not apply to algorithm {algorithm!r}; its options: "
                       f"{', '.join(known) or 'none'}")
    return {f"{algorithm.replace('-', '_')}_{name}".lower(): value for name, value in options.items()}


def _example(algorithm: str) -> str:
    return next(iter(offered_settings(algorithm)), "option")


DOC = """Search a diffusion model's starting noise for the image a verifier scores best.

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
    algorithm: the search algorithm, one of: {algorithms}.
    budget: the compute budget in NFEs (one denoiser pass over one image; two with classifier-free guidance), at least one candidate's cost and at most {max_budget}.
    steps: denoising steps per candidate; 0 uses the model's default.
    seed: the search's seed in [0, 2^63); the same arguments and seed give the same result.
    options: the chosen algorithm's options as an object, e.g. {{"lam": 0.9}} for zero-order; empty for its defaults. {options}
{settings}
Returns:
    the best image (PNG), its verifier score (higher is better; with several verifiers, its mean rank), and the run's summary as a JSON object: model, algorithm, condition, budget, nfe_spent, candidates, best_id, best_score, best_evals (the evaluator's score), seconds, stopped, run_dir, error.
"""


def tool_doc() -> str:
    """The tool's description with every registered algorithm and its options (help, default, range)."""
    algorithms = "; ".join(f"{name} ({algorithm_summary(name).rstrip('.')})" for name in ALGORITHMS)
    per_algorithm = []
    for name in ALGORITHMS:
        try:
            settings = offered_settings(name)
        except ValueError:
            continue
        listed = ", ".join(f"{s.name}: {s.describe()}" for s in settings.values())
        per_algorithm.append(f"{name}: {listed or 'none'}.")
    settings = "".join(f"    {name}: {SETTINGS[name].describe()}\n" for name in TOOL_SETTINGS)
    return DOC.format(algorithms=algorithms, max_budget=MAX_BUDGET, options=" ".join(per_algorithm),
                      settings=settings)


def add_tool(demo: gr.Blocks) -> gr.Blocks:
    """Add the `search_noise` endpoint to a built app (no component on the page); returns the same Blocks."""
    search_noise.__doc__ = tool_doc()   # the registries as they are now: a new algorithm reaches agents
    with demo:
        gr.api(search_noise, api_name=API_NAME, queue=False)
    return contain(demo)   # its failures too are a message, never a stopped server


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
    name_schema_errors(server.mcp_server)
    if not prevent_thread_lock:
        demo.block_thread()
    return result


SCHEMA_ERROR = "Input validation error: "   # the MCP SDK's prefix when a call does not fit the tool's input schema


def name_schema_errors(server) -> None:
    """The MCP SDK checks a call against the tool's schema before the tool runs, and answers with jsonschema's
    message alone ("'lots' is not of type 'integer'"), which does not say which argument. Its answer is given the
    argument's name and what it takes: "budget: 'lots' is not of type 'integer' (budget takes an integer)"."""
    from mcp import types

    handler = server.request_handlers.get(types.CallToolRequest)
    if handler is None or getattr(handler, "_names_arguments", False):
        return

    async def named(request):
        result = await handler(request)
        error = getattr(result, "root", result)
        content = getattr(error, "content", None) or []
        if getattr(error, "isError", False) and content and getattr(content[0], "text", "").startswith(SCHEMA_ERROR):
            tool = await server._get_cached_tool_definition(request.params.name)
            said = schema_error(tool.inputSchema if tool else {}, request.params.arguments or {})
            if said:
                content[0].text = SCHEMA_ERROR + said
        return result

    named._names_arguments = True
    server.request_handlers[types.CallToolRequest] = named


def schema_error(schema: dict, arguments: dict) -> str | None:
    """The first way `arguments` misses `schema`, naming the argument and what it takes; None when they fit."""
    import jsonschema

    errors = sorted(jsonschema.validators.validator_for(schema)(schema).iter_errors(arguments),
                    key=lambda e: list(map(str, e.absolute_path)))
    if not errors:
        return None
    error = errors[0]
    path = list(error.absolute_path)
    if not path:   # an argument the tool does not take, or one it needs
        return f"{error.message}; the arguments are {', '.join(schema.get('properties', {}))}"
    name = str(path[0])
    return f"{name}: {error.message} ({name} takes {_kinds(schema.get('properties', {}).get(name, {}))})"


def _kinds(prop: dict) -> str:
    """What a schema property takes, in words: "an integer", "an integer or null", "an array of string"..."""
    options = prop.get("oneOf") or prop.get("anyOf") or [prop]
    words = []
    for option in options:
        kind = option.get("type", "any value")
        if kind == "array":
            kind = f"an array of {option.get('items', {}).get('type', 'values')}"
        elif kind in ("integer", "object", "array"):
            kind = f"an {kind}"
        elif kind in ("string", "number", "boolean"):
            kind = f"a {kind}"
        words.append(str(kind))
    return " or ".join(dict.fromkeys(words))
