"""The one training loop: `train(cfg, report, should_stop)`. Every backend (in-process, worker
process, Ray task) calls this function; it reads and writes runs through the checkpoint store.

Determinism: the model is initialised from `cfg.seed`, and every epoch reseeds shuffling and noise
from (seed, epoch), so a run resumed from its epoch-k checkpoint ends with the same weights as one
that never stopped, and a 20-epoch run can continue a finished 10-epoch run of the same settings.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch

from .config import ConfigError, RunConfig
from .data import load
from .losses import contractive_per_image, corrupt, kl_per_dim, recon_per_image, sparsity_kl
from .models import build_model, n_params
from .store import Store

Report = Callable[[dict], None]
TERMS = ("recon", "kl", "contractive", "sparsity", "loss")
N_RECON = 16  # held-out images whose reconstructions are snapshotted every epoch
N_SAMPLES = 64  # fixed z decoded every epoch (VAEs)
N_LATENT = 1000  # held-out images whose codes are snapshotted every epoch


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


def to_model(x01: torch.Tensor, cfg: RunConfig) -> torch.Tensor:
    """Pixels in [0, 1] -> the decoder's output range (Tanh decoders reconstruct [-1, 1])."""
    return x01 * 2 - 1 if cfg.output == "tanh" else x01


def to_pixels(y: torch.Tensor, cfg: RunConfig) -> torch.Tensor:
    return (y + 1) / 2 if cfg.output == "tanh" else y


def to_uint8(x01: torch.Tensor) -> torch.Tensor:
    return (x01.clamp(0, 1) * 255).round().to(torch.uint8).cpu()


def objective(model, cfg: RunConfig, x01: torch.Tensor, beta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss to minimise, per-image values of every term in TERMS order) for one batch of clean images."""
    target = to_model(x01, cfg)
    inp = to_model(corrupt(x01, cfg.noise_kind, cfg.noise_std), cfg) if cfg.noise_std > 0 else target
    out = model(inp)
    recon = recon_per_image(out.recon, target, cfg.recon).mean()
    zero = recon.new_zeros(())
    loss = recon / math.prod(x01.shape[1:]) if cfg.recon_reduction == "mean" else recon
    kl = contractive = sparsity = zero
    if model.variational:
        kl = kl_per_dim(out.mu, out.logvar).sum(1).mean()
        loss = loss + beta * kl
    if cfg.contractive_weight > 0:
        contractive = contractive_per_image(model.encode, inp).mean()
        loss = loss + cfg.contractive_weight * contractive
    if cfg.sparsity_weight > 0:
        sparsity = sparsity_kl(out.z, cfg.sparsity_target)
        loss = loss + cfg.sparsity_weight * sparsity
    return loss, torch.stack([recon, kl, contractive, sparsity, loss]).detach()


@torch.no_grad()
def evaluate(model, cfg: RunConfig, x01: torch.Tensor, beta: float, batch: int = 1000) -> dict:
    """Held-out metrics, per image. For VAEs the loss is the negative ELBO with one sampled z;
    `mse01` is the squared error in pixel space [0, 1] of the deterministic reconstruction, comparable
    across every model; `kl_per_dim` and `posterior_std` show which latent dimensions are in use."""
    model.eval()
    gen = torch.random.fork_rng(devices=[x01.device] if x01.device.type == "cuda" else [])
    with gen:
        torch.manual_seed(12345)
        sums: dict[str, float] = {}
        kl_dims = None
        std_sum = 0.0
        for i in range(0, len(x01), batch):
            xb = x01[i:i + batch]
            target = to_model(xb, cfg)
            vals = {}
            if model.variational:
                mu, logvar = model.encode(target)
                z = model.reparameterize(mu, logvar)
                vals["recon"] = recon_per_image(model.decode(z), target, cfg.recon).sum()
                kd = kl_per_dim(mu, logvar)
                vals["kl"] = kd.sum()
                kl_dims = kd.sum(0) if kl_dims is None else kl_dims + kd.sum(0)
                std_sum += float(torch.exp(0.5 * logvar).mean(1).sum())
                det = model.decode(mu)
            else:
                z = model.encode(target)
                det = model.decode(z)
                vals["recon"] = recon_per_image(det, target, cfg.recon).sum()
                vals["kl"] = torch.zeros(())
            vals["mse01"] = (to_pixels(det, cfg) - xb).pow(2).flatten(1).sum(1).sum()
            if cfg.noise_std > 0:
                noisy = corrupt(xb, cfg.noise_kind, cfg.noise_std)
                den = to_pixels(model.decode(_code(model, to_model(noisy, cfg))), cfg)
                vals["denoised_mse01"] = (den - xb).pow(2).flatten(1).sum(1).sum()
                vals["noisy_mse01"] = (noisy - xb).pow(2).flatten(1).sum(1).sum()
            for k, v in vals.items():
                sums[k] = sums.get(k, 0.0) + float(v)
    n = len(x01)
    out = {k: v / n for k, v in sums.items()}
    scale = 1 / math.prod(x01.shape[1:]) if cfg.recon_reduction == "mean" else 1.0
    out["loss"] = out["recon"] * scale + beta * out["kl"]
    if model.variational:
        out["kl_per_dim"] = [float(v) / n for v in kl_dims]
        out["posterior_std"] = std_sum / n
    model.train()
    return out


def _code(model, x: torch.Tensor) -> torch.Tensor:
    """The deterministic code of x: z for an AE, mu for a VAE."""
    return model.encode(x)[0] if model.variational else model.encode(x)


@torch.no_grad()
def snapshot(model, cfg: RunConfig, test_x: torch.Tensor, test_y: torch.Tensor, fixed_z: torch.Tensor | None) -> dict:
    """What the pages draw for one epoch: uint8 images and latent codes of fixed held-out digits."""
    model.eval()
    snap: dict = {}
    xs = test_x[:N_RECON]
    snap["orig"] = to_uint8(xs)
    snap["recon"] = to_uint8(to_pixels(model.decode(_code(model, to_model(xs, cfg))), cfg))
    if cfg.noise_std > 0:
        with torch.random.fork_rng(devices=[xs.device] if xs.device.type == "cuda" else []):
            torch.manual_seed(777)
            noisy = corrupt(xs, cfg.noise_kind, cfg.noise_std)
        snap["noisy"] = to_uint8(noisy)
        snap["denoised"] = to_uint8(to_pixels(model.decode(_code(model, to_model(noisy, cfg))), cfg))
    if fixed_z is not None:
        snap["samples"] = to_uint8(to_pixels(model.decode(fixed_z), cfg))
    n = N_LATENT if model.latent_dim <= 64 else 200
    n = min(n, len(test_x))
    codes = [_code(model, to_model(test_x[i:min(i + 500, n)], cfg)) for i in range(0, n, 500)]
    snap["latent"] = torch.cat(codes).float().cpu()
    snap["labels"] = test_y[:len(snap["latent"])].cpu()
    model.train()
    return snap


def adam(model, cfg: RunConfig) -> torch.optim.Adam:
    """Adam as in the lecture. The fused kernel (one pass over each tensor instead of about seven) does the
    same update and makes a seed-vae step ~15% faster on CPU; older torch builds fall back to the plain loop."""
    params = list(model.parameters())
    try:
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


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

    report(event): called with dicts of type start | step | epoch | done (epoch events carry the snapshot).
    should_stop(): polled every step; True stops after the step, keeping the last epoch checkpoint.
    controls(): polled every step; may return {"beta": b, "lr": x} to steer the running job.
    """
    report = report or (lambda e: None)
    should_stop = should_stop or _never
    store = store or Store()
    run_id = cfg.run_id()
    ckpt = str(store.run_dir(run_id) / "state.pt")

    if use_cache and store.is_complete(run_id):
        m = store.meta(run_id)
        msg = "already trained — loaded from cache"
        report({"type": "done", "status": "completed", "cached": True, "run_id": run_id, "message": msg})
        return TrainResult(run_id, ckpt, True, "completed", m.get("epochs_done", cfg.epochs), m.get("train") or {},
                           m.get("heldout") or {}, [], msg)

    m = store.meta(run_id)
    if use_cache and m and m.get("steered") and m.get("status") == "completed":
        store.archive_steered(run_id)  # kept under its own id; now train the config as configured

    device = resolve_device(cfg.device)
    data = load(cfg.dataset)
    train_x = data.train_x[: cfg.train_limit] if cfg.train_limit else data.train_x
    train_x, test_x, test_y = train_x.to(device), data.test_x.to(device), data.test_y

    torch.manual_seed(cfg.seed)
    model = build_model(cfg, data.shape).to(device)
    opt = adam(model, cfg)
    fixed_z = None
    if model.variational:
        g = torch.Generator().manual_seed(cfg.seed + 1)
        fixed_z = torch.randn(N_SAMPLES, cfg.latent_dim, generator=g).to(device)

    # Where to start: our own interrupted checkpoint, else a finished shorter run with the same settings.
    start = 0
    history: dict = {"steps": [], "epochs": [], "events": []}
    beta_override: float | None = None
    last_lr = cfg.lr
    source = run_id if store.load_state(run_id) is not None else (store.continuation(cfg) if use_cache else None)
    if use_cache and source:
        state = store.load_state(source, device)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optim"])
        start = state["epoch"]
        beta_override = state.get("beta_override")
        last_lr = opt.param_groups[0]["lr"]  # a learning rate steered during the earlier part stays in effect
        history = store.history(source)
        history["steps"] = [s for s in history["steps"] if s["epoch"] <= start]
        history["epochs"] = [e for e in history["epochs"] if e["epoch"] <= start]
        history["events"].append({"kind": "resume", "epoch": start, "from": source})
        if source != run_id:
            store.copy_run(source, run_id)
    elif not use_cache:
        store.delete(run_id)
    store.begin(cfg)
    store.set_meta(run_id, status="running", message="", epochs=cfg.epochs)

    n = len(train_x)
    bs = min(cfg.batch_size, n)
    steps_per_epoch = math.ceil(n / bs)
    log_every = max(1, steps_per_epoch // 25)
    step = start * steps_per_epoch
    report({"type": "start", "run_id": run_id, "epoch": start, "epochs": cfg.epochs, "device": str(device),
            "steps_per_epoch": steps_per_epoch, "params": n_params(model), "data_note": data.note,
            "resumed_from": source})

    epoch_seconds: list[float] = []
    status, message = "completed", ""
    try:
        for epoch in range(start, cfg.epochs):
            t0 = time.perf_counter()
            torch.manual_seed(cfg.seed * 100_003 + epoch)
            perm = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)).to(device)
            acc, window, t_win, n_win, epoch_sum = [], 0, time.perf_counter(), 0, None
            for i in range(steps_per_epoch):
                if controls is not None:
                    ctl = controls() or {}
                    new_beta, new_lr = ctl.get("beta"), ctl.get("lr")
                    if (new_beta is not None and new_beta != beta_override) or (
                            new_lr is not None and new_lr != last_lr):
                        store.set_meta(run_id, steered=True)
                    if new_beta is not None and new_beta != beta_override:
                        beta_override = float(new_beta)
                        history["events"].append(
                            {"kind": "beta", "step": step, "epoch": epoch + 1, "value": beta_override})
                    if new_lr is not None and new_lr != last_lr:
                        last_lr = float(new_lr)
                        for g in opt.param_groups:
                            g["lr"] = last_lr
                        history["events"].append({"kind": "lr", "step": step, "epoch": epoch + 1, "value": last_lr})
                beta = _beta(cfg, beta_override, epoch + i / steps_per_epoch)
                xb = train_x[perm[i * bs:(i + 1) * bs]]
                with _nan_guard(model, xb, cfg, last_lr, epoch, step):
                    loss, vals = objective(model, cfg, xb, beta)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1
                acc.append(vals)
                window += 1
                n_win += len(xb)
                if window == log_every or i == steps_per_epoch - 1:
                    block = torch.stack(acc[-window:]).sum(0)
                    epoch_sum = block if epoch_sum is None else epoch_sum + block
                    means = (block / window).tolist()
                    if not all(math.isfinite(v) for v in means):
                        raise Diverged(_diverged_message(cfg, last_lr, epoch, step, means[-1]))
                    now = time.perf_counter()
                    point = {"epoch": epoch + 1, "step": step, "progress": epoch + (i + 1) / steps_per_epoch,
                             **dict(zip(TERMS, means, strict=True)), "beta": beta, "lr": last_lr,
                             "images_per_s": n_win / max(now - t_win, 1e-9)}
                    history["steps"].append(point)
                    report({"type": "step", **point})
                    window, t_win, n_win = 0, now, 0
                    acc = []
                if should_stop():
                    status = "stopped"
                    message = f"stopped during epoch {epoch + 1}; kept the checkpoint of epoch {epoch}"
                    break
            if status == "stopped":
                break
            train_means = dict(zip(TERMS, (epoch_sum / steps_per_epoch).tolist(), strict=True))
            with _nan_guard(model, test_x[:N_RECON], cfg, last_lr, epoch, step):
                held = evaluate(model, cfg, test_x, _beta(cfg, beta_override, epoch + 1))
            if not math.isfinite(held["loss"]):
                raise Diverged(_diverged_message(cfg, last_lr, epoch, step, held["loss"]))
            seconds = time.perf_counter() - t0
            epoch_seconds.append(seconds)
            entry = {"epoch": epoch + 1, "step": step, "train": train_means, "heldout": held, "seconds": seconds,
                     "beta": beta}
            history["epochs"].append(entry)
            snap = snapshot(model, cfg, test_x, test_y, fixed_z)
            state = {"model": model.state_dict(), "optim": opt.state_dict(), "epoch": epoch + 1,
                     "shape": list(data.shape), "beta_override": beta_override}
            store.save_epoch(run_id, state, history, snap, epoch + 1)
            report({"type": "epoch", **entry, "snapshot": snap})
    except Diverged as e:
        status, message = "diverged", str(e)
    except KeyboardInterrupt:  # Ctrl-C in a terminal: the last epoch checkpoint stays, the index says so
        done = history["epochs"][-1]["epoch"] if history["epochs"] else 0
        store.set_meta(run_id, status="stopped", message=f"interrupted; kept the checkpoint of epoch {done}",
                       epochs_done=done)
        raise

    done = history["epochs"][-1]["epoch"] if history["epochs"] else 0
    last = history["epochs"][-1] if history["epochs"] else {"train": {}, "heldout": {}}
    meta_status = {"completed": "completed", "stopped": "stopped", "diverged": "failed"}[status]
    store.set_meta(run_id, status=meta_status, message=message, epochs_done=done)
    report({"type": "done", "status": status, "cached": False, "run_id": run_id, "message": message})
    return TrainResult(run_id, ckpt, False, status, done, last["train"], last["heldout"], epoch_seconds, message)


def _beta(cfg: RunConfig, override: float | None, progress: float) -> float:
    """β in effect: a steered value wins; otherwise the configured β, ramped over the warm-up epochs."""
    if override is not None:
        return override
    if cfg.beta_warmup_epochs > 0:
        return cfg.beta * min(1.0, progress / cfg.beta_warmup_epochs)
    return cfg.beta


@contextlib.contextmanager
def _nan_guard(model, x01: torch.Tensor, cfg: RunConfig, lr: float, epoch: int, step: int):
    """Blown-up weights make some ops raise (BCE refuses NaN probabilities) before the loss check sees a
    NaN: report that as divergence too. An error while the model's outputs on `x01` are finite is a real
    bug and propagates."""
    try:
        yield
    except RuntimeError:
        with torch.no_grad():
            finite = all(torch.isfinite(p).all() for p in model.parameters()) and bool(
                torch.isfinite(model(to_model(x01, cfg)).recon).all())
        if finite:
            raise
        raise Diverged(_diverged_message(cfg, lr, epoch, step, float("nan"))) from None


def _diverged_message(cfg: RunConfig, lr: float, epoch: int, step: int, value: float) -> str:
    kept = f"kept the checkpoint of epoch {epoch}" if epoch else "no epoch had finished, so there is no checkpoint"
    return (f"training diverged in epoch {epoch + 1} (step {step}): the loss became {value}. "
            f"The learning rate {lr:g} is probably too high — try {lr / 10:g}. {kept}.")
