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


@dataclass
class Graph:
    name: str
    adj: torch.Tensor  # (n, n) symmetric 0/1, no self-loops
    features: torch.Tensor  # (n, f)
    labels: torch.Tensor  # (n,) for colouring the embedding
    classes: list[str]
    positions: torch.Tensor | None = None  # (n, 2) grid coordinates for lattices

    @property
    def n(self) -> int:
        return len(self.adj)

    def edges(self) -> torch.Tensor:
        """(E, 2) undirected edges, i < j."""
        return torch.triu(self.adj, 1).nonzero()


def karate() -> Graph:
    """Zachary's karate club (34 members, 78 friendships); labels: the club each member joined after the split."""
    import networkx as nx

    g = nx.karate_club_graph()
    adj = torch.tensor(nx.to_numpy_array(g, nodelist=range(g.number_of_nodes()), weight=None), dtype=torch.float32)
    clubs = ["Mr. Hi", "Officer"]
    labels = torch.tensor([clubs.index(g.nodes[i]["club"]) for i in g.nodes])
    return Graph("karate", adj, torch.eye(len(adj)), labels, clubs)


def lattice(L: int = 12, spins: torch.Tensor | None = None) -> Graph:
    """The periodic L×L square lattice of the Ising model. Features: one-hot node id (plus the spin if given);
    labels: the spin (if given) or the row parity, for colouring."""
    import networkx as nx

    g = nx.grid_2d_graph(L, L, periodic=True)
    nodes = [(i, j) for i in range(L) for j in range(L)]
    adj = torch.tensor(nx.to_numpy_array(g, nodelist=nodes, weight=None), dtype=torch.float32)
    feats = torch.eye(L * L)
    if spins is not None:
        s = spins.reshape(-1).float()
        feats = torch.cat([feats, s[:, None]], 1)
        labels, classes = (s > 0).long(), ["spin -1", "spin +1"]
    else:
        labels, classes = torch.tensor([i % 2 for i, _ in nodes]), ["even row", "odd row"]
    pos = torch.tensor(nodes, dtype=torch.float32)
    return Graph(f"ising-lattice-{L}", adj, feats, labels, classes, pos)


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


@dataclass
class EdgeSplit:
    train_adj: torch.Tensor  # the graph the encoder sees
    test_pos: torch.Tensor  # (k, 2) hidden edges
    test_neg: torch.Tensor  # (k, 2) non-edges
    val_pos: torch.Tensor
    val_neg: torch.Tensor


def split_edges(adj: torch.Tensor, test: float = 0.15, val: float = 0.05, seed: int = 0) -> EdgeSplit:
    """Hide a fraction of edges (and pick as many non-edges) for link prediction."""
    g = torch.Generator().manual_seed(seed)
    edges = torch.triu(adj, 1).nonzero()
    perm = edges[torch.randperm(len(edges), generator=g)]
    n_test, n_val = max(1, int(round(test * len(edges)))), max(1, int(round(val * len(edges))))
    test_pos, val_pos, train = perm[:n_test], perm[n_test:n_test + n_val], perm[n_test + n_val:]
    non = torch.triu(1 - adj - torch.eye(len(adj)), 1).nonzero()
    non = non[torch.randperm(len(non), generator=g)]
    train_adj = torch.zeros_like(adj)
    train_adj[train[:, 0], train[:, 1]] = 1
    train_adj[train[:, 1], train[:, 0]] = 1
    return EdgeSplit(train_adj, test_pos, non[:n_test], val_pos, non[n_test:n_test + n_val])


def roc_auc(pos: torch.Tensor, neg: torch.Tensor) -> float:
    """P(score of a random positive > score of a random negative), ties counted half (Mann–Whitney U)."""
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0).float() + 0.5 * (diff == 0).float()).mean())


def average_precision(pos: torch.Tensor, neg: torch.Tensor) -> float:
    """Mean of the precision at the rank of each positive (scikit-learn's definition, without ties)."""
    scores = torch.cat([pos, neg])
    truth = torch.cat([torch.ones(len(pos)), torch.zeros(len(neg))])
    order = torch.argsort(scores, descending=True, stable=True)
    hits = truth[order]
    precision = hits.cumsum(0) / torch.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / hits.sum())


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
                va = roc_auc(scores(z, split.val_pos), scores(z, split.val_neg)) if len(split.val_pos) else None
            history.append({"epoch": epoch + 1, "loss": loss.item(), "kl": kl.item(), "val_auc": va})
            if progress is not None:
                progress(epoch + 1, epochs)
    model.eval()
    with torch.no_grad():
        z, _ = model.encode(graph.features, a_hat)
        p, q = scores(z, split.test_pos), scores(z, split.test_neg)
    return GraphResult(graph, model, z, roc_auc(p, q), average_precision(p, q), history)


def project2d(z: torch.Tensor) -> torch.Tensor:
    """The first two principal components of an embedding (n, k) -> (n, 2), for a scatter plot."""
    zc = z - z.mean(0)
    if z.shape[1] <= 2:
        return torch.cat([zc, torch.zeros(len(z), 2 - z.shape[1])], 1) if z.shape[1] < 2 else zc
    _, _, v = torch.linalg.svd(zc, full_matrices=False)
    return zc @ v[:2].T
