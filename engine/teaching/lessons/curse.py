"""Lesson 8: the curse of dimensionality (pure mathematics, no training)."""

from __future__ import annotations

import math

import torch

from .base import Runs

DIMS = (1, 2, 3, 5, 10, 20, 50, 100, 300, 784)


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


def curse_evidence(runs: Runs | None = None, dims: tuple[int, ...] = DIMS) -> dict:
    vol = [{"d": d, "ratio": sphere_cube_ratio(d), "monte_carlo": monte_carlo_ratio(d) if d <= 20 else None}
           for d in range(1, 31)]
    dist = [distance_contrast(d) for d in dims]
    return {"volume": vol, "distance": dist,
            **{f"sphere/cube d={d}": sphere_cube_ratio(d) for d in (2, 3, 10, 30)},
            **{f"max/min distance d={r['d']}": r["ratio"] for r in dist if r["d"] in (2, 100, 784)}}
