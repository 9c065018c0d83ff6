"""Graphs as data: Zachary's karate club and the periodic Ising lattice as dense adjacency matrices, and the
edge split for link prediction (hidden edges and as many non-edges). The graph autoencoder that learns from
them is in `engine.teaching.graph_ae`."""


from __future__ import annotations

from dataclasses import dataclass

import torch


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
