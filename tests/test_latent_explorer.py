"""The latent explorer's Python side (ui/latent_map/explorer.py) through AppTest on the Latent space page: the
weights and held-out digits go in one bytes payload that is the same on every rerun (so Streamlit's message
cache sends it once), the map's own data is small and names it, and above the size cap the page falls back to
the server's click-to-decode and says so."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from apptest import app, elements, no_exceptions, stop_backend
from test_app_runs import trained

from ui.latent_map import explorer
from ui.latent_map.pick import WHERE


@pytest.fixture(autouse=True)
def _shutdown_backend():
    explorer._EXPORTS.clear()
    yield
    stop_backend()


def unpack(data: bytes) -> tuple[dict, dict]:
    """The envelope as explorer.js reads it: (meta, {name: bytes})."""
    (n,) = struct.unpack("<Q", data[:8])
    meta = json.loads(data[8:8 + n])
    return meta, {k: data[8 + n + a["offset"]:8 + n + a["offset"] + a["length"]] for k, a in meta["arrays"].items()}


def _views(at) -> list[tuple[dict, dict, bytes]]:
    found = [e.proto for e in elements(at, "bidi_component") if e.proto.component_name == explorer.NAME]
    assert all(p.WhichOneof("data") == "bytes" for p in found)
    return [(*unpack(p.bytes), p.SerializeToString(deterministic=True)) for p in found]


def test_the_weights_go_once_as_bytes_and_the_map_names_them(store):
    rid = trained(store, latent_dim=3)  # a 3-D VAE: the map is its PCA plane
    at = app("pages/inspect/latent_space.py")
    at.session_state["selected_run"] = rid
    at.run()
    no_exceptions(at)
    views = _views(at)
    holds = [v for v in views if v[0]["mode"] == "hold"]
    assert len(holds) == 1, "one holder for the run, though the map, the pad, the sweep and the path use it"
    meta, arrays, first = holds[0]
    (n,) = struct.unpack("<Q", arrays["model"][:8])
    header = json.loads(arrays["model"][8:8 + n])
    assert header["format"] == "ae-lab-webmodel" and header["latent"] == 3 and header["variational"]
    assert header["plane"] is not None, "the map's PCA plane travels with the weights"
    images = np.frombuffer(arrays["heldout"], dtype=np.uint8)
    maps = [v for v in views if v[0]["mode"] == "map"]
    assert len(maps) == 1 and maps[0][0]["model"] == meta["name"]
    xy = np.frombuffer(maps[0][1]["xy"], dtype="<f4")
    assert len(images) == len(xy) // 2 * 784 and images.max() > 200, "uint8 held-out digits, one per code"
    assert maps[0][0]["where"] == [list(w) for w in WHERE] and maps[0][0]["spacing"] > 0
    assert len(maps[0][2]) < 100_000 < len(first), "the map's own data is small, the weights are not"
    assert {v[0]["mode"] for v in views} >= {"hold", "map", "draw", "sweep"}

    at.run()  # a rerun (e.g. another widget moved): the holder's message is byte for byte the same
    assert [v[2] for v in _views(at) if v[0]["mode"] == "hold"] == [first]


def test_above_the_cap_the_server_decodes_each_click(store, monkeypatch):
    import engine.core.webmodel as webmodel

    monkeypatch.setattr(webmodel, "fits", lambda model, projection=None: False)
    rid = trained(store, latent_dim=2)
    at = app("pages/inspect/latent_space.py")
    at.session_state["selected_run"] = rid
    at.run()
    no_exceptions(at)
    assert not _views(at), "nothing is sent to the browser"
    assert any("too large" in c.value and "server decodes each click" in c.value for c in at.caption)
    assert elements(at, "vega_lite_chart"), "the server's clickable map"
    assert any("decoded at" in str(i.proto) for i in elements(at, "image")), "the server's decoded point"
    assert any("Draw a digit" in i.value for i in at.info), "the server's drawing canvas"


@pytest.mark.parametrize("state, point", [
    ({"point": {"x": 1.5, "y": -2}}, (1.5, -2.0)),
    ({"point": {"x": float("nan"), "y": 0.0}}, None),
    ({"point": {"x": float("inf"), "y": 0.0}}, None),
    ({"point": {"x": "1", "y": 0.0}}, None),
    ({"point": {"x": True, "y": 0.0}}, None),
    ({"point": [1, 2]}, None),
    ({"point": {"x": 1.0}}, None),
    ({}, None),
    (None, None),
    ("point", None),
])
def test_a_click_from_the_browser_is_checked(state, point):
    """The browser's click is input like any other: only two finite numbers become the page's point."""
    assert explorer.clicked_point(state) == point
