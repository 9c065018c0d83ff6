"""Ising: autoencoders find the phase transition of the 2-D Ising model (after Wetzel, PRE 96, 022140 (2017))."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from engine.core.config import make_config
from engine.core.presets import PRESETS
from engine.data import data_root, ising
from engine.data.ising import TC, IsingParams, default_temps
from engine.teaching.ising_analysis import analyse
from engine.teaching.latent import most_correlated
from ui.background import job_progress, launch
from ui.classroom.limits import Busy, bounded, ising_refusal
from ui.draw.images import show_grid, spin_images
from ui.draw.physics import latent_vs, observables_chart, recon_vs_t
from ui.draw.vega import show_chart
from ui.runs import checkpoint_mtime, download_button, load_model
from ui.runs import runs as runs_of

st.title("The 2-D Ising model: can an autoencoder find the phase transition?")
st.markdown(
    f"Spins s = ±1 on an L×L lattice with periodic edges, energy H = −Σ s_i s_j over neighbours. Below the critical "
    f"temperature **T_c = 2/ln(1+√2) ≈ {TC:.3f}** the spins align (magnetization |m| near 1); above it they "
    "are disordered (|m| near 0). We sample configurations with Monte Carlo, train an AE/VAE on them **without "
    "telling it the temperature**, and look at what its latent code learned. Wetzel (Phys. Rev. E 96, 022140, "
    "2017) found that the latent variable tracks the order parameter m and that the reconstruction error changes "
    "across T_c.")


def describe(p: IsingParams) -> str:
    return (f"{len(p.temps) * p.per_temp:,} configurations of {p.L}×{p.L} spins, {len(p.temps)} temperatures "
            f"{min(p.temps):g}–{max(p.temps):g} ({p.equil} + {p.gap}×{-(-p.per_temp // p.chains)} sweeps per chain)")


# ---- 1. data ----------------------------------------------------------------------------------
st.header("1 · Generate configurations")
d = IsingParams()
sets = ising.generated()
use_old = bool(sets) and st.toggle("Use a set generated already", value=False, key="ising_old",
                                   help="Sets are cached on the server and shared by everyone: loading one is instant.")
if use_old:
    params = st.selectbox("Generated set", sets, key="ising_set", format_func=describe)
else:
    with st.expander("Sampler settings", expanded=False, icon=":material/tune:"):
        c1, c2, c3 = st.columns(3)
        L = c1.select_slider("Lattice size L", [8, 12, 16, 20, 24, 28, 32], value=d.L, key="ising_L",
                             help="28 lets the lecture's CNN (built for 28×28) train on it too.")
        n_t = c2.slider("Temperatures", 4, 32, len(d.temps), key="ising_nt")
        per_t = c3.select_slider("Samples per temperature", [50, 100, 200, 400, 800], value=d.per_temp,
                                 key="ising_per")
        c4, c5, c6 = st.columns(3)
        t_lo, t_hi = c4.slider("Temperature range", 0.5, 5.0, (min(d.temps), max(d.temps)), step=0.1,
                               key="ising_trange")
        equil = c5.select_slider("Equilibration sweeps", [100, 200, 400, 800, 1600, 3200], value=d.equil,
                                 key="ising_equil", help="Metropolis sweeps before the first sample; near T_c "
                                                         "relaxation is slow.")
        gap = c6.select_slider("Sweeps between samples", [1, 2, 5, 10, 20, 50], value=d.gap, key="ising_gap")
        st.caption("Checkerboard Metropolis in torch: every chain of every temperature is updated at once "
                   "(on the GPU if there is one). Chains below T_c start ordered, above T_c random; each stored "
                   "sample gets a random global spin flip (H is symmetric under s → −s).")
    params = IsingParams(L=L, temps=default_temps(n_t, t_lo, t_hi), per_temp=per_t,
                         chains=min(d.chains, per_t), equil=equil, gap=gap)


@st.cache_resource(show_spinner=False, max_entries=4)
def cached_set(key: str, root: str, _params: IsingParams) -> ising.IsingSet:
    return ising.generate(_params)


if not ising.is_cached(params):
    st.info(f"Not generated yet: {describe(params)}.")
    refused = ising_refusal(params)  # classroom students: small sets only (checked here, not by a widget)
    if refused:
        st.warning(refused[0].upper() + refused[1:] + ".")
        st.stop()
    if not st.button("Generate", type="primary", icon=":material/casino:", key="gen"):
        st.stop()
    bar = st.progress(0.0, text="sampling…")
    try:
        with bounded("sampling"):
            ising.generate(params, progress=lambda done, total: bar.progress(done / total,
                                                                             text=f"sweep {done}/{total}"))
    except (ValueError, Busy) as e:
        st.error(str(e))
        st.stop()
    st.rerun()  # drawn afresh from the stored set: not under "Not generated yet", the button and the spinner
data = cached_set(params.key(), str(data_root()), params)

name = params.name
st.success(f"Dataset **{name}**: {len(data.spins):,} configurations, {params.L}×{params.L}, "
           f"{len(params.temps)} temperatures {min(params.temps):g}–{max(params.temps):g}. Cached on disk.",
           icon=":material/check_circle:")
left, right = st.columns([3, 2])
with left:
    show_chart(observables_chart, ising.per_temperature(data), TC)
with right:
    picks = [int((data.temp_index == k).nonzero()[0]) for k in range(len(params.temps))]
    show_grid(spin_images(data.spins[picks]),
              caption="One configuration per temperature, coldest top left (black −1, white +1)",
              nrow=min(8, len(picks)), scale=max(1, 84 // params.L))

# ---- 2. train ---------------------------------------------------------------------------------
st.header("2 · Train an autoencoder on them")
MODELS = {
    "VAE (MLP, BCE + KL) — as in Wetzel": ("seed-vae", dict(hidden=(256,))),
    "Autoencoder (the lecture's MLP)": ("seed-mlp-ae", dict()),
    "Convolutional VAE (28×28 only)": ("conv-vae", dict()),
}
c1, c2, c3 = st.columns(3)
choice = c1.selectbox("Model", list(MODELS), key="ising_model")
latent = c2.select_slider("Latent size", [1, 2, 3, 4, 8], value=2, key="ising_latent",
                          help="Wetzel used a tiny latent space: one variable already captures the order parameter.")
epochs = c3.slider("Epochs", 1, 50, 10, key="ising_epochs")
pname, extra = MODELS[choice]
problem = "the convolutional VAE needs L = 28" if pname == "conv-vae" and params.L != 28 else None
if problem:
    st.warning(problem)
else:
    cfg = make_config(**{**PRESETS[pname], "name": f"ising-{pname}", "dataset": name, "latent_dim": latent,
                         "epochs": epochs, **extra})
    if st.button("Train", type="primary", icon=":material/rocket_launch:", key="ising_train"):
        launch(cfg, "ising_job")
job_progress("ising_job")

# ---- 3. what the latent learned ------------------------------------------------------------------
st.header("3 · What did the latent code learn?")
runs = [m for m in runs_of() if (m.get("config") or {}).get("dataset") == name]  # classroom: the user's own
if not runs:
    st.info("Train a model above; its latent code and reconstruction error appear here.")
    st.stop()
labels = {m["run_id"]: f"{m['config']['name']} · z={m['config']['latent_dim']} · {m.get('epochs_done')} ep · "
          f"{m.get('status')} · {m['run_id'][:8]}" for m in runs}
want = st.session_state.get("ising_job")
ids = list(labels)
run_id = st.selectbox("Run", ids, index=ids.index(want) if want in ids else 0, format_func=labels.get, key="ising_run")
cfg, model = load_model(run_id)


@st.cache_data(show_spinner=False, max_entries=8)
def analysis(run_id: str, mtime: float, key: str) -> tuple[pd.DataFrame, int]:
    """Per held-out configuration: T, m, |m|, energy, reconstruction error and the code (z1, z2, ...); and the
    coordinate that follows the magnetization best (the one most correlated with m)."""
    a = analyse(model, data)
    df = pd.DataFrame({k: a[k].tolist() for k in ("T", "m", "abs_m", "energy", "recon_err")})
    for j in range(a["z"].shape[1]):
        df[f"z{j + 1}"] = a["z"][:, j].tolist()
    return df, most_correlated(a["z"], a["m"])


df, best = analysis(run_id, checkpoint_mtime(run_id), params.key())
zcols = [c for c in df.columns if c.startswith("z")]
zsel = st.radio("Latent coordinate", zcols, index=best, horizontal=True, key="ising_z",
                help="Preselected: the coordinate most correlated with the magnetization m.")
st.caption(f"Held-out configurations: {len(df):,}. Correlation of {zsel} with m: {df[zsel].corr(df['m']):+.2f}, "
           f"with |m|: {df[zsel].corr(df['abs_m']):+.2f}.")
a, b = st.columns(2)
with a:
    st.markdown("**Latent vs temperature.** Below T_c two branches (m ≈ +1 and m ≈ −1), merging above it.")
    show_chart(latent_vs, df, "T", "temperature T", zsel, "abs_m", "|m|", tc=TC)
with b:
    st.markdown("**Latent vs magnetization m.** A (nearly) monotone curve: the code has learned the order parameter.")
    show_chart(latent_vs, df, "m", "magnetization m", zsel, "T", "T")
a, b = st.columns(2)
with a:
    st.markdown("**Reconstruction error vs T.** Ordered states are easy to rebuild, disordered ones are not: the "
                "error rises across T_c.")
    show_chart(recon_vs_t, df, TC)
with b:
    st.markdown("**|latent| vs |m|.**")
    df2 = df.assign(abs_z=df[zsel].abs())
    show_chart(latent_vs, df2, "abs_m", "|m|", "abs_z", "T", "T", z_title=f"|{zsel}|")
download_button(run_id, "ising_dl")
