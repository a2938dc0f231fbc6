"""Searches stop cleanly when the interpreter exits.

A web server runs searches on daemon threads (gradio's workers: a Run, the page's time estimate), and so may any
caller. When Python exits while such a thread is inside a torch call, the thread is killed as it takes the GIL
back, through C++ frames that cannot unwind, and the whole process aborts (`terminate called without an active
exception`, exit status 134) after everything else went well. So at exit `exiting()` becomes true and every search
stops at its next batch (the engine's Stop asks it first; everything scored is kept), and the exit waits, at most
`WAIT_SECONDS`, until no thread is inside `busy()` (the engine's work between two events, the page's evidence)
and no thread but the main one has left it for `GRACE_SECONDS`: a thread that reads an event and asks for the next
is back inside well within that, one that ends a search has put torch down by then, and a search nobody iterates
any more is not waited for. A process whose searches all ran on its main thread (the CLI) exits without a wait.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
import time
from typing import Iterator

WAIT_SECONDS = 30.0   # longer than a batch of the bundled models on a loaded CPU; a real model's may take longer
GRACE_SECONDS = 0.5   # idle this long, the threads that iterate a search have let it end
_exiting = threading.Event()
_idle = threading.Condition()
_busy = 0
_entries = 0
_left = float("-inf")   # when a thread other than the main one last left busy() (time.monotonic)


def exiting() -> bool:
    """Whether the interpreter is exiting (searches then stop at their next batch)."""
    return _exiting.is_set()


@contextlib.contextmanager
def busy() -> Iterator[None]:
    """Mark this thread as inside the models' work, which an exit waits for."""
    global _busy, _entries, _left
    with _idle:
        _busy += 1
        _entries += 1
        _idle.notify_all()
    try:
        yield
    finally:
        with _idle:
            _busy -= 1
            if threading.current_thread() is not threading.main_thread():
                _left = time.monotonic()
            _idle.notify_all()


def wait_idle(seconds: float = WAIT_SECONDS, grace: float = GRACE_SECONDS) -> bool:
    """Set `exiting()` and wait until no thread is busy and none but the main one has left for `grace` seconds:
    whether that came within `seconds`."""
    _exiting.set()
    deadline = time.monotonic() + seconds
    with _idle:
        while True:
            if not _idle.wait_for(lambda: _busy == 0, timeout=max(0.0, deadline - time.monotonic())):
                return False
            quiet = time.monotonic() - _left
            if quiet >= grace:
                return True
            if time.monotonic() >= deadline:
                return False
            seen = _entries
            _idle.wait_for(lambda: _entries != seen, timeout=min(grace - quiet, max(0.0, deadline - time.monotonic())))


atexit.register(wait_idle)
