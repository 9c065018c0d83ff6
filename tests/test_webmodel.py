"""The browser's model (engine/core/webmodel.py -> ui/latent_map/nn.js): the payload's format and size cap, and
parity: for every architecture the engine builds, the JavaScript decode, encode and plane maths equal PyTorch's
within 1e-4 per pixel and per code number, on fixed inputs generated here and checked by `node --test`."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from engine.core.config import make_config
from engine.core.models import AE, VAE, build_model
from engine.core.presets import PRESETS, preset
from engine.core.webmodel import FORMAT, MAX_WEB_BYTES, VERSION, WebExportError, export, fits, payload_size
from engine.teaching.latent import from_plane, nearest, project_2d, to_plane

ROOT = Path(__file__).resolve().parents[1]
JS_TESTS = [ROOT / "tests/js/nn_kernels.test.mjs", ROOT / "tests/js/webmodel_parity.test.mjs"]
NODE = shutil.which("node")
MNIST = (1, 28, 28)


def _cfg(**fields):
    return make_config(**fields)


def _odd_layers() -> AE:
    """Layers the engine does not build today but the export accepts: dilation, padded pooling, leaky ReLU,
    output padding, a transposed conv with dilation, no output activation (so generate's clamp to [0, 1] acts);
    the kernels are checked beyond the engine's settings."""
    enc = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1, dilation=2), nn.LeakyReLU(0.1),  # 4, 13, 13
                        nn.MaxPool2d(3, stride=2, padding=1), nn.Flatten(), nn.Linear(4 * 7 * 7, 5))  # 4, 7, 7
    dec = nn.Sequential(nn.Linear(5, 4 * 7 * 7), nn.Tanh(), nn.Unflatten(1, (4, 7, 7)),
                        nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1),  # 2, 14, 14
                        nn.LeakyReLU(0.2),
                        nn.ConvTranspose2d(2, 1, 2, stride=2, padding=1, output_padding=1, dilation=2))  # 1, 28, 28
    return AE(enc, dec, 5, "sigmoid", "bce")


def _random_conv(seed: int) -> tuple[AE, tuple[int, ...]]:
    """A conv AE with settings drawn at random (non-square kernels, strides, padding, dilation, output padding),
    so the conv kernels are checked on settings no one chose by hand. The decoder's output fixes the image shape."""
    r = random.Random(seed)
    pick = lambda *opts: (r.choice(opts), r.choice(opts))  # noqa: E731
    c0, h0, w0, k = r.randint(1, 4), r.randint(2, 6), r.randint(2, 6), r.randint(1, 5)
    kernel, stride, dil = pick(1, 2, 3, 4), pick(1, 2, 3), pick(1, 2)
    pad = tuple(r.randint(0, (kk - 1) * d // 2) for kk, d in zip(kernel, dil, strict=True))
    out_pad = tuple(r.randint(0, max(s, d) - 1) for s, d in zip(stride, dil, strict=True))
    up = nn.ConvTranspose2d(c0, r.randint(1, 3), kernel, stride, pad, out_pad, dilation=dil)
    dec = nn.Sequential(nn.Linear(k, c0 * h0 * w0), nn.Unflatten(1, (c0, h0, w0)), up, nn.Sigmoid())
    shape = tuple(dec(torch.zeros(1, k)).shape[1:])
    kernel, stride, dil = pick(1, 2, 3), pick(1, 2), pick(1, 2)
    conv = nn.Conv2d(shape[0], r.randint(1, 4), kernel, stride, tuple(r.randint(0, kk // 2) for kk in kernel), dil)
    pool = nn.MaxPool2d(2, stride=1, padding=r.randint(0, 1))
    enc = nn.Sequential(conv, nn.ReLU(), pool, nn.Flatten())
    enc.append(nn.Linear(enc(torch.zeros(1, *shape)).shape[1], k))
    return AE(enc, dec, k, "sigmoid", "bce"), shape


def cases() -> dict[str, tuple[nn.Module, tuple[int, ...]]]:
    """name -> (model, image shape): every preset, every latent and output activation, MLP and CNN, AE and VAE,
    other image shapes and channel counts, CNNs with channels-last weights as the trainer keeps them."""
    out = {f"preset-{name}": (preset(name), MNIST) for name in PRESETS}
    for act in ("none", "sigmoid", "relu"):
        for output in ("tanh", "sigmoid"):
            out[f"mlp-ae-{act}-{output}"] = (_cfg(hidden=(32, 16), latent_dim=3, latent_activation=act,
                                                  output=output, recon="mse"), MNIST)
        out[f"cnn-ae32-{act}"] = (_cfg(arch="cnn", hidden=(), latent_dim=32, latent_activation=act,
                                       output="sigmoid", recon="bce"), MNIST)
        out[f"cnn-ae2-{act}"] = (_cfg(arch="cnn", hidden=(), latent_dim=2, latent_activation=act), MNIST)
    out |= {
        "mlp-vae-tanh-z2": (_cfg(variational=True, hidden=(32,), latent_dim=2, output="tanh", recon="mse"), MNIST),
        "mlp-vae-nohidden-z4": (_cfg(variational=True, hidden=(), latent_dim=4, output="sigmoid", recon="bce"),
                                MNIST),
        "mlp-ae-z1": (_cfg(hidden=(16,), latent_dim=1), MNIST),
        "cnn-vae-tanh-z2": (_cfg(arch="cnn", variational=True, hidden=(), latent_dim=2, output="tanh"), MNIST),
        "cnn-ae-rgb": (_cfg(arch="cnn", hidden=(), latent_dim=6, output="sigmoid", recon="bce"), (3, 28, 28)),
        "cnn-vae-rgb": (_cfg(arch="cnn", variational=True, hidden=(), latent_dim=3, output="sigmoid",
                             recon="bce"), (3, 28, 28)),
        "mlp-vae-rgb-8x8": (_cfg(variational=True, hidden=(24,), latent_dim=3, output="sigmoid", recon="bce"),
                            (3, 8, 8)),
        "mlp-ae-ising-16x16": (_cfg(hidden=(20,), latent_dim=2, output="tanh"), (1, 16, 16)),
    }
    models = {}
    for i, (name, (cfg, shape)) in enumerate(out.items()):
        torch.manual_seed(1000 + i)
        model = build_model(cfg, shape)
        if cfg.arch == "cnn":
            model = model.to(memory_format=torch.channels_last)  # as the trainer trains it
        models[name] = (model.eval(), shape)
    torch.manual_seed(7)
    models["odd-layers"] = (_odd_layers().eval(), MNIST)
    for seed in range(6):
        torch.manual_seed(seed)
        model, shape = _random_conv(seed)
        models[f"random-conv-{seed}"] = (model.eval(), shape)
    return models


def _rows(t: torch.Tensor) -> list[list[float]]:
    return t.detach().float().reshape(len(t), -1).tolist()


@torch.no_grad()
def fixture(model, shape: tuple[int, ...], seed: int) -> tuple[bytes, dict]:
    """The payload and PyTorch's answers on fixed inputs: decoded codes, encoded images, the plane both ways."""
    g = torch.Generator().manual_seed(seed)
    k = model.latent_dim
    z = torch.randn(3, k, generator=g) * 1.5
    x = torch.rand(3, *shape, generator=g)
    proj = project_2d(model.code(torch.rand(40, *shape, generator=g)))
    mu = model.code(x)
    enc = model.encode(model.to_model(x))
    logvar = enc[1] if model.variational else None
    xy = torch.randn(3, 2, generator=g)
    plane_codes = from_plane(proj, xy)
    projection = (proj["mean"], proj["basis"]) if k > 2 else None  # k <= 2: the browser's own default plane
    expected = {
        "latent": k, "variational": model.variational, "image": list(shape),
        "z": _rows(z), "decoded": _rows(model.generate(z)),
        "pixels": _rows(x), "mu": _rows(mu), "logvar": _rows(logvar) if logvar is not None else None,
        "plane_xy": xy.tolist(), "plane_code": _rows(plane_codes),
        "plane_decoded": _rows(model.generate(plane_codes)), "code_plane": _rows(to_plane(proj, mu)),
    }
    return export(model, projection=projection), expected


def _nearest_fixture(seed: int = 3) -> dict:
    g = torch.Generator().manual_seed(seed)
    codes = torch.randn(1000, 20, generator=g)
    queries = torch.randn(5, 20, generator=g)
    queries[0] = codes[417]  # an exact hit
    return {"k": 20, "codes": _rows(codes), "queries": _rows(queries),
            "expected": [list(nearest(codes, q)) for q in queries]}


@pytest.fixture(scope="module")
def models() -> dict[str, tuple[nn.Module, tuple[int, ...]]]:
    return cases()


def test_every_op_carries_the_shapes_torch_computes(models):
    """The header's per-op shapes (torch's formulas, no arithmetic) are the shapes the layers really give."""
    for name, (model, shape) in models.items():
        header, _ = _header(export(model))
        parts = [(header["decoder"], model.decoder, (model.latent_dim,))]
        if model.variational:
            parts += [(header["encoder"], model.body, shape)]
        else:
            parts += [(header["encoder"], model.encoder, shape)]
        for ops, seq, in_shape in parts:
            x, real = torch.zeros(1, *in_shape), []
            for layer in seq:
                before = list(x.shape[1:])
                x = layer(x)
                if not isinstance(layer, nn.Identity):
                    real.append((before, list(x.shape[1:])))
            assert [(op["in_shape"], op["out_shape"]) for op in ops] == real, name


# ---- the payload -------------------------------------------------------------------------------------------------

def _header(payload: bytes) -> tuple[dict, int]:
    n = struct.unpack("<Q", payload[:8])[0]
    return json.loads(payload[8:8 + n]), 8 + n


def test_payload_layout_is_the_documented_one():
    torch.manual_seed(0)
    model = build_model(preset("seed-vae"))
    mean, basis = torch.randn(20), torch.randn(2, 20)
    payload = export(model, projection=(mean, basis))
    header, start = _header(payload)
    assert (header["format"], header["version"]) == (FORMAT, VERSION) == ("ae-lab-webmodel", 1)
    assert header["image"] == [1, 28, 28] and header["latent"] == 20 and header["variational"] is True
    assert header["pixels"] == {"scale": 1.0, "shift": 0.0} and header["output"] == "sigmoid"
    assert [op["op"] for op in header["decoder"]] == ["linear", "relu", "linear", "sigmoid", "unflatten"]
    assert [op["op"] for op in header["encoder"]] == ["flatten", "linear", "relu"]
    assert [op["op"] for op in header["mu"]] == [op["op"] for op in header["logvar"]] == ["linear"]
    assert header["decoder"][0]["in_shape"] == [20] and header["decoder"][-1]["out_shape"] == [1, 28, 28]
    assert start % 8 == 0, "the weights start aligned, so the browser views them without a copy"
    spans = sorted(t["data_offsets"] for t in header["tensors"].values())
    assert spans[0][0] == 0 and all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
    assert start + spans[-1][1] == len(payload) == payload_size(model, (mean, basis))

    def tensor(name):
        a, b = header["tensors"][name]["data_offsets"]
        return torch.frombuffer(bytearray(payload[start + a:start + b]), dtype=torch.float32)

    w = header["decoder"][0]["weight"]
    assert header["tensors"][w]["shape"] == [400, 20]
    assert torch.equal(tensor(w), model.decoder[0].weight.detach().flatten())
    assert torch.equal(tensor(header["plane"]["basis"]), basis.flatten())
    assert torch.equal(tensor(header["mu"][0]["bias"]), model.fc_mu.bias.detach())


def test_tanh_models_say_how_their_range_maps_to_pixels():
    torch.manual_seed(0)
    header, _ = _header(export(build_model(preset("seed-mlp-ae"))))
    assert header["output"] == "tanh" and header["pixels"] == {"scale": 0.5, "shift": 0.5}
    assert header["mu"] is None and header["logvar"] is None and header["plane"] is None


def test_channels_last_weights_are_exported_in_torch_order():
    torch.manual_seed(0)
    model = build_model(preset("seed-cnn-ae"))
    plain = export(model)
    assert export(model.to(memory_format=torch.channels_last)) == plain


def test_every_preset_fits_and_a_model_over_the_cap_is_refused():
    assert MAX_WEB_BYTES == 8 * 1024 * 1024
    assert all(fits(build_model(preset(name))) for name in PRESETS)
    big = build_model(_cfg(hidden=(2048, 1024), latent_dim=8))
    assert payload_size(big) > MAX_WEB_BYTES and not fits(big)
    with pytest.raises(WebExportError, match=r"MB .*over the 8\.4 MB cap: the page decodes it on the server"):
        export(big)


@pytest.mark.parametrize("model, why", [
    (AE(nn.Sequential(nn.Flatten(), nn.Linear(784, 2), nn.BatchNorm1d(2)), nn.Sequential(
        nn.Linear(2, 784), nn.Unflatten(1, MNIST)), 2), "BatchNorm1d layer does not run in the browser"),
    (AE(nn.Sequential(nn.Conv2d(1, 2, 3, groups=1), nn.Flatten(), nn.Linear(2 * 26 * 26, 2)), nn.Sequential(
        nn.Linear(2, 2 * 14 * 14), nn.Unflatten(1, (2, 14, 14)), nn.ConvTranspose2d(2, 2, 2, 2, groups=2),
        nn.Conv2d(2, 1, 1)), 2), "ungrouped"),
    (VAE(nn.Flatten(), nn.Linear(784, 3), nn.Linear(784, 2), nn.Sequential(nn.Linear(2, 784),
                                                                          nn.Unflatten(1, MNIST)), 2),
     "not codes of 2 numbers"),
])
def test_what_the_browser_cannot_run_is_refused_in_one_line(model, why):
    with pytest.raises(WebExportError, match=why) as err:
        export(model)
    assert "\n" not in str(err.value)
    assert not fits(model)


def test_a_diverged_run_is_refused_by_export():
    model = build_model(preset("seed-vae"))
    with torch.no_grad():
        model.decoder[0].weight[3, 4] = float("nan")
    assert fits(model), "fits() reads no weights: it says whether the layers and the size can go"
    with pytest.raises(WebExportError, match="not all finite"):
        export(model)


def test_a_plane_of_the_wrong_shape_is_refused():
    model = build_model(preset("seed-vae"))
    view = project_2d(torch.randn(50, 20))
    assert export(model, view) == export(model, (view["mean"], view["basis"]))
    with pytest.raises(WebExportError, match="the plane is"):
        export(model, projection=("mean", None))
    with pytest.raises(WebExportError, match=r"mean of shape \(20,\) and a basis of shape \(2, 20\)"):
        export(model, projection=(torch.zeros(20), torch.zeros(20, 2)))


# ---- parity with PyTorch, in Node -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fixtures(tmp_path_factory, models) -> tuple[Path, list[str]]:
    folder = tmp_path_factory.mktemp("webmodel")
    names = []
    for i, (name, (model, shape)) in enumerate(models.items()):
        payload, expected = fixture(model, shape, seed=i)
        (folder / f"{name}.bin").write_bytes(payload)
        (folder / f"{name}.json").write_text(json.dumps({"name": name, **expected}))
        names.append(name)
    (folder / "nearest.json").write_text(json.dumps(_nearest_fixture()))
    return folder, names


def run_node(folder: Path, *files: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "WEBMODEL_FIXTURES": str(folder)}
    return subprocess.run([NODE, "--test", "--test-reporter=tap", *map(str, files)], cwd=ROOT, timeout=300,
                          capture_output=True, text=True, env=env)


@pytest.mark.skipif(NODE is None, reason="node is not installed (Debian's nodejs): the JS kernels cannot be checked")
def test_browser_kernels_equal_pytorch_for_every_architecture(fixtures):
    folder, names = fixtures
    assert {"preset-seed-vae", "preset-conv-vae", "preset-seed-cnn-ae", "cnn-vae-tanh-z2", "odd-layers"} <= set(names)
    done = run_node(folder, *JS_TESTS)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-6000:]
    for name in names:  # each case really ran and passed, by name
        assert re.search(rf"^ok \d+ - parity {re.escape(name)}$", done.stdout, re.M), f"{name} did not pass:\n{out}"
    assert re.search(r"^ok \d+ - nearest equals engine.teaching.latent.nearest$", done.stdout, re.M)
    assert re.search(r"^# fail 0$", done.stdout, re.M) and re.search(r"^# skipped 0$", done.stdout, re.M), out
    passed = int(re.search(r"^# pass (\d+)$", done.stdout, re.M).group(1))
    assert passed >= len(names) + 8, out


@pytest.mark.skipif(NODE is None, reason="node is not installed (Debian's nodejs): nothing to benchmark")
def test_the_kernel_benchmark_prints_both_models_beside_pytorch():
    done = subprocess.run([sys.executable, str(ROOT / "scripts/bench_webmodel.py"), "--calls", "3"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    for name in ("seed-vae", "conv-vae"):
        assert re.search(rf"^{name} +decode( +[0-9.]+ +/ +[0-9.]+ +/ +[0-9.]+){{2}} +[0-9.]+×$", done.stdout, re.M), \
            done.stdout
    bad = subprocess.run([sys.executable, str(ROOT / "scripts/bench_webmodel.py"), "--calls", "0"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "--calls must be between 1 and 100000, got 0" in bad.stderr
