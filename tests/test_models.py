"""Every preset builds; the seed presets are the lecture's models, layer for layer."""

import pytest
import torch
from torch import nn

from engine.core.models import AE, VAE, build_model, n_params
from engine.core.presets import DESCRIPTIONS, PRESETS, preset


def _linears(module: nn.Module) -> list[tuple[int, int]]:
    return [(m.in_features, m.out_features) for m in module.modules() if isinstance(m, nn.Linear)]


def _kinds(seq: nn.Sequential) -> list[str]:
    return [type(m).__name__ for m in seq]


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_builds_and_round_trips_a_batch(name):
    cfg = preset(name)
    assert name in DESCRIPTIONS
    torch.manual_seed(0)
    model = build_model(cfg)
    x = torch.rand(4, 1, 28, 28)
    out = model(x)
    assert out.recon.shape == (4, 1, 28, 28)
    assert out.z.shape == (4, cfg.latent_dim)
    lo, hi = (-1, 1) if cfg.output == "tanh" else (0, 1)
    assert out.recon.min() >= lo and out.recon.max() <= hi
    assert model.variational == cfg.variational
    if cfg.variational:
        assert out.mu.shape == out.logvar.shape == (4, cfg.latent_dim)
    if cfg.latent_activation == "sigmoid":
        assert 0 < out.z.min() and out.z.max() < 1


def test_seed_mlp_ae_is_the_lecture_mlp():
    cfg = preset("seed-mlp-ae")
    model = build_model(cfg)
    assert isinstance(model, AE)
    assert _linears(model.encoder) == [(784, 128), (128, 64), (64, 12), (12, 3)]
    assert _linears(model.decoder) == [(3, 12), (12, 64), (64, 128), (128, 784)]
    assert _kinds(model.encoder) == ["Flatten", "Linear", "ReLU", "Linear", "ReLU", "Linear", "ReLU", "Linear",
                                     "Identity"]
    assert _kinds(model.decoder) == ["Linear", "ReLU", "Linear", "ReLU", "Linear", "ReLU", "Linear", "Tanh",
                                     "Unflatten"]
    assert all(m.inplace for m in model.modules() if isinstance(m, nn.ReLU))  # nn.ReLU(True) as in the lecture
    assert (cfg.recon, cfg.recon_reduction, cfg.lr, cfg.weight_decay, cfg.batch_size) == ("mse", "mean", 1e-3, 1e-5,
                                                                                          128)


def test_seed_cnn_ae_is_the_lecture_cnn_with_its_shape_comments():
    cfg = preset("seed-cnn-ae")
    model = build_model(cfg)
    convs = [m for m in model.encoder if isinstance(m, nn.Conv2d)]
    pools = [m for m in model.encoder if isinstance(m, nn.MaxPool2d)]
    tconvs = [m for m in model.decoder if isinstance(m, nn.ConvTranspose2d)]
    spec = lambda m: (m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding)  # noqa: E731
    assert [spec(m) for m in convs] == [(1, 16, (3, 3), (3, 3), (1, 1)), (16, 8, (3, 3), (2, 2), (1, 1))]
    assert [(m.kernel_size, m.stride) for m in pools] == [(2, 2), (2, 1)]
    assert [spec(m) for m in tconvs] == [(8, 16, (3, 3), (2, 2), (0, 0)), (16, 8, (5, 5), (3, 3), (1, 1)),
                                         (8, 1, (2, 2), (2, 2), (1, 1))]
    assert not _linears(model)  # the lecture's CNN has no linear layers: its code is the 8x2x2 map
    assert isinstance(model.decoder[-1], nn.Tanh)

    # Follow a batch through every layer and compare with the lecture's comments.
    shapes = []
    h = torch.zeros(2, 1, 28, 28)
    for m in model.encoder:
        h = m(h)
        if isinstance(m, (nn.Conv2d, nn.MaxPool2d)):
            shapes.append(tuple(h.shape[1:]))
    assert h.shape == (2, 32)
    for m in model.decoder:
        h = m(h)
        if isinstance(m, nn.ConvTranspose2d):
            shapes.append(tuple(h.shape[1:]))
    assert shapes == [(16, 10, 10), (16, 5, 5), (8, 3, 3), (8, 2, 2), (16, 5, 5), (8, 15, 15), (1, 28, 28)]
    assert (cfg.recon, cfg.weight_decay, cfg.lr) == ("mse", 1e-5, 1e-3)


def test_cnn_ae_with_other_latent_size_wraps_the_conv_stack_in_linear_layers():
    model = build_model(preset("seed-cnn-ae", latent_dim=2))
    assert _linears(model) == [(32, 2), (2, 32)]
    assert model(torch.rand(3, 1, 28, 28)).z.shape == (3, 2)


def test_seed_vae_is_the_lecture_vae():
    cfg = preset("seed-vae")
    model = build_model(cfg)
    assert isinstance(model, VAE)
    assert _linears(model.body) == [(784, 400)]
    assert _linears(model.fc_mu) == [(400, 20)] and _linears(model.fc_logvar) == [(400, 20)]
    assert _linears(model.decoder) == [(20, 400), (400, 784)]
    assert _kinds(model.body) == ["Flatten", "Linear", "ReLU"]
    assert _kinds(model.decoder) == ["Linear", "ReLU", "Linear", "Sigmoid", "Unflatten"]
    assert n_params(model) == 784 * 400 + 400 + 2 * (400 * 20 + 20) + 20 * 400 + 400 + 400 * 784 + 784
    assert (cfg.recon, cfg.recon_reduction, cfg.beta, cfg.lr, cfg.weight_decay, cfg.batch_size) == (
        "bce", "sum", 1.0, 1e-3, 0.0, 128)


def test_vae_reparameterizes_in_training_and_uses_mu_in_eval():
    model = build_model(preset("seed-vae"))
    x = torch.rand(5, 1, 28, 28)
    model.train()
    torch.manual_seed(1)
    out = model(x)
    std = torch.exp(0.5 * out.logvar)
    torch.manual_seed(1)
    eps = torch.randn_like(std)
    assert torch.allclose(out.z, out.mu + std * eps)
    out.recon.sum().backward()  # gradients reach the encoder through mu and sigma
    assert model.fc_mu.weight.grad.abs().sum() > 0 and model.fc_logvar.weight.grad.abs().sum() > 0
    model.eval()
    ev = model(x)
    assert torch.equal(ev.z, ev.mu)


def test_sparse_ae_is_over_complete():
    cfg = preset("sparse-ae")
    assert cfg.latent_dim > 784 and cfg.sparsity_weight > 0
    assert _linears(build_model(cfg)) == [(784, 1024), (1024, 784)]


def test_seed_weights_are_deterministic():
    cfg = preset("seed-mlp-ae")
    torch.manual_seed(3)
    a = build_model(cfg).state_dict()
    torch.manual_seed(3)
    b = build_model(cfg).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_cnn_refuses_other_image_sizes():
    with pytest.raises(ValueError, match="28×28"):
        build_model(preset("seed-cnn-ae"), (1, 32, 32))
