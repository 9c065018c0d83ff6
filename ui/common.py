"""Small helpers every page uses: the backend and store, run pickers, image grids, the latent plane.

Pages stay thin: they read state through these helpers, call the engine and draw. Nothing here trains.
The functions are shared by every page (other pages import them), so their signatures stay stable.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import streamlit as st
import torch
from streamlit.errors import StreamlitPageNotFoundError
from torchvision.utils import make_grid

from engine.core.config import ConfigError, RunConfig
from engine.core.store import Store
from engine.jobs import Backend, JobError, JobInfo, get_backend

ROOT = Path(__file__).resolve().parent.parent

# Session-state keys shared by the pages.
JOB_KEY = "job_id"  # the job launched last (Live run's default)
RUN_KEY = "selected_run"  # the run opened last (Reconstructions / Samples / Latent space default)

# Material icons (bundled with Streamlit, so they render offline) for statuses in markdown/labels.
STATUS_ICON = {"queued": ":material/schedule:", "running": ":material/directions_run:",
               "completed": ":material/check_circle:", "failed": ":material/error:", "cancelled": ":material/stop:",
               "interrupted": ":material/pause:", "stopped": ":material/stop:"}

# Every page's navigation icon, label and one-line description (Home links them; unknown files get defaults).
PAGES: dict[str, tuple[str, str, str]] = {
    "1_Train": (":material/fitness_center:", "Train",
                "pick a lecture preset or build your own AE/VAE, then launch it in the background"),
    "2_Live_run": (":material/monitoring:", "Live run",
                   "watch reconstruction vs KL while it trains; steer β and the learning rate"),
    "3_Reconstructions": (":material/compare:", "Reconstructions",
                          "originals vs reconstructions over epochs; MLP vs CNN side by side"),
    "4_Samples": (":material/casino:", "Samples", "digits decoded from random z: over epochs and fresh on demand"),
    "5_Latent_space": (":material/scatter_plot:", "Latent space",
                       "the 2-D map of codes, the decoder over the plane, traversals"),
    "6_Runs": (":material/folder_open:", "Runs", "every run: status, settings, results; open, resume, cancel, delete"),
    "7_Lessons": (":material/school:", "Lessons", "guided experiments that follow the lecture"),
    "8_Applications": (":material/science:", "Applications", "what autoencoders are used for, hands on"),
    "9_Compare": (":material/balance:", "Compare", "runs side by side"),
    "10_Ising": (":material/grid_on:", "Ising", "autoencoders on Ising-model spin configurations"),
    "11_Your_data": (":material/upload:", "Your data", "train on images you upload"),
    "12_Graph_AE": (":material/hub:", "Graph AE", "an autoencoder for graphs"),
}


# ---- backend and store ------------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def _backend(name: str, root: str) -> Backend:
    return get_backend(name)


def backend() -> Backend:
    """The job backend of this server (embedded unless AE_LAB_BACKEND says otherwise).

    One per (backend name, checkpoint folder), so a test that points AE_LAB_CHECKPOINTS elsewhere gets its own."""
    return _backend(os.environ.get("AE_LAB_BACKEND", "embedded"), os.environ.get("AE_LAB_CHECKPOINTS", ""))


def plain_backend() -> Backend | None:
    """backend(), or None after showing on the page why background jobs are unavailable."""
    try:
        return backend()
    except Exception as e:  # noqa: BLE001 - any failure here means the same to the user
        st.error(f"Background training is unavailable: {e}. Finished runs can still be viewed.")
        return None


def try_backend() -> Backend | None:
    """The backend as the current user sees it (classroom mode: only their own jobs, quotas), or None
    after showing why background jobs are unavailable. Every page gets its backend here."""
    from .auth import try_user_backend

    return try_user_backend()


def store() -> Store:
    """The checkpoint store (cheap to create; reads $AE_LAB_CHECKPOINTS each time so tests can isolate)."""
    return Store()


def page_config(title: str, icon: str = ":material/neurology:") -> None:
    """Same layout and sidebar navigation on every page."""
    from .auth import sidebar_user

    st.set_page_config(page_title=f"{title} · AE & VAE lab", page_icon=icon, layout="wide")
    sidebar_user()  # classroom mode: stops at the login screen until the user has logged in
    nav()


def link(page: str, label: str, icon: str | None = None) -> None:
    """st.page_link that is skipped (not an exception) when the page is unknown, e.g. a page script run
    on its own in a test instead of under `streamlit run app.py`."""
    try:
        st.page_link(page, label=label, icon=icon)
    except StreamlitPageNotFoundError:
        pass


def nav() -> None:
    """The sidebar's page list with readable names and icons ('Home', not 'app'), in page-number order.

    Streamlit's automatic list is switched off in .streamlit/config.toml (client.showSidebarNavigation), because
    it names the home page after its file; pages other helpers add to pages/ appear here by themselves."""
    with st.sidebar:
        link("app.py", "Home", ":material/home:")
        for p in other_pages():
            icon, label, _ = PAGES.get(p.stem, (":material/article:", p.stem.split("_", 1)[-1].replace("_", " "), ""))
            link(f"pages/{p.name}", label, icon)


# ---- images -----------------------------------------------------------------------------------
def grid(images: torch.Tensor, nrow: int = 8, pad: int = 2, scale: int = 3) -> np.ndarray:
    """uint8 images (N, C, H, W) -> one uint8 HxW(x3) picture, upscaled `scale`x with crisp pixels."""
    x = images.float() / 255.0
    g = make_grid(x, nrow=nrow, padding=pad, pad_value=0.5)  # (3, H, W)
    g = g.repeat_interleave(scale, 1).repeat_interleave(scale, 2)
    return (g.permute(1, 2, 0).clamp(0, 1).numpy() * 255).astype(np.uint8)


def show_grid(images: torch.Tensor, caption: str | None = None, nrow: int = 8, scale: int = 3) -> None:
    """Draw uint8 images (N, C, H, W) as one crisp grid (real pixels, not a plot)."""
    st.image(grid(images, nrow=nrow, scale=scale), caption=caption)


def per_image_mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean squared error per image between two uint8 batches, in pixel units [0, 1]."""
    return (a.float() / 255 - b.float() / 255).pow(2).flatten(1).mean(1)


# ---- runs and jobs ----------------------------------------------------------------------------
def run_label(meta: dict, status: bool = False) -> str:
    """One line naming a run: preset/name, model, latent, dataset, epochs, id (and its status if asked:
    leave it out of widget labels, which the browser does not refresh when only the status changes)."""
    c = meta.get("config") or {}
    kind = "VAE" if c.get("variational") else "AE"
    limit = f" ({c['train_limit']:,} imgs)" if c.get("train_limit") else ""
    rid = meta.get("run_id", meta.get("job_id", ""))
    text = (f"{c.get('name', '?')} · {str(c.get('arch', '?')).upper()} {kind} · z={c.get('latent_dim', '?')} · "
            f"{c.get('dataset', '?')}{limit} · {c.get('epochs', '?')} ep · {rid[:8]}")
    return f"[{meta.get('status', '?')}] {text}" if status else text


def submit(cfg: RunConfig) -> str | None:
    """Submit `cfg` to the background backend and make it the selected run; returns the job id, or None
    after saying on the page why it could not start."""
    be = try_backend()
    if be is None:
        return None
    try:
        jid = be.submit(cfg)
    except (JobError, ConfigError) as e:
        st.error(f"Could not start the run: {e}")
        return None
    select_run(jid)
    return jid


def select_run(run_id: str | None) -> None:
    """Make `run_id` the run the viewing pages open by default (also the Live run job)."""
    st.session_state[RUN_KEY] = run_id
    if run_id:
        st.session_state[JOB_KEY] = run_id


def runs(with_snapshots: bool = True, variational: bool | None = None) -> list[dict]:
    """Stored runs (newest first) that have at least one epoch on disk; optionally only VAEs / only AEs."""
    from .auth import visible_run_ids

    visible = visible_run_ids()  # None: all (local mode, instructors); else a student's own runs
    out = []
    for m in store().runs():
        if visible is not None and m["run_id"] not in visible:
            continue
        if with_snapshots and not m.get("epochs_done"):
            continue
        if variational is not None and bool((m.get("config") or {}).get("variational")) != variational:
            continue
        out.append(m)
    return out


def run_picker(label: str = "Run", key: str = "run", variational: bool | None = None,
               default: str | None = None, help: str | None = None) -> str | None:
    """A selectbox over stored runs with at least one finished epoch; returns the run id or None.

    Defaults to `default`, else the run opened on the Runs page / launched last. Shows a hint when empty."""
    metas = runs(variational=variational)
    if not metas:
        what = {True: "VAE ", False: "autoencoder ", None: ""}[variational]
        st.info(f"No finished {what}epochs yet. Train one on the **Train** page (a 2-epoch run takes seconds), "
                "then come back.")
        link("pages/1_Train.py", "Go to Train", ":material/fitness_center:")
        return None
    ids = [m["run_id"] for m in metas]
    labels = {m["run_id"]: run_label(m) for m in metas}
    want = default or st.session_state.get(RUN_KEY) or st.session_state.get(JOB_KEY)
    index = ids.index(want) if want in ids else 0
    if key in st.session_state and st.session_state[key] not in ids:
        del st.session_state[key]  # the run was deleted since
    return st.selectbox(label, ids, index=index, format_func=labels.get, key=key, help=help)


def run_and_config(label: str = "Run", key: str = "run", help: str | None = None) -> tuple[str, RunConfig]:
    """run_picker() plus the run's settings; stops the page (with a hint) when there is no run to show."""
    rid = run_picker(label, key=key, help=help)
    if not rid:
        st.stop()
    cfg = config_of(rid)
    if cfg is None:
        st.error("This run's settings could not be read (was it deleted?). Pick another run.")
        st.stop()
    return rid, cfg


def job_picker(be: Backend, label: str = "Job", key: str = "job") -> JobInfo | None:
    """A selectbox over the backend's jobs, defaulting to the last launched; returns its JobInfo or None."""
    try:
        jobs = be.jobs()
    except JobError as e:
        st.error(str(e))
        return None
    if not jobs:
        return None
    ids = [j.job_id for j in jobs]
    by_id = {j.job_id: j for j in jobs}
    want = st.session_state.get(JOB_KEY)
    index = ids.index(want) if want in ids else 0
    if key in st.session_state and st.session_state[key] not in ids:
        del st.session_state[key]
    jid = st.selectbox(label, ids, index=index, key=key,
                       format_func=lambda i: run_label({"config": by_id[i].config, "run_id": i}))
    return by_id[jid]


def config_of(run_id: str) -> RunConfig | None:
    try:
        return store().config(run_id)
    except Exception:  # noqa: BLE001 - a half-written or deleted run
        return None


def snapshot_epoch_slider(run_id: str, key: str, label: str = "Epoch") -> int | None:
    """A slider over the epochs that have snapshots (latest by default); None if there are none."""
    epochs = store().snapshot_epochs(run_id)
    if not epochs:
        st.info("This run has no finished epoch yet.")
        return None
    if len(epochs) == 1:
        st.caption(f"{label}: {epochs[0]} (the only finished epoch)")
        return epochs[0]
    if key in st.session_state and st.session_state[key] not in epochs:
        del st.session_state[key]
    return st.select_slider(label, options=epochs, value=epochs[-1], key=key,
                            help="Snapshots are taken after every epoch: slide back to see how training got here.")


@st.cache_data(show_spinner=False, max_entries=64)
def _snapshot(root: str, run_id: str, epoch: int | None, mtime: float) -> dict | None:
    return Store(root).snapshot(run_id, epoch)


def snapshot(run_id: str, epoch: int | None = None) -> dict | None:
    """A run's snapshot of `epoch` (default: latest), cached between reruns."""
    s = store()
    epochs = s.snapshot_epochs(run_id)
    if not epochs:
        return None
    e = epochs[-1] if epoch is None else epoch
    p = s.run_dir(run_id) / "snapshots" / f"epoch-{e:04d}.pt"
    if not p.exists():
        return None
    return _snapshot(str(s.root), run_id, e, p.stat().st_mtime)


@st.cache_resource(show_spinner=False, max_entries=8)
def _model(root: str, run_id: str, mtime: float):
    return Store(root).load_model(run_id)


def load_model(run_id: str):
    """(config, model in eval mode) of a stored run, cached until its checkpoint changes."""
    s = store()
    p = s.run_dir(run_id) / "state.pt"
    if not p.exists():
        raise FileNotFoundError(f"run {run_id[:8]} has no checkpoint yet: let it finish an epoch")
    return _model(str(s.root), run_id, p.stat().st_mtime)


def model_or_error(run_id: str):
    """load_model(run_id), or None after saying on the page why the model cannot be loaded."""
    try:
        return load_model(run_id)
    except (FileNotFoundError, RuntimeError) as e:
        st.error(f"Could not load this run's model: {e}")
        return None


# ---- the latent space -------------------------------------------------------------------------
def project_2d(codes: torch.Tensor) -> dict:
    """Codes (n, k) -> a 2-D view: the codes themselves for k ≤ 2, else the top-2 principal components.

    Returns {"xy": (n, 2), "axes": two axis names, "mean": (k,), "basis": (2, k)} where a point (a, b) of
    the plane is the code mean + a·basis[0] + b·basis[1] (so the decoder can be run over the plane)."""
    codes = codes.float()
    n, k = codes.shape
    if k == 1:
        return {"xy": torch.cat([codes, torch.zeros(n, 1)], 1), "axes": ["z₁", "(1-D latent)"],
                "mean": torch.zeros(1), "basis": torch.tensor([[1.0], [0.0]])}
    if k == 2:
        return {"xy": codes, "axes": ["z₁", "z₂"], "mean": torch.zeros(2), "basis": torch.eye(2)}
    mean = codes.mean(0)
    centred = codes - mean
    _, s, v = torch.linalg.svd(centred, full_matrices=False)
    var = s.pow(2)
    frac = (var / var.sum().clamp_min(1e-12)).tolist()
    basis = v[:2]
    return {"xy": centred @ basis.T, "axes": [f"PC1 of z ({frac[0]:.0%} of variance)",
                                              f"PC2 of z ({frac[1]:.0%} of variance)"],
            "mean": mean, "basis": basis}


def plane_range(xy: torch.Tensor, variational: bool, margin: float = 0.15) -> tuple[tuple[float, float], ...]:
    """The region of the plane to decode: the codes' 1st–99th percentile box plus a margin.

    For a VAE the box also covers ±2 (where the prior N(0, I) puts its mass)."""
    lo = torch.quantile(xy, 0.01, dim=0)
    hi = torch.quantile(xy, 0.99, dim=0)
    if variational:
        lo, hi = torch.minimum(lo, torch.full_like(lo, -2.0)), torch.maximum(hi, torch.full_like(hi, 2.0))
    pad = (hi - lo).clamp_min(1e-3) * margin
    lo, hi = lo - pad, hi + pad
    return (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1]))


@torch.no_grad()
def decode_to_uint8(model, cfg: RunConfig, z: torch.Tensor) -> torch.Tensor:
    """Decode codes (n, k) to uint8 images (n, C, H, W) in pixel space."""
    from engine.core.trainer import to_uint8

    return to_uint8(model.generate(z))


@torch.no_grad()
def decode_plane(model, cfg: RunConfig, proj: dict, xr: tuple[float, float], yr: tuple[float, float],
                 n: int = 12) -> torch.Tensor:
    """Decode an n×n grid of points of the 2-D view back to images; row 0 is the top (largest y)."""
    xs = torch.linspace(xr[0], xr[1], n)
    ys = torch.linspace(yr[1], yr[0], n)
    a, b = torch.meshgrid(ys, xs, indexing="ij")
    pts = torch.stack([b.flatten(), a.flatten()], 1)  # (n*n, 2) as (x, y)
    z = proj["mean"] + pts @ proj["basis"][:, : proj["mean"].numel()]
    return decode_to_uint8(model, cfg, z)


@torch.no_grad()
def traverse(model, cfg: RunConfig, base: torch.Tensor, dim: int, values: torch.Tensor) -> torch.Tensor:
    """Decode copies of code `base` (k,) with dimension `dim` set to each of `values`."""
    z = base.float().repeat(len(values), 1)
    z[:, dim] = values
    return decode_to_uint8(model, cfg, z)


@torch.no_grad()
def fresh_samples(model, cfg: RunConfig, n: int, seed: int, scale: torch.Tensor | None = None,
                  shift: torch.Tensor | None = None) -> torch.Tensor:
    """Decode n codes z ~ N(shift, diag(scale²)) (default the prior N(0, I)), drawn with `seed`."""
    z = torch.randn(n, model.latent_dim, generator=torch.Generator().manual_seed(int(seed)))
    if scale is not None:
        z = z * scale
    if shift is not None:
        z = z + shift
    return decode_to_uint8(model, cfg, z)


def fmt_seconds(s: float | None) -> str:
    if s is None or not math.isfinite(s):
        return "—"
    s = int(round(s))
    return f"{s // 60}m {s % 60:02d}s" if s >= 60 else f"{s}s"


def other_pages() -> list[Path]:
    """All page files in pages/, sorted by their number (pages other helpers add show up too)."""
    def num(p: Path) -> int:
        head = p.stem.split("_", 1)[0]
        return int(head) if head.isdigit() else 999

    return sorted((ROOT / "pages").glob("*.py"), key=lambda p: (num(p), p.name))


# ---- what the curves are doing ------------------------------------------------------------------
def _trend(values: list[float], rel: float = 0.02) -> str:
    """'rising' | 'falling' | 'flat' over the recent part of a curve (last fifth vs the fifth before)."""
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if len(vals) < 6:
        return "flat"
    w = max(2, len(vals) // 5)
    now, before = sum(vals[-w:]) / w, sum(vals[-2 * w:-w]) / w
    scale = max(abs(before), 1e-9)
    if (now - before) / scale > rel:
        return "rising"
    if (before - now) / scale > rel:
        return "falling"
    return "flat"


def trend_text(steps: list[dict], variational: bool, events: list[dict] | None = None) -> str:
    """A few sentences saying what the loss curves are doing right now, in the lecture's words."""
    if not steps:
        return "Waiting for the first training steps…"
    recon = _trend([s.get("recon") for s in steps])
    lines = []
    if not variational:
        lines.append(f"Reconstruction loss is **{recon}**." + (
            " The autoencoder is still learning to compress and rebuild the digits." if recon == "falling" else
            " It has (nearly) converged for this learning rate." if recon == "flat" else
            " A rising training loss usually means the learning rate is too high."))
        lines.append("A plain AE has **no KL term**: nothing arranges its latent space, so codes of different "
                     "digits can sit anywhere with empty gaps between them (see the Latent space page).")
        reg = [n for n, k in (("contractive", "contractive"), ("sparsity", "sparsity"))
               if any((s.get(k) or 0) > 0 for s in steps[-5:])]
        if reg:
            lines.append(f"The {' and '.join(reg)} term trades some reconstruction quality for a better-behaved code.")
        return "\n\n".join(lines)
    kl = _trend([s.get("kl") for s in steps])
    last_kl = steps[-1].get("kl") or 0.0
    beta = steps[-1].get("beta")
    lines.append(f"Reconstruction is **{recon}**, KL is **{kl}** (β = {beta:g})." if beta is not None
                 else f"Reconstruction is **{recon}**, KL is **{kl}**.")
    if last_kl < 0.5 and len(steps) > 10:
        lines.append("**KL is almost 0**: the codes carry (nearly) no information about the image — every digit is "
                     "encoded as N(0, I) (*posterior collapse*). Reconstructions will look like an average digit. "
                     "Lower β to let information through.")
    elif kl == "rising":
        lines.append("**KL rising**: the encoder is putting more information into z — it moves the means μ apart and "
                     "shrinks the posterior spread σ so the decoder can tell the digits apart and reconstruct better. "
                     "KL is the price of that information.")
    elif kl == "falling":
        lines.append("**KL falling**: the prior is winning — the KL term pulls the codes toward N(0, I) (μ → 0, "
                     "σ → 1), filling the latent space evenly; reconstructions may get a little blurrier.")
    else:
        lines.append("**KL steady**: reconstruction and KL have found a balance for this β.")
    if events and any(e.get("kind") == "beta" for e in events):
        lines.append("The dashed red lines mark where β was changed: after raising β the KL should fall "
                     "(and reconstruction worsen); after lowering it, the opposite.")
    lines.append("*Lecture: the reconstruction loss hates noise, the KL term wants it — β sets the exchange rate.*")
    return "\n\n".join(lines)
