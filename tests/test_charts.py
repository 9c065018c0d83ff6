"""The helpers the pages share, without Streamlit: the Live run and per-epoch charts, the latent map's Vega-Lite
specs, the 2-D projection of codes and the narration beside the loss chart."""

from __future__ import annotations

import torch


def test_per_epoch_charts_tick_whole_epochs():
    """A run of one epoch put ticks at 0.99, 1.00, 1.01 (labelled "1.000000"): every per-epoch x axis ticks only
    at integers and prints them as integers."""
    from ui.draw.charts import epoch_chart
    from ui.draw.physics import history_chart
    from ui.draw.theory import dynamics_charts

    one = [{"epoch": 1, "train": {"recon": 90.0, "kl": 20.0}, "heldout": {"recon": 95.0, "kl": 21.0,
                                                                         "posterior_std": 0.4}}]
    charts = [epoch_chart(one), history_chart([{"epoch": 1, "loss": 0.7, "val_auc": 0.8}]), *dynamics_charts(one)]
    assert len(charts) == 5
    for chart in charts:
        axis = chart.to_dict()["encoding"]["x"]["axis"]
        assert axis["format"] == "d" and axis["tickMinStep"] == 1


def test_loss_chart_downsamples_and_marks_beta_changes():
    from ui.draw.charts import MAX_POINTS, downsample, loss_chart, total_chart

    steps = [{"epoch": 1 + i // 1000, "step": i + 1, "progress": (i + 1) / 1000, "recon": 200 - i / 100,
              "kl": 5 + i / 500, "contractive": 0.0, "sparsity": 0.0, "loss": 205.0, "beta": 1.0 if i < 1500 else 2.0,
              "lr": 1e-3} for i in range(3000)]
    df = downsample(steps)
    assert len(df) == MAX_POINTS and df["step"].iloc[-1] == 3000
    assert df["recon"].iloc[0] < 200 and abs(df["recon"].mean() - (200 - 2999 / 200)) < 0.1, "bucket means"
    hist = {"steps": steps, "epochs": [{"epoch": 1, "heldout": {"recon": 190.0, "kl": 6.0}}],
            "events": [{"kind": "beta", "step": 1500, "epoch": 2, "value": 2.0}]}
    spec = loss_chart(hist)  # a Vega-Lite spec with its data as named datasets (lists of records)
    text = str(spec)
    assert "'independent'" in text, "reconstruction and KL on independent y axes"
    assert "β → 2" in text and "'KL to the prior'" in text and "'held-out KL'" in text
    assert "'contractive penalty'" not in text, "the legend lists only the curves drawn"
    rows = sum(len(v) for v in spec["datasets"].values())
    assert rows < 4 * MAX_POINTS, "the chart carries the down-sampled points, not all 3000"
    rule = next(v for v in spec["datasets"].values() if v and "label" in v[0])
    assert abs(rule[0]["progress"] - 1.5) < 0.01, "the β rule sits at step 1500 = epoch 1.5"
    total = str(total_chart(hist))
    assert "β in effect" in total and "total loss (minimised)" in total
    ae = [{**p, "kl": 0.0} for p in steps]
    assert "KL" not in str(loss_chart(ae)) and "β in effect" not in str(total_chart(ae))
    assert loss_chart({"steps": []}) is None and total_chart([]) is None
    from altair.vegalite.v6.schema.core import TopLevelSpec  # the specs are hand-built: check them against the schema

    for chart in (spec, total_chart(hist), loss_chart(ae), total_chart(ae), loss_chart(steps)):
        TopLevelSpec.validate(chart)


def test_latent_map_specs_are_valid_vega_lite():
    """The latent map's layers are hand-built Vega-Lite: every combination the pages draw passes the schema, and
    the clickable grid is generated in the browser (no cell is sent)."""
    import json

    import numpy as np
    from altair.vegalite.v6.schema.core import TopLevelSpec

    from ui.latent_map.layers import (
        PICK,
        PICK_POINT,
        curve_layer,
        ellipse_layer,
        latent_map_chart,
        marker_layer,
        prior_layer,
    )

    rng = np.random.default_rng(0)
    xy, labels, dom = rng.normal(size=(300, 2)), rng.integers(0, 10, 300), ((-3.0, 3.0), (-3.0, 3.0))
    rings = [np.stack([r * np.cos(t), r * np.sin(t)], 1) for r in (1, 2, 3) for t in [np.linspace(0, 6.3, 40)]]
    below = [prior_layer(rings, dom), ellipse_layer(rings[:2], ["3", "5"], dom, [str(i) for i in range(10)])]
    above = [marker_layer(0.5, -0.5, "decoded here", dom), curve_layer(rings[0], dom, dots=True, dash=True)]
    clickable = latent_map_chart(xy, labels, ["z₁", "z₂"], None, dom, below=below, above=above, height=400)
    small = latent_map_chart(xy, labels, ["PC1", "PC2"], ["a"] * 10, dom, clickable=False, above=above[:1],
                             legend=False, height=260)
    for spec in (clickable, small):
        TopLevelSpec.validate(spec)
    text = json.dumps(clickable)
    assert f'"{PICK}"' in text and f'"{PICK_POINT}"' in text and '"sequence"' in text
    assert len(text) < 60_000 and len(clickable["datasets"]["codes"]) == 300
    assert PICK not in json.dumps(small)


def test_project_2d_uses_codes_directly_or_pca():
    from engine.teaching.latent import project_2d

    torch.manual_seed(0)
    two = torch.randn(50, 2)
    p = project_2d(two)
    assert torch.equal(p["xy"], two) and p["axes"] == ["z₁", "z₂"]
    direction = torch.tensor([5.0, 1.0, 0.1, 0.1, 0.1])
    codes = torch.randn(200, 1) * direction + 3
    p = project_2d(codes)
    assert p["xy"].shape == (200, 2) and p["axes"][0].startswith("PC1") and "100% of variance" in p["axes"][0]
    assert abs(float(p["basis"][0] @ direction / direction.norm())) > 0.999, "PC1 follows the cloud's direction"
    back = p["mean"] + p["xy"] @ p["basis"]
    assert torch.allclose(back, codes, atol=1e-4), "a rank-1 cloud is rebuilt exactly from the plane"


def test_trend_text_explains_kl_rising_and_falling():
    from engine.teaching.narration import trend_text

    rising = [{"recon": 200 - i, "kl": 1 + i, "beta": 1.0} for i in range(30)]
    falling = [{"recon": 150 + i * 0.01, "kl": 30 - i, "beta": 4.0} for i in range(30)]
    assert "KL rising" in trend_text(rising, True) and "hates noise" in trend_text(rising, True)
    assert "KL falling" in trend_text(falling, True)
    assert "no KL term" in trend_text(rising, False)
    ae = trend_text(rising, False, done=True)  # a finished job: what the curves did at its end, not "still learning"
    assert "When training ended, the reconstruction loss was **falling**" in ae and "still learning to" not in ae
    assert trend_text(falling, True, done=True).startswith("When training ended, reconstruction was **flat** and KL "
                                                           "**falling** (β = 4).")


def test_run_names_tell_runs_of_the_same_settings_apart_and_say_how_they_ended():
    """Runs of the same settings differ only in the epochs suffix of their id: Compare's legend merged a 150- and a
    400-epoch run into one line when names cut the id to its first 6 digits. A cancelled run says how far it got,
    and a steered β shows where it was steered to."""
    from engine.teaching.narration import run_label, short_id
    from ui.draw.tables import comparison, short_name

    cfg = {"name": "seed-vae", "variational": True, "beta": 1.0, "latent_dim": 20, "arch": "mlp",
           "dataset": "mnist", "epochs": 400}
    assert short_id("37aa97566991-e150") == "37aa97-e150" and short_id("37aa97566991") == "37aa97"
    hist = {"epochs": [{"epoch": 1, "heldout": {"mse01": 0.1, "kl": 5.0}}], "events": []}
    steered = {**hist, "events": [{"kind": "beta", "step": 10, "value": 4.0},
                                  {"kind": "lr", "step": 12, "value": 1e-4}]}
    curves, table, plane = comparison({"37aa97566991-e150": ({**cfg, "epochs": 150}, hist),
                                       "37aa97566991-e400": (cfg, steered)})
    assert list(table["run"]) == ["seed-vae VAE β=1 z=20 · 37aa97-e150", "seed-vae VAE β=1→4 z=20 · 37aa97-e400"]
    assert len({p["run"] for p in plane}) == 2 and len({c["run"] for c in curves}) == 2
    assert short_name("ab12cd34ef56-e2", {"name": "seed-mlp-ae", "latent_dim": 3}) == "seed-mlp-ae AE z=3 · ab12cd-e2"
    meta = {"run_id": "2f115948aaaa-e400", "config": cfg, "status": "cancelled", "epochs_done": 69}
    assert run_label(meta).endswith("mnist · 69 of 400 ep, cancelled · 2f1159-e400")
    assert run_label({**meta, "status": "completed", "epochs_done": 400}).endswith("mnist · 400 ep · 2f1159-e400")


def test_a_digit_has_one_colour_on_every_latent_plot():
    """Lessons 2 and 3 drew the codes twice, once in the Streamlit theme's colours (1 light blue, 7 yellow) and once
    on the clickable map (1 orange, 7 pink): both now use the maps' scheme, in the order 0-9."""
    import numpy as np

    from ui.latent_map.layers import DIGIT_SCHEME, latent_map_chart
    from ui.lessons.render import latent_plot

    ev = {"z": torch.randn(20, 2), "labels": torch.arange(20) % 10}
    plot = latent_plot(ev, "codes").to_dict()["encoding"]["color"]
    spec = latent_map_chart(np.asarray(ev["z"]), np.asarray(ev["labels"]), ["z₁", "z₂"], [str(d) for d in range(10)],
                            ((-3.0, 3.0), (-3.0, 3.0)), height=300)
    layers = [layer for layer in spec["layer"] if "color" in layer.get("encoding", {})]
    assert plot["scale"] == {"scheme": DIGIT_SCHEME} and plot["sort"] == [str(d) for d in range(10)]
    assert layers and all(layer["encoding"]["color"]["scale"] == {"scheme": DIGIT_SCHEME} for layer in layers)
