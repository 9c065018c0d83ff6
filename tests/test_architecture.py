"""The structure stays visible: the engine's layers and the ui's modules import one way only (import-linter,
contracts in pyproject.toml), no source file grows past ~400 lines, and no function past ruff's complexity
threshold. A back-import, even one hidden in a function body, fails CI here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MAX_LINES = 420  # "no file over ~400 lines"
SOURCES = ["engine", "ui", "pages", "app.py", "scripts"]


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_import_contracts_are_kept():
    r = _run(str(BIN / "lint-imports"), "--no-cache")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "BROKEN" not in r.stdout and "Contracts: 4 kept, 0 broken." in r.stdout


def test_a_back_import_inside_a_function_breaks_the_layers(tmp_path):
    """The contract really sees imports in function bodies: a data module importing the trainer lazily fails."""
    probe = ROOT / "engine" / "data" / "_probe_back_import.py"
    probe.write_text("def f():\n    from ..core import trainer\n    return trainer\n")
    try:
        r = _run(str(BIN / "lint-imports"), "--no-cache")
    finally:
        probe.unlink()
    assert r.returncode != 0 and "engine.data._probe_back_import -> engine.core.trainer" in r.stdout


@pytest.mark.parametrize("probe, body, arrow", [
    ("ui/draw/_probe_back_import.py", "def f():\n    from ui import runs\n    return runs\n",
     "ui.draw._probe_back_import -> ui.runs"),  # drawing helpers know no runs
    ("ui/lessons/_probe_sideways.py", "from ui.latent import canvas\n",
     "ui.lessons._probe_sideways -> ui.latent.canvas"),  # feature groups never import each other
])
def test_a_ui_import_against_its_groups_breaks_the_contract(probe, body, arrow):
    path = ROOT / probe
    path.write_text(body)
    try:
        r = _run(str(BIN / "lint-imports"), "--no-cache")
    finally:
        path.unlink()
    assert r.returncode != 0 and arrow in r.stdout, r.stdout[-3000:]


def test_no_source_file_is_over_about_400_lines():
    long = {}
    for name in SOURCES:
        path = ROOT / name
        for f in ([path] if path.is_file() else path.rglob("*.py")) if path.exists() else []:
            n = len(f.read_text().splitlines())
            if n > MAX_LINES:
                long[str(f.relative_to(ROOT))] = n
    assert not long, long


def test_no_function_is_over_the_complexity_threshold():
    r = _run(str(BIN / "ruff"), "check", "--select", "C901", *[s for s in SOURCES if (ROOT / s).exists()])
    assert r.returncode == 0, r.stdout[-3000:]
