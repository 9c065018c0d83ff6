"""Worker processes started from a test process that has run Streamlit's AppTest.

AppTest leaves `sys.modules["__main__"]` pointing at the last script it ran (app.py, a page). A
multiprocessing "spawn" child re-runs the parent's __main__ before it starts, so every child of
`engine.cli.prepare.train_pack` would run app.py, fail, and the pool would never finish. Inside
`plain_main()` the parent's __main__ is an empty module: the children import only what they unpickle."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def plain_main() -> Iterator[None]:
    saved = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = saved
