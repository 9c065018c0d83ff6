"""Named configurations. The `seed-*` presets are the lecture's models, losses and optimiser settings; where the
training differs from the code behind the lecture (the VAE's number of epochs, its loss summed over each batch),
the preset's comment and description say so."""

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
    # VAE 784-400-20, sigmoid output, BCE (summed over pixels) + KL, reparameterization, Adam(lr=1e-3), batch 128.
    # Not as in the lecture's code: it trains 100 epochs on 60,000 digits (10 here, on the bundled 9,000: set
    # epochs=100 for its length), and it sums the loss over each batch where the engine averages it (the same
    # optimum; Adam divides out the gradient's scale, so its steps barely change).
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
    # Over-complete: 1024 latent units for 784 pixels; the sparsity term keeps most units near rho, in Ng's per-unit
    # form (sparsity_form="lecture" for the slides' per-input form; see engine.core.losses.sparsity_kl).
    "sparse-ae": dict(
        arch="mlp", hidden=(), latent_dim=1024, latent_activation="sigmoid", output="sigmoid", recon="bce",
        sparsity_weight=1.0, sparsity_target=0.05, lr=1e-3, batch_size=128, epochs=10,
    ),
    # The same with the lecture's sparsity: each input's mean activation over the 1024 units is pulled to rho. That
    # is one KL per image where Ng's form sums 1024 (one per unit), so its weight is 1024 to pull as hard.
    "sparse-ae-lecture": dict(
        arch="mlp", hidden=(), latent_dim=1024, latent_activation="sigmoid", output="sigmoid", recon="bce",
        sparsity_weight=1024.0, sparsity_target=0.05, sparsity_form="lecture", lr=1e-3, batch_size=128, epochs=10,
    ),
}

DESCRIPTIONS: dict[str, str] = {
    "seed-mlp-ae": "Lecture MLP autoencoder 784-128-64-12-3 (ReLU, Tanh output), MSE, Adam wd 1e-5",
    "seed-cnn-ae": "Lecture CNN autoencoder (conv 1→16→8, transposed conv 8→16→8→1, Tanh), MSE, Adam wd 1e-5",
    "seed-vae": "Lecture VAE 784-400-20, BCE + KL, reparameterization trick; 10 epochs (the lecture's code: 100) "
                "and the loss averaged over the batch (the lecture's code sums it)",
    "conv-vae": "Convolutional VAE, 16-d latent, BCE + KL",
    "denoising-ae": "Denoising AE: Gaussian noise (std 0.5) in, clean digit out",
    "contractive-ae": "Contractive AE: penalizes ‖∂E(x)/∂x‖²_F so small input changes barely move the code",
    "sparse-ae": "Over-complete sparse AE: 1024 sigmoid units, KL(ρ‖ρ̂ⱼ) pulls each unit's mean activation to ρ = 0.05 "
                 "(Ng's form; the lecture's pulls each input's mean over the units)",
    "sparse-ae-lecture": "Over-complete sparse AE with the lecture's sparsity: KL(ρ̂‖ρ(x)) pulls each input's mean "
                         "activation over the 1024 units to ρ̂ = 0.05 (weight 1024: one KL per image, not per unit)",
}


def preset(name: str, **overrides) -> RunConfig:
    """The preset `name` with some fields changed (e.g. epochs=2). Raises ConfigError with a readable message."""
    if not isinstance(name, str) or name not in PRESETS:  # a list from a JSON file would not even hash
        raise ConfigError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    fields = {**PRESETS[name], "name": name}
    fields.update({k: v for k, v in overrides.items() if v is not None})
    return make_config(**fields)
