"""Seed-to-seed spread of every lesson's claims: which margins are wide enough to state plainly, which need bars.

Issue 14's rule: where two compared runs differ by less than 3× their seed-to-seed spread, the lesson trains 3
seeds per arm and shows mean ± spread. To know where that rule applies, every arm of every lesson is trained at
each seed (the same config with `seed` shifted, as `base.with_seeds` does for the replicated arms, so those runs
are shared with the lessons' own replicas) and each claim's two numbers are read off the lesson's own evidence
at every seed. `python -m engine lesson-spread` prints the table.

A claim is (name, smaller, larger): the lesson says `smaller < larger`. Its margin is the mean gap over seeds
and its spread the larger of the two numbers' seed standard deviations.
"""

from __future__ import annotations

from collections.abc import Callable

from ..core.config import RunConfig
from ..core.store import Store
from .lessons import LESSONS, SEEDS, Runs, Size, seed_stats

Claim = tuple[str, float, float]  # (what the lesson says, the number it says is smaller, the larger one)


def _mlp_cnn(ev: dict) -> list[Claim]:
    err = {a: ev[a]["mse01"] for a in ("mlp", "mlp32", "cnn")}
    shift = ev["findings"]["shift"]
    return [("held-out error: lecture CNN < lecture MLP", err["cnn"], err["mlp"]),
            ("held-out error: MLP with 32 numbers < MLP with 3", err["mlp32"], err["mlp"]),
            ("held-out error: CNN vs MLP at 32 numbers (the lesson: about equal)", *sorted((err["cnn"], err["mlp32"]))),
            ("error growth when shifted 2 px: CNN < MLP (32 numbers)", shift["cnn"], shift["mlp32"])]


def _latent(ev: dict) -> list[Claim]:
    return [("empty share of the plane: VAE < AE", ev["emptiness"], ev["ae"]["emptiness"]),
            ("distance from N(0, I): VAE < AE", ev["gap_to_normal"], ev["ae"]["gap_to_normal"])]


def _beta(ev: dict) -> list[Claim]:
    rows = sorted(ev["rows"], key=lambda r: r["beta"])
    out: list[Claim] = []
    for lo, hi in zip(rows, rows[1:], strict=False):
        pair = f"β = {lo['beta']:g} vs {hi['beta']:g}"
        out += [(f"KL: {pair} (falls)", hi["kl"], lo["kl"]),
                (f"reconstruction: {pair} (rises)", lo["recon"], hi["recon"])]
    return out


def _epochs(ev: dict) -> list[Claim]:
    first, last = ev["digitness"][0], ev["digitness"][-1]
    return [("stroke share: first epoch < last", first["stroke_share"], last["stroke_share"]),
            ("classifier confidence: first epoch < last", first["confidence"], last["confidence"])]


def _regularizers(ev: dict) -> list[Claim]:
    d, c, s = ev["denoising"], ev["contractive"], ev["sparsity"]
    dense = s["dense"]["mean_activation"]
    return [("error on noisy inputs: denoising AE < same AE, clean training", d["err_denoising"], d["err_plain"]),
            ("code movement: contractive < no penalty", c["contractive"]["relative"], c["uncontracted"]["relative"]),
            ("mean activation: sparse (lecture) < dense", s["sparse"]["mean_activation"], dense),
            ("mean activation: sparse (Ng) < dense", s["sparse_ng"]["mean_activation"], dense),
            ("spread over inputs: lecture's form < Ng's", s["sparse"]["input_spread"], s["sparse_ng"]["input_spread"]),
            ("spread over units: Ng's form < lecture's", s["sparse_ng"]["unit_spread"], s["sparse"]["unit_spread"])]


def _complete(ev: dict) -> list[Claim]:
    under, over = ev["under"], ev["over"]
    return [("error on digits: over-complete < under-complete", over["rel_digits"], under["rel_digits"]),
            ("error on unseen shapes: over-complete < under-complete", over["rel_shapes"], under["rel_shapes"])]


CLAIMS: dict[str, Callable[[dict], list[Claim]]] = {
    "mlp-cnn": _mlp_cnn, "vae-latent": _latent, "beta": _beta, "epochs": _epochs, "regularizers": _regularizers,
    "complete": _complete}  # ae-latent shares vae-latent's runs and numbers; curse trains nothing


def seed_specs(key: str, size: Size, seed: int) -> dict[str, RunConfig]:
    """Every arm of a lesson at `seed` (0 = the lesson's own runs), without replicas."""
    return {arm: cfg.model_copy(update={"seed": cfg.seed + seed}) for arm, cfg in LESSONS[key].specs(size).items()}


def spread_runs(size: Size, seeds: tuple[int, ...] = SEEDS) -> list[tuple[str, RunConfig]]:
    """Every run the audit needs, once each, as (lesson/arm@seed, config)."""
    seen: dict[str, tuple[str, RunConfig]] = {}
    for key in CLAIMS:
        for s in seeds:
            for arm, cfg in seed_specs(key, size, s).items():
                seen.setdefault(cfg.run_id(), (f"{key}/{arm}@{s}", cfg))
    return sorted(seen.values(), key=lambda rc: rc[1].epochs)


def claims_at(key: str, size: Size, seed: int, store: Store) -> list[Claim]:
    lesson = LESSONS[key]
    return CLAIMS[key](lesson.evidence(Runs(seed_specs(key, size, seed), store), **lesson.params))


def summarize(per_seed: list[list[Claim]]) -> list[dict]:
    """One row per claim: both numbers' mean ± spread over seeds, the margin, margin/spread, and whether the claim
    held at every seed."""
    rows = []
    for i, (name, _, _) in enumerate(per_seed[0]):
        small = seed_stats([claims[i][1] for claims in per_seed])
        large = seed_stats([claims[i][2] for claims in per_seed])
        margin = large["mean"] - small["mean"]
        spread = max(small["spread"], large["spread"])
        rows.append({"claim": name, "smaller": small, "larger": large, "margin": margin, "spread": spread,
                     "ratio": margin / spread if spread > 0 else float("inf"),
                     "holds": all(c[i][1] < c[i][2] for c in per_seed)})
    return rows


def audit(size: Size, store: Store, seeds: tuple[int, ...] = SEEDS) -> dict[str, list[dict]]:
    """lesson -> its claims' rows (see `summarize`); every run in `spread_runs` must be in `store`."""
    return {key: summarize([claims_at(key, size, s, store) for s in seeds]) for key in CLAIMS}
