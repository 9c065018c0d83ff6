"""The one training loop: determinism, cache, resume, extension, NaN guard, report events, snapshots."""

import math

import pytest
import torch

from engine.core.config import make_config
from engine.core.presets import preset
from engine.core.trainer import N_RECON, N_SAMPLES, TERMS, train

VAE = dict(dataset="synthetic", variational=True, output="sigmoid", recon="bce", hidden=(32,), latent_dim=2,
           batch_size=64, seed=3)


def vae(**kw):
    return make_config(**{**VAE, "epochs": 2, **kw})


def weights(store, run_id):
    return store.load_state(run_id)["model"]


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_training_is_deterministic_given_the_seed(store, tmp_path):
    from engine.core.store import Store

    other = Store(tmp_path / "other")
    a = train(vae(), store=store)
    b = train(vae(), store=other)
    assert a.status == b.status == "completed" and a.run_id == b.run_id
    assert same(weights(store, a.run_id), weights(other, b.run_id))
    assert a.train == b.train and a.heldout == b.heldout
    c = train(vae(seed=4), store=other)
    assert not same(weights(store, a.run_id), weights(other, c.run_id))


def test_training_lowers_the_loss_and_reports_per_image_terms(store):
    events = []
    res = train(vae(epochs=3, lr=3e-3), events.append, store=store)
    epochs = [e for e in events if e["type"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3]
    assert epochs[-1]["heldout"]["loss"] < epochs[0]["heldout"]["loss"]
    assert res.epochs == 3 and len(res.epoch_seconds) == 3 and all(s > 0 for s in res.epoch_seconds)
    assert set(TERMS) <= set(res.train) and {"recon", "kl", "loss", "mse01"} <= set(res.heldout)
    # VAE loss per image = recon + beta * kl, the pixel-summed BCE of a 28x28 image is hundreds, not < 1
    tr = res.train
    assert tr["loss"] == pytest.approx(tr["recon"] + tr["kl"], rel=1e-5)
    assert 10 < tr["recon"] < 784 and tr["kl"] > 0
    assert len(res.heldout["kl_per_dim"]) == 2 and 0 < res.heldout["posterior_std"]


def test_cache_hit_returns_without_training(store):
    first = train(vae(), store=store)
    assert not first.cached
    events = []
    again = train(vae(name="renamed", device="cpu"), events.append, store=store)  # label/device: same run
    assert again.cached and again.status == "completed" and again.run_id == first.run_id
    assert again.epoch_seconds == [] and again.epochs == 2
    assert again.heldout["loss"] == pytest.approx(first.heldout["loss"])
    assert [e["type"] for e in events] == ["done"] and events[0]["cached"]
    fresh = train(vae(), store=store, use_cache=False)
    assert not fresh.cached and len(fresh.epoch_seconds) == 2
    assert same(weights(store, fresh.run_id), weights(store, first.run_id))  # retrained, same seed


def test_resume_after_stop_ends_with_the_same_weights(store, tmp_path):
    from engine.core.store import Store

    cfg = vae(epochs=3)
    ref_store = Store(tmp_path / "ref")
    ref = train(cfg, store=ref_store)

    seen = []

    def stop_in_epoch_2():  # polled after every step: stop during the second epoch
        return bool(seen) and seen[-1]["epoch"] >= 2

    stopped = train(cfg, lambda e: seen.append(e) if e["type"] == "step" else None, stop_in_epoch_2, store=store)
    assert stopped.status == "stopped" and stopped.epochs == 1
    assert "kept the checkpoint of epoch 1" in stopped.message
    assert store.meta(cfg.run_id())["status"] == "stopped" and not store.is_complete(cfg.run_id())
    assert store.load_state(cfg.run_id())["epoch"] == 1

    events = []
    resumed = train(cfg, events.append, store=store)
    start = events[0]
    assert start["type"] == "start" and start["epoch"] == 1 and start["resumed_from"] == cfg.run_id()
    assert [e["epoch"] for e in events if e["type"] == "epoch"] == [2, 3]
    assert resumed.status == "completed" and resumed.epochs == 3 and len(resumed.epoch_seconds) == 2
    assert same(weights(store, cfg.run_id()), weights(ref_store, cfg.run_id()))
    assert resumed.heldout == ref.heldout
    hist = store.history(cfg.run_id())
    assert [e["epoch"] for e in hist["epochs"]] == [1, 2, 3]
    assert any(ev["kind"] == "resume" for ev in hist["events"])
    assert store.snapshot_epochs(cfg.run_id()) == [1, 2, 3]


def test_a_longer_run_continues_a_finished_shorter_one(store, tmp_path):
    from engine.core.store import Store

    one = train(vae(epochs=1), store=store)
    events = []
    two = train(vae(epochs=2), events.append, store=store)
    assert events[0]["epoch"] == 1 and events[0]["resumed_from"] == one.run_id
    assert len(two.epoch_seconds) == 1 and two.epochs == 2
    ref_store = Store(tmp_path / "ref")
    train(vae(epochs=2), store=ref_store)
    assert same(weights(store, two.run_id), weights(ref_store, two.run_id))
    assert store.is_complete(one.run_id)  # the shorter run stays available
    assert [e["epoch"] for e in store.history(two.run_id)["epochs"]] == [1, 2]


def test_nan_guard_stops_and_keeps_the_last_good_checkpoint(store):
    steps = []

    def controls():  # a student turns the learning rate up to 1e6 during epoch 2
        return {"lr": 1e6} if steps and steps[-1]["epoch"] >= 2 else None

    cfg = vae(epochs=3)
    res = train(cfg, lambda e: steps.append(e) if e["type"] == "step" else None, controls=controls, store=store)
    assert res.status == "diverged"
    assert "learning rate" in res.message and "1e+06" in res.message and "too high" in res.message
    assert "kept the checkpoint of epoch 1" in res.message
    assert res.epochs == 1
    state = store.load_state(cfg.run_id())
    assert state["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in state["model"].values())
    meta = store.meta(cfg.run_id())
    assert meta["status"] == "failed" and "learning rate" in meta["message"]


def test_nan_guard_in_the_first_epoch(store):
    res = train(vae(epochs=1), controls=lambda: {"lr": 1e6}, store=store)
    assert res.status == "diverged" and res.epochs == 0
    assert "no epoch had finished" in res.message


def test_report_events_carry_every_term_and_beta(store):
    events = []
    cfg = vae(epochs=2, beta=0.5)
    train(cfg, events.append, store=store)
    kinds = [e["type"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done" and kinds.count("epoch") == 2
    start = events[0]
    assert start["steps_per_epoch"] == math.ceil(500 / 64) and start["epochs"] == 2 and start["device"] == "cpu"
    assert "Synthetic" in start["data_note"] and start["params"] > 0
    steps = [e for e in events if e["type"] == "step"]
    assert steps and steps[-1]["step"] == 2 * start["steps_per_epoch"]
    for s in steps:
        assert set(TERMS) <= set(s) and s["beta"] == 0.5 and s["lr"] == cfg.lr and s["images_per_s"] > 0
        assert s["loss"] == pytest.approx(s["recon"] + 0.5 * s["kl"], rel=1e-5)
    ep = [e for e in events if e["type"] == "epoch"][-1]
    assert ep["beta"] == 0.5 and ep["heldout"]["loss"] == pytest.approx(
        ep["heldout"]["recon"] + 0.5 * ep["heldout"]["kl"], rel=1e-6)
    assert events[-1]["status"] == "completed" and events[-1]["cached"] is False


def test_snapshots_are_written_every_epoch(store):
    events = []
    cfg = vae(epochs=2)
    train(cfg, events.append, store=store)
    assert store.snapshot_epochs(cfg.run_id()) == [1, 2]
    snap = [e for e in events if e["type"] == "epoch"][-1]["snapshot"]
    stored = store.snapshot(cfg.run_id())
    for s in (snap, stored):
        assert s["orig"].shape == s["recon"].shape == (N_RECON, 1, 28, 28) and s["orig"].dtype == torch.uint8
        assert s["samples"].shape == (N_SAMPLES, 1, 28, 28) and s["samples"].dtype == torch.uint8
        assert s["latent"].shape == (100, 2) and s["latent"].dtype == torch.float32  # all 100 held-out images
        assert s["labels"].shape == (100,)
    assert torch.equal(snap["recon"], stored["recon"])
    assert not torch.equal(store.snapshot(cfg.run_id(), 1)["samples"], stored["samples"])  # the decoder learned


def test_denoising_snapshot_has_noisy_and_denoised_images(store):
    cfg = make_config(dataset="synthetic", hidden=(32,), latent_dim=4, output="sigmoid", recon="bce",
                      noise_std=0.3, epochs=1, batch_size=100)
    res = train(cfg, store=store)
    snap = store.snapshot(cfg.run_id())
    assert snap["noisy"].shape == snap["denoised"].shape == (N_RECON, 1, 28, 28)
    assert "samples" not in snap
    assert {"denoised_mse01", "noisy_mse01"} <= set(res.heldout)


def test_beta_warmup_ramps_linearly(store):
    events = []
    cfg = vae(epochs=2, beta=2.0, beta_warmup_epochs=2)
    train(cfg, events.append, store=store)
    betas = [e["beta"] for e in events if e["type"] == "step"]
    assert betas[0] < 0.3 and betas == sorted(betas) and len(set(betas)) > 3
    spe = math.ceil(500 / 64)
    # beta at step i of epoch e (0-based) is 2.0 * (e + i / spe) / 2
    progress = [e["progress"] for e in events if e["type"] == "step"]
    assert betas == pytest.approx([2.0 * (p - 1 / spe) / 2 for p in progress])
    assert betas[-1] < 2.0


def test_lecture_ae_presets_train_with_adam_weight_decay(store):
    for name in ("seed-mlp-ae", "seed-cnn-ae"):
        cfg = preset(name, epochs=1, train_limit=128, batch_size=64)
        res = train(cfg, store=store)
        assert res.status == "completed"
        groups = store.load_state(cfg.run_id())["optim"]["param_groups"]
        assert groups[0]["weight_decay"] == 1e-5 and groups[0]["lr"] == 1e-3
        # nn.MSELoss-style mean over pixels, in the Tanh range [-1, 1]: the loss is a small number
        assert 0 < res.train["loss"] < 2 and res.train["recon"] == pytest.approx(res.train["loss"] * 784, rel=1e-4)


@pytest.mark.parametrize("name", ["contractive-ae", "sparse-ae", "conv-vae", "denoising-ae"])
def test_regularized_presets_report_their_terms(store, name):
    cfg = preset(name, dataset="synthetic", epochs=1, batch_size=100)
    res = train(cfg, store=store)
    assert res.status == "completed" and all(math.isfinite(res.train[t]) for t in TERMS)
    if cfg.contractive_weight:
        assert res.train["contractive"] > 0
    if cfg.sparsity_weight:
        assert res.train["sparsity"] > 0
    if cfg.variational:
        assert res.train["kl"] > 0


def test_unavailable_cuda_is_a_config_error(store):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    from engine.core.config import ConfigError

    with pytest.raises(ConfigError, match="no CUDA GPU is available"):
        train(vae(device="cuda"), store=store)


def test_ctrl_c_keeps_the_checkpoint_and_marks_the_run_stopped(store):
    cfg = vae(epochs=2)
    seen = []

    def interrupt():
        if seen and seen[-1]["epoch"] == 2:
            raise KeyboardInterrupt
        return False

    with pytest.raises(KeyboardInterrupt):
        train(cfg, lambda e: seen.append(e) if e["type"] == "step" else None, interrupt, store=store)
    meta = store.meta(cfg.run_id())
    assert meta["status"] == "stopped" and meta["epochs_done"] == 1 and "interrupted" in meta["message"]
    assert train(cfg, store=store).epochs == 2


def test_bench_lecture_loop_matches_the_engine_on_the_same_data(store):
    """The benchmark's copy of the lecture loop (engine/cli/bench.py) learns like the engine: same loss scale."""
    from torchvision.transforms import ToTensor

    from engine.cli.bench import DigitImages, LectureLoop
    from engine.data import load

    d = load("mnist")
    x, y = d.train_x[:512], d.train_y[:512]
    u8 = (x.squeeze(1) * 255).round().to(torch.uint8)
    item, label = DigitImages(u8, y, transform=ToTensor())[3]
    assert torch.equal(item, x[3]) and label == int(y[3])  # PIL -> ToTensor gives the engine's pixels back
    lecture = LectureLoop(u8, y, torch.device("cpu"))
    losses = [lecture.epoch()[1] for _ in range(2)]
    res = train(preset("seed-vae", epochs=2, train_limit=512, device="cpu"), store=store)
    assert losses[1] < losses[0]
    assert res.train["loss"] == pytest.approx(losses[1], rel=0.1)


def test_a_steered_run_never_serves_as_the_cached_result_of_its_config(store):
    """β moved by hand during training: the result is kept, but under its own id, and the config retrains."""
    cfg = vae()
    steered = train(cfg, store=store, controls=lambda: {"beta": 4.0})
    assert steered.status == "completed"
    assert store.meta(cfg.run_id())["steered"] and not store.is_complete(cfg.run_id())
    again = train(cfg, store=store)
    assert not again.cached and again.status == "completed"
    kept = [m for m in store.runs() if m["run_id"].startswith(f"{cfg.run_id()}-steered-")]
    assert len(kept) == 1 and kept[0]["status"] == "completed" and "steered" in kept[0]["name"]
    assert store.load_state(kept[0]["run_id"]) is not None
    assert store.is_complete(cfg.run_id())
    assert again.heldout["kl"] > steered.heldout["kl"]  # β = 4 squeezed the KL; the unsteered β = 1 run did not
    assert train(cfg, store=store).cached


def test_a_contiguous_cnn_checkpoint_resumes_into_the_channels_last_trainer_exactly():
    """Checkpoints written before the trainer made CNN weights channels-last hold contiguous Adam buffers; after
    loading them, the next step must equal the step of a model that never changed layout."""
    import copy

    from engine.core.models import build_model
    from engine.core.trainer import _match_layouts, adam

    cfg = preset("seed-cnn-ae")
    x = torch.rand(8, 1, 28, 28)

    def second_step(channels_last: bool) -> list[torch.Tensor]:
        torch.manual_seed(0)
        m = build_model(cfg)
        o = adam(m, cfg)
        m(x).recon.sum().backward()
        o.step()
        model_sd, opt_sd = copy.deepcopy(m.state_dict()), copy.deepcopy(o.state_dict())  # contiguous, as before
        m2 = build_model(cfg)
        if channels_last:
            m2 = m2.to(memory_format=torch.channels_last)
        o2 = adam(m2, cfg)
        m2.load_state_dict(model_sd)
        o2.load_state_dict(opt_sd)
        _match_layouts(o2)
        m2(x).recon.sum().backward()
        o2.step()
        return [p.detach() for p in m2.parameters()]

    plain, converted = second_step(False), second_step(True)
    assert max((a - b).abs().max().item() for a, b in zip(plain, converted, strict=True)) < 1e-6
