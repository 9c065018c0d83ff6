"""The command line, `python -m engine ...`: the top layer (it imports the others; nothing imports it)."""

from .main import main

__all__ = ["main"]
