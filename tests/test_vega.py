"""ui/draw/vega.py: an Altair chart drawn from a spec built once per server shows what st.altair_chart showed, and
later views, by any session, do not build it again."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from tests.apptest import elements

# Two charts of the same builder: once through st.altair_chart, once through show_chart; a second show_chart with
# other data. The builder counts its calls in a module attribute (the AppTest runs share this process).
SCRIPT = """
import streamlit as st
import ui.draw.plots as plots
from ui.draw.vega import show_chart

def counted(rows, *args, **kwargs):
    plots.CALLS = getattr(plots, "CALLS", 0) + 1
    return plots.lines(rows, *args, **kwargs)

rows = [{"epoch": e, "kl": 10.0 / e, "β": b} for e in range(1, 6) for b in ("1", "4")]
n = st.session_state.get("n", 3)
st.altair_chart(plots.lines(rows, "epoch", "kl", "β", "KL per epoch", y_title="KL"), width="stretch")
show_chart(counted, rows, "epoch", "kl", "β", "KL per epoch", y_title="KL")
show_chart(counted, [{"epoch": e, "kl": float(n), "β": "1"} for e in range(1, n)], "epoch", "kl", "β")
"""


def _spec(el) -> dict:
    return json.loads(el.proto.spec)


def _arrow(data: bytes) -> list[dict]:
    from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df

    return convert_arrow_bytes_to_pandas_df(data).to_dict("records")


def _rows(el) -> list[dict]:
    """The chart's data rows, as the element carries them (Arrow datasets)."""
    return [r for d in el.proto.datasets for r in _arrow(d.data.data)]


def _plain(spec: dict) -> dict:
    return {k: v for k, v in spec.items() if k not in ("data", "datasets")}


def test_show_chart_draws_the_altair_chart_and_builds_it_once():
    import ui.draw.plots as plots

    plots.CALLS = 0
    at = AppTest.from_string(SCRIPT, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    direct, shown, other = elements(at, "vega_lite_chart")
    a, b = _spec(direct), _spec(shown)
    # same marks, encodings, title, theme and config as st.altair_chart's conversion: only where the rows live differs
    assert _plain(a) == _plain(b)
    key = lambda r: (r["epoch"], r["β"])  # noqa: E731
    assert sorted(_rows(direct), key=key) == sorted(_rows(shown), key=key)
    assert len(_rows(shown)) == 10 and plots.CALLS == 2

    AppTest.from_string(SCRIPT, default_timeout=60).run()  # another session, same inputs: nothing is built
    assert plots.CALLS == 2
    at.session_state["n"] = 5  # this session, new data for the second chart: that one chart is built
    at.run()
    assert plots.CALLS == 3
    assert {r["kl"] for r in _rows(elements(at, "vega_lite_chart")[2])} == {5.0}


def test_spec_keeps_every_row_lists_and_none():
    """A histogram of 50,000 values (Altair's own cap is 5,000 rows), a builder returning a list of charts, and
    one returning None."""
    from ui.draw.plots import histogram
    from ui.draw.theory import dynamics_charts
    from ui.draw.vega import spec

    rows = [{"model": "on" if i % 2 else "off", "activation": (i % 97) / 97} for i in range(50_000)]
    s = spec(histogram, rows, "activation", "model", "Activations")
    assert sum(len(_arrow(v)) for v in s["datasets"].values()) == 50_000
    one = [{"epoch": 1, "train": {"recon": 90.0, "kl": 20.0}, "heldout": {"recon": 95.0, "kl": 21.0,
                                                                         "posterior_std": 0.4}}]
    specs = spec(dynamics_charts, one)
    assert isinstance(specs, list) and len(specs) == 3 and all("encoding" in x or "layer" in x for x in specs)
    assert spec(lambda: None) is None


def test_inputs_key_the_cache_by_value():
    """Equal tensors, arrays and frames (other objects, same values) share a spec; one changed value does not; an
    argument the digest cannot read builds the chart without the cache."""
    import numpy as np
    import pandas as pd
    import torch

    from ui.draw.vega import spec

    calls = []

    def counted(data, title):
        calls.append(title)
        return None

    for make in (lambda: torch.arange(6.0), lambda: np.arange(6.0), lambda: pd.DataFrame({"a": range(6)})):
        spec(counted, make(), "a")
        spec(counted, make(), "a")
        changed = make()
        changed[0] = 7
        spec(counted, changed, "a")
    assert len(calls) == 6, "each kind: built for the first and the changed input only"
    spec(counted, object(), "b")
    spec(counted, object(), "b")
    assert calls[-2:] == ["b", "b"]


def test_unshared_builds_every_time(monkeypatch):
    """AE_LAB_SHARE_ACROSS_SESSIONS=0 (the benchmark's baseline): the builder runs on every call."""
    import ui.draw.vega as vega
    from ui.draw.plots import lines

    calls = []

    def counted(*args):
        calls.append(1)
        return lines(*args)

    monkeypatch.setattr(vega, "SHARED", False)
    rows = [{"epoch": 1, "kl": 1.0, "β": "1"}]
    assert vega.spec(counted, rows, "epoch", "kl", "β") == vega.spec(counted, rows, "epoch", "kl", "β")
    assert len(calls) == 2
