"""Altair charts drawn from a Vega-Lite spec that is built once per server for the same inputs.

    show_chart(lines, rows, "epoch", "kl", "β", where=col)    # instead of col.altair_chart(lines(rows, ...))

Building an Altair chart and converting it (`to_dict`: schema objects, validation) took 20-40 ms of the script
thread per chart, holding the GIL: on VAE theory, with five charts, that was half of every view. The charts are
pure functions of their inputs (ui/draw/plots.py, theory.py, physics.py), so `spec` keys the finished Vega-Lite
dict on the builder and a digest of its arguments, and every later view, by any session, gets it for the cost of
hashing the inputs. The spec's datasets are Arrow bytes already, which `st.vega_lite_chart` sends as they are.
AE_LAB_SHARE_ACROSS_SESSIONS=0 builds every chart in every run again (scripts/class_ws.py compares the two).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st
import torch
from streamlit.dataframe_util import convert_anything_to_arrow_bytes

from .images import SHARED, shared

# Altair's theme and data transformer are process-wide settings: one conversion at a time switches them.
_LOCK = threading.Lock()


class Unhashable(TypeError):
    """An argument `_feed` cannot key: the chart is then built without the cache."""


def to_spec(c: alt.TopLevelMixin) -> dict:
    """A chart as Vega-Lite, as st.altair_chart converts it: without Altair's default theme (its fixed 300 px
    width and height), with every row (no 5,000-row cap: histograms hold 50,000 activations), and its datasets
    already in Arrow (st.vega_lite_chart takes those bytes as they are)."""
    with _LOCK, alt.theme.enable("none"), alt.data_transformers.enable("default", max_rows=None):
        d = c.to_dict()
    d["datasets"] = {k: convert_anything_to_arrow_bytes(pd.DataFrame(v)) for k, v in d.get("datasets", {}).items()}
    return d


def _feed(h, x: Any) -> None:
    """Feed `x` to the hash `h`, so that equal inputs give equal digests: numbers, strings, lists, dicts, numpy
    arrays, tensors and pandas frames; anything else raises Unhashable."""
    if x is None or isinstance(x, bool | int | float | str):
        h.update(f"{type(x).__name__}:{x!r};".encode())
    elif isinstance(x, bytes):
        h.update(b"b%d:" % len(x) + x)
    elif isinstance(x, list | tuple):
        h.update(b"[")
        for v in x:
            _feed(h, v)
        h.update(b"]")
    elif isinstance(x, dict):
        h.update(b"{")
        for k, v in x.items():  # in order: a builder may draw in its dict's order (legends, bars)
            _feed(h, k)
            _feed(h, v)
        h.update(b"}")
    elif isinstance(x, torch.Tensor):
        t = x.detach().cpu()
        _feed(h, (t.float() if t.dtype == torch.bfloat16 else t).numpy())  # numpy has no bfloat16
    elif isinstance(x, np.ndarray | np.generic):
        a = np.ascontiguousarray(x)
        h.update(f"nd:{a.dtype.str}:{a.shape};".encode() + a.tobytes())
    elif isinstance(x, pd.DataFrame | pd.Series):
        _feed(h, [str(x.dtypes), list(map(str, x.columns if isinstance(x, pd.DataFrame) else [x.name]))])
        h.update(pd.util.hash_pandas_object(x, index=True).to_numpy().tobytes())
    else:
        raise Unhashable(type(x).__name__)


def _build(builder: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    made = builder(*args, **kwargs)
    if isinstance(made, list | tuple):
        return [to_spec(c) for c in made]
    return None if made is None else to_spec(made)


def spec(builder: Callable[..., Any], *args, **kwargs) -> Any:
    """builder(*args, **kwargs) as Vega-Lite: a dict for a chart, a list of dicts for a list of charts, None for
    None; built once per server for equal arguments (the same object is returned: do not modify it)."""
    if not SHARED:
        return _build(builder, args, kwargs)
    code = getattr(builder, "__code__", None)  # two lambdas share a qualname: their place tells them apart
    h = hashlib.sha1(f"{builder.__module__}.{builder.__qualname__}@{code and code.co_filename}:"
                     f"{code and code.co_firstlineno}".encode())
    try:
        _feed(h, (args, kwargs))
    except Unhashable:
        return _build(builder, args, kwargs)
    return shared(("vega", h.hexdigest()), lambda: _build(builder, args, kwargs))


def show_chart(builder: Callable[..., Any], *args, where: Any = None, width: str = "stretch", **kwargs) -> None:
    """Draw builder(*args, **kwargs) (an Altair chart, or None: nothing) in `where` (a column; default the page)
    from its shared spec."""
    s = spec(builder, *args, **kwargs)
    if s is not None:
        (st if where is None else where).vega_lite_chart(s, width=width)
