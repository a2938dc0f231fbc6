"""The Gradio app over tsearch (DESIGN.md): `build_demo()` returns the Blocks; `app.py` launches it.

    from tsearch.app import build_demo
    build_demo().launch(inline=True)   # in a notebook
"""


def build_demo(**kwargs):
    from tsearch.app.ui import build_demo as build

    return build(**kwargs)


__all__ = ["build_demo"]
