"""What the dashboard says in words: what the loss curves are doing right now (in the lecture's terms), one
line naming a run, durations, and whether a code size compresses. Plain Python, no Streamlit, no torch."""

from __future__ import annotations

import math

PIXELS = 784  # an MNIST image, the reference for under- vs over-complete codes


def trend(values: list[float | None], rel: float = 0.02) -> str:
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


def trend_text(steps: list[dict], variational: bool, events: list[dict] | None = None, done: bool = False) -> str:
    """A few sentences (markdown) saying what the loss curves are doing right now, in the lecture's words (`done`:
    the job has ended, so what they were doing at its end)."""
    if not steps:
        return "Waiting for the first training steps…"
    recon = trend([s.get("recon") for s in steps])
    if not variational:
        return "\n\n".join(_ae_lines(steps, recon, done))
    kl = trend([s.get("kl") for s in steps])
    last_kl = steps[-1].get("kl") or 0.0
    beta = steps[-1].get("beta")
    now = f"Reconstruction is **{recon}**, KL is **{kl}**" if not done else \
        f"When training ended, reconstruction was **{recon}** and KL **{kl}**"
    lines = [f"{now} (β = {beta:g})." if beta is not None else f"{now}."]
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


AE_TREND = {  # what a plain AE's reconstruction trend means: (while it trains, after training ended)
    "falling": ("The autoencoder is still learning to compress and rebuild the digits.",
                "It was still learning: more epochs would rebuild the digits better."),
    "flat": ("It has (nearly) converged for this learning rate.", "It had (nearly) converged for this learning rate."),
    "rising": ("A rising training loss usually means the learning rate is too high.",
               "A rising training loss usually means the learning rate was too high."),
}


def _ae_lines(steps: list[dict], recon: str, done: bool = False) -> list[str]:
    """trend_text for a plain autoencoder (no KL term)."""
    head = f"When training ended, the reconstruction loss was **{recon}**." if done else \
        f"Reconstruction loss is **{recon}**."
    lines = [f"{head} {AE_TREND[recon][done]}",
        "A plain AE has **no KL term**: nothing arranges its latent space, so codes of different "
        "digits can sit anywhere with empty gaps between them (see the Latent space page)."]
    reg = [name for name in ("contractive", "sparsity") if any((s.get(name) or 0) > 0 for s in steps[-5:])]
    if reg:
        lines.append(f"The {' and '.join(reg)} term trades some reconstruction quality for a better-behaved code.")
    return lines


def completeness(latent_dim: float, pixels: int = PIXELS) -> str:
    """Whether a code of `latent_dim` numbers must compress an image of `pixels` (markdown, one sentence)."""
    if latent_dim < pixels:
        return f"**Under-complete**: {latent_dim} < {pixels} pixels, so the code must compress the image."
    return (f"**Over-complete**: {latent_dim} ≥ {pixels} pixels — the network could simply copy the input. "
            "Add sparsity, noise or a contractive penalty so it learns something useful.")


ENDED_SHORT = ("cancelled", "failed", "interrupted")  # a run that stopped before its planned epochs


def short_id(run_id: str) -> str:
    """A run id in a few characters that still tells runs apart: runs of the same settings share the hash and
    differ in the epochs suffix ("37aa97566991-e150" -> "37aa97-e150")."""
    base, sep, epochs = run_id.partition("-e")
    return f"{base[:6]}{sep}{epochs}"


def run_label(meta: dict, status: bool = False) -> str:
    """One line naming a run: preset/name, model, latent, dataset, epochs, id (and its status if asked:
    leave it out of widget labels, which the browser does not refresh when only the status changes). A run that
    ended short says how many of its epochs it trained."""
    c = meta.get("config") or {}
    kind = "VAE" if c.get("variational") else "AE"
    limit = f" ({c['train_limit']:,} imgs)" if c.get("train_limit") else ""
    rid = meta.get("run_id", meta.get("job_id", ""))
    epochs = f"{c.get('epochs', '?')} ep"
    if meta.get("status") in ENDED_SHORT and meta.get("epochs_done") is not None:
        epochs = f"{meta['epochs_done']} of {epochs}, {meta['status']}"
    text = (f"{c.get('name', '?')} · {str(c.get('arch', '?')).upper()} {kind} · z={c.get('latent_dim', '?')} · "
            f"{c.get('dataset', '?')}{limit} · {epochs} · {short_id(rid)}")
    return f"[{meta.get('status', '?')}] {text}" if status else text


def fmt_seconds(s: float | None) -> str:
    """A duration as '42s' or '3m 05s' ('—' when unknown)."""
    if s is None or not math.isfinite(s):
        return "—"
    s = int(round(s))
    return f"{s // 60}m {s % 60:02d}s" if s >= 60 else f"{s}s"
