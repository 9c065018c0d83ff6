"""Tables about runs for the Runs and Compare pages: stored runs and background jobs merged into rows, and
DataFrames of their settings and metrics. Pure functions (pandas), no Streamlit."""

from __future__ import annotations

import pandas as pd

from engine.jobs import JobInfo
from engine.teaching.narration import short_id

PIXELS = 784  # the held-out `mse01` is summed over an MNIST image's pixels
METRIC_NAMES = {"recon": "reconstruction / image (its own loss units)", "kl": "KL / image (nats)",
                "mse01": "squared pixel error / image (pixels in [0, 1])", "loss": "total loss / image",
                "posterior_std": "mean posterior σ (1 = prior, 0 = certain)",
                "denoised_mse01": "squared error / image after denoising",
                "noisy_mse01": "squared error / image of the noisy input"}


def merge_runs(metas: list[dict], jobs: dict[str, JobInfo]) -> dict[str, dict]:
    """Stored runs and background jobs as one row per run id, newest first (a job's live status wins)."""
    rows: dict[str, dict] = {}
    for m in metas:
        rows[m["run_id"]] = {"run_id": m["run_id"], "status": m.get("status", "?"), "config": m.get("config") or {},
                             "epochs_done": m.get("epochs_done", 0), "epochs": m.get("epochs"),
                             "train": m.get("train") or {}, "heldout": m.get("heldout") or {},
                             "message": m.get("message", ""), "updated": m.get("updated", 0)}
    for jid, j in jobs.items():
        r = rows.setdefault(jid, {"run_id": jid, "config": j.config, "train": {}, "heldout": {}, "updated": j.created})
        r.update(status=j.status, epochs_done=max(j.epoch, r.get("epochs_done") or 0), epochs=j.epochs,
                 message=j.message or r.get("message", ""), owner=j.owner)
    return dict(sorted(rows.items(), key=lambda kv: kv[1].get("updated") or 0, reverse=True))


def _r4(v) -> float | None:
    return round(float(v), 4) if isinstance(v, int | float) else None


def overview(rows: dict[str, dict]) -> pd.DataFrame:
    """One line per run: status, model, latent, dataset, epochs, held-out metrics, run id."""
    def line(r: dict) -> dict:
        c, held = r["config"], r["heldout"]
        return {
            "status": r["status"], "name": c.get("name"),
            "model": f"{c.get('arch', '?').upper()} {'VAE' if c.get('variational') else 'AE'}",
            "latent": c.get("latent_dim"), "dataset": c.get("dataset"),
            "epochs": f"{r.get('epochs_done') or 0}/{r.get('epochs') or c.get('epochs')}",
            "held-out recon": _r4(held.get("recon")),
            "held-out KL": _r4(held.get("kl")) if c.get("variational") else None,
            "pixel MSE (held-out)": _r4((held.get("mse01") or 0) / PIXELS) if held else None,
            "train loss": _r4(r["train"].get("loss")), "run id": r["run_id"]}

    return pd.DataFrame([line(r) for r in rows.values()])


def settings_table(cfg: dict) -> pd.DataFrame:
    return pd.DataFrame({"setting": list(cfg), "value": [str(v) for v in cfg.values()]})


def metrics_table(heldout: dict) -> pd.DataFrame:
    """Held-out metrics with readable names (per-dimension lists left out)."""
    items = [(k, v) for k, v in heldout.items() if not isinstance(v, list)]
    return pd.DataFrame({"metric": [METRIC_NAMES.get(k, k) for k, _ in items],
                         "value": [round(float(v), 4) for _, v in items]})


def short_name(run_id: str, cfg: dict, history: dict | None = None) -> str:
    """A run in a few characters, for legends: name, AE/VAE (with β, and where it was steered to), latent size,
    id (with its epochs: runs of the same settings differ only there)."""
    kind = "VAE" if cfg.get("variational") else "AE"
    steered = [ev["value"] for ev in (history or {}).get("events") or [] if ev.get("kind") == "beta"]
    beta = f" β={cfg.get('beta'):g}" + (f"→{steered[-1]:g}" if steered else "") if cfg.get("variational") else ""
    return f"{cfg.get('name', '?')} {kind}{beta} z={cfg.get('latent_dim')} · {short_id(run_id)}"


def comparison(runs: dict[str, tuple[dict, dict]]) -> tuple[list[dict], pd.DataFrame, list[dict]]:
    """{run id: (config, history)} -> (held-out curves per epoch, a table of final metrics, the runs' points
    on the rate–distortion plane)."""
    curves, table, plane = [], [], []
    for rid, (c, h) in runs.items():
        name = short_name(rid, c, h)
        eps = h.get("epochs") or []
        for e in eps:
            held = e.get("heldout", {})
            curves.append({"run": name, "epoch": e["epoch"], "held-out loss": held.get("loss"),
                           "held-out pixel error": held.get("mse01"), "held-out KL": held.get("kl")})
        last = (eps or [{}])[-1]
        held, tr = last.get("heldout", {}), last.get("train", {})
        table.append({"run": name, "epochs": last.get("epoch"), "dataset": c.get("dataset"),
                      "loss (train)": tr.get("loss"), "loss (held-out)": held.get("loss"),
                      "reconstruction (held-out)": held.get("recon"), "KL (held-out)": held.get("kl"),
                      "pixel error (held-out)": held.get("mse01"), "posterior σ": held.get("posterior_std"),
                      "seconds / epoch": sum(e.get("seconds", 0) for e in eps) / max(1, len(eps))})
        if held.get("mse01") is not None:
            plane.append({"run": name, "rate = KL (nats)": held.get("kl") or 0.0,
                          "distortion = pixel error": held["mse01"]})
    return curves, pd.DataFrame(table).round(4), plane
