"""VAE theory: the lecture's Bayesian slides with a trained VAE's numbers — p(X), the encoder as a posterior,
why the prior is Gaussian, the aggregate posterior μ + σ·ε against N(0, I), the training dynamics, the
reparameterization trick measured with autograd, the curse of dimensionality and layer-wise pretraining."""

from __future__ import annotations

import streamlit as st

from engine.teaching import formulas as fm
from engine.teaching.dimensionality import best_dim, density_table, peaking
from engine.teaching.posterior import aggregate, aggregate_text, dynamics_text, histogram
from engine.teaching.reparam import estimator_variance, example_draw, trick_vs_sample
from ui.backend import store
from ui.draw.formulas import formula_columns
from ui.draw.theory import (
    aggregate_chart,
    density_frame,
    dynamics_charts,
    gradient_table,
    peaking_chart,
    spread_chart,
)
from ui.draw.vega import show_chart, spec
from ui.heldout import heldout_images, posteriors
from ui.pickers import run_picker
from ui.runs import config_of, kl_per_dim, model_or_error

N_AGG = 1000  # held-out digits in the aggregate posterior
N_BATCH = 64  # the batch of the reparameterization panel

st.title("VAE theory")
st.caption("The lecture's “Bayesian understanding” slides, each formula beside a measurement on a VAE you trained.")

rid = run_picker("VAE run to measure", key="th_run", variational=True,
                 help="Every number on this page comes from this run's latest weights and history.")
cfg = config_of(rid) if rid else None
model = model_or_error(rid) if cfg is not None else None
post = posteriors(rid, cfg.dataset, N_AGG) if model is not None else None
history = store().history(rid) if rid else {}
sigma_now = next((e["heldout"].get("posterior_std") for e in reversed(history.get("epochs") or [])
                  if e.get("heldout")), None)

# ---- 1. p(X) and the encoder's posterior ------------------------------------------------------------------
st.header("1 · What we want, and what the encoder is")
formula_columns(
    (fm.marginal_likelihood(), "We want to **generate** data from p(X) but only have samples of it. The decoder is "
                               "p(X|Z); we **choose** the latent distribution p(Z) so that it is easy to sample."),
    (fm.encoder_posterior(), "The encoder gives the latent variable: in probability terms the posterior p(Z|X). We "
                             "fix its form — a diagonal Gaussian — and the encoder outputs its parameters μ_φ(X), "
                             "log σ²_φ(X) for each input."))
st.markdown("Trained with the reconstruction loss **alone**, the encoder learns to be deterministic: it sets σ → 0, "
            "and the VAE is **just an AE**."
            + (f" This run's mean posterior σ on held-out digits: **{sigma_now:.3f}**." if sigma_now else ""))

# ---- 2. why a Gaussian prior ------------------------------------------------------------------------------
st.header("2 · Why the prior is Gaussian (a uniform one won't work)")
formula_columns(
    (fm.kl_closed_form(), "A Gaussian prior gives the similarity loss in **closed form**, smooth in μ and σ; samples "
                          "z = μ + σ·ε are differentiable; and N(0, I) looks the same in every direction, so no "
                          "latent axis is special."),
    (fm.uniform_prior_fails(), "A Gaussian posterior puts some mass everywhere, so its KL to a **uniform** prior is "
                               "infinite: the loss cannot even be evaluated, let alone descended."))

# ---- 3. the aggregate posterior ------------------------------------------------------------------------------
st.header("3 · The aggregate posterior is N(0, I)")
if post is None or post[1] is None:
    st.info("Train a VAE (e.g. the seed-vae preset with the quick demo settings) to measure its aggregate posterior.")
else:
    mu, logvar = post
    kd = kl_per_dim(rid) or [1.0] * mu.shape[1]
    active = [j for j, v in enumerate(kd) if v > 0.1] or list(range(mu.shape[1]))
    agg = aggregate(mu[:, active], logvar[:, active])
    p = agg["pooled"]
    left, right = st.columns([3, 2])
    with left:
        show_chart(aggregate_chart, histogram(agg["z"]), histogram(mu[:, active]))
        st.caption(f"{len(mu):,} held-out digits, one draw z = μ + σ·ε each, pooled over the {len(active)} "
                   f"informative dimensions (KL > 0.1 nats). Black: the N(0, 1) density.")
    with right:
        st.latex(fm.aggregate_posterior(p["mean_z"], p["std_z"]))
        st.latex(fm.total_variance(p["var_mu"], p["mean_var"]))
        st.markdown("The KL term pulls every q(z|x) toward N(0, I), so their mixture over the data — the "
                    "**aggregate** posterior — should be N(0, I), the distribution we sample new z from. "
                    + aggregate_text(p))
    show_chart(spread_chart, agg["std_mu"].tolist(), agg["std_z"].tolist(), agg["mean_var"].sqrt().tolist())
    st.caption("Per informative dimension: the spread of the means, the typical posterior σ, and the spread of the "
               "aggregate z. Dashed: the prior's standard deviation, 1.")

# ---- 4. the training dynamics ----------------------------------------------------------------------------------
st.header("4 · Training dynamics: reconstruction hates noise, similarity wants noise")
left, right = st.columns([3, 2])
with left:
    st.markdown("- **reconstruction loss > similarity loss**: learning lowers the reconstruction loss and raises "
                "the similarity (KL) loss — lowering σ (more KL) makes reconstruction easier.\n"
                "- **similarity loss > reconstruction loss**: learning lowers KL and raises reconstruction — "
                "raising σ makes reconstruction harder.\n\nThe two terms counteract; β sets the exchange rate.")
with right:
    st.latex(fm.vae_loss())
charts = spec(dynamics_charts, history.get("epochs") or []) if rid else []
if not charts:
    st.info("The held-out reconstruction, KL and σ per epoch appear here for a VAE run.")
else:
    for col, one in zip(st.columns(3), charts, strict=True):
        col.vega_lite_chart(one, width="stretch")
    st.markdown(dynamics_text(history.get("epochs") or []) or "")
    st.caption("This run, after each epoch, on held-out digits.")

# ---- 5. the reparameterization trick ------------------------------------------------------------------------------
st.header("5 · The reparameterization trick, measured")
x = heldout_images(cfg.dataset, N_BATCH) if cfg is not None else None
if model is None or not model.variational or x is None:
    st.info("Pick a trained VAE above: the gradients are computed on its weights.")
else:
    left, right = st.columns([2, 3])
    with left:
        d = example_draw(model, x)
        st.latex(fm.reparameterization(d["mu"], d["sigma"], d["eps"]))
        st.latex(fm.reparam_gradients())
    with right:
        st.table(gradient_table(trick_vs_sample(model, x)))
        st.caption(f"Gradient norms from autograd on one batch of {N_BATCH} held-out digits, this run's weights, "
                   "the reconstruction loss (last row: plus the KL term), the same ε in every row — hence the same "
                   "decoder gradient. Without the trick nothing reaches μ, σ or the encoder: only the decoder "
                   "learns. Adding KL gives the encoder a gradient, but only the one pulling every code to N(0, I).")
    ev = estimator_variance(model, x[:1], n=512)
    a, b = st.columns([2, 3])
    with a:
        st.latex(fm.score_function())
    with b:
        st.markdown(f"Without the trick one can still estimate the gradient with the **score function** (REINFORCE). "
                    f"On held-out digit #0, 512 draws: both estimators agree on average, but the per-draw variance is "
                    f"**{ev['score_var']:.3g}** for the score function vs **{ev['pathwise_var']:.3g}** with the trick "
                    f"— **{ev['ratio']:,.0f}×** more noise, so far more samples for the same precision.")

# ---- 6. the curse of dimensionality ----------------------------------------------------------------------------
st.header("6 · Why compress: the curse of dimensionality")
left, right = st.columns(2)
with left:
    st.latex(fm.sample_cost())
    st.latex(fm.per_axis(60000, 784))
    st.latex(fm.per_axis(60000, 2))
    table = density_table(60000, dims=(1, 2, 3, 10, 20, 100, 784))
    st.table(density_frame(table))
    st.caption(f"MNIST's 60,000 training digits are {table[-1]['per_axis']:.2f} samples per axis in 784 "
               f"dimensions, but {table[1]['per_axis']:.0f} per axis in a 2-D latent. Distances and densities only "
               "mean something where samples are dense.")
with right:
    n_train = 5
    rows = peaking(n_train=n_train)
    show_chart(peaking_chart, rows, n_train)
    best = best_dim(rows)
    st.caption(f"The **peaking phenomenon** (Trunk's example): two Gaussian classes N(±m, I) with m_j = 1/√j. Each "
               f"extra feature adds signal, yet with means estimated from {n_train} samples per class the error is "
               f"lowest at d = {best['d']} ({best['estimated']:.2f}) and climbs back toward ½: more features than the "
               "data can support hurt. A good code keeps the few features that matter.")

# ---- 7. history ------------------------------------------------------------------------------------------------
st.header("7 · History: layer-wise pretraining")
st.markdown("In the mid-2000s (Hinton 2006, Bengio 2007) deep networks were hard to train from scratch, so they "
            "were **pre-trained one layer at a time**, each layer as a small autoencoder (or RBM) of the previous "
            "layer's output, then fine-tuned together. The "
            "lecture lists it as **deprecated**: batch normalisation and residual connections (ResNets) make deep "
            "networks trainable end to end, which is what every model in this lab does.")
