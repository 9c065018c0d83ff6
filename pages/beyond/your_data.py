"""Your data: upload images (zip of PNG/JPG, .npy/.npz) or vectors (CSV), check them, train on them.
In classroom mode a student sees, trains on and removes only their own uploads (ui.classroom.uploads)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from engine.core.config import ConfigError, make_config
from engine.core.models import cnn_problem
from engine.data import uploads
from engine.data.uploads import UploadError
from ui.background import job_progress, launch
from ui.classroom.uploads import keep, my_uploads, remove
from ui.draw.images import show_grid
from ui.nav import link
from ui.runs import download_button

st.title("Train on your own data")
st.markdown(
    "Upload **images** — a `.zip` of PNG/JPG files (sub-folders become classes), or an `.npy`/`.npz` array shaped "
    "(N, H, W), (N, C, H, W) or (N, H, W, C) — or **vectors** — a `.csv` with one sample per row (an optional "
    "header; a column named `label` is used for colouring). The app checks the file, shows a preview, scales the "
    "values to [0, 1], holds out 15 % for validation, and trains on it like any other dataset. "
    f"Limits: {uploads.MAX_BYTES // 2**20} MB per file, {uploads.MIN_SAMPLES}–{uploads.MAX_SAMPLES:,} samples, "
    f"{uploads.MAX_FEATURES:,} numbers per sample.")

c1, c2 = st.columns([3, 1])
with c1:
    f = st.file_uploader("Data file", type=["zip", "npy", "npz", "csv"], key="upload_file")
with c2:
    resize = st.checkbox("Resize images to 28×28", key="upload_resize",
                         help="Makes images of different sizes fit together, and lets the lecture's CNN train on them.")


@st.cache_resource(show_spinner="Checking the file…", max_entries=2)  # up to 200 MB each, never modified
def check(filename: str, data: bytes, resize: bool) -> uploads.Prepared | str:
    try:
        return uploads.prepare(filename, data, (28, 28) if resize else None)
    except UploadError as e:
        return str(e)


if f is not None:
    p = check(f.name, f.getvalue(), resize)
    if isinstance(p, str):
        st.error(f"**{f.name}** was not accepted: {p}", icon=":material/block:")
    else:
        st.success(p.note, icon=":material/check_circle:")
        shape = " × ".join(map(str, p.shape))
        st.caption(f"Each sample: {shape} (channels × height × width) · classes: {', '.join(p.classes[:10])}"
                   f"{' …' if len(p.classes) > 10 else ''}")
        if p.kind == "vectors":
            st.dataframe(pd.DataFrame(p.train_x[:10].flatten(1).numpy()).round(3), height=250)
        else:
            show_grid(p.preview(32), caption="The first training samples, after scaling to [0, 1]",
                      scale=max(1, 84 // max(p.shape[-2:])))
        if st.button("Keep this dataset", type="primary", icon=":material/save:", key="upload_keep"):
            name = keep(p)
            if name:
                st.session_state["upload_dataset"] = name
                st.toast(f"Saved as dataset '{name}'")

# ---- stored uploads and training ----------------------------------------------------------------
stored = my_uploads()
st.header("Train on an uploaded dataset")
if not stored:
    st.info("No datasets kept yet: upload a file above and press **Keep this dataset**.")
    st.stop()
names = [m["name"] for m in stored]
want = st.session_state.get("upload_dataset")
meta = {m["name"]: m for m in stored}
name = st.selectbox("Dataset", names, index=names.index(want) if want in names else 0, key="upload_pick",
                    format_func=lambda n: f"{meta[n]['source']} · {' × '.join(map(str, meta[n]['shape']))} · "
                                          f"{meta[n]['train']} train / {meta[n]['heldout']} held-out · {n}")
m = meta[name]
st.caption(m["note"])
cnn_why = cnn_problem(tuple(m["shape"]))
c1, c2, c3, c4 = st.columns(4)
arch = c1.radio("Network", ["mlp", "cnn"], horizontal=True, key="upload_arch",
                format_func={"mlp": "MLP (any shape)", "cnn": "CNN (28×28)"}.get)
variational = c2.toggle("Variational (VAE)", value=True, key="upload_vae")
latent = c3.select_slider("Latent size", [2, 4, 8, 16, 32], value=2 if variational else 8, key="upload_latent")
epochs = c4.slider("Epochs", 1, 100, 20, key="upload_epochs")
if arch == "cnn" and cnn_why:
    st.warning(f"{cnn_why}, or upload again with 'resize to 28×28'")
    st.stop()
fields = dict(name=f"upload-{m['kind']}", dataset=name, arch=arch, variational=variational, latent_dim=latent,
              epochs=epochs, output="sigmoid", recon="bce" if variational else "mse",
              hidden=(256, 64) if arch == "mlp" else ())
if m["kind"] == "vectors":
    fields["recon"] = "mse"  # min-max scaled features are not probabilities
try:
    cfg = make_config(**fields)
except ConfigError as e:
    st.error(str(e))
    st.stop()
b1, b2 = st.columns([1, 3])
if b1.button("Train", type="primary", icon=":material/rocket_launch:", key="upload_train"):
    launch(cfg, "upload_job")
with b2:
    st.caption(f"{cfg.short()} · run id `{cfg.run_id()}` — watch it on **Live run**; "
               "Reconstructions, Samples and Latent space work on it too.")
job_progress("upload_job")
if st.session_state.get("upload_job"):
    link("live_run", "Open Live run")
    download_button(st.session_state["upload_job"], "upload_dl")
with st.expander("Remove this dataset", icon=":material/delete:"):
    st.caption("Runs trained on it need it to resume or continue: delete them on the Runs page first. In a class, "
               "removing drops only your copy; anyone else who uploaded the same file keeps theirs.")
    if st.button("Remove", key="upload_remove") and remove(name):
        st.session_state.pop("upload_dataset", None)
        st.rerun()
