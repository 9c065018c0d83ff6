"""The lecture's claims as lessons: each one names the runs it needs and computes its evidence from them.

A lesson = a claim, the runs that show it (RunConfigs from `engine.core.presets.preset`, small enough to train
on a laptop CPU in minutes; bigger on a GPU), an evidence function (numbers and uint8 images computed from
the trained runs) and one or two sentences saying why it happens. Runs go through the checkpoint cache,
so a class opening the same lesson trains each run once. Pure torch: the pages draw what this returns.

    from engine.teaching.lessons import LESSONS, train_lesson
    runs = train_lesson("beta", size="cpu")      # trains (or loads) the β sweep
    ev = LESSONS["beta"].evidence(runs)          # {"betas": [...], "kl": [...], "recon": [...], ...}
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import torch

from ..core.config import RunConfig
from ..core.presets import preset
from ..core.store import Store
from ..core.trainer import to_uint8
from ..data import load

Size = Literal["test", "cpu", "gpu"]
SIZES = ("test", "cpu", "gpu")
BETAS = (0.0, 0.5, 1.0, 4.0, 16.0)
N_SHOW = 8  # held-out digits shown side by side


def default_size() -> Size:
    """'gpu' where CUDA is available (bigger runs), else 'cpu'."""
    return "gpu" if torch.cuda.is_available() else "cpu"


def budget(size: Size) -> dict:
    """Training data and epochs per size. 'test' is what the unit tests train (seconds each)."""
    return {"test": dict(train_limit=2000, epochs=3),
            "cpu": dict(train_limit=None, epochs=10),
            "gpu": dict(train_limit=None, epochs=30)}[size]


# ---- access to a lesson's trained runs -----------------------------------------------------------
class Runs:
    """A lesson's runs by role (e.g. "mlp", "cnn"), read from the checkpoint store.

    `loader(run_id) -> (cfg, model)` can be replaced (the app passes a cached loader)."""

    def __init__(self, specs: dict[str, RunConfig], store: Store | None = None,
                 loader: Callable[[str], tuple] | None = None):
        self.specs = specs
        self.store = store or Store()
        self._loader = loader or self.store.load_model
        self._models: dict[str, tuple] = {}

    def run_id(self, key: str) -> str:
        return self.specs[key].run_id()

    def complete(self) -> bool:
        return all(self.store.is_complete(c.run_id()) for c in self.specs.values())

    def missing(self) -> list[str]:
        return [k for k, c in self.specs.items() if not self.store.is_complete(c.run_id())]

    def model(self, key: str):
        """(cfg, model in eval mode)."""
        if key not in self._models:
            self._models[key] = self._loader(self.run_id(key))
        return self._models[key]

    def history(self, key: str) -> dict:
        return self.store.history(self.run_id(key))

    def snapshots(self, key: str) -> list[tuple[int, dict]]:
        rid = self.run_id(key)
        return [(e, self.store.snapshot(rid, e)) for e in self.store.snapshot_epochs(rid)]

    def heldout(self, key: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Held-out images in [0, 1] and labels of the run's dataset (never trained on)."""
        d = load(self.specs[key].dataset)
        return d.test_x, d.test_y


# ---- helpers (shared with engine.teaching.applications) ----------------------------------------
def sq_err(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Squared error per image, summed over pixels in [0, 1] (the unit of the held-out `mse01`)."""
    return (a - b).pow(2).flatten(1).sum(1)


def u8(x01: torch.Tensor) -> torch.Tensor:
    return to_uint8(x01)


def named(cfg: RunConfig, label: str) -> RunConfig:
    """`cfg` with another display name (the name is not part of the run's identity)."""
    return cfg.model_copy(update={"name": label})


def plane_grid(lo: tuple[float, float], hi: tuple[float, float], n: int) -> torch.Tensor:
    """n×n points of a 2-D box, row 0 at the top (largest z₂), as (n*n, 2)."""
    xs = torch.linspace(lo[0], hi[0], n)
    ys = torch.linspace(hi[1], lo[1], n)
    a, b = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([b.flatten(), a.flatten()], 1)


def nearest_real(images: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """For each image, the squared distance to the closest real digit: how digit-like a decode is."""
    return torch.cdist(images.flatten(1), real.flatten(1)).min(1).values.pow(2)


def gaussian_gap(z: torch.Tensor) -> float:
    """How far codes are from N(0, I): mean over dims of |mean| + |std − 1| (0 for a perfect fit)."""
    return float((z.mean(0).abs() + (z.std(0) - 1).abs()).mean())


# ---- the lessons ---------------------------------------------------------------------------------
@dataclass
class Lesson:
    key: str
    title: str
    claim: str
    why: str
    specs: Callable[[Size], dict[str, RunConfig]]
    evidence: Callable[..., dict]
    note: str = ""  # what was changed from the lecture's settings, and why
    params: dict = field(default_factory=dict)  # evidence keyword arguments the page exposes (defaults)

    def runs(self, size: Size | None = None, store: Store | None = None, loader=None) -> Runs:
        return Runs(self.specs(size or default_size()), store, loader)


# 1 — MLP vs CNN ----------------------------------------------------------------------------------
def mlp_cnn_specs(size: Size) -> dict[str, RunConfig]:
    b = budget(size)
    # Same optimiser for both; a larger lr and smaller batches than the lecture's so a few epochs suffice.
    fast = dict(lr=3e-3, batch_size=16) if size == "test" else dict(lr=2e-3, batch_size=32)
    if size == "test":
        b = {**b, "epochs": 5}
    return {"mlp": preset("seed-mlp-ae", **b, **fast), "cnn": preset("seed-cnn-ae", **b, **fast)}


def mlp_cnn_evidence(runs: Runs, n: int = N_SHOW) -> dict:
    x, _ = runs.heldout("mlp")
    out: dict = {"orig": u8(x[:n])}
    for key in ("mlp", "cnn"):
        cfg, model = runs.model(key)
        rec = model.reconstruct(x).cpu()
        err = sq_err(rec, x)
        out[key] = {"recon": u8(rec[:n]), "errors": err[:n].tolist(), "mse01": float(err.mean()),
                    "latent_dim": cfg.latent_dim}
    out["winner"] = "cnn" if out["cnn"]["mse01"] < out["mlp"]["mse01"] else "mlp"
    return out


# 2, 3 — AE latent vs VAE latent ------------------------------------------------------------------
def latent_specs(size: Size) -> dict[str, RunConfig]:
    b = budget(size)
    if size == "test":
        b = {**b, "batch_size": 32}  # 4× the steps: a 2-D VAE needs them to spread over the prior
    return {"ae": preset("seed-mlp-ae", latent_dim=2, lr=2e-3, **b),
            "vae": preset("seed-vae", latent_dim=2, **b)}


@torch.no_grad()
def latent_evidence(runs: Runs, key: str = "ae", n_grid: int = 12, n_points: int = 1000) -> dict:
    """Codes of held-out digits, and decodes of a grid over the plane (the codes' box plus a margin).

    `emptiness`: fraction of grid points farther from every code than the typical gap between codes;
    `garbage`: mean squared distance of a grid decode to its closest real digit (high = not a digit)."""
    x, y = runs.heldout(key)
    x, y = x[:n_points], y[:n_points]
    cfg, model = runs.model(key)
    z = model.code(x).cpu()[:, :2]
    if model.variational:
        lo, hi = (-2.5, -2.5), (2.5, 2.5)  # where the prior N(0, I) puts its mass
    else:
        q_lo, q_hi = torch.quantile(z, 0.01, dim=0), torch.quantile(z, 0.99, dim=0)
        pad = (q_hi - q_lo) * 0.25
        lo, hi = tuple((q_lo - pad).tolist()), tuple((q_hi + pad).tolist())
    pts = plane_grid(lo, hi, n_grid)
    imgs = model.generate(pts).cpu()
    gap = torch.cdist(z, z).fill_diagonal_(float("inf")).min(1).values.median()
    far = torch.cdist(pts, z).min(1).values > 3 * gap
    near_real = nearest_real(imgs, x)
    return {"z": z, "labels": y, "grid": u8(imgs), "lo": lo, "hi": hi, "n_grid": n_grid,
            "emptiness": float(far.float().mean()), "garbage": float(near_real.mean()),
            "garbage_empty": float(near_real[far].mean()) if far.any() else float("nan"),
            "mean": z.mean(0).tolist(), "std": z.std(0).tolist(), "gap_to_normal": gaussian_gap(z)}


def ae_latent_evidence(runs: Runs, n_grid: int = 12) -> dict:
    return latent_evidence(runs, "ae", n_grid)


def vae_latent_evidence(runs: Runs, n_grid: int = 12) -> dict:
    ev = latent_evidence(runs, "vae", n_grid)
    ev["ae"] = latent_evidence(runs, "ae", n_grid)
    return ev


# 4 — β sweep -------------------------------------------------------------------------------------
def beta_specs(size: Size, betas: tuple[float, ...] = BETAS) -> dict[str, RunConfig]:
    b = budget(size)
    return {f"beta={beta:g}": preset("seed-vae", beta=beta, **b) for beta in betas}


ACTIVE_KL = 0.05  # nats: a latent dimension with less average KL carries (almost) no information


def beta_evidence(runs: Runs, n: int = N_SHOW) -> dict:
    rows, curves, samples, recons = [], [], {}, {}
    x, _ = runs.heldout(next(iter(runs.specs)))
    for key, spec in runs.specs.items():
        h = runs.history(key)
        last = h["epochs"][-1]["heldout"] if h["epochs"] else {}
        kd = last.get("kl_per_dim", [])
        cfg, model = runs.model(key)
        rec = model.reconstruct(x[:n]).cpu()
        snap = runs.store.snapshot(runs.run_id(key)) or {}
        rows.append({"beta": spec.beta, "recon": last.get("recon"), "kl": last.get("kl"), "mse01": last.get("mse01"),
                     "posterior_std": last.get("posterior_std"), "active_dims": sum(v > ACTIVE_KL for v in kd),
                     "kl_per_dim": kd})
        for e in h["epochs"]:
            curves.append({"beta": spec.beta, "epoch": e["epoch"], "recon": e["heldout"]["recon"],
                           "kl": e["heldout"]["kl"]})
        samples[spec.beta] = snap.get("samples", torch.zeros(0, 1, 28, 28, dtype=torch.uint8))[:16]
        recons[spec.beta] = u8(rec)
    return {"rows": rows, "curves": curves, "samples": samples, "recons": recons, "orig": u8(x[:n]),
            "latent_dim": next(iter(runs.specs.values())).latent_dim}


# 5 — samples over epochs -------------------------------------------------------------------------
def epochs_specs(size: Size) -> dict[str, RunConfig]:
    return {"vae": preset("seed-vae", **budget(size))}


def epochs_evidence(runs: Runs, n: int = 16) -> dict:
    frames = [(e, s["samples"][:n]) for e, s in runs.snapshots("vae") if s and "samples" in s]
    h = runs.history("vae")
    return {"frames": frames,
            "curve": [{"epoch": e["epoch"], "loss": e["heldout"]["loss"], "recon": e["heldout"]["recon"],
                       "kl": e["heldout"]["kl"]} for e in h["epochs"]]}


# 6 — regularizers --------------------------------------------------------------------------------
def regularizer_specs(size: Size) -> dict[str, RunConfig]:
    b = budget(size)
    fast = dict(batch_size=32) if size == "test" else {}
    return {
        "denoising": preset("denoising-ae", **b, **fast),
        "plain": named(preset("denoising-ae", noise_std=0.0, **b, **fast), "plain-ae"),
        # A linear code: with the preset's sigmoid code these short runs saturate and barely learn.
        "contractive": named(preset("contractive-ae", latent_activation="none", **b, **fast), "contractive-ae-linear"),
        "uncontracted": named(preset("contractive-ae", latent_activation="none", contractive_weight=0.0, **b, **fast),
                              "contractive-ae-off"),
        "sparse": preset("sparse-ae", **b, **fast),
        "dense": named(preset("sparse-ae", sparsity_weight=0.0, **b, **fast), "sparse-ae-off"),
    }


@torch.no_grad()
def denoising_evidence(runs: Runs, level: float = 0.5, n: int = N_SHOW, seed: int = 0) -> dict:
    """Corrupt held-out digits with Gaussian noise of std `level`; error against the clean digits of the noisy
    input, of the plain AE's output and of the denoising AE's output."""
    x, _ = runs.heldout("denoising")
    g = torch.Generator().manual_seed(seed)
    noisy = (x + level * torch.randn(x.shape, generator=g)).clamp(0, 1)
    out = {"level": level, "orig": u8(x[:n]), "noisy": u8(noisy[:n]), "err_noisy": float(sq_err(noisy, x).mean())}
    for key in ("plain", "denoising"):
        cfg, model = runs.model(key)
        rec = model.reconstruct(noisy).cpu()
        out[key] = u8(rec[:n])
        out[f"err_{key}"] = float(sq_err(rec, x).mean())
    return out


@torch.no_grad()
def sensitivity(model, cfg: RunConfig, x01: torch.Tensor, eps: float = 0.05, seed: int = 0) -> dict:
    """Latent movement ‖E(x+δ) − E(x)‖ for small random δ (std `eps`), relative to the spread of the codes
    (so shrinking the whole code does not count as robustness)."""
    g = torch.Generator().manual_seed(seed)
    z = model.code(x01).cpu()
    z2 = model.code((x01 + eps * torch.randn(x01.shape, generator=g)).clamp(0, 1)).cpu()
    spread = float(z.std(0).norm()) + 1e-12
    move = (z2 - z).norm(dim=1)
    return {"movement": move, "spread": spread, "relative": float(move.mean()) / spread}


def contractive_evidence(runs: Runs, eps: float = 0.05) -> dict:
    x, _ = runs.heldout("contractive")
    out = {"eps": eps}
    for key in ("contractive", "uncontracted"):
        cfg, model = runs.model(key)
        s = sensitivity(model, cfg, x, eps)
        out[key] = {"relative": s["relative"], "movement": (s["movement"] / s["spread"]).tolist(),
                    "mse01": float(sq_err(model.reconstruct(x).cpu(), x).mean())}
    return out


def sparsity_evidence(runs: Runs) -> dict:
    x, _ = runs.heldout("sparse")
    out = {}
    for key in ("sparse", "dense"):
        cfg, model = runs.model(key)
        a = model.code(x[:500]).cpu()  # (n, units) sigmoid activations
        out[key] = {"rho": cfg.sparsity_target, "mean_activation": float(a.mean()),
                    "unit_means": a.mean(0).tolist(), "sample": a[:50].flatten().tolist(),
                    "fraction_on": float((a > 0.5).float().mean()),
                    "mse01": float(sq_err(model.reconstruct(x).cpu(), x).mean())}
    return out


def regularizer_evidence(runs: Runs, level: float = 0.5) -> dict:
    return {"denoising": denoising_evidence(runs, level), "contractive": contractive_evidence(runs),
            "sparsity": sparsity_evidence(runs)}


# 7 — under- vs over-complete ---------------------------------------------------------------------
def complete_specs(size: Size) -> dict[str, RunConfig]:
    b = budget(size)
    base = dict(sparsity_weight=0.0, latent_activation="none", **b)
    if size == "test":
        base["batch_size"] = 32
    return {"under": named(preset("sparse-ae", latent_dim=16, **base), "undercomplete-ae"),
            "over": named(preset("sparse-ae", latent_dim=1024, **base), "overcomplete-ae")}


def strangers(active: torch.Tensor, n_noise: int = 8, seed: int = 0) -> tuple[torch.Tensor, list[str]]:
    """Inputs that are not digits: simple shapes and random noise, drawn where MNIST has ink (`active` mask)."""
    yy, xx = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    r2 = (xx - 14) ** 2 + (yy - 14) ** 2
    shapes = [((xx - 14).abs() < 6) & ((yy - 14).abs() < 6), (r2 < 49) & (r2 > 16),
              ((xx - yy).abs() < 2) & (xx > 4) & (xx < 24), ((xx - 14).abs() < 2) | ((yy - 14).abs() < 2),
              ((xx + yy - 28).abs() < 2) | ((xx - yy).abs() < 2), (yy > 8) & (yy < 20) & ((xx.long() // 3) % 2 == 0),
              (r2 < 36), ((xx - 9).abs() < 2) | ((xx - 19).abs() < 2) | ((yy - 14).abs() < 2) & (xx > 9) & (xx < 19)]
    g = torch.Generator().manual_seed(seed)
    noise = torch.rand(n_noise, 1, 28, 28, generator=g)
    imgs = torch.cat([torch.stack(shapes).float().unsqueeze(1), noise]) * active
    return imgs, ["shape"] * len(shapes) + ["noise"] * n_noise


@torch.no_grad()
def complete_evidence(runs: Runs) -> dict:
    """Reconstruction error, as a fraction of the input's energy, on held-out digits and on non-digits.
    A model that copies its input reconstructs everything; one that compresses only reconstructs digits."""
    x, _ = runs.heldout("under")
    train_x = load(runs.specs["under"].dataset).train_x
    active = (train_x.std(0) > 0.05).float()
    odd, kinds = strangers(active)
    out: dict = {"orig": u8(x[:N_SHOW]), "odd": u8(odd), "kinds": kinds}
    for key in ("under", "over"):
        cfg, model = runs.model(key)
        rd, ro = model.reconstruct(x).cpu(), model.reconstruct(odd).cpu()
        rel = lambda r, t: float((sq_err(r, t) / t.pow(2).flatten(1).sum(1).clamp_min(1e-6)).mean())  # noqa: E731
        shape = torch.tensor([k == "shape" for k in kinds])
        out[key] = {"latent_dim": cfg.latent_dim, "digits": u8(rd[:N_SHOW]), "odd": u8(ro),
                    "rel_digits": rel(rd, x), "rel_shapes": rel(ro[shape], odd[shape]),
                    "rel_noise": rel(ro[~shape], odd[~shape])}
    return out


# 8 — curse of dimensionality ---------------------------------------------------------------------
def sphere_cube_ratio(d: int) -> float:
    """Volume of the unit-radius d-ball over its enclosing cube [-1, 1]^d: π^{d/2} / (d·2^{d−1}·Γ(d/2))."""
    return math.exp(d / 2 * math.log(math.pi) - math.log(d) - (d - 1) * math.log(2) - math.lgamma(d / 2))


def monte_carlo_ratio(d: int, n: int = 20000, seed: int = 0) -> float:
    """Fraction of uniform points in [-1, 1]^d inside the unit ball (checks the formula)."""
    g = torch.Generator().manual_seed(seed)
    p = torch.rand(n, d, generator=g) * 2 - 1
    return float((p.pow(2).sum(1) <= 1).float().mean())


def distance_contrast(d: int, n: int = 500, seed: int = 0) -> dict:
    """Distances from a random query to n uniform points in [0, 1]^d: max/min → 1 as d grows,
    so 'nearest' and 'farthest' stop meaning much."""
    g = torch.Generator().manual_seed(seed + d)
    p = torch.rand(n + 1, d, generator=g)
    dist = (p[1:] - p[0]).norm(dim=1)
    return {"d": d, "min": float(dist.min()), "max": float(dist.max()), "ratio": float(dist.max() / dist.min()),
            "rel_spread": float(dist.std() / dist.mean())}


DIMS = (1, 2, 3, 5, 10, 20, 50, 100, 300, 784)


def curse_evidence(runs: Runs | None = None, dims: tuple[int, ...] = DIMS) -> dict:
    vol = [{"d": d, "ratio": sphere_cube_ratio(d), "monte_carlo": monte_carlo_ratio(d) if d <= 20 else None}
           for d in range(1, 31)]
    dist = [distance_contrast(d) for d in dims]
    return {"volume": vol, "distance": dist,
            **{f"sphere/cube d={d}": sphere_cube_ratio(d) for d in (2, 3, 10, 30)},
            **{f"max/min distance d={r['d']}": r["ratio"] for r in dist if r["d"] in (2, 100, 784)}}


LESSONS: dict[str, Lesson] = {
    "mlp-cnn": Lesson(
        "mlp-cnn", "1 · MLP vs CNN autoencoder",
        "The MLP autoencoder's reconstructions are blurry; the CNN keeps more details — lower error on the same "
        "digits.",
        "The MLP squeezes every digit through 3 numbers and treats pixels as an unordered list; the convolutions reuse "
        "the same small filters everywhere and keep a 32-number spatial code, so strokes and their positions survive.",
        mlp_cnn_specs, mlp_cnn_evidence,
        note="The lecture's two models, trained with the same optimiser (lr and batch size raised so a few "
             "epochs suffice)."),
    "ae-latent": Lesson(
        "ae-latent", "2 · The AE latent space has holes",
        "An autoencoder's codes form clusters of the same digit with empty space between them; decoding points from "
        "the empty regions gives garbage.",
        "Nothing in the AE's loss says where codes should go, only that the decoder can rebuild them: the decoder is "
        "never trained on the gaps, so what it outputs there is arbitrary.",
        latent_specs, ae_latent_evidence, note="The lecture's MLP AE with a 2-D latent so the plane can be drawn."),
    "vae-latent": Lesson(
        "vae-latent", "3 · The VAE latent space is regular",
        "A VAE's codes are centred and fill the prior N(0, I) without holes; decoding a grid gives digits everywhere.",
        "The KL term pulls every posterior toward N(0, I) and the sampling noise forces nearby codes to decode to "
        "similar images, so the whole region around the origin is used and smooth.",
        latent_specs, vae_latent_evidence, note="The lecture's VAE with a 2-D latent (and the AE of lesson 2)."),
    "beta": Lesson(
        "beta", "4 · Reconstruction vs KL: the β sweep",
        "Raising β buys a lower KL (rate) with a higher reconstruction error (distortion); β = 0 turns the VAE into an "
        "AE (posterior std → 0), large β blurs and switches latent dimensions off.",
        "The loss is recon + β·KL: β is the price of each nat of information in z. With β = 0 information is free and "
        "the noise is useless, so σ shrinks; with a high β only the few dimensions worth their price stay active.",
        beta_specs, beta_evidence, note="The lecture's VAE (784-400-20) at β = 0, 0.5, 1, 4, 16."),
    "epochs": Lesson(
        "epochs", "5 · Samples improve with training",
        "Samples decoded from the same random z turn from blobs into digits as training goes on.",
        "The decoder learns to map the whole prior onto the data: early on it only knows the average digit, then "
        "strokes and shapes appear as the ELBO improves.",
        epochs_specs, epochs_evidence, note="The lecture's VAE; the same 64 codes are decoded after every epoch."),
    "regularizers": Lesson(
        "regularizers", "6 · Regularized autoencoders",
        "Denoising AEs turn noisy inputs into clean digits; contractive AEs move their code less when the input "
        "moves a little; sparse AEs keep most units near zero (mean activation ≈ ρ).",
        "Each adds a wish to the loss: rebuild the clean x from a corrupted one, keep ‖∂E/∂x‖ small, or keep the mean "
        "activation of each unit at ρ — the same capacity, but a code with a useful property.",
        regularizer_specs, regularizer_evidence, params={"level": 0.5},
        note="Each regularized model next to the same model with its penalty switched off."),
    "complete": Lesson(
        "complete", "7 · Under- vs over-complete",
        "An over-complete autoencoder without regularization copies its input: it rebuilds digits almost perfectly "
        "and also shapes it has never seen, while an under-complete one turns everything into a digit.",
        "With more code units than pixels, the identity map is a perfect solution and nothing forbids it, so the "
        "model drifts toward copying instead of learning what digits have in common — hence the need for "
        "regularizers. (Pure noise is copied only partly: it points in directions that digits never vary in, which "
        "the model was never trained to pass through.)",
        complete_specs, complete_evidence, note="One-layer AEs (784 → k → 784) with k = 16 and k = 1024, no penalty."),
    "curse": Lesson(
        "curse", "8 · The curse of dimensionality",
        "In high dimensions almost all of a cube's volume is outside its inscribed sphere, and distances between "
        "random points become nearly equal.",
        "V_sphere/V_cube = π^{d/2}/(d·2^{d−1}·Γ(d/2)) → 0 because the corners multiply; and a distance sums d "
        "independent terms, so its spread shrinks like 1/√d relative to its mean — compressing to a few dimensions "
        "makes distances (and learning) meaningful again.",
        lambda size: {}, curse_evidence, note="Pure mathematics: no training."),
}


def train_lesson(key: str, size: Size | None = None, store: Store | None = None, report=None) -> Runs:
    """Train (or load from the cache) every run a lesson needs, synchronously; for tests and the CLI."""
    from ..core.trainer import train

    lesson = LESSONS[key]
    runs = lesson.runs(size, store)
    for role, cfg in runs.specs.items():
        res = train(cfg, report, store=runs.store)
        if res.status != "completed":
            raise RuntimeError(f"lesson '{key}': run '{role}' ended {res.status}: {res.message}")
    return runs
