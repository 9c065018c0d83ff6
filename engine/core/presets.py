"""Named configurations. The `seed-*` presets are the lecture's models and training settings, exactly."""

from __future__ import annotations

from .config import ConfigError, RunConfig, make_config

PRESETS: dict[str, dict] = {
    # MLP AE 784-128-64-12-3, ReLU, Tanh output, nn.MSELoss (mean), Adam(lr=1e-3, weight_decay=1e-5).
    # 100 epochs of batch 128, as in the code the lecture's slides come from: with the mean-over-pixels loss the
    # AEs learn slowly, and only after ~100 epochs is the CNN's extra detail plain to see (held-out squared
    # pixel error per image on the bundled MNIST: MLP 28.1 vs CNN 21.8; at 20 epochs 32.0 vs 31.3).
    # About 20 s (MLP) and 60 s (CNN) on a 2-core CPU; the Train page's quick demo settings cut it to seconds.
    "seed-mlp-ae": dict(
        arch="mlp", hidden=(128, 64, 12), latent_dim=3, output="tanh",
        recon="mse", recon_reduction="mean", lr=1e-3, weight_decay=1e-5, batch_size=128, epochs=100,
    ),
    # The lecture's CNN AE; its code is the 8x2x2 feature map (32 numbers), no linear layers.
    "seed-cnn-ae": dict(
        arch="cnn", hidden=(), latent_dim=32, output="tanh",
        recon="mse", recon_reduction="mean", lr=1e-3, weight_decay=1e-5, batch_size=128, epochs=100,
    ),
    # VAE 784-400-20, sigmoid output, BCE (summed) + KL, reparameterization, Adam(lr=1e-3).
    "seed-vae": dict(
        arch="mlp", variational=True, hidden=(400,), latent_dim=20, output="sigmoid",
        recon="bce", recon_reduction="sum", beta=1.0, lr=1e-3, batch_size=128, epochs=10,
    ),
    "conv-vae": dict(
        arch="cnn", variational=True, hidden=(), latent_dim=16, output="sigmoid",
        recon="bce", beta=1.0, lr=1e-3, batch_size=128, epochs=10,
    ),
    "denoising-ae": dict(
        arch="mlp", hidden=(256,), latent_dim=32, output="sigmoid", recon="bce",
        noise_kind="gaussian", noise_std=0.5, lr=1e-3, batch_size=128, epochs=10,
    ),
    "contractive-ae": dict(
        arch="mlp", hidden=(256,), latent_dim=16, output="sigmoid", recon="bce",
        contractive_weight=1.0, lr=1e-3, batch_size=128, epochs=10,
    ),
    # Over-complete: 1024 latent units for 784 pixels; the sparsity term keeps most units near rho.
    "sparse-ae": dict(
        arch="mlp", hidden=(), latent_dim=1024, latent_activation="sigmoid", output="sigmoid", recon="bce",
        sparsity_weight=1.0, sparsity_target=0.05, lr=1e-3, batch_size=128, epochs=10,
    ),
}

DESCRIPTIONS: dict[str, str] = {
    "seed-mlp-ae": "Lecture MLP autoencoder 784-128-64-12-3 (ReLU, Tanh output), MSE, Adam wd 1e-5",
    "seed-cnn-ae": "Lecture CNN autoencoder (conv 1→16→8, transposed conv 8→16→8→1, Tanh), MSE, Adam wd 1e-5",
    "seed-vae": "Lecture VAE 784-400-20, BCE + KL, reparameterization trick",
    "conv-vae": "Convolutional VAE, 16-d latent, BCE + KL",
    "denoising-ae": "Denoising AE: Gaussian noise (std 0.5) in, clean digit out",
    "contractive-ae": "Contractive AE: penalizes ‖∂E(x)/∂x‖²_F so small input changes barely move the code",
    "sparse-ae": "Over-complete sparse AE: 1024 sigmoid units, KL(ρ‖ρ̂) pushes mean activation to ρ = 0.05",
}


def preset(name: str, **overrides) -> RunConfig:
    """The preset `name` with some fields changed (e.g. epochs=2). Raises ConfigError with a readable message."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset '{name}'; choose one of: {', '.join(PRESETS)}")
    fields = {**PRESETS[name], "name": name}
    fields.update({k: v for k, v in overrides.items() if v is not None})
    return make_config(**fields)
