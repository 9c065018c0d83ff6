"""Graph autoencoders (Kipf & Welling, "Variational Graph Auto-Encoders", 2016), compact and dense.

Encoder: two GCN layers, H = ReLU(Â X W0), Z = Â H W1 (a VGAE has a second head for log σ²), with
Â = D^-1/2 (A + I) D^-1/2. Decoder: p(A_ij = 1) = sigmoid(z_i · z_j). The loss is the reconstruction
of the whole adjacency matrix (positive entries up-weighted, since a graph is sparse) plus, for a VGAE,
the KL term. Link prediction: some edges are hidden from the encoder and must be scored above an equal
number of non-edges (ROC AUC, average precision). Graphs here are small, so everything is dense tensors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..data.graphs import Graph, split_edges
from .metrics import auc, average_precision


def normalize(adj: torch.Tensor) -> torch.Tensor:
    """Â = D^-1/2 (A + I) D^-1/2: the GCN propagation matrix."""
    a = adj + torch.eye(len(adj), device=adj.device)
    d = a.sum(1).rsqrt()
    return d[:, None] * a * d[None, :]


class GCN(nn.Module):
    """One graph convolution: Â X W."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        self.lin = nn.Linear(n_in, n_out, bias=False)
        nn.init.xavier_uniform_(self.lin.weight)

    def forward(self, x: torch.Tensor, a_hat: torch.Tensor) -> torch.Tensor:
        return a_hat @ self.lin(x)


class GAE(nn.Module):
    """GAE (variational=False) or VGAE: GCN encoder, inner-product decoder."""

    def __init__(self, n_in: int, hidden: int = 32, latent: int = 16, variational: bool = False):
        super().__init__()
        self.variational = variational
        self.gc1 = GCN(n_in, hidden)
        self.gc_mu = GCN(hidden, latent)
        self.gc_logvar = GCN(hidden, latent) if variational else None

    def encode(self, x: torch.Tensor, a_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        h = F.relu(self.gc1(x, a_hat))
        return self.gc_mu(h, a_hat), (self.gc_logvar(h, a_hat) if self.variational else None)

    @staticmethod
    def decode(z: torch.Tensor) -> torch.Tensor:
        """Logits of every edge: z_i · z_j."""
        return z @ z.T

    def forward(self, x, a_hat):
        mu, logvar = self.encode(x, a_hat)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if (self.variational and self.training) else mu
        return self.decode(z), mu, logvar


def scores(z: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid((z[pairs[:, 0]] * z[pairs[:, 1]]).sum(1))


@dataclass
class GraphResult:
    graph: Graph
    model: GAE
    embedding: torch.Tensor  # (n, latent) μ of every node
    auc: float
    ap: float
    history: list[dict] = field(default_factory=list)  # per epoch: loss, val AUC


def train_gae(graph: Graph, variational: bool = False, epochs: int = 100, lr: float = 0.01, hidden: int = 16,
              latent: int = 2, seed: int = 0, test: float = 0.15, val: float = 0.05,
              progress=None) -> GraphResult:
    """Train a (V)GAE on `graph` with held-out edges; returns the embedding and test AUC/AP."""
    if not (1 <= epochs <= 5000):
        raise ValueError(f"epochs must be between 1 and 5000, got {epochs}")
    if not (0 < test < 0.5 and 0 <= val < 0.5):
        raise ValueError("the held-out edge fractions must be below 0.5")
    # These matrices are tiny: one CPU thread is fastest (many threads on a busy machine are ~10× slower).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(graph, variational, epochs, lr, hidden, latent, seed, test, val, progress)
    finally:
        torch.set_num_threads(threads)


def _train(graph, variational, epochs, lr, hidden, latent, seed, test, val, progress) -> GraphResult:
    split = split_edges(graph.adj, test, val, seed)
    torch.manual_seed(seed)
    model = GAE(graph.features.shape[1], hidden, latent, variational)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    a_hat = normalize(split.train_adj)
    target = split.train_adj + torch.eye(graph.n)  # as in the paper: reconstruct A + I
    n = graph.n
    pos_weight = (n * n - target.sum()) / target.sum()
    norm = n * n / float((n * n - target.sum()) * 2)
    history = []
    for epoch in range(epochs):
        model.train()
        logits, mu, logvar = model(graph.features, a_hat)
        loss = norm * F.binary_cross_entropy_with_logits(logits, target, pos_weight=pos_weight)
        kl = torch.zeros(())
        if variational:
            kl = -0.5 / n * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1).mean()
            loss = loss + kl
        opt.zero_grad()
        loss.backward()
        opt.step()
        if epoch % 10 == 9 or epoch == epochs - 1:
            with torch.no_grad():
                model.eval()
                z, _ = model.encode(graph.features, a_hat)
                va = auc(scores(z, split.val_pos), scores(z, split.val_neg)) if len(split.val_pos) else None
            history.append({"epoch": epoch + 1, "loss": loss.item(), "kl": kl.item(), "val_auc": va})
            if progress is not None:
                progress(epoch + 1, epochs)
    model.eval()
    with torch.no_grad():
        z, _ = model.encode(graph.features, a_hat)
        p, q = scores(z, split.test_pos), scores(z, split.test_neg)
    return GraphResult(graph, model, z, auc(p, q), average_precision(p, q), history)


def project2d(z: torch.Tensor) -> torch.Tensor:
    """The first two principal components of an embedding (n, k) -> (n, 2), for a scatter plot."""
    zc = z - z.mean(0)
    if z.shape[1] <= 2:
        return torch.cat([zc, torch.zeros(len(z), 2 - z.shape[1])], 1) if z.shape[1] < 2 else zc
    _, _, v = torch.linalg.svd(zc, full_matrices=False)
    return zc @ v[:2].T
