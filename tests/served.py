"""The app served on a free local port, and the chromium that drives it: one copy for every browser and
client test (and tests/app_story_timing.py).

Debian's chromium, headless, never a Playwright download; the flags keep it off the network.
"""

from __future__ import annotations

import contextlib
import socket

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def served(demo):
    """`demo` queued and launched on a free port of 127.0.0.1 -> its URL; closed afterwards."""
    port = free_port()
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()
