"""Graph AE: a (variational) graph autoencoder — GCN encoder, inner-product decoder — and link prediction."""

from __future__ import annotations

import streamlit as st
import torch

from engine.data import graphs
from engine.teaching import graph_ae as gae
from ui.classroom.limits import Busy, bounded, graph_refusal, max_epochs
from ui.draw.images import matrix_picture
from ui.draw.physics import graph_chart, history_chart
from ui.draw.vega import show_chart

st.title("Graph autoencoders")
st.markdown(
    "The lecture: *the architecture follows the data* — vectors → MLP, fields → CNN, **graphs → GNN**. A graph "
    "autoencoder (Kipf & Welling, 2016) encodes every **node** with a graph convolutional network, "
    "H = ReLU(Â X W₀), z = Â H W₁ (Â: the adjacency with self-loops, symmetrically normalised), and decodes the "
    "**edges**: p(i–j linked) = σ(z_i · z_j). A VGAE makes z a Gaussian with a KL term, like a VAE. "
    "To test it, some edges are hidden during training; a good embedding scores them above pairs that are not linked "
    "(**link prediction**, ROC AUC: 0.5 is chance, 1 is perfect).")

c1, c2, c3 = st.columns(3)
which = c1.radio("Graph", ["karate", "lattice"], key="g_graph", format_func={
    "karate": "Zachary's karate club (34 members)", "lattice": "Ising lattice (periodic L×L)"}.get)
variational = c2.toggle("Variational (VGAE)", value=False, key="g_var")
seed = c3.number_input("Seed", 0, 10_000, 0, key="g_seed")
c1, c2, c3, c4 = st.columns(4)
L = c1.slider("Lattice L", 4, 16, 10, step=2, key="g_L", disabled=which != "lattice")
latent = c2.select_slider("Embedding size", [2, 4, 8, 16], value=2 if which == "karate" else 16, key=f"g_lat_{which}")
hidden = c3.select_slider("Hidden units", [8, 16, 32, 64], value=16 if which == "karate" else 32, key=f"g_hid_{which}")
epochs = c4.slider("Epochs", 10, max_epochs(), 100 if which == "karate" else 200, step=10, key=f"g_ep_{which}")
spins = st.checkbox("Colour (and feature) the lattice by a low-temperature Ising configuration", key="g_spins",
                    disabled=which != "lattice")


@st.cache_resource(show_spinner="Training the graph autoencoder…", max_entries=16)
def trained(which: str, variational: bool, epochs: int, hidden: int, latent: int, seed: int, L: int,
            spins: bool) -> graphs.GraphResult:
    """One training, shared by everyone who asks for the same settings (it is deterministic); it runs in one of
    the server's page-work slots (ui.classroom.limits), so a class pressing Train at once queues instead of piling
    up."""
    with bounded("graph training"):
        if which == "karate":
            g = graphs.karate()
        else:
            s = None
            if spins:
                from engine.data.ising import IsingParams, sample

                s = sample(IsingParams(L=L, temps=(2.0,), per_temp=1, chains=1, equil=200, gap=1, seed=seed),
                           device="cpu").spins[0]
            g = graphs.lattice(L, s)
        return gae.train_gae(g, variational=variational, epochs=epochs, hidden=hidden, latent=latent, seed=seed)


if st.button("Train", type="primary", icon=":material/rocket_launch:", key="g_train"):
    refused = graph_refusal(L, epochs, hidden, latent, int(seed))  # the server's check, whatever the widgets sent
    if refused:
        st.error(refused[0].upper() + refused[1:] + ".")
        st.stop()
    try:
        st.session_state["g_result"] = trained(which, bool(variational), epochs, hidden, latent, int(seed),
                                               L if which == "lattice" else 0, bool(spins) and which == "lattice")
    except (ValueError, Busy) as e:
        st.error(str(e))
        st.stop()

res: graphs.GraphResult | None = st.session_state.get("g_result")
if res is None:
    st.info("Press **Train**: it takes a few seconds (or none: the same settings trained before load at once).")
    st.stop()

g = res.graph
m1, m2, m3, m4 = st.columns(4)
m1.metric("Link prediction AUC", f"{res.auc:.3f}", help="held-out edges vs as many non-edges; 0.5 = chance")
m2.metric("Average precision", f"{res.ap:.3f}")
m3.metric("Nodes / edges", f"{g.n} / {len(g.edges())}")
m4.metric("Model", f"{'VGAE' if res.model.variational else 'GAE'}, z = {res.embedding.shape[1]}")
left, right = st.columns([3, 2])
with left:
    xy = gae.project2d(res.embedding)
    what = "the embedding itself" if res.embedding.shape[1] == 2 else "its first two principal components"
    by = {"karate": "the club each member joined after the split"}.get(
        g.name, "spin" if g.classes[0].startswith("spin") else "row parity")
    st.markdown(f"**Node embedding** ({what}), coloured by {by}. The model never saw these labels.")
    if g.positions is None:
        names = [str(i) for i in range(g.n)]
    else:
        names = [f"({int(a)}, {int(b)})" for a, b in g.positions.tolist()]
    show_chart(graph_chart, xy, g.labels, g.classes, g.edges(), names)
with right:
    st.markdown("**Training**: the loss and the AUC on a few validation edges.")
    show_chart(history_chart, res.history)
    with torch.no_grad():
        p = torch.sigmoid(res.embedding @ res.embedding.T)
    st.markdown("**Reconstructed adjacency** σ(z zᵀ) (left) vs the real one (right).")
    st.image(matrix_picture(p, g.adj))
if g.name == "karate":
    st.caption("Data: W. W. Zachary, J. Anthropol. Res. 33, 452 (1977), via networkx.karate_club_graph().")
