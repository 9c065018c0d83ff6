"""Shared fixtures: every test gets its own checkpoint folder; tests never touch the network."""

import os

import pytest
import torch

os.environ.setdefault("AE_LAB_DATA", os.path.join(os.path.dirname(__file__), "_no_full_data"))


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("AE_LAB_CHECKPOINTS", str(tmp_path / "checkpoints"))
    torch.manual_seed(0)
    yield


@pytest.fixture
def store(tmp_path):
    from engine.store import Store

    return Store(tmp_path / "checkpoints")
