"""Training engine for autoencoders and VAEs: pure Python + torch (never imports streamlit)."""

from .config import ConfigError, RunConfig, make_config
from .presets import PRESETS, preset
from .store import Store
from .trainer import TrainResult, train

__all__ = ["ConfigError", "RunConfig", "make_config", "PRESETS", "preset", "Store", "TrainResult", "train"]
