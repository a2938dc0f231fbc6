"""No request stops the server: every function the page registers turns any failure into a one-line message.

gradio catches an `Exception` raised by an event's function, but not a `BaseException` such as `SystemExit`
(which an argument parser raises on a bad value) or `KeyboardInterrupt`: raised inside a queued event, it
escapes gradio's queue and the ASGI app, and the server's event loop stops for good while the process stays
alive (issue 25). `contain(demo)` wraps the function of every event of a built app (the named API and the
private ones alike) so that any failure leaves it as a `gr.Error` with a message: an API caller reads it,
the page shows it, and the server goes on. The page's own handlers with a status line (Run, Compare, the
live arena) already say why in that line (`on_the_page`: `handlers.search_page`, `compare.compare_page`;
`arena_tab.run_live`); this is the net under everything else. A generator closed by gradio (a cancelled or
abandoned job) still gets its `GeneratorExit`, so its `finally` runs.
"""

from __future__ import annotations

import functools
import inspect
import logging
import re

import gradio as gr

LOG = logging.getLogger(__name__)
MARK = "_tsearch_contained"
REFUSED = "refused"   # the status line's class while it says why a Run was refused or failed: the page dims the results


def message(error: BaseException, what: str = "this request") -> str:
    """The one line a visitor reads for a failure that is not a refusal (a bug, or a SystemExit from below)."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    detail = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return f"{what} failed on an unexpected error ({detail[:300]}); the server's log has the details"


QUOTED = re.compile(r"""(['"])([^'"\n]{60})[^'"\n]{20,}\1""")   # a quoted value over 80 characters


def shorten(text: str) -> str:
    """A message with every long quoted value cut to its first 60 characters (a refusal repeats what it was sent,
    a 5000-character string included)."""
    return QUOTED.sub(lambda m: f"{m.group(1)}{m.group(2)}...{m.group(1)}", str(text))


def _as_error(error: BaseException, name: str) -> gr.Error:
    if isinstance(error, gr.Error):
        said = shorten(error.message)
        return error if said == error.message else gr.Error(said, duration=error.duration, title=error.title)
    LOG.error("the app's %s failed", name, exc_info=(type(error), error, error.__traceback__))
    return gr.Error(message(error, name))


def contained(fn, name: str | None = None):
    """`fn` (a function or a generator function) whose every failure leaves it as a gr.Error."""
    if fn is None or getattr(fn, MARK, False):
        return fn
    name = name or getattr(fn, "__name__", "handler")
    if inspect.isasyncgenfunction(fn) or inspect.iscoroutinefunction(fn):
        return fn   # the app registers none; gradio runs these on its own loop, where cancelling is real
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except GeneratorExit:
                raise
            except BaseException as error:   # noqa: BLE001 (SystemExit and KeyboardInterrupt too: see above)
                raise _as_error(error, name) from None
    else:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except BaseException as error:   # noqa: BLE001
                raise _as_error(error, name) from None
    setattr(wrapper, MARK, True)
    return wrapper


def contain(demo: gr.Blocks) -> gr.Blocks:
    """Wrap the function of every event `demo` registers (see the module's docstring); returns `demo`."""
    for block_fn in demo.fns.values():
        block_fn.fn = contained(block_fn.fn, block_fn.name)
    return demo


def refused(message: str, width: int) -> tuple:
    """A status-only update of `width` outputs: the message, and the class that dims the results still shown."""
    return (gr.update(value=f"**{message}**", elem_classes=[REFUSED]),) + (gr.skip(),) * (width - 1)


def on_the_page(handler, what: str, width: int, name: str):
    """The handler `handler()` returns (it streams updates whose first output is a status line; it is looked up
    when called, so a test's stand-in runs) as the page calls it: a refused or failed `what` says why once, in the
    status line, and keeps what the page showed (dimmed by the page's CSS) instead of marking every output with an
    error. Any failure (a SystemExit from below too) is that one line. API callers get the handler itself, whose
    error gradio_client raises with its message."""

    @functools.wraps(handler())
    def page(*args, **kwargs):
        started = False
        try:
            for update in handler()(*args, **kwargs):
                started = True
                yield (gr.update(value=update[0], elem_classes=[]),) + tuple(update[1:])
        except GeneratorExit:   # the job was cancelled or its tab left: the search's own `finally` ends it
            raise
        except gr.Error as error:
            yield refused(f"{what} {'failed' if started else 'refused'}: {shorten(error.message)}", width)
        except BaseException as error:   # noqa: BLE001 (a bug or a SystemExit from below: a line, not a stopped server)
            LOG.error("the page's %s failed", what, exc_info=(type(error), error, error.__traceback__))
            yield refused(message(error, what), width)

    page.__name__ = page.__qualname__ = name   # its own name (the API's is the handler's)
    return page
