"""Train: pick a lecture preset or build a model, see problems before launching, launch in the background."""

from __future__ import annotations

import streamlit as st

from engine.core.config import ConfigError, RunConfig, make_config
from engine.core.presets import DESCRIPTIONS, PRESETS
from engine.teaching.narration import completeness
from engine.teaching.shapes import code_size
from ui.access.auth import try_user_backend
from ui.backend import store
from ui.classroom.board import mark, prefill, record_launch
from ui.classroom.uploads import trainable_datasets
from ui.draw.charts import shape_chart
from ui.nav import go, link
from ui.runs import submit
from ui.train.form import BIG, CUSTOM, QUICK, check, form_values, network_shape, to_settings
from ui.train.listing import lecture_vs_engine

_warm = try_user_backend()
if _warm is not None:
    _warm.prewarm()  # a warm worker process (torch loaded) makes Launch start training in a fraction of a second

FORM = "train_form"  # the form's values, kept while the student visits other pages


def put(values: dict) -> None:
    for k, v in values.items():
        st.session_state[f"tr_{k}"] = v


def on_preset() -> None:
    name = st.session_state["tr_preset"]
    if name != CUSTOM:
        put(form_values(name))


def on_quick() -> None:
    put(QUICK)


# ---- validation ---------------------------------------------------------------------------------
def build() -> tuple[RunConfig | None, list[str], list[str], int | None]:
    """The RunConfig of the form (None if it cannot launch), the problems that stop it (one line each),
    notes and the model's parameter count."""
    values = {k: st.session_state.get(f"tr_{k}") for k in RunConfig.model_fields}
    fields, problems = to_settings(values, st.session_state["tr_preset"])
    if problems:
        return None, problems, [], None
    try:
        cfg = make_config(**fields)
    except ConfigError as e:
        return None, [p.strip() for p in str(e).split(";")], [], None
    problems, notes, params = check(cfg)
    return (None if problems else cfg), problems, notes, params


def save_form() -> None:
    """Keep the form's values for the next visit (the widgets' own state goes when the page is left)."""
    keys = [*RunConfig.model_fields, "preset"]
    st.session_state[FORM] = {k: st.session_state[f"tr_{k}"] for k in keys if f"tr_{k}" in st.session_state}


def launch_first() -> None:
    """Launch was pressed (a button's value is known before the page is drawn): start the run and open Live run
    without drawing this page again, so the run shows sooner. Settings already trained, settings with problems
    and a refused submit go on to the full page, which says why (its Launch handler runs then)."""
    if not st.session_state.get("launch"):
        return
    cfg, *_ = build()
    if cfg is None or store().is_complete(cfg.run_id()):
        return
    if submit(cfg, quiet=True) is not None:
        record_launch(cfg)  # the student's class-experiment run joins the class's curve
        save_form()
        go("live_run")


if FORM not in st.session_state:
    st.session_state[FORM] = {**form_values("seed-vae"), "preset": "seed-vae"}
filled = prefill()  # a student's class-experiment run, filled in once per experiment
if filled is not None:
    st.session_state[FORM] = {**form_values(filled[0]), **filled[1], "preset": filled[0]}
    put(st.session_state[FORM])
for k, v in st.session_state[FORM].items():
    st.session_state.setdefault(f"tr_{k}", v)
launch_first()

st.title("Train a model")
st.caption("Every setting has a help text (the ? icon) saying what it does to training. "
           "Problems are explained below before "
           "you can launch. Training runs in the background: you can leave this page.")

# ---- preset -----------------------------------------------------------------------------------
c1, c2 = st.columns([2, 3])
with c1:
    names = [*PRESETS, CUSTOM]
    st.selectbox("Start from", names, key="tr_preset", on_change=on_preset,
                 format_func=lambda n: "custom (build your own)" if n == CUSTOM else n,
                 help="A lecture preset fills in every setting below; change any of them afterwards.")
with c2:
    p = st.session_state["tr_preset"]
    st.markdown(f"**{p}** — {DESCRIPTIONS[p]}" if p in DESCRIPTIONS else "**custom** — your own settings below.")
    st.button("Quick demo settings (2 epochs, 2,000 training images)", on_click=on_quick, icon=":material/bolt:",
              help="Keeps the model, shortens training so a run finishes in seconds on a laptop CPU.")

# ---- the settings -----------------------------------------------------------------------------
model_col, loss_col, train_col = st.columns(3)
with model_col:
    st.subheader("Model")
    st.radio("Architecture", ["mlp", "cnn"], key="tr_arch", horizontal=True, format_func=str.upper,
             help="MLP: every pixel connects to every unit (treats the image as a vector). CNN: small sliding "
                  "filters that know neighbouring pixels belong together — sharper reconstructions.")
    st.radio("Kind", [False, True], key="tr_variational", horizontal=True,
             format_func=lambda v: "VAE (variational)" if v else "AE (deterministic)",
             help="AE: the encoder outputs one code z. VAE: it outputs a mean and a spread, z is sampled, and a KL "
                  "term pulls the codes toward N(0, I) so you can sample new images.")
    st.text_input("Hidden layer sizes (MLP)", key="tr_hidden",
                  help="Widths of the encoder's hidden layers, comma-separated; the decoder mirrors them. "
                       "Wider/more layers = more capacity and slower training. Ignored by the CNN.")
    st.number_input("Latent size", key="tr_latent_dim", step=1,
                    help="How many numbers the code z has. Smaller = harder compression, blurrier reconstructions; "
                         "2 gives a latent map you can see directly.")
    k = st.session_state["tr_latent_dim"]
    if isinstance(k, int | float) and k > 0:
        st.caption(completeness(k))
    st.selectbox("Latent activation", ["none", "sigmoid", "relu"], key="tr_latent_activation",
                 help="Squashes the code: 'sigmoid' keeps each unit in (0, 1) (needed for sparsity). "
                      "A VAE's code is a Gaussian sample, so 'none'.")
    st.selectbox("Output activation", ["tanh", "sigmoid"], key="tr_output",
                 help="Tanh outputs [-1, 1] (the lecture's AEs; inputs are rescaled to match). Sigmoid outputs "
                      "[0, 1], needed for the BCE reconstruction loss.")

with loss_col:
    st.subheader("Loss terms")
    st.radio("Reconstruction loss", ["mse", "bce"], key="tr_recon", horizontal=True, format_func=str.upper,
             help="MSE: squared pixel error (penalises big mistakes most). BCE: treats each pixel as a "
                  "probability of ink — the lecture's VAE uses it.")
    st.radio("Reconstruction sum or mean", ["sum", "mean"], key="tr_recon_reduction", horizontal=True,
             help="sum over the 784 pixels (the VAE's ELBO) or mean (nn.MSELoss, the lecture's AE code). With "
                  "'mean' the reconstruction weighs 784× less against the other terms.")
    st.number_input("β (weight of the KL term)", key="tr_beta", step=0.1, format="%.3f",
                    help="VAE only. Bigger β pulls codes harder toward N(0, I): a smoother latent and better samples, "
                         "but blurrier reconstructions. β = 1 is the standard VAE.")
    st.number_input("β warm-up epochs", key="tr_beta_warmup_epochs", step=1,
                    help="VAE only. Ramp β from 0 up to its value over this many epochs, so the decoder learns to "
                         "reconstruct before the KL term squeezes the codes (avoids 'posterior collapse').")
    st.number_input("Denoising noise", key="tr_noise_std", step=0.05, format="%.2f",
                    help="Corrupt each input and train to rebuild the clean image (denoising AE). 0 = off. "
                         "Gaussian: noise std; mask: fraction of pixels set to 0.")
    st.selectbox("Noise kind", ["gaussian", "mask"], key="tr_noise_kind",
                 help="Gaussian adds random noise to every pixel; mask blanks random pixels.")
    st.number_input("Contractive weight", key="tr_contractive_weight", step=0.1, format="%.3f",
                    help="AE only. Penalises how much the code moves when the input moves (‖∂z/∂x‖²): a "
                         "robust, smooth code. 0 = off. Slower: it needs the encoder's Jacobian.")
    st.number_input("Sparsity weight", key="tr_sparsity_weight", step=0.1, format="%.3f",
                    help="AE only, needs the sigmoid latent activation. Pushes each code unit's average activation "
                         "toward ρ so most units are off for any image. 0 = off.")
    st.number_input("Sparsity target ρ", key="tr_sparsity_target", step=0.01, format="%.3f",
                    help="The average activation each latent unit should have (e.g. 0.05 = on for 5% of images).")

with train_col:
    st.subheader("Training")
    st.selectbox("Dataset", trainable_datasets(), key="tr_dataset",
                 help="mnist: real handwritten digits bundled with the app (offline). synthetic: tiny blobs for a "
                      "smoke test. Others appear when they are installed or registered.")
    st.number_input("Training images (0 = all)", key="tr_train_limit", step=500,
                    help="Train on only the first N images: fewer = faster epochs, worse generalisation. "
                         "2,000 is plenty for a classroom demo.")
    st.number_input("Epochs", key="tr_epochs", step=1,
                    help="Passes over the training images. More = better fit, longer wait. A finished shorter run "
                         "with the same settings is continued, not restarted.")
    st.number_input("Batch size", key="tr_batch_size", step=32,
                    help="Images per optimizer step. Smaller = more, noisier steps per epoch; larger = fewer, "
                         "smoother steps (and faster on a GPU).")
    st.number_input("Learning rate", key="tr_lr", step=1e-4, format="%.1e",
                    help="Adam's step size. Too small: slow learning. Too large: the loss jumps or becomes NaN "
                         "(the run stops and says so). 1e-3 is a good start.")
    st.number_input("Weight decay", key="tr_weight_decay", step=1e-5, format="%.1e",
                    help="Shrinks weights a little every step (L2 regularisation); the lecture's AEs use 1e-5.")
    st.number_input("Seed", key="tr_seed", step=1,
                    help="Fixes the random initial weights and shuffling: the same seed and settings give the same "
                         "run (and hit the cache).")
    st.selectbox("Device", ["auto", "cpu", "cuda"], key="tr_device",
                 help="auto uses the GPU if there is one, else the CPU. The result does not depend on it.")

save_form()


cfg, problems, notes, params = build()
mark(cfg)  # "class experiment" when the form holds the student's assigned run
for note in notes:
    st.info(note)
if cfg is not None:  # drawn only while open: three highlighted listings cost the browser ~0.2 s on every rerun
    listing = st.expander("The model in code: the lecture's listing beside `print(model)`", icon=":material/code:",
                          key="tr_code_open", on_change="rerun")
    if listing.open:
        with listing:
            lecture_vs_engine(cfg)
st.divider()
if problems:
    st.error("**Can't launch yet — fix these settings:**\n\n" + "\n".join(f"- {p}" for p in problems))
else:
    s = store()
    cached = s.is_complete(cfg.run_id())
    cont = None if cached else s.continuation(cfg)
    line = (f"**{cfg.short()}** · {cfg.dataset}"
            f"{f' (first {cfg.train_limit:,} images)' if cfg.train_limit else ''} · run id `{cfg.run_id()}`")
    st.markdown(line)
    widths = network_shape(cfg)
    code, ratio = code_size(widths)
    m1, m2, m3 = st.columns(3)
    m1.metric("parameters", f"{params:,}")
    m2.metric("numbers in the code", f"{code:,}")
    m3.metric("input ÷ code", f"{ratio:.3g}×",
              help="Above 1 the code is smaller than the image (under-complete: it must compress); below 1 it is "
                   "larger (over-complete: it could copy the image unless a penalty stops it).")
    st.vega_lite_chart(shape_chart(widths), width="stretch")
    st.caption("The network's shape: how many numbers describe one image after each layer, from the pixels through "
               "the code (red) back to the pixels (log scale).")
    if params > BIG:
        st.warning(f"{params / 1e6:.0f} M parameters is a lot for a laptop: expect slow epochs and lots of memory.")
    if cached:
        st.success("These exact settings were trained before: launching loads the result from the cache instantly.")
    elif cont:
        st.info(f"A shorter run with the same settings exists ({s.meta(cont).get('epochs_done')} epochs): "
                "training continues from it.")

if st.button("Launch", type="primary", icon=":material/rocket_launch:", disabled=bool(problems), key="launch",
             help="Starts training in the background and opens the Live run page."):
    was_cached = store().is_complete(cfg.run_id())
    if submit(cfg) is not None:
        record_launch(cfg)
        if was_cached:
            st.success("already trained — loading from cache")
            link("reconstructions", "See its reconstructions")
            link("samples", "See its samples")
            link("latent_space", "See its latent space")
        else:
            go("live_run")
