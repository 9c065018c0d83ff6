"""What autoencoders are used for: compression (vs PCA), denoising, anomaly detection, generation.

Pure torch. Runs are RunConfigs trained through the checkpoint cache like every other run; the functions
here compute scores, curves and images from trained models for the Applications page and the tests.
Anomaly detection trains on `<dataset>-without-<digit>` (`engine.data.subsets`): the dataset with one class
removed from the training set (its held-out set keeps every class, so the removed digit is the anomaly).
"""

from __future__ import annotations

import io

import torch

from ..core.config import RunConfig
from ..core.presets import preset
from ..data.subsets import without
from .lessons import Size, budget, named, sq_err
from .metrics import roc

# ---- compression: PCA vs autoencoders --------------------------------------------------------------
KS = (2, 4, 8, 16, 32)


def pca_fit(x01: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean (D,), top-k principal directions (k, D)) of images via torch.linalg.svd.

    The SVD of the D×D scatter matrix XᵀX has the same right singular vectors as the centred data X
    and is much cheaper for N ≫ D (9,000 × 784 → 784 × 784)."""
    flat = x01.flatten(1).double()
    mean = flat.mean(0)
    c = flat - mean
    _, _, vh = torch.linalg.svd(c.T @ c)
    return mean, vh[:k]


def pca_errors(train_x: torch.Tensor, test_x: torch.Tensor, ks=KS) -> list[float]:
    """Held-out squared error per image (summed over pixels in [0, 1]) of the best rank-k linear code, per k."""
    mean, vh = pca_fit(train_x, max(ks))
    t = test_x.flatten(1).double() - mean
    out = []
    for k in ks:
        v = vh[:k]
        rec = (t @ v.T) @ v
        out.append(float((rec - t).pow(2).sum(1).mean()))
    return out


def compression_specs(size: Size, ks=KS) -> dict[str, RunConfig]:
    """One MLP autoencoder (784-256-k) per latent size k, no regularization."""
    b = budget(size)
    extra = dict(batch_size=32) if size == "test" else {}
    return {f"k={k}": named(preset("denoising-ae", noise_std=0.0, latent_dim=k, **b, **extra), f"compress-ae-{k}")
            for k in ks}


def compression_table(train_x: torch.Tensor, test_x: torch.Tensor, models: dict[int, tuple] | None = None,
                      ks=KS) -> list[dict]:
    """Rows {method, k, error} for PCA at every k and for each trained AE (`models`: k -> (cfg, model))."""
    errs = pca_errors(train_x, test_x, ks)
    rows = [{"method": "PCA (linear)", "k": k, "error": e} for k, e in zip(ks, errs, strict=True)]
    for k, (_, model) in sorted((models or {}).items()):
        err = float(sq_err(model.reconstruct(test_x).cpu(), test_x).mean())
        rows.append({"method": "autoencoder", "k": k, "error": err})
    return rows


# ---- anomaly detection -----------------------------------------------------------------------------
def anomaly_specs(size: Size, digit: int = 2, base: str = "mnist") -> dict[str, RunConfig]:
    """A VAE (the lecture's 784-400-8) and the same network without sampling and KL (an AE), trained on every digit
    but `digit`: the two differ in `variational` only."""
    b = budget(size)
    extra = dict(batch_size=32) if size == "test" else {}
    ds = without(base, digit)
    return {"ae": named(preset("seed-vae", variational=False, latent_dim=8, dataset=ds, **b, **extra),
                        f"anomaly-ae-no{digit}"),
            "vae": named(preset("seed-vae", latent_dim=8, dataset=ds, **b, **extra), f"anomaly-vae-no{digit}")}


@torch.no_grad()
def recon_scores(model, cfg: RunConfig, x01: torch.Tensor) -> torch.Tensor:
    """Anomaly score = reconstruction error of each image (pixel space): high = unlike the training data."""
    return sq_err(model.reconstruct(x01).cpu(), x01)


@torch.no_grad()
def elbo_scores(model, cfg: RunConfig, x01: torch.Tensor, samples: int = 4, seed: int = 0) -> torch.Tensor:
    """Negative ELBO of each image (recon + KL, averaged over `samples` draws of z): a VAE's anomaly score."""
    if not model.variational:
        raise ValueError("the ELBO needs a VAE")
    out = []
    with torch.random.fork_rng(devices=[model.device] if model.device.type == "cuda" else []):
        torch.manual_seed(seed)
        for i in range(0, len(x01), 500):
            xb = x01[i:i + 500].to(model.device)
            draws = [model.loss_terms(xb) for _ in range(samples)]
            out.append(sum(t["recon"] + t["kl"] for t in draws).cpu() / samples)
    return torch.cat(out)


def anomaly_report(scores: torch.Tensor, labels: torch.Tensor, digit: int, x01: torch.Tensor, top: int = 16) -> dict:
    """AUC, ROC, scores split by normal/anomaly, and the most anomalous images (uint8) with their labels."""
    pos = labels == digit
    r = roc(scores, pos)
    idx = torch.argsort(scores, descending=True)[:top]
    return {**r, "scores": scores.tolist(), "is_anomaly": pos.tolist(), "top": (x01[idx].clamp(0, 1) * 255).round()
            .to(torch.uint8), "top_labels": labels[idx].tolist(), "top_scores": scores[idx].tolist(),
            "precision_at_top": float(pos[idx].float().mean())}


# ---- denoising an image the user gives -------------------------------------------------------------
MAX_UPLOAD = 5 * 2**20
MAX_PIXELS = 4096 * 4096


class ImageError(ValueError):
    """An upload that cannot be used; the message (one line) says what to do."""


def image_from_bytes(data: bytes, name: str = "upload") -> torch.Tensor:
    """A PNG/JPG (any size/colour) -> a (1, 1, 28, 28) digit in [0, 1], white on black like MNIST.

    Converted to grayscale, padded to a square, resized to 28×28; a light background is inverted."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise ImageError(f"{name} is empty: choose a PNG or JPG image")
    if len(data) > MAX_UPLOAD:
        raise ImageError(f"{name} is {len(data) / 2**20:.1f} MB: images up to {MAX_UPLOAD // 2**20} MB are accepted")
    try:
        img = Image.open(io.BytesIO(data))
        if img.format not in ("PNG", "JPEG"):
            raise ImageError(f"{name} is a {img.format or 'unknown'} file: upload a PNG or JPG")
        if img.width * img.height > MAX_PIXELS:
            raise ImageError(f"{name} is {img.width}×{img.height} pixels: use an image under 16 megapixels")
        img.load()
    except ImageError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise ImageError(f"{name} could not be read as an image: upload a PNG or JPG") from None
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        bg = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(bg, img.convert("RGBA"))
    g = img.convert("L")
    side = max(g.size)
    square = Image.new("L", (side, side), color=_border_colour(g))
    square.paste(g, ((side - g.width) // 2, (side - g.height) // 2))
    small = square.resize((28, 28), Image.Resampling.LANCZOS)
    x = torch.frombuffer(bytearray(small.tobytes()), dtype=torch.uint8).float().view(1, 1, 28, 28) / 255
    if float(x[..., 0, :].mean() + x[..., -1, :].mean() + x[..., :, 0].mean() + x[..., :, -1].mean()) / 4 > 0.5:
        x = 1 - x  # dark ink on light paper -> MNIST's light ink on black
    return x.clamp(0, 1)


def _border_colour(g) -> int:
    w, h = g.size
    px = [g.getpixel((0, 0)), g.getpixel((w - 1, 0)), g.getpixel((0, h - 1)), g.getpixel((w - 1, h - 1))]
    return int(sum(px) / 4)


@torch.no_grad()
def denoise(model, cfg: RunConfig, x01: torch.Tensor, level: float, seed: int = 0, kind: str = "gaussian") -> dict:
    """Corrupt `x01` (N, 1, 28, 28) and clean it with `model`: noisy and cleaned images and their errors."""
    g = torch.Generator().manual_seed(seed)
    if kind == "gaussian":
        noisy = (x01 + level * torch.randn(x01.shape, generator=g)).clamp(0, 1)
    else:
        noisy = x01 * (torch.rand(x01.shape, generator=g) >= level)
    clean = model.reconstruct(noisy).cpu()
    return {"noisy": noisy, "clean": clean, "err_noisy": sq_err(noisy, x01).tolist(),
            "err_clean": sq_err(clean, x01).tolist()}


# ---- generation -------------------------------------------------------------------------------------
@torch.no_grad()
def sample(model, cfg: RunConfig, n: int = 16, seed: int = 0, temperature: float = 1.0) -> torch.Tensor:
    """Decode n codes drawn from the prior N(0, temperature²·I): images in [0, 1]."""
    z = torch.randn(n, model.latent_dim, generator=torch.Generator().manual_seed(seed)) * temperature
    return model.generate(z).cpu()


@torch.no_grad()
def interpolate(model, cfg: RunConfig, a01: torch.Tensor, b01: torch.Tensor, steps: int = 10) -> dict:
    """Walk in a straight line from the code of image a to the code of image b and decode each point;
    next to it, the same walk in pixel space (a cross-fade) for contrast."""
    za, zb = model.code(a01.view(1, *a01.shape[-3:])).cpu(), model.code(b01.view(1, *b01.shape[-3:])).cpu()
    t = torch.linspace(0, 1, steps).view(-1, 1)
    latent = model.generate(za + t * (zb - za)).cpu()
    tt = t.view(-1, 1, 1, 1)
    pixels = a01.view(1, *a01.shape[-3:]) * (1 - tt) + b01.view(1, *b01.shape[-3:]) * tt
    return {"latent": latent, "pixels": pixels}
