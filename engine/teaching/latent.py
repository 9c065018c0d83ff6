"""The latent space of a trained model, as the dashboard draws it: a 2-D view of the codes (PCA when the
latent is wider), the region of that view to decode, the decoder over it, traversals and fresh samples.

Models are `engine.core.models.Autoencoder`s: `generate` takes codes on any device and gives images in
[0, 1] on the model's device. Every image returned here is in [0, 1] on the CPU.
"""

from __future__ import annotations

import torch

from ..core.models import Autoencoder


def project_2d(codes: torch.Tensor) -> dict:
    """Codes (n, k) -> a 2-D view: the codes themselves for k ≤ 2, else the top-2 principal components.

    Returns {"xy": (n, 2), "axes": two axis names, "mean": (k,), "basis": (2, k)} where a point (a, b) of
    the plane is the code mean + a·basis[0] + b·basis[1] (so the decoder can be run over the plane)."""
    codes = codes.float().cpu()
    n, k = codes.shape
    if k == 1:
        return {"xy": torch.cat([codes, torch.zeros(n, 1)], 1), "axes": ["z₁", "(1-D latent)"],
                "mean": torch.zeros(1), "basis": torch.tensor([[1.0], [0.0]])}
    if k == 2:
        return {"xy": codes, "axes": ["z₁", "z₂"], "mean": torch.zeros(2), "basis": torch.eye(2)}
    mean = codes.mean(0)
    centred = codes - mean
    _, s, v = torch.linalg.svd(centred, full_matrices=False)
    var = s.pow(2)
    frac = (var / var.sum().clamp_min(1e-12)).tolist()
    basis = v[:2]
    return {"xy": centred @ basis.T, "axes": [f"PC1 of z ({frac[0]:.0%} of variance)",
                                              f"PC2 of z ({frac[1]:.0%} of variance)"],
            "mean": mean, "basis": basis}


def plane_range(xy: torch.Tensor, variational: bool, margin: float = 0.15) -> tuple[tuple[float, float], ...]:
    """The region of the plane to decode: the codes' 1st–99th percentile box plus a margin.

    For a VAE the box also covers ±2 (where the prior N(0, I) puts its mass)."""
    lo = torch.quantile(xy, 0.01, dim=0)
    hi = torch.quantile(xy, 0.99, dim=0)
    if variational:
        lo, hi = torch.minimum(lo, torch.full_like(lo, -2.0)), torch.maximum(hi, torch.full_like(hi, 2.0))
    pad = (hi - lo).clamp_min(1e-3) * margin
    lo, hi = lo - pad, hi + pad
    return (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1]))


def square(xr: tuple[float, float], yr: tuple[float, float]) -> tuple[tuple[float, float], ...]:
    """The ranges widened to the same span around their centres: drawn in a square chart, one unit is as long
    on both axes, so N(0, I)'s contours are circles and distances on the map look like distances."""
    span = max(xr[1] - xr[0], yr[1] - yr[0])
    cx, cy = (xr[0] + xr[1]) / 2, (yr[0] + yr[1]) / 2
    return (cx - span / 2, cx + span / 2), (cy - span / 2, cy + span / 2)


def from_plane(proj: dict, xy: torch.Tensor) -> torch.Tensor:
    """Points (n, 2) of the 2-D view `proj` (from project_2d) -> codes (n, k): mean + x·basis[0] + y·basis[1]."""
    return proj["mean"] + xy.float().reshape(-1, 2) @ proj["basis"][:, : proj["mean"].numel()]


def to_plane(proj: dict, z: torch.Tensor) -> torch.Tensor:
    """Codes (n, k) -> their points (n, 2) in the 2-D view `proj` (the inverse of from_plane on the plane)."""
    return (z.float().cpu().reshape(-1, proj["mean"].numel()) - proj["mean"]) @ proj["basis"].T


def decode_plane(model: Autoencoder, proj: dict, xr: tuple[float, float], yr: tuple[float, float],
                 n: int = 12) -> torch.Tensor:
    """Decode an n×n grid of points of the 2-D view `proj` (from project_2d) back to images, row by row;
    row 0 is the top (largest y), so the grid reads like the scatter plot."""
    xs = torch.linspace(xr[0], xr[1], n)
    ys = torch.linspace(yr[1], yr[0], n)
    a, b = torch.meshgrid(ys, xs, indexing="ij")
    pts = torch.stack([b.flatten(), a.flatten()], 1)  # (n*n, 2) as (x, y)
    return model.generate(from_plane(proj, pts)).cpu()


def nearest(codes: torch.Tensor, z: torch.Tensor) -> tuple[int, float]:
    """The held-out code closest to code `z` (k,) in the latent space, and its Euclidean distance."""
    d = (codes.float().cpu() - z.float().cpu().reshape(1, -1)).norm(dim=1)
    i = int(d.argmin())
    return i, float(d[i])


def typical_spacing(points: torch.Tensor, n: int = 1000) -> float:
    """The median distance from a point (code, or its place on the map) to its nearest neighbour: the yardstick
    that says whether a location is among the data (about this far from a digit) or in a hole (many times
    farther). NaN with fewer than two points."""
    c = points[:n].float().cpu()
    if len(c) < 2:
        return float("nan")
    d = torch.cdist(c, c)
    d.fill_diagonal_(float("inf"))
    return float(d.min(1).values.median())


def interpolate(model: Autoencoder, z_a: torch.Tensor, z_b: torch.Tensor, n: int = 10) -> torch.Tensor:
    """Decode n codes on the straight line from z_a to z_b (both ends included): images (n, C, H, W)."""
    t = torch.linspace(0, 1, n).unsqueeze(1)
    return model.generate((1 - t) * z_a.float().cpu() + t * z_b.float().cpu()).cpu()


def pixel_distance_to_data(images: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """For each image (n, C, H, W) in [0, 1], the squared pixel distance to the closest real image: how far a
    decoded image is from anything the data contains (large in an AE's holes)."""
    return torch.cdist(images.float().flatten(1), real.float().cpu().flatten(1)).pow(2).min(1).values


def widest_dim(codes: torch.Tensor) -> int:
    """The latent dimension whose codes spread most (the one a traversal shows best)."""
    return int(codes.float().std(0).argmax())


def sweep(codes: torch.Tensor, index: int, dim: int, width: float, n: int = 11) -> torch.Tensor:
    """n values of dimension `dim` around the code of held-out image `index`: ± `width` standard
    deviations of that dimension over all the codes (the middle value is the image's own)."""
    centre, spread = float(codes[index, dim]), float(codes[:, dim].float().std()) or 1.0
    return torch.linspace(centre - width * spread, centre + width * spread, n)


def traverse(model: Autoencoder, base: torch.Tensor, dim: int, values: torch.Tensor) -> torch.Tensor:
    """Decode copies of code `base` (k,) with dimension `dim` set to each of `values`."""
    z = base.float().cpu().repeat(len(values), 1)
    z[:, dim] = values
    return model.generate(z).cpu()


def fresh_samples(model: Autoencoder, n: int, seed: int, temperature: float = 1.0,
                  like: torch.Tensor | None = None) -> torch.Tensor:
    """Decode n codes drawn with `seed`: z ~ N(0, T²·I) (the prior, T = temperature) or, given real codes
    `like` (m, k), z ~ N(their mean, (T · their std)²) per dimension — what an AE's codes look like."""
    z = torch.randn(n, model.latent_dim, generator=torch.Generator().manual_seed(int(seed))) * temperature
    if like is not None:
        like = like.float().cpu()
        z = z * like.std(0) + like.mean(0)
    return model.generate(z).cpu()


def active_dims(kl_per_dim: list[float], threshold: float = 0.1) -> int:
    """How many latent dimensions of a VAE carry information: KL to the prior above `threshold` nats."""
    return sum(v > threshold for v in kl_per_dim)


def most_correlated(z: torch.Tensor, target: torch.Tensor) -> int:
    """The latent coordinate (column of z) most correlated, in absolute value, with `target` (n,): e.g. the
    one that tracks the Ising magnetisation. A constant coordinate counts as uncorrelated."""
    both = torch.cat([z.float().cpu().T, target.float().cpu().view(1, -1)])
    corr = torch.corrcoef(both)[-1, :-1].abs().nan_to_num(0.0)
    return int(corr.argmax())
