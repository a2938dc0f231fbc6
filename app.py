"""tsearch's Gradio app: `python app.py [--port N] [--host H] [--share] [--mcp]`.

The port is --port, else $PORT (Deta Space, most hosts), else $GRADIO_SERVER_PORT (Hugging Face
Spaces), else 7860; the address is --host, else $GRADIO_SERVER_NAME (0.0.0.0 on Spaces), else
127.0.0.1. No public share link unless --share. --mcp also serves the search as an MCP tool
(tsearch/app/mcp.py) at http://HOST:PORT/gradio_api/mcp/.

Layout and handlers live in tsearch/app/; this file only parses the command line and launches.
In a notebook: `from tsearch.app import build_demo; build_demo().launch(inline=True)`.
"""

from __future__ import annotations

import argparse
import os

import tsearch  # noqa: F401  (applies the torchvision fix before anything imports diffusers)
from tsearch.app import build_demo


def _env_defaults(parser) -> tuple[int, int]:
    """(port, threads) from $PORT / $GRADIO_SERVER_PORT and $TSEARCH_THREADS; a bad value is one error line."""
    from tsearch import envvars

    try:
        name = next((n for n in ("PORT", "GRADIO_SERVER_PORT") if os.environ.get(n, "").strip()), "PORT")
        port = envvars.whole(name, 7860, 1, 65535)
        threads = envvars.whole("TSEARCH_THREADS", max(1, (os.cpu_count() or 2) // 2), 1, 1024)
    except ValueError as error:
        parser.error(str(error))
    return port, threads


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="The tsearch app: inference-time search over diffusion noise.")
    env = os.environ
    port, threads = _env_defaults(parser)
    parser.add_argument("--host", default=env.get("GRADIO_SERVER_NAME") or "127.0.0.1",
                        help="address to listen on (default 127.0.0.1; 0.0.0.0 to serve a network)")
    parser.add_argument("--port", type=int, default=port,
                        help="port (default: $PORT, else $GRADIO_SERVER_PORT, else 7860)")
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    parser.add_argument("--mcp", action="store_true",
                        help="also serve the search as an MCP tool (search_noise) for agents, at "
                             "/gradio_api/mcp/ (streamable HTTP) and /gradio_api/mcp/sse")
    parser.add_argument("--threads", type=int, default=threads,
                        help="torch CPU threads per search (default: $TSEARCH_THREADS, else half the cores); "
                             "fewer threads than cores keeps concurrent searches and the server responsive")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    try:
        demo = build_demo()
    except ValueError as error:   # e.g. a bad $TSEARCH_APP_CONCURRENCY: one line, not a traceback
        raise SystemExit(f"error: {error}") from None
    from tsearch.app.export import MAX_ZIP_BYTES

    launch = dict(server_name=args.host, server_port=args.port, share=args.share,
                  max_file_size=MAX_ZIP_BYTES)   # uploads are run zips; gradio refuses larger ones
    if args.mcp:
        from tsearch.app import mcp

        mcp.launch(mcp.add_tool(demo).queue(), **launch)
    else:
        demo.queue().launch(**launch)


if __name__ == "__main__":
    main()
