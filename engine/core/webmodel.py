"""A trained model as one bytes payload for the browser, so the latent map decodes (and the drawing pad encodes)
at the speed of the hand, in the student's browser, with `ui/latent_map/nn.js`.

Interface (stable; the latent-map component codes against it):

    from engine.core.webmodel import export, fits, payload_size, MAX_WEB_BYTES, WebExportError
    export(model: Autoencoder, projection: tuple[Tensor mean (k,), Tensor basis (2, k)] | None = None) -> bytes
                                                  # (project_2d's dict view is accepted as the projection too)
    fits(model, projection=None) -> bool          # payload_size(...) <= MAX_WEB_BYTES
    payload_size(model, projection=None) -> int   # bytes export() would return, without building them
    WebExportError(ValueError)                    # one line saying why; the page then decodes on the server

Payload format "ae-lab-webmodel" version 1 (safetensors-style):

    bytes 0..8     N: the JSON header's length, unsigned 64-bit little-endian
    bytes 8..8+N   the header, UTF-8 JSON, padded with spaces so the weights start at a multiple of 8
    bytes 8+N..    the tensors, float32 little-endian, C order (torch's contiguous layout, also for a model whose
                   CNN weights are channels-last in memory), each at header["tensors"][name]["data_offsets"]
                   = [start, end) in bytes counted from the start of this section

    header = {
      "format": "ae-lab-webmodel", "version": 1,
      "image": [C, H, W], "latent": k, "variational": bool,
      "output": "sigmoid" | "tanh",            # the decoder's last activation
      "pixels": {"scale": s, "shift": t},      # pixel = clamp(y*s + t, 0, 1) for a decoder output y, and an
                                               # encoder input is x = (pixel - t) / s: Autoencoder.to_pixels and
                                               # to_model (tanh: s = t = 0.5, so [-1, 1] <-> [0, 1]; sigmoid: 1, 0)
      "decoder": [op, ...],                    # code (k,) -> y (C, H, W)
      "encoder": [op, ...],                    # x (C, H, W) -> z (k,) for an AE, -> h for a VAE (its body)
      "mu": [op, ...] | null, "logvar": [op, ...] | null,   # a VAE's heads on h; null for an AE
      "plane": {"mean": name, "basis": name} | null,        # the latent map's plane: code = mean + x*basis[0]
                                                            # + y*basis[1] (engine.teaching.latent.from_plane)
      "tensors": {name: {"dtype": "F32", "shape": [...], "data_offsets": [start, end]}}
    }
    op = {"op": name, "in_shape": [...], "out_shape": [...] (per image, no batch axis), ...its settings}:
      linear            weight (out, in), bias (out,) | null
      conv2d            weight (out, in, kh, kw), bias | null, kernel, stride, padding, dilation: [h, w]
      conv_transpose2d  weight (in, out, kh, kw), bias | null, kernel, stride, padding, output_padding, dilation
      max_pool2d        kernel, stride, padding, dilation: [h, w] (floor mode)
      relu | sigmoid | tanh | leaky_relu (negative_slope) | flatten | unflatten: elementwise or shape only
    ("weight"/"bias" and the plane's entries name tensors.)

Anything else (another layer type, groups, ceil-mode pooling, a model over the cap) raises WebExportError.
"""

from __future__ import annotations

import json
import math
import struct

import torch
from torch import nn

from .models import Autoencoder

FORMAT = "ae-lab-webmodel"
VERSION = 1

# The biggest payload sent to a browser: 8 MiB, about 2 million weights for decoder and encoder together. Every
# preset fits (the largest, the over-complete sparse AE with 784 x 1024 weights each way, is 6.4 MB; the seed VAE
# 2.6 MB, the conv VAE 3.3 MB), and so does a student's MLP with one hidden layer of up to ~1,000 units. Above it,
# the page decodes on the server: the payload goes down the websocket once per model per session, so a class of 30
# opening one model costs the server 30 x the payload (240 MB at the cap, about a minute of a 30 Mbit/s classroom
# uplink), and a decoder of ~1M weights (half the cap) still decodes in ~1-2 ms in plain JavaScript (the seed VAE's
# 322k: 0.4 ms, scripts/bench_webmodel.py), well inside a 60 Hz frame on a slow laptop; much larger would not be.
MAX_WEB_BYTES = 8 * 1024 * 1024

ALIGN = 8


class WebExportError(ValueError):
    """A model the browser cannot run, with a one-line message saying why (the page decodes on the server)."""


def _pair(v) -> list[int]:
    return [int(v), int(v)] if isinstance(v, int) else [int(x) for x in v]


class _Writer:
    """Collects ops and their tensors; `size` is the weights' byte count so far."""

    def __init__(self):
        self.tensors: dict[str, dict] = {}
        self.blobs: list[torch.Tensor] = []
        self.size = 0

    def add(self, name: str, t: torch.Tensor | None) -> str | None:
        if t is None:
            return None
        t = t.detach()  # copied to float32 C order (whatever the memory format in training) only by export()
        n = t.numel() * 4
        self.tensors[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [self.size, self.size + n]}
        self.blobs.append(t)
        self.size += n
        return name


def _conv(w: _Writer, m: nn.Module, name: str, transposed: bool) -> dict:
    if m.groups != 1 or m.padding_mode != "zeros" or isinstance(m.padding, str):
        raise WebExportError(f"{name}: only zero-padded, ungrouped convolutions with numeric padding run in the "
                             f"browser (groups={m.groups}, padding={m.padding!r}, mode={m.padding_mode})")
    op = {"op": "conv_transpose2d" if transposed else "conv2d", "weight": w.add(f"{name}.weight", m.weight),
          "bias": w.add(f"{name}.bias", m.bias), "kernel": _pair(m.kernel_size), "stride": _pair(m.stride),
          "padding": _pair(m.padding), "dilation": _pair(m.dilation)}
    if transposed:
        op["output_padding"] = _pair(m.output_padding)
    return op


def _pool(m: nn.MaxPool2d, name: str) -> dict:
    if m.ceil_mode or m.return_indices:
        raise WebExportError(f"{name}: max pooling in ceil mode or with indices does not run in the browser")
    stride = m.stride if m.stride is not None else m.kernel_size
    return {"op": "max_pool2d", "kernel": _pair(m.kernel_size), "stride": _pair(stride),
            "padding": _pair(m.padding), "dilation": _pair(m.dilation)}


ELEMENTWISE = {nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh"}


def _op(w: _Writer, m: nn.Module, name: str) -> dict | None:
    """One layer as an op (None for an identity), its tensors added to `w`."""
    if isinstance(m, nn.Identity):
        return None
    if type(m) in ELEMENTWISE:
        return {"op": ELEMENTWISE[type(m)]}
    if isinstance(m, nn.LeakyReLU):
        return {"op": "leaky_relu", "negative_slope": float(m.negative_slope)}
    if isinstance(m, nn.Linear):
        return {"op": "linear", "weight": w.add(f"{name}.weight", m.weight), "bias": w.add(f"{name}.bias", m.bias)}
    if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
        return _conv(w, m, name, isinstance(m, nn.ConvTranspose2d))
    if isinstance(m, nn.MaxPool2d):
        return _pool(m, name)
    if isinstance(m, nn.Flatten) and m.start_dim == 1 and m.end_dim == -1:
        return {"op": "flatten"}
    if isinstance(m, nn.Unflatten) and m.dim == 1:
        return {"op": "unflatten"}
    raise WebExportError(f"{name}: a {type(m).__name__} layer does not run in the browser; "
                         "the page decodes this model on the server")


def _leaves(m: nn.Module, name: str):
    """The layers of a (nested) Sequential in order, with their names; any other module is one layer."""
    if isinstance(m, nn.Sequential):
        for i, child in enumerate(m):
            yield from _leaves(child, f"{name}.{i}")
    else:
        yield name, m


def _window(size: int, k: int, stride: int, pad: int, dil: int, name: str) -> int:
    """Output length of a convolution or pooling window over `size` (torch's floor formula)."""
    n = (size + 2 * pad - dil * (k - 1) - 1) // stride + 1
    if n < 1:
        raise WebExportError(f"{name}: its window does not fit an input of size {size}")
    return n


def _out_shape(m: nn.Module, op: dict | None, shape: tuple[int, ...], name: str) -> tuple[int, ...]:
    """The layer's output shape for one input of `shape` (no batch axis), by torch's formulas: no arithmetic on
    the weights (a batch-1 transposed conv takes tens of ms on a busy server; meta tensors import ~4 s of
    torch._decomp on their first use). Refuses an input the layer cannot take."""
    def need(ok: bool, what: str):
        if not ok:
            raise WebExportError(f"{name}: expects {what}, gets an input of shape {list(shape)}")

    if isinstance(m, nn.Linear):
        need(shape == (m.in_features,), f"{m.in_features} numbers")
        return (m.out_features,)
    if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.MaxPool2d):
        need(len(shape) == 3 and (isinstance(m, nn.MaxPool2d) or shape[0] == m.in_channels), "a (C, H, W) image")
        if isinstance(m, nn.ConvTranspose2d):
            hw = [(n - 1) * s - 2 * p + d * (k - 1) + o + 1 for n, k, s, p, d, o in zip(
                shape[1:], op["kernel"], op["stride"], op["padding"], op["dilation"], op["output_padding"],
                strict=True)]
            need(min(hw) >= 1, "a larger image")
        else:
            hw = [_window(n, k, s, p, d, name) for n, k, s, p, d in zip(
                shape[1:], op["kernel"], op["stride"], op["padding"], op["dilation"], strict=True)]
        return (shape[0] if isinstance(m, nn.MaxPool2d) else m.out_channels, *hw)
    if isinstance(m, nn.Flatten):
        return (math.prod(shape),)
    if isinstance(m, nn.Unflatten):
        size = tuple(int(n) for n in m.unflattened_size)
        need(len(shape) >= 1 and math.prod(size) == shape[0], f"{math.prod(size)} numbers to unflatten")
        return (*size, *shape[1:])
    return shape  # elementwise


def _ops(w: _Writer, m: nn.Module, name: str, in_shape: tuple[int, ...]) -> tuple[list[dict], tuple[int, ...]]:
    """The ops of `m` for one input of `in_shape` (no batch axis); each op carries its shapes, so the browser
    allocates every buffer once."""
    ops = []
    shape = tuple(in_shape)
    for leaf_name, leaf in _leaves(m, name):
        op = _op(w, leaf, leaf_name)  # refuses an unknown layer
        out = _out_shape(leaf, op, shape, leaf_name)
        if op is not None:
            op.update(in_shape=list(shape), out_shape=list(out))
            ops.append(op)
        shape = out
    return ops, shape


def _parts(model: Autoencoder, w: _Writer) -> dict:
    """The image shape (the decoder's output) and the decoder's and encoder's op lists."""
    k = model.latent_dim
    dec, shape = _ops(w, model.decoder, "decoder", (k,))
    if len(shape) != 3:
        raise WebExportError(f"the browser draws images of shape (C, H, W); this decoder gives {list(shape)}")
    if model.variational:
        body, h = _ops(w, model.body, "body", shape)
        mu, mu_out = _ops(w, model.fc_mu, "fc_mu", h)
        logvar, lv_out = _ops(w, model.fc_logvar, "fc_logvar", h)
        outs = [mu_out, lv_out]
    else:
        body, z = _ops(w, model.encoder, "encoder", shape)
        mu = logvar = None
        outs = [z]
    if any(tuple(o) != (k,) for o in outs):
        raise WebExportError(f"the encoder gives {[list(o) for o in outs]}, not codes of {k} numbers")
    return {"image": list(shape), "decoder": dec, "encoder": body, "mu": mu, "logvar": logvar}


def _plane(w: _Writer, projection, k: int) -> dict | None:
    if projection is None:
        return None
    if isinstance(projection, dict):  # the view engine.teaching.latent.project_2d returns
        projection = (projection.get("mean"), projection.get("basis"))
    try:
        mean, basis = (torch.as_tensor(t, dtype=torch.float32).cpu() for t in projection)
    except (TypeError, ValueError, RuntimeError):
        raise WebExportError("the plane is (mean (k,), basis (2, k)) tensors, or project_2d's view") from None
    if tuple(mean.shape) != (k,) or tuple(basis.shape) != (2, k):
        raise WebExportError(f"the plane needs a mean of shape ({k},) and a basis of shape (2, {k}), "
                             f"got {tuple(mean.shape)} and {tuple(basis.shape)}")
    if not (torch.isfinite(mean).all() and torch.isfinite(basis).all()):
        raise WebExportError("the plane's mean or basis is not finite")
    return {"mean": w.add("plane.mean", mean), "basis": w.add("plane.basis", basis)}


def _build(model: Autoencoder, projection) -> tuple[bytes, _Writer]:
    """The header (padded) and the writer holding the tensors."""
    if not isinstance(model, Autoencoder):
        raise WebExportError(f"only an engine Autoencoder can be exported to the browser, not {type(model).__name__}")
    w = _Writer()
    parts = _parts(model, w)
    header = {"format": FORMAT, "version": VERSION, "image": parts.pop("image"), "latent": model.latent_dim,
              "variational": bool(model.variational), "output": model.output,
              "pixels": {"scale": 0.5, "shift": 0.5} if model.output == "tanh" else {"scale": 1.0, "shift": 0.0},
              **parts, "plane": _plane(w, projection, model.latent_dim), "tensors": w.tensors}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-(8 + len(text)) % ALIGN)
    return text, w


def payload_size(model: Autoencoder, projection=None) -> int:
    """The number of bytes `export(model, projection=projection)` returns (the header is built, the weights are
    neither copied nor read)."""
    text, w = _build(model, projection)
    return 8 + len(text) + w.size


def fits(model: Autoencoder, projection=None) -> bool:
    """Whether the model can go to the browser: layers the browser runs, and a payload of at most MAX_WEB_BYTES.
    (export() still refuses weights that are not finite, a diverged run: catch WebExportError around it.)"""
    try:
        return payload_size(model, projection) <= MAX_WEB_BYTES
    except WebExportError:
        return False


def export(model: Autoencoder, projection=None) -> bytes:
    """The model (decoder and encoder, and the latent map's plane when `projection` = (mean (k,), basis (2, k)) is
    given) as one payload in the format above. Raises WebExportError when the browser cannot run it."""
    text, w = _build(model, projection)
    size = 8 + len(text) + w.size
    if size > MAX_WEB_BYTES:
        raise WebExportError(f"this model is {size / 1e6:.1f} MB as weights for the browser, over the "
                             f"{MAX_WEB_BYTES / 1e6:.1f} MB cap: the page decodes it on the server instead")
    if not all(bool(torch.isfinite(t).all()) for t in w.blobs):
        raise WebExportError("the model's weights are not all finite (a diverged run): decode it on the server")
    # numpy's '<f4' makes the bytes little-endian on any machine
    blobs = [t.to("cpu", torch.float32).contiguous().numpy().astype("<f4", copy=False).tobytes() for t in w.blobs]
    return b"".join([struct.pack("<Q", len(text)), text, *blobs])
