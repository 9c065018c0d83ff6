"""The class board's data: every run of the class as one row, in the view its viewer may see.

- An instructor's rows carry who follows each run (their identities, with the display name each last signed in
  with) and its run id.
- A student's rows carry none of another student's identity, run id, checkpoint path, run name or uploaded
  dataset name: only what makes a point on the plane (status, epochs, model, β, latent size, held-out recon and
  KL), with `mine` set on the runs they follow. Nothing on the board opens, downloads or resumes a run.
Who follows a run is what `ClassroomBackend` keeps in the store's index (`class:<run id>`); metrics are the
run's last finished epoch as the store's index keeps them (no run folder is read).
"""

from __future__ import annotations

from collections.abc import Iterable

from ..core.store import Store
from .base import JobInfo
from .experiments import Experiment
from .identity import User

PIXELS = 784  # an MNIST image: the held-out `mse01` is summed over its pixels
PUBLIC = ("mnist", "fashion-mnist", "synthetic", "ising")  # dataset families every student may name


NAME_KEY = "class:name:"  # + identity -> the display name the provider last gave (shown to instructors only)


def remember_name(store: Store, identity: str, shown: str) -> None:
    """Keep `identity`'s display name for the instructors' board (printable, at most 60 characters; written only
    when it changed). A display name is whatever the user typed at their provider: it is shown beside the
    identity, never instead of it, and never used for access."""
    shown = "".join(c for c in str(shown) if c.isprintable())[:60].strip()
    if shown and store.index.get(NAME_KEY + identity) != shown:
        store.index.set(NAME_KEY + identity, shown)


def who(store: Store, identity: str) -> str:
    """An identity as the instructors' board names it: 'Display Name (identity)', e-mails without 'email:'."""
    plain = identity.removeprefix("email:")
    shown = store.index.get(NAME_KEY + identity)
    return f"{shown} ({plain})" if shown else plain


def followers(store: Store, run_id: str) -> list[str]:
    """Identities following `run_id` (as ClassroomBackend records them; [] outside classroom mode)."""
    return list((store.index.get(f"class:{run_id}") or {}).get("owners", []))


def _dataset(name: str, instructor: bool) -> str:
    """A dataset as the viewer may see it: an upload's name (its hash) only to instructors."""
    if instructor or name.split("-")[0] in PUBLIC:
        return name
    return "uploaded data"


def _round(v: object, nd: int = 4) -> float | None:
    return round(float(v), nd) if isinstance(v, int | float) else None


def _row(meta: dict, job: JobInfo | None, viewer: User, owners: list[str], value: str | None,
         names: list[str]) -> dict:
    c = meta.get("config") or (job.config if job else {}) or {}
    held = meta.get("heldout") or {}
    vae = bool(c.get("variational"))
    done = max(meta.get("epochs_done") or 0, job.epoch if job else 0)
    row = {
        "status": job.status if job else meta.get("status", "?"),
        "epochs": f"{done}/{(job.epochs if job else None) or meta.get('epochs') or c.get('epochs')}",
        "epochs done": done,
        "architecture": str(c.get("arch", "?")).upper(),
        "kind": "VAE" if vae else "AE",
        "β": c.get("beta") if vae else None,
        "latent size": c.get("latent_dim"),
        "dataset": _dataset(str(c.get("dataset", "?")), viewer.instructor),
        "held-out recon": _round(held.get("recon")),
        "held-out KL": _round(held.get("kl")) if vae else (0.0 if held else None),
        "pixel error": _round(held["mse01"] / PIXELS, 5) if isinstance(held.get("mse01"), int | float) else None,
        "experiment": value,
        "mine": viewer.name in owners,
    }
    if viewer.instructor:
        row = {"students": ", ".join(names) or "—",
               "run id": meta.get("run_id") or (job.job_id if job else ""), **row}
    return row


def class_board(store: Store, viewer: User, jobs: Iterable[JobInfo] = (),
                experiment: Experiment | None = None) -> list[dict]:
    """Every run of the class (stored ones, plus the queued or running `jobs` the viewer's backend lists), as
    rows for `viewer`: newest first for instructors; for students in an order that says nothing of who or when
    (by kind, β, latent size)."""
    live = {j.job_id: j for j in jobs}
    metas = {m["run_id"]: m for m in store.runs()}
    for jid, j in live.items():
        metas.setdefault(jid, {"run_id": jid, "config": j.config, "status": j.status, "epochs": j.epochs,
                               "updated": j.created})
    labels = {}
    if experiment is not None:
        ids = experiment.run_ids()
        labels = {r["run_id"]: experiment.label(r["index"]) for r in experiment.runs if r["run_id"] in ids}
    rows = []
    for rid, m in metas.items():
        owners = followers(store, rid)
        names = [who(store, o) for o in owners] if viewer.instructor else []
        rows.append((m.get("updated") or 0, _row(m, live.get(rid), viewer, owners, labels.get(rid), names)))
    if viewer.instructor:
        return [r for _, r in sorted(rows, key=lambda t: t[0], reverse=True)]
    key = (lambda r: (r["kind"], r["β"] if r["β"] is not None else -1, r["latent size"] or 0,
                      r["held-out recon"] if r["held-out recon"] is not None else float("inf")))
    return sorted((r for _, r in rows), key=key)


def experiment_curve(store: Store, exp: Experiment) -> list[dict]:
    """The experiment's curve as it fills in, one point per value: how many students have it, how many of them
    launched it, and the held-out recon and KL of its run once an epoch is done. No identities, no run ids."""
    counts = exp.counts()
    launched = [0] * len(exp.values)
    for r in exp.runs:
        launched[r["index"]] += 1
    out = []
    for i, rid in enumerate(exp.run_ids()):
        m = (store.meta(rid) or {}) if launched[i] else {}
        held = m.get("heldout") or {}
        out.append({"value": exp.value(i), "label": exp.label(i), "students": counts[i], "launched": launched[i],
                    "status": m.get("status") if m else ("not launched" if not launched[i] else "queued"),
                    "epochs done": m.get("epochs_done") or 0, "recon": _round(held.get("recon")),
                    "kl": _round(held.get("kl")), "finished": m.get("status") == "completed"})
    return out


def tension(points: list[dict]) -> dict:
    """How the finished points bear out the β tension (larger β: lower KL, higher recon): of the steps between
    neighbouring values, how many have the KL falling and how many the recon rising."""
    done = sorted((p for p in points if p.get("finished") and p.get("kl") is not None), key=lambda p: p["value"])
    steps = list(zip(done, done[1:], strict=False))
    return {"points": len(done), "steps": len(steps),
            "kl_down": sum(b["kl"] < a["kl"] for a, b in steps),
            "recon_up": sum(b["recon"] > a["recon"] for a, b in steps)}
