"""The network's shape: how many numbers describe one image after each layer — the hourglass of an autoencoder,
narrowing to the code and widening back (or, over-complete, widening at the code)."""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import nn

from ..core.config import RunConfig
from ..core.models import build_model

LAYERS = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d, nn.MaxPool2d)


def _record(rows: list[dict], name: str, module: nn.Module, inputs, output: torch.Tensor) -> None:
    dims = tuple(output.shape[1:])
    rows.append({"layer": f"{type(module).__name__} {'×'.join(map(str, dims))}", "numbers": math.prod(dims),
                 "part": "decoder" if name.startswith("decoder") else "encoder"})


def layer_widths(cfg: RunConfig, shape: tuple[int, ...] = (1, 28, 28)) -> list[dict]:
    """[{layer, numbers, part}] along the forward pass: the input, every linear/convolution/pooling layer's output
    (numbers per image) and the code (part "code": z for an AE, μ for a VAE, whose σ-layer runs beside it and is
    left out). Computed on PyTorch's meta device: shapes only, no weights allocated."""
    rows = [{"layer": "input", "numbers": math.prod(shape), "part": "input"}]
    with torch.device("meta"):
        model = build_model(cfg, shape).eval()
        for name, m in model.named_modules():
            if isinstance(m, LAYERS) and name != "fc_logvar":
                m.register_forward_hook(partial(_record, rows, name))
        with torch.no_grad():
            model(torch.zeros(1, *shape))  # the throw-away model's hooks record each layer's output shape
    code = next(i for i, r in enumerate(rows) if r["part"] == "decoder") - 1
    rows[code].update(part="code", layer="code: " + rows[code]["layer"])
    rows[-1]["part"] = "output"
    return rows


def code_size(rows: list[dict]) -> tuple[int, float]:
    """(numbers in the code, input ÷ code) of `layer_widths` rows: a ratio above 1 is under-complete (the code must
    compress the image), below 1 over-complete (it could copy the image unless a penalty stops it)."""
    code = next(r["numbers"] for r in rows if r["part"] == "code")
    return code, rows[0]["numbers"] / code
