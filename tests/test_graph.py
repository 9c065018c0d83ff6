"""Graph autoencoder: shapes, metrics against hand-computed values, link prediction on real graphs."""

import statistics

import pytest
import torch

from engine.data.graphs import karate, lattice, split_edges
from engine.teaching.graph_ae import GAE, normalize, project2d, train_gae
from engine.teaching.metrics import auc as roc_auc
from engine.teaching.metrics import average_precision


def test_karate_graph_and_normalization():
    g = karate()
    assert g.n == 34 and len(g.edges()) == 78 and torch.equal(g.adj, g.adj.T)
    assert sorted(torch.bincount(g.labels).tolist()) == [17, 17]
    a = normalize(g.adj)
    deg = g.adj.sum(1) + 1
    assert torch.allclose(a[0, 0], 1 / deg[0]) and torch.allclose(a, a.T)


def test_lattice_graph():
    g = lattice(6, spins=torch.ones(6, 6))
    assert g.n == 36 and torch.all(g.adj.sum(1) == 4)  # periodic: every site has 4 neighbours
    assert g.features.shape == (36, 37) and g.positions.shape == (36, 2)


def test_split_hides_edges_from_the_encoder():
    g = karate()
    s = split_edges(g.adj, 0.15, 0.05, seed=3)
    assert len(s.test_pos) == 12 and len(s.test_neg) == 12 and len(s.val_pos) == 4
    assert torch.all(s.train_adj[s.test_pos[:, 0], s.test_pos[:, 1]] == 0)  # hidden
    assert torch.all(g.adj[s.test_pos[:, 0], s.test_pos[:, 1]] == 1)  # real edges
    assert torch.all(g.adj[s.test_neg[:, 0], s.test_neg[:, 1]] == 0)  # real non-edges
    assert int(s.train_adj.sum()) == 2 * (78 - 12 - 4)


def test_metrics_known_values():
    assert roc_auc(torch.tensor([0.9, 0.8]), torch.tensor([0.1, 0.2])) == 1.0
    assert roc_auc(torch.tensor([0.1]), torch.tensor([0.9])) == 0.0
    assert roc_auc(torch.tensor([0.5]), torch.tensor([0.5])) == 0.5
    # ranking: pos 0.9, neg 0.8, pos 0.7 -> precision at positives 1/1 and 2/3 -> AP = 5/6
    assert average_precision(torch.tensor([0.9, 0.7]), torch.tensor([0.8])) == pytest.approx(5 / 6)


@pytest.mark.parametrize("variational", [False, True])
def test_shapes(variational):
    g = karate()
    m = GAE(34, 16, 3, variational)
    logits, mu, logvar = m(g.features, normalize(g.adj))
    assert logits.shape == (34, 34) and mu.shape == (34, 3)
    assert (logvar is None) != variational
    r = train_gae(g, variational=variational, epochs=20, latent=3)
    assert r.embedding.shape == (34, 3) and project2d(r.embedding).shape == (34, 2)
    assert r.history[-1]["epoch"] == 20


def test_link_prediction_on_karate_beats_chance():
    aucs = [train_gae(karate(), seed=s).auc for s in range(5)]
    assert statistics.mean(aucs) > 0.65, aucs
    assert min(aucs) > 0.5, aucs


def test_link_prediction_on_ising_lattice():
    r = train_gae(lattice(12), latent=16, hidden=32, epochs=200)
    assert r.auc > 0.75 and r.ap > 0.7, (r.auc, r.ap)


def test_training_lowers_the_loss_and_is_deterministic():
    a = train_gae(karate(), epochs=60, seed=1)
    b = train_gae(karate(), epochs=60, seed=1)
    assert a.history[-1]["loss"] < a.history[0]["loss"]
    assert torch.equal(a.embedding, b.embedding) and a.auc == b.auc


def test_page_trains_and_shows_auc():
    import os

    from streamlit.testing.v1 import AppTest

    app = os.path.join(os.path.dirname(__file__), "..", "app.py")
    at = AppTest.from_file(app, default_timeout=300).run().switch_page("pages/beyond/graph_ae.py").run()
    assert not at.exception
    at.button(key="g_train").click().run()
    assert not at.exception
    auc = float(at.metric[0].value)
    assert 0 <= auc <= 1 and at.metric[2].value == "34 / 78"
    at.radio(key="g_graph").set_value("lattice").run()
    at.slider(key="g_L").set_value(6)
    at.checkbox(key="g_spins").check()
    at.button(key="g_train").click().run()
    assert not at.exception and at.metric[2].value == "36 / 72"
