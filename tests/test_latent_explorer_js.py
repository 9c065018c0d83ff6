"""The latent explorer's browser code under Node (Debian's nodejs): the drawing's preprocessing in
ui/latent_map/drawing.js against engine/teaching/drawing.py (to_mnist, fit_shape) and the σ-ellipse against
engine/teaching/posterior.ellipse, on inputs Python generates here (tests/js/drawing.test.mjs checks them)."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.teaching.drawing import fit_shape, to_mnist
from engine.teaching.latent import project_2d
from engine.teaching.posterior import ellipse

ROOT = Path(__file__).resolve().parent.parent
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="needs node (Debian's nodejs)")


def _stroke(h: int, w: int, pts: list[tuple[float, float]], width: float, rgb: bool = True) -> np.ndarray:
    """A canvas-like RGBA picture: a thick antialiased polyline of white ink on black (or on transparent)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
    dist = np.full((h, w), np.inf, dtype=np.float32)
    for (x0, y0), (x1, y1) in zip(pts, pts[1:], strict=False):
        dx, dy = x1 - x0, y1 - y0
        t = np.clip(((xx - x0) * dx + (yy - y0) * dy) / max(dx * dx + dy * dy, 1e-9), 0, 1)
        dist = np.minimum(dist, np.hypot(xx - (x0 + t * dx), yy - (y0 + t * dy)))
    cover = np.clip(width / 2 - dist + 0.5, 0, 1)
    rgba = np.zeros((h, w, 4), dtype=np.uint8)
    rgba[..., :3] = np.round(cover * 255)[..., None]
    rgba[..., 3] = 255 if rgb else np.round(cover * 255)
    return rgba


def _drawings() -> list[dict]:
    rng = np.random.default_rng(0)
    pictures = {
        "a seven": _stroke(252, 252, [(60, 50), (190, 50), (110, 210)], 22),
        "a one near the edge": _stroke(252, 252, [(240, 20), (236, 230)], 22),
        "a wide dash (padded to a square)": _stroke(252, 252, [(20, 120), (230, 130)], 14),
        "a tiny dot (upsampled)": _stroke(252, 252, [(100, 100), (104, 103)], 6),
        "a transparent-background zero": _stroke(120, 90, [(20, 20), (70, 20), (70, 100), (20, 100), (20, 20)], 9,
                                                  rgb=False),
        "random strokes": _stroke(200, 160, [tuple(rng.uniform(5, 150, 2)) for _ in range(6)], 11),
        "empty": np.zeros((252, 252, 4), dtype=np.uint8),
    }
    out = []
    for i, (name, rgba) in enumerate(pictures.items()):
        x = to_mnist(rgba)
        case = {"name": name, "h": rgba.shape[0], "w": rgba.shape[1], "rgba": rgba.flatten().tolist(),
                "expected": None if x is None else x.flatten().tolist()}
        if x is not None and i % 2 == 0:
            shape = (3, 16, 16) if i % 4 == 0 else (1, 32, 32)
            case |= {"shape": list(shape), "fitted": fit_shape(x, shape).flatten().tolist()}
        out.append(case)
    return out


def _ellipses() -> list[dict]:
    torch.manual_seed(0)
    out = []
    for k in (1, 2, 5, 20):
        codes = torch.randn(200, k) * torch.linspace(2, 0.5, k)
        proj = project_2d(codes)
        mu, logvar = torch.randn(k), torch.randn(k) * 0.8 - 1
        for n_std in (1.0, 2.0):
            e = ellipse(proj, mu, logvar, n_std, 48)
            case = {"name": f"{k}-D latent, {n_std:g}σ", "mu": mu.tolist(), "logvar": logvar.tolist(),
                    "mean": proj["mean"].tolist(), "basis": proj["basis"].tolist(), "nStd": n_std, "nPoints": 48,
                    "expected": None if e is None else e.tolist()}
            if e is not None:
                b = proj["basis"][:, :k]
                case["cov"] = (b @ torch.diag(logvar.exp()) @ b.T).tolist()
                case["centre"] = ((mu - proj["mean"]) @ b.T).tolist()
            out.append(case)
    return out


def test_browser_drawing_matches_python(tmp_path):
    """JS to_mnist/fit_shape equal the Python ones within 1e-4 per pixel; the JS σ-ellipse lies on Python's."""
    cases = tmp_path / "cases.json"
    cases.write_text(json.dumps({"drawings": _drawings(), "ellipses": _ellipses()}))
    res = subprocess.run([NODE, "--test", str(ROOT / "tests" / "js" / "drawing.test.mjs")], cwd=ROOT,
                         env={**os.environ, "AE_LAB_DRAWING_CASES": str(cases)}, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert f"# pass {len(_drawings()) + len(_ellipses())}" in res.stdout and "# fail 0" in res.stdout
    assert math.isfinite(len(res.stdout))
