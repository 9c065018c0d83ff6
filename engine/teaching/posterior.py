"""A VAE's posteriors q(z|x) = N(μ(x), diag σ²(x)) on held-out digits: their ellipses on the latent map, and
the aggregate posterior p(z) = Σ_x q(z|x) p(x) that the lecture says is N(0, I).

The aggregate is sampled as z = μ + σ·ε (one draw per digit), not as μ alone: by the law of total variance
Var[z] = Var[μ] + E[σ²], so a good VAE has std(μ) < 1 and std(z) ≈ 1.
"""

from __future__ import annotations

import math

import torch

from ..core.models import CHUNK, Autoencoder


@torch.no_grad()
def posterior_params(model: Autoencoder, x01: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(μ, log σ²) of images in [0, 1], on the CPU; for a plain AE (its code, None)."""
    x01 = x01.to(model.device)
    if not model.variational:
        return model.code(x01).float().cpu(), None
    mus, logvars = [], []
    for i in range(0, len(x01), CHUNK):
        mu, logvar = model.encode(model.to_model(x01[i:i + CHUNK]))
        mus.append(mu.float().cpu())
        logvars.append(logvar.float().cpu())
    return torch.cat(mus), torch.cat(logvars)


def aggregate(mu: torch.Tensor, logvar: torch.Tensor, seed: int = 0) -> dict:
    """One draw z = μ + σ·ε per image (the aggregate posterior) and the moments of μ, σ² and z.

    Returns {"z": (n, K), "mean_mu", "std_mu", "mean_z", "std_z", "mean_var": (K,) each, and pooled over
    every dimension: "pooled": {"mean_z", "std_z", "std_mu", "var_mu", "mean_var"}}. The pooled spreads are
    per-dimension variances averaged (std = its square root), the estimator of the identity the page shows,
    Var[z] = Var[μ] + E[σ²]: pooling all numbers around one overall mean would add the spread between the
    dimensions' means, and std(z)² would no longer be the sum beside it."""
    mu, logvar = mu.float().cpu(), logvar.float().cpu()
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(seed))
    var = logvar.exp()
    z = mu + var.sqrt() * eps
    var_mu, var_z = mu.var(0, unbiased=False), z.var(0, unbiased=False)
    pooled = {"mean_z": float(z.mean()), "std_z": float(var_z.mean().sqrt()), "std_mu": float(var_mu.mean().sqrt()),
              "var_mu": float(var_mu.mean()), "mean_var": float(var.mean())}
    return {"z": z, "mean_mu": mu.mean(0), "std_mu": var_mu.sqrt(), "mean_z": z.mean(0), "std_z": var_z.sqrt(),
            "mean_var": var.mean(0), "pooled": pooled}


def aggregate_text(pooled: dict) -> str:
    """What the measured aggregate says, in the lecture's terms (markdown): is it N(0, I), and what μ alone misses."""
    std_z, std_mu, noise = pooled["std_z"], pooled["std_mu"], math.sqrt(pooled["mean_var"])
    if abs(std_z - 1) <= 0.1:
        verdict = (f"Its spread std(z) = **{std_z:.2f}** is close to 1: the codes the encoder hands out look like "
                   "draws from N(0, I), the distribution new z are sampled from.")
    elif std_z > 1:
        verdict = (f"Its spread std(z) = **{std_z:.2f}** is wider than the prior's 1: the KL term is paid digit by "
                   "digit, so it pulls each posterior toward N(0, I) only on average. Codes sampled from N(0, I) "
                   "then use the centre of the cloud more than real digits do.")
    else:
        verdict = (f"Its spread std(z) = **{std_z:.2f}** is narrower than the prior's 1: the digits use only part "
                   "of N(0, I), so samples from its edges land where no digit was encoded.")
    return (f"{verdict} The means alone have std(μ) = **{std_mu:.2f}**; the rest is the posterior noise "
            f"(typical σ = {noise:.2f}). Judging the latent by μ alone misses that part.")


def histogram(values: torch.Tensor, lo: float = -4.0, hi: float = 4.0, bins: int = 40) -> dict:
    """A density histogram of `values` on [lo, hi] (values outside are counted in the end bins) and the
    N(0, 1) density at the bin centres, for drawing the two on one chart."""
    v = values.float().flatten().clamp(lo, hi - 1e-6)
    counts = torch.histc(v, bins=bins, min=lo, max=hi)
    width = (hi - lo) / bins
    centres = torch.linspace(lo + width / 2, hi - width / 2, bins)
    density = counts / max(len(v), 1) / width
    normal = torch.exp(-centres.pow(2) / 2) / math.sqrt(2 * math.pi)
    return {"centre": centres.tolist(), "density": density.tolist(), "normal": normal.tolist(), "width": width}


def ellipse(proj: dict, mu: torch.Tensor, logvar: torch.Tensor | None, n_std: float = 1.0,
            n_points: int = 48) -> torch.Tensor | None:
    """The n_std contour of N(μ, diag σ²) in the 2-D view `proj` (from latent.project_2d): (n_points, 2).

    Exact for any latent size ≥ 2: a linear projection of a Gaussian is a Gaussian, so the shadow of the
    posterior on the PCA plane has covariance B·diag(σ²)·Bᵀ (B: the 2×K basis). None for a 1-D latent or an AE."""
    k = proj["mean"].numel()
    if logvar is None or k < 2:
        return None
    basis = proj["basis"][:, :k].float()
    cov = basis @ torch.diag(logvar.float().cpu().exp().flatten()) @ basis.T
    evals, evecs = torch.linalg.eigh(cov)
    t = torch.linspace(0, 2 * math.pi, n_points)
    circle = torch.stack([t.cos(), t.sin()], 1)
    centre = (mu.float().cpu().flatten() - proj["mean"]) @ basis.T
    return centre + n_std * (circle * evals.clamp_min(0).sqrt()) @ evecs.T


def prior_contours(proj: dict, radii: tuple[float, ...] = (1.0, 2.0, 3.0), n_points: int = 72) -> list[torch.Tensor]:
    """The 1σ, 2σ, 3σ contours of the prior N(0, I) in the 2-D view (circles: the PCA basis is orthonormal)."""
    k = proj["mean"].numel()
    if k < 2:
        return []
    zero = torch.zeros(k)
    return [ellipse(proj, zero, zero, r, n_points) for r in radii]


def _direction(a: float, b: float, rel: float = 0.02) -> str:
    return "rose" if b > a * (1 + rel) else "fell" if b < a * (1 - rel) else "held"


def dynamics_text(epochs: list[dict]) -> str | None:
    """The lecture's training-dynamics slide read off a run's held-out history (markdown), or None with fewer
    than two epochs: which term is winning, from how reconstruction, KL and the mean σ moved."""
    rows = [e.get("heldout") or {} for e in epochs or []]
    rows = [r for r in rows if all(r.get(k) is not None for k in ("recon", "kl", "posterior_std"))]
    if len(rows) < 2:
        return None
    a, b = rows[0], rows[-1]
    d = {k: _direction(a[k], b[k]) for k in ("recon", "kl", "posterior_std")}
    facts = (f"Over {len(rows)} epochs reconstruction {d['recon']} ({a['recon']:.4g} → {b['recon']:.4g}), KL "
             f"{d['kl']} ({a['kl']:.3g} → {b['kl']:.3g}) and the mean posterior σ {d['posterior_std']} "
             f"({a['posterior_std']:.2f} → {b['posterior_std']:.2f}).")
    if d["posterior_std"] == "fell" and d["kl"] == "rose":
        why = ("The **reconstruction term is winning**: the encoder lowers σ to reconstruct better and pays for it in "
               "KL. Raise β on Live run to see the similarity term win.")
    elif d["posterior_std"] == "rose" and d["kl"] == "fell":
        why = ("The **similarity term is winning**: σ grows toward the prior's 1, KL falls and the codes get noisier, "
               "so reconstruction pays.")
    elif d["posterior_std"] == "fell" and d["kl"] == "fell" and a["posterior_std"] > 1:
        why = ("σ started above 1 (the untrained encoder is noisier than the prior), so lowering it cuts KL and helps "
               "reconstruction at once: no tug of war yet. Train longer to see KL rise as σ drops below 1.")
    else:
        why = "Neither term dominates yet: reconstruction and KL have found a balance for this β."
    return f"{facts} {why}"
