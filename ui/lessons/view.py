"""What every lesson shows around its evidence: the size its runs are trained at, the config-difference tables
(computed from the RunConfigs by the engine), the evidence (cached), means ± seed spread with claims worded as
strongly as the error bars allow, and the clickable latent map of lessons 2 and 3."""

from __future__ import annotations

import os

import pandas as pd
import streamlit as st
import torch

from engine.teaching.latent import plane_range, project_2d, square
from engine.teaching.lessons import LESSONS, SEPARATED, SIZES, Lesson, Runs, default_size
from engine.teaching.posterior import prior_contours

from ..backend import store
from ..draw.plots import error_bars
from ..draw.vega import show_chart
from ..latent_map.explorer import View, hold, map_view, pinned_caption
from ..latent_map.layers import latent_map_chart, prior_layer
from ..latent_map.pick import pick_point, show_decoded
from ..runs import checkpoint_mtime, load_model

ENV_SIZE = "AE_LAB_LESSON_SIZE"  # test | cpu | gpu: the size the Lessons page trains at (tests, demos)


def lesson_size() -> str:
    """The size the lessons are trained at: $AE_LAB_LESSON_SIZE if it names one, else 'gpu' with CUDA, else 'cpu'."""
    env = os.environ.get(ENV_SIZE, "").strip()
    return env if env in SIZES else default_size()


def lesson_runs(key: str, size: str) -> Runs:
    return LESSONS[key].runs(size, store(), load_model)


@st.cache_data(show_spinner="Computing the evidence…", max_entries=24)
def _evidence(key: str, size: str, stamp: tuple) -> dict:
    """The lesson's evidence; `stamp` (run ids and checkpoint times) invalidates it when runs change."""
    return LESSONS[key].evidence(lesson_runs(key, size))


def evidence(key: str, size: str) -> dict | None:
    """The lesson's evidence from its trained runs, or None after saying why it could not be computed."""
    runs = lesson_runs(key, size)
    stamp = tuple((c.run_id(), checkpoint_mtime(c.run_id())) for c in runs.specs.values())
    try:
        return _evidence(key, size, stamp)
    except Exception as e:  # noqa: BLE001 - a half-written or deleted run must not break the page
        st.error(f"Could not compute the evidence: {e}. Delete and retrain the run on the Runs page if this persists.")
        return None


# ---- what differs between the compared runs ---------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=32)
def _diffs(key: str, size: str) -> list[dict]:
    return LESSONS[key].diffs(size)


def diff_tables(lesson: Lesson, size: str, expanded: bool = True) -> None:
    """One table per comparison of the lesson: the settings that differ (computed from the configs, never
    written by hand), the code size and the weights; what the comparison isolates under it."""
    tables = _diffs(lesson.key, size)
    if not tables:
        return
    with st.expander(f"What differs between the runs ({len(tables)} comparison{'s' * (len(tables) > 1)})",
                     expanded=expanded):
        for t in tables:
            df = pd.DataFrame(t["rows"]).drop(columns=["field"])
            df["kind"] = df["kind"].map({"setting": "changed", "derived": "follows"})
            st.dataframe(df.rename(columns={"kind": ""}), hide_index=True, width="stretch")
            what = ", ".join(f"`{c}`" for c in t["changes"])
            st.caption(f"Changes {what}" + (f" — {t['why']}." if t["why"] else
                                              " and nothing else: this comparison isolates that one setting."))
        if lesson.replicated:
            names = ", ".join(lesson.labels.get(a, a) for a in lesson.replicated)
            st.caption(f"Trained at 3 seeds each (otherwise identical): {names}. Their numbers are mean ± spread.")


# ---- means ± spread and the wording they allow ---------------------------------------------------------------
def pm(s: dict, digits: int = 1) -> str:
    """'22.4 ± 0.5 (3 seeds)' from a `seed_stats` dict; one seed: just the number."""
    if s["n"] < 2:
        return f"{s['mean']:.{digits}f} (1 seed)"
    return f"{s['mean']:.{digits}f} ± {s['spread']:.{digits}f} ({s['n']} seeds)"


def spread_rows(stats: dict[str, dict]) -> list[dict]:
    """{label: seed_stats} -> rows for `error_bars` (mean ± one standard deviation)."""
    return [{"run": k, "mean": s["mean"], "lo": s["mean"] - s["spread"], "hi": s["mean"] + s["spread"], "n": s["n"]}
            for k, s in stats.items()]


def spread_chart(stats: dict[str, dict], title: str, x_title: str) -> None:
    show_chart(error_bars, spread_rows(stats), "run", title, x_title=x_title)


def hedge(separated: bool, strong: str, weak: str) -> str:
    """The claim as strongly as the bars allow: `strong` when the gap exceeds 3× the seed spread, else `weak`."""
    return (f"**{strong}** (the gap is more than {SEPARATED:g}× the seed-to-seed spread)." if separated else
            f"**{weak}** (the gap is within {SEPARATED:g}× the seed-to-seed spread: the bars do not allow more).")


# ---- the clickable latent map (lessons 2 and 3) ------------------------------------------------------------
def latent_explorer(size: str, key: str, arm: str, ev: dict) -> None:
    """The held-out codes of the lesson's `arm` run; hover anywhere to decode that point beside the nearest real
    digit, in the browser (a click pins it); where the model cannot run there, click (or move the sliders) and
    the server decodes. The VAE's map carries the prior's 1σ/2σ/3σ circles."""

    @st.fragment
    def explore() -> None:
        runs = lesson_runs(key, size)
        cfg, model = runs.model(arm)
        z, labels = ev["z"].float(), ev["labels"]
        x, _ = runs.heldout(arm)
        proj = project_2d(z)
        dom = square(*plane_range(proj["xy"], cfg.variational))
        default = (0.0, 0.0) if cfg.variational else _between(proj["xy"])
        held = hold(model, proj, x[: len(z)], note=False)
        if held is not None:
            view = View(proj, labels, None, dom, prior=prior_contours(proj) if cfg.variational else None)
            st.caption(pinned_caption(map_view(f"lesson_map_{key}", held, view, default), view))
            return
        below = [prior_layer([r.numpy() for r in prior_contours(proj)], dom)] if cfg.variational else []
        left, right = st.columns([3, 2])
        with left:
            point = pick_point(f"lesson_map_{key}", lambda above: latent_map_chart(
                proj["xy"], labels, proj["axes"], None, dom, below=below, above=above, height=380), dom,
                proj["axes"], default=default)
        with right:
            show_decoded(model, proj, point, z, labels, None, x[: len(z)], proj["axes"])

    st.markdown("**Touch the latent space.** Point at any place on the map (or click it): the decoder draws that "
                "point, beside the nearest real held-out digit.")
    explore()


def _between(xy: torch.Tensor) -> tuple[float, float]:
    """A default point for an AE's map: the middle of its codes' box (often in a hole)."""
    lo, hi = xy.min(0).values, xy.max(0).values
    return float((lo[0] + hi[0]) / 2), float((lo[1] + hi[1]) / 2)
