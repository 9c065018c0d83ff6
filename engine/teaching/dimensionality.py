"""Why compress at all: the lecture's "exponential increase in required # of samples / peaking in
predictive power", computed.

- Sample cost: keeping n samples along each axis takes N = n^d samples; a fixed N gives N^{1/d} per axis.
- Peaking (Hughes phenomenon), Trunk's classic example (IEEE PAMI 1979): two Gaussian classes N(±m, I) with
  m_j = 1/√j. Every added feature carries some signal, so with the true means the error falls toward 0 as d
  grows; with means estimated from a few samples it falls, reaches a minimum, and climbs back to ½.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

DIMS = (1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 784)


def density_table(n_samples: int, dims: Sequence[int] = DIMS, per_axis: float = 10.0) -> list[dict]:
    """For each d: the samples per axis that `n_samples` give (N^{1/d}), and log10 of the samples needed for
    `per_axis` per axis (d·log10 n; the number itself overflows a float beyond d ≈ 300)."""
    return [{"d": d, "per_axis": n_samples ** (1 / d), "log10_needed": d * math.log10(per_axis)} for d in dims]


def _phi(x: torch.Tensor) -> torch.Tensor:
    """The standard normal CDF."""
    return 0.5 * (1 + torch.erf(x / math.sqrt(2)))


def peaking(dims: Sequence[int] = DIMS, n_train: int = 10, trials: int = 40, seed: int = 0) -> list[dict]:
    """Trunk's example: the test error of the plug-in classifier sign(x·m̂) with the true means ("known") and
    with means estimated from `n_train` samples per class ("estimated", averaged over `trials`).

    Given m̂, a test point x ~ N(m, I) is misclassified with probability Φ(−m·m̂/‖m̂‖) (exact, no test set)."""
    g = torch.Generator().manual_seed(seed)
    rows = []
    for d in dims:
        m = 1 / torch.arange(1, d + 1, dtype=torch.float64).sqrt()
        known = float(_phi(-m.norm()))
        # m̂ = (mean of class + − mean of class −) / 2 = m + noise of variance 1/(2 n_train) per coordinate
        m_hat = m + torch.randn(trials, d, generator=g, dtype=torch.float64) / math.sqrt(2 * n_train)
        est = _phi(-(m_hat @ m) / m_hat.norm(dim=1)).mean()
        rows.append({"d": d, "known": known, "estimated": float(est)})
    return rows


def best_dim(rows: list[dict]) -> dict:
    """The row of `peaking` with the lowest estimated error (the peak of predictive power)."""
    return min(rows, key=lambda r: r["estimated"])
