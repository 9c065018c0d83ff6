"""Shared fixtures: every test gets its own checkpoint folder; tests never touch the network."""

import os

import pytest
import torch

os.environ.setdefault("AE_LAB_DATA", os.path.join(os.path.dirname(__file__), "_no_full_data"))


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    root = tmp_path / "checkpoints"
    monkeypatch.setenv("AE_LAB_CHECKPOINTS", str(root))
    torch.manual_seed(0)
    yield
    if (root / "jobs").exists():  # a test submitted jobs: stop its supervisor and warm worker (~450 MB each)
        from engine.jobs.embedded import EmbeddedBackend

        EmbeddedBackend(root).shutdown()


@pytest.fixture
def store(tmp_path):
    from engine.core.store import Store

    return Store(tmp_path / "checkpoints")


@pytest.fixture
def chromium():
    """Debian's Chromium under Playwright (not pytest-playwright's downloaded browsers: this machine is offline);
    a test opens its own contexts (own cookies) in it and it is closed afterwards."""
    from playwright.sync_api import sync_playwright
    from test_e2e import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
