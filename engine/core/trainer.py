"""The one training loop: `train(cfg, report, should_stop)`. Every backend (in-process, worker
process, Ray task) calls this function; it reads and writes runs through the checkpoint store.

Determinism: the model is initialised from `cfg.seed`, and every epoch reseeds shuffling and noise
from (seed, epoch), so a run resumed from its epoch-k checkpoint ends with the same weights as one
that never stopped, and a 20-epoch run can continue a finished 10-epoch run of the same settings.

`train` reads as its steps: serve from the cache, or start (fresh or resumed); then per epoch, the
optimizer steps (polling the steering controls) and the held-out evaluation with its snapshot and
checkpoint; then finish.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch

from ..data import Dataset, load
from .config import ConfigError, RunConfig
from .evaluation import N_RECON, N_SAMPLES, evaluate, snapshot, to_uint8  # noqa: F401 - to_uint8 re-exported
from .losses import corrupt
from .models import Autoencoder, build_model, n_params
from .store import Store

Report = Callable[[dict], None]
TERMS = ("recon", "kl", "contractive", "sparsity", "loss")
POINTS_PER_EPOCH = 25  # step points reported per epoch (averages over the steps between them)

# Fixed seeds, so that the same settings give the same numbers on every machine and every resume.
EPOCH_SEED_STRIDE = 100_003  # epoch e of a run with seed s shuffles and corrupts with seed s * stride + e
SAMPLES_SEED_OFFSET = 1  # the fixed z decoded every epoch come from seed + 1


@dataclass
class TrainResult:
    run_id: str
    checkpoint: str
    cached: bool
    status: str  # completed | stopped | diverged
    epochs: int  # epochs finished and stored
    train: dict = field(default_factory=dict)
    heldout: dict = field(default_factory=dict)
    epoch_seconds: list[float] = field(default_factory=list)
    message: str = ""

    def to_json(self) -> dict:
        return asdict(self)


class Diverged(RuntimeError):
    pass


def resolve_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for but no CUDA GPU is available: use 'auto' or 'cpu'")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def objective(model: Autoencoder, cfg: RunConfig, x01: torch.Tensor, beta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss to minimise, batch means of every term in TERMS order) for one batch of clean images."""
    inp = corrupt(x01, cfg.noise_kind, cfg.noise_std) if cfg.noise_std > 0 else x01
    terms = model.loss_terms(inp, x01 if cfg.noise_std > 0 else None, contractive=cfg.contractive_weight > 0,
                             sparsity_target=cfg.sparsity_target if cfg.sparsity_weight > 0 else None,
                             sparsity_form=cfg.sparsity_form)
    recon = terms["recon"].mean()
    zero = recon.new_zeros(())
    kl, contractive = (terms[k].mean() if k in terms else zero for k in ("kl", "contractive"))
    sparsity = terms.get("sparsity", zero)
    loss = recon / math.prod(x01.shape[1:]) if cfg.recon_reduction == "mean" else recon
    loss = loss + beta * kl + cfg.contractive_weight * contractive + cfg.sparsity_weight * sparsity
    return loss, torch.stack([recon, kl, contractive, sparsity, loss]).detach()


def adam(model: Autoencoder, cfg: RunConfig) -> torch.optim.Adam:
    """Adam as in the lecture. The fused kernel (one pass over each tensor instead of about seven) does the
    same update and makes a seed-vae step ~15% faster on CPU; older torch builds fall back to the plain loop."""
    params = list(model.parameters())
    try:
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


# ---- the run in progress ---------------------------------------------------------------------------
@dataclass
class Run:
    """Everything one call of `train` works on."""

    cfg: RunConfig
    store: Store
    report: Report
    data: Dataset
    device: torch.device
    model: Autoencoder
    opt: torch.optim.Adam
    train_x: torch.Tensor
    test_x: torch.Tensor
    fixed_z: torch.Tensor | None
    history: dict = field(default_factory=lambda: {"steps": [], "epochs": [], "events": []})
    start: int = 0  # epochs already done when this call began
    source: str | None = None  # the checkpoint it resumed from
    beta_override: float | None = None  # β set by hand while training (steering)
    lr: float = 0.0  # learning rate in effect
    step: int = 0
    epoch_seconds: list[float] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return self.cfg.run_id()

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.train_x) / self.batch_size)

    @property
    def batch_size(self) -> int:
        return min(self.cfg.batch_size, len(self.train_x))

    def beta(self, progress: float) -> float:
        """β in effect: a steered value wins; otherwise the configured β, ramped over the warm-up epochs."""
        if self.beta_override is not None:
            return self.beta_override
        if self.cfg.beta_warmup_epochs > 0:
            return self.cfg.beta * min(1.0, progress / self.cfg.beta_warmup_epochs)
        return self.cfg.beta

    def event(self, ev: dict) -> None:
        """Record an event (β or lr changed, resumed) in the history and report it."""
        self.history["events"].append(ev)
        self.report({"type": "event", "event": ev})


def _never() -> bool:
    return False


def train(
    cfg: RunConfig,
    report: Report | None = None,
    should_stop: Callable[[], bool] | None = None,
    *,
    store: Store | None = None,
    use_cache: bool = True,
    controls: Callable[[], dict | None] | None = None,
) -> TrainResult:
    """Train `cfg` to `cfg.epochs`, writing a checkpoint after every epoch.

    report(event): called with dicts of type start | step | event | epoch | done (epoch events carry the
    snapshot; event events carry a β/lr change or a resume, as recorded in the run's history).
    should_stop(): polled every step; True stops after the step, keeping the last epoch checkpoint.
    controls(): polled every step; may return {"beta": b, "lr": x} to steer the running job.
    """
    report = report or (lambda e: None)
    store = store or Store()
    if use_cache and store.is_complete(cfg.run_id()):
        return _cached(cfg, store, report)
    with store.writing(cfg.run_id()):  # one writer per run: another process gets RunLocked (see Store.writing)
        if use_cache and store.is_complete(cfg.run_id()):  # it finished while this call waited for the lock
            return _cached(cfg, store, report)
        return _train(cfg, report, should_stop, store, use_cache, controls)


def _train(cfg: RunConfig, report: Report, should_stop: Callable[[], bool] | None, store: Store, use_cache: bool,
           controls: Callable[[], dict | None] | None) -> TrainResult:
    run = _start(cfg, store, report, use_cache)
    status, message = "completed", ""
    try:
        for epoch in range(run.start, cfg.epochs):
            t0 = time.perf_counter()
            train_means = _epoch(run, epoch, should_stop or _never, controls)
            if train_means is None:
                status = "stopped"
                message = f"stopped during epoch {epoch + 1}; kept the checkpoint of epoch {epoch}"
                break
            _end_epoch(run, epoch, train_means, t0)
    except Diverged as e:
        status, message = "diverged", str(e)
    except KeyboardInterrupt:  # Ctrl-C in a terminal: the last epoch checkpoint stays, the index says so
        done = _epochs_done(run)
        store.set_meta(run.run_id, status="stopped", message=f"interrupted; kept the checkpoint of epoch {done}",
                       epochs_done=done)
        raise
    except Exception as e:  # a full disk (DiskFull: "disk full: ..."), out of memory, a bug: failed, not "running"
        with contextlib.suppress(Exception):  # best effort: on a full disk the index may refuse this write too
            store.set_meta(run.run_id, status="failed", message=str(e).split("\n")[0] or type(e).__name__)
        raise
    return _finish(run, status, message)


def _cached(cfg: RunConfig, store: Store, report: Report) -> TrainResult:
    run_id = cfg.run_id()
    m = store.meta(run_id)
    msg = "already trained — loaded from cache"
    report({"type": "done", "status": "completed", "cached": True, "run_id": run_id, "message": msg})
    return TrainResult(run_id, str(store.state_path(run_id)), True, "completed", m.get("epochs_done", cfg.epochs),
                       m.get("train") or {}, m.get("heldout") or {}, [], msg)


def _start(cfg: RunConfig, store: Store, report: Report, use_cache: bool) -> Run:
    """Build the model and optimizer; continue our own interrupted checkpoint, else a finished shorter run with
    the same settings; record the run as running and report the start."""
    run_id = cfg.run_id()
    m = store.meta(run_id)
    if use_cache and m and m.get("steered") and m.get("status") == "completed":
        store.archive_steered(run_id)  # kept under its own id; now train the config as configured
    device = resolve_device(cfg.device)
    data = load(cfg.dataset)
    train_x = data.train_x[: cfg.train_limit] if cfg.train_limit else data.train_x
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, data.shape).to(device)
    if cfg.arch == "cnn":  # the same layers, with channels-last weights: a CNN step is ~16% faster on CPU
        model = model.to(memory_format=torch.channels_last)
    fixed_z = None
    if model.variational:
        g = torch.Generator().manual_seed(cfg.seed + SAMPLES_SEED_OFFSET)
        fixed_z = torch.randn(N_SAMPLES, cfg.latent_dim, generator=g).to(device)
    run = Run(cfg, store, report, data, device, model, adam(model, cfg), train_x.to(device), data.test_x.to(device),
              fixed_z, lr=cfg.lr)
    if not use_cache or store.damaged(run_id):  # start afresh; never resume from a damaged checkpoint
        store.delete(run_id)  # safe: this call holds the run's lock, so no other process is writing it
    run.source = run_id if store.has_state(run_id) else (store.continuation(cfg) if use_cache else None)
    if run.source:
        _resume(run)
    store.begin(cfg)
    store.set_meta(run_id, status="running", message="", epochs=cfg.epochs)
    run.step = run.start * run.steps_per_epoch
    report({"type": "start", "run_id": run_id, "epoch": run.start, "epochs": cfg.epochs, "device": str(device),
            "steps_per_epoch": run.steps_per_epoch, "params": n_params(model), "data_note": data.note,
            "resumed_from": run.source})
    if run.source:
        run.event({"kind": "resume", "epoch": run.start, "step": run.step, "from": run.source})
    return run


def _match_layouts(opt: torch.optim.Optimizer) -> None:
    """Give Adam's moment buffers their parameter's memory layout. A checkpoint written with contiguous CNN weights
    (before the trainer used channels-last) loads its buffers contiguous; the fused Adam kernel then pairs the
    wrong elements (measured: a 2e-3 weight error after one step). Copying into `empty_like(param)` fixes the order."""
    for p, st in opt.state.items():
        for k, v in st.items():
            if torch.is_tensor(v) and v.shape == p.shape and v.stride() != p.stride():
                st[k] = torch.empty_like(p).copy_(v)


def _resume(run: Run) -> None:
    state = run.store.load_state(run.source, run.device)
    run.model.load_state_dict(state["model"])
    run.opt.load_state_dict(state["optim"])
    _match_layouts(run.opt)
    run.start = state["epoch"]
    run.beta_override = state.get("beta_override")
    run.lr = run.opt.param_groups[0]["lr"]  # a learning rate steered during the earlier part stays in effect
    h = run.store.history(run.source)
    run.history = {"steps": [s for s in h["steps"] if s["epoch"] <= run.start],
                   "epochs": [e for e in h["epochs"] if e["epoch"] <= run.start], "events": h["events"]}
    if run.source != run.run_id:
        run.store.copy_run(run.source, run.run_id)


def _steer(run: Run, controls: Callable[[], dict | None], epoch: int) -> None:
    """Apply a β or learning rate set by hand since the last step; a steered run is kept apart from its config."""
    ctl = controls() or {}
    beta, lr = ctl.get("beta"), ctl.get("lr")
    changed = (beta is not None and beta != run.beta_override, lr is not None and lr != run.lr)
    if any(changed):
        run.store.set_meta(run.run_id, steered=True)
    if changed[0]:
        run.beta_override = float(beta)
        run.event({"kind": "beta", "step": run.step, "epoch": epoch + 1, "value": run.beta_override})
    if changed[1]:
        run.lr = float(lr)
        for g in run.opt.param_groups:
            g["lr"] = run.lr
        run.event({"kind": "lr", "step": run.step, "epoch": epoch + 1, "value": run.lr})


def _epoch(run: Run, epoch: int, should_stop: Callable[[], bool],
           controls: Callable[[], dict | None] | None) -> dict | None:
    """One pass over the training images; returns the epoch's mean terms, or None if it was stopped."""
    cfg, spe, bs = run.cfg, run.steps_per_epoch, run.batch_size
    torch.manual_seed(cfg.seed * EPOCH_SEED_STRIDE + epoch)
    g = torch.Generator().manual_seed(cfg.seed * EPOCH_SEED_STRIDE + epoch)
    perm = torch.randperm(len(run.train_x), generator=g).to(run.device)
    log_every = max(1, spe // POINTS_PER_EPOCH)
    window: list[torch.Tensor] = []
    epoch_sum, t_win, n_win = None, time.perf_counter(), 0
    for i in range(spe):
        if controls is not None:
            _steer(run, controls, epoch)
        beta = run.beta(epoch + i / spe)
        xb = run.train_x[perm[i * bs:(i + 1) * bs]]
        with _nan_guard(run, xb, epoch):
            loss, vals = objective(run.model, cfg, xb, beta)
        run.opt.zero_grad(set_to_none=True)
        loss.backward()
        run.opt.step()
        run.step += 1
        window.append(vals)
        n_win += len(xb)
        if len(window) == log_every or i == spe - 1:
            block = torch.stack(window).sum(0)
            epoch_sum = block if epoch_sum is None else epoch_sum + block
            _report_point(run, epoch, (i + 1) / spe, (block / len(window)).tolist(), beta, n_win, t_win)
            window, t_win, n_win = [], time.perf_counter(), 0
        if should_stop():
            return None
    return dict(zip(TERMS, (epoch_sum / spe).tolist(), strict=True))


def _report_point(run: Run, epoch: int, frac: float, means: list[float], beta: float, images: int,
                  since: float) -> None:
    if not all(math.isfinite(v) for v in means):
        raise Diverged(_diverged_message(run, epoch, means[-1]))
    point = {"epoch": epoch + 1, "step": run.step, "progress": epoch + frac, **dict(zip(TERMS, means, strict=True)),
             "beta": beta, "lr": run.lr, "images_per_s": images / max(time.perf_counter() - since, 1e-9)}
    run.history["steps"].append(point)
    run.report({"type": "step", **point})


def _end_epoch(run: Run, epoch: int, train_means: dict, t0: float) -> None:
    """Held-out evaluation, snapshot and checkpoint of a finished epoch (the checkpoint is the commit point)."""
    beta = run.beta(epoch + 1)
    with _nan_guard(run, run.test_x[:N_RECON], epoch):
        held = evaluate(run.model, run.cfg, run.test_x, beta)
    if not math.isfinite(held["loss"]):
        raise Diverged(_diverged_message(run, epoch, held["loss"]))
    seconds = time.perf_counter() - t0
    run.epoch_seconds.append(seconds)
    entry = {"epoch": epoch + 1, "step": run.step, "train": train_means, "heldout": held, "seconds": seconds,
             "beta": beta}
    run.history["epochs"].append(entry)
    snap = snapshot(run.model, run.cfg, run.test_x, run.data.test_y, run.fixed_z)
    state = {"model": run.model.state_dict(), "optim": run.opt.state_dict(), "epoch": epoch + 1,
             "shape": list(run.data.shape), "beta_override": run.beta_override}
    run.store.save_epoch(run.run_id, state, run.history, snap, epoch + 1)
    run.report({"type": "epoch", **entry, "snapshot": snap})


def _epochs_done(run: Run) -> int:
    return run.history["epochs"][-1]["epoch"] if run.history["epochs"] else 0


def _finish(run: Run, status: str, message: str) -> TrainResult:
    last = run.history["epochs"][-1] if run.history["epochs"] else {"train": {}, "heldout": {}}
    meta_status = {"completed": "completed", "stopped": "stopped", "diverged": "failed"}[status]
    run.store.set_meta(run.run_id, status=meta_status, message=message, epochs_done=_epochs_done(run))
    run.report({"type": "done", "status": status, "cached": False, "run_id": run.run_id, "message": message})
    return TrainResult(run.run_id, str(run.store.state_path(run.run_id)), False, status, _epochs_done(run),
                       last["train"], last["heldout"], run.epoch_seconds, message)


@contextlib.contextmanager
def _nan_guard(run: Run, x01: torch.Tensor, epoch: int):
    """Blown-up weights make some ops raise (BCE refuses NaN probabilities) before the loss check sees a
    NaN: report that as divergence too. An error while the model's outputs on `x01` are finite is a real
    bug and propagates."""
    try:
        yield
    except RuntimeError:
        with torch.no_grad():
            model = run.model
            finite = all(torch.isfinite(p).all() for p in model.parameters()) and bool(
                torch.isfinite(model(model.to_model(x01)).recon).all())
        if finite:
            raise
        raise Diverged(_diverged_message(run, epoch, float("nan"))) from None


def _diverged_message(run: Run, epoch: int, value: float) -> str:
    kept = f"kept the checkpoint of epoch {epoch}" if epoch else "no epoch had finished, so there is no checkpoint"
    return (f"training diverged in epoch {epoch + 1} (step {run.step}): the loss became {value}. "
            f"The learning rate {run.lr:g} is probably too high — try {run.lr / 10:g}. {kept}.")
