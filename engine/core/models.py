"""Autoencoders and VAEs. With the preset settings these are layer for layer the lecture's models.

Every model takes images shaped (B, C, H, W) and returns reconstructions of the same shape, so the
trainer, the losses and the pages never care whether the inside is an MLP or a CNN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from .losses import contractive_per_image, kl_per_image, recon_per_image, sparsity_kl

if TYPE_CHECKING:
    from .config import RunConfig


@dataclass
class Output:
    recon: torch.Tensor  # (B, C, H, W), in the model's output range
    z: torch.Tensor  # the code that was decoded (a sample for VAEs)
    mu: torch.Tensor | None = None
    logvar: torch.Tensor | None = None


def _act(name: str) -> nn.Module:
    return {"sigmoid": nn.Sigmoid(), "relu": nn.ReLU(True), "none": nn.Identity(), "tanh": nn.Tanh()}[name]


CHUNK = 1000  # images per forward pass in code() and reconstruct(): bounds memory on large sets


class Autoencoder(nn.Module):
    """What every model offers. `encode`/`decode`/`forward` work in the model's own range (a Tanh decoder
    reconstructs images scaled to [-1, 1]); `code`, `reconstruct` and `generate` take and give images in
    [0, 1] on any device, batched, without gradients; `loss_terms` gives the per-image terms of the loss."""

    variational = False

    decoder: nn.Module

    def __init__(self, latent_dim: int, output: str = "sigmoid", recon: str = "bce"):
        super().__init__()
        self.latent_dim = latent_dim
        self.output = output  # "tanh": the decoder outputs [-1, 1]; "sigmoid": [0, 1]
        self.recon_kind = recon  # "mse" or "bce", per image summed over pixels

    # ---- the output range, in one place ------------------------------------------------------------
    def to_model(self, x01: torch.Tensor) -> torch.Tensor:
        """Pixels in [0, 1] -> the decoder's output range."""
        return x01 * 2 - 1 if self.output == "tanh" else x01

    def to_pixels(self, y: torch.Tensor) -> torch.Tensor:
        """The decoder's output range -> pixels in [0, 1]."""
        return (y + 1) / 2 if self.output == "tanh" else y

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # ---- in the model's range -------------------------------------------------------------------------
    def encode(self, x: torch.Tensor):
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def mean_code(self, x: torch.Tensor) -> torch.Tensor:
        """The deterministic code of x (model range): z for an AE, μ for a VAE."""
        return self.encode(x)

    # ---- in pixel space [0, 1] -------------------------------------------------------------------------
    @torch.no_grad()
    def code(self, x01: torch.Tensor) -> torch.Tensor:
        """Codes of images in [0, 1]: z for an AE, the mean μ for a VAE. On the model's device."""
        x01 = x01.to(self.device)
        return torch.cat([self.mean_code(self.to_model(x01[i:i + CHUNK])) for i in range(0, len(x01), CHUNK)])

    @torch.no_grad()
    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """Codes -> images in [0, 1]. On the model's device."""
        return self.to_pixels(self.decode(z.float().to(self.device))).clamp(0, 1)

    @torch.no_grad()
    def reconstruct(self, x01: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] -> their deterministic reconstructions in [0, 1] (decoding μ for a VAE)."""
        x01 = x01.to(self.device)
        return torch.cat([self.generate(self.code(x01[i:i + CHUNK])) for i in range(0, len(x01), CHUNK)])

    def loss_terms(self, x01: torch.Tensor, target01: torch.Tensor | None = None, *, contractive: bool = False,
                   sparsity_target: float | None = None, sparsity_form: str = "per_unit") -> dict[str, torch.Tensor]:
        """Per-image terms for a batch: {"recon": (B,), "kl": (B,) for a VAE (one sampled z: with the recon
        term, the negative ELBO), "contractive": (B,) if asked, "sparsity": () if a target ρ is given (in
        `sparsity_form`, see `losses.sparsity_kl`)}.
        `x01` is what the encoder sees (a corrupted image for a denoising AE), `target01` what the decoder
        must rebuild (default: x01)."""
        inp = self.to_model(x01)
        target = inp if target01 is None else self.to_model(target01)
        out = self.sample(inp)
        terms = {"recon": recon_per_image(out.recon, target, self.recon_kind)}
        if self.variational:
            terms["kl"] = kl_per_image(out.mu, out.logvar)
        if contractive:
            terms["contractive"] = self.contractive(inp)
        if sparsity_target is not None:
            terms["sparsity"] = sparsity_kl(out.z, sparsity_target, sparsity_form)
        return terms

    def sample(self, x: torch.Tensor) -> Output:
        """The forward pass of training (a VAE samples z even in eval mode)."""
        return self(x)

    def contractive(self, x: torch.Tensor) -> torch.Tensor:
        """||dE(x)/dx||_F^2 per image (B,), differentiable. An MLP encoder that narrows in its first linear layer
        gets the same number through that layer's Gram matrix (see `losses.contractive_per_image`)."""
        enc = getattr(self, "encoder", None)
        if (isinstance(enc, nn.Sequential) and len(enc) > 2 and isinstance(enc[0], nn.Flatten)
                and isinstance(enc[1], nn.Linear) and enc[1].out_features < enc[1].in_features):
            return contractive_per_image(enc[2:], enc[1](enc[0](x)), enc[1].weight)
        return contractive_per_image(self.encode, x)


class AE(Autoencoder):
    """Deterministic autoencoder: x -> E(x) = z -> D(z)."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, latent_dim: int, output: str = "sigmoid",
                 recon: str = "bce"):
        super().__init__(latent_dim, output, recon)
        self.encoder = encoder
        self.decoder = decoder

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> Output:
        z = self.encode(x)
        return Output(self.decode(z), z)


class VAE(Autoencoder):
    """Variational autoencoder: the encoder outputs the mean and log-variance of q(z|x)."""

    variational = True

    def __init__(self, body: nn.Module, fc_mu: nn.Module, fc_logvar: nn.Module, decoder: nn.Module, latent_dim: int,
                 output: str = "sigmoid", recon: str = "bce"):
        super().__init__(latent_dim, output, recon)
        self.body = body
        self.fc_mu = fc_mu
        self.fc_logvar = fc_logvar
        self.decoder = decoder

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        return self.fc_mu(h), self.fc_logvar(h)

    def mean_code(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(x)[0]

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """z = mu + sigma * eps: the randomness sits in eps, so gradients flow through mu and sigma."""
        std = torch.exp(0.5 * logvar)
        return mu + std * torch.randn_like(std)

    def forward(self, x: torch.Tensor) -> Output:
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar) if self.training else mu
        return Output(self.decode(z), z, mu, logvar)

    def sample(self, x: torch.Tensor) -> Output:
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar)
        return Output(self.decode(z), z, mu, logvar)


def _mlp(sizes: list[int]) -> list[nn.Module]:
    """Linear layers with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:], strict=False)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU(True))
    return layers


def build_mlp(cfg: RunConfig, shape: tuple[int, ...]) -> nn.Module:
    d = math.prod(shape)
    hidden = list(cfg.hidden)
    out = [_act(cfg.output), nn.Unflatten(1, shape)]
    if not cfg.variational:
        enc = nn.Sequential(nn.Flatten(), *_mlp([d, *hidden, cfg.latent_dim]), _act(cfg.latent_activation))
        dec = nn.Sequential(*_mlp([cfg.latent_dim, *hidden[::-1], d]), *out)
        return AE(enc, dec, cfg.latent_dim, cfg.output, cfg.recon)
    body = nn.Sequential(nn.Flatten(), *_mlp([d, *hidden]), *([nn.ReLU(True)] if hidden else []))
    h = hidden[-1] if hidden else d
    dec = nn.Sequential(*_mlp([cfg.latent_dim, *hidden[::-1], d]), *out)
    return VAE(body, nn.Linear(h, cfg.latent_dim), nn.Linear(h, cfg.latent_dim), dec, cfg.latent_dim, cfg.output,
               cfg.recon)


CNN_CODE = 8 * 2 * 2  # the lecture CNN's bottleneck: 8 channels of 2x2


CNN_INPUT = (28, 28)  # the lecture's conv stack is built for MNIST-sized images


def cnn_problem(shape: tuple[int, ...]) -> str | None:
    """Why the CNN models cannot take images of `shape` (C, H, W), or None if they can."""
    if tuple(shape[-2:]) != CNN_INPUT:
        return f"the CNN models need 28×28 images, this dataset has {shape[-2]}×{shape[-1]}: use the MLP"
    return None


def build_cnn(cfg: RunConfig, shape: tuple[int, ...]) -> nn.Module:
    problem = cnn_problem(shape)
    if problem:
        raise ValueError(problem)
    c = shape[0]
    if not cfg.variational:
        # The lecture's layers, with its shape comments.
        enc: list[nn.Module] = [
            nn.Conv2d(c, 16, 3, stride=3, padding=1),  # b, 16, 10, 10
            nn.ReLU(True),
            nn.MaxPool2d(2, stride=2),  # b, 16, 5, 5
            nn.Conv2d(16, 8, 3, stride=2, padding=1),  # b, 8, 3, 3
            nn.ReLU(True),
            nn.MaxPool2d(2, stride=1),  # b, 8, 2, 2
        ]
        dec: list[nn.Module] = [
            nn.ConvTranspose2d(8, 16, 3, stride=2),  # b, 16, 5, 5
            nn.ReLU(True),
            nn.ConvTranspose2d(16, 8, 5, stride=3, padding=1),  # b, 8, 15, 15
            nn.ReLU(True),
            nn.ConvTranspose2d(8, c, 2, stride=2, padding=1),  # b, 1, 28, 28
            _act(cfg.output),
        ]
        if cfg.latent_dim == CNN_CODE:
            # The code is the feature map itself, flattened so every model has (B, latent_dim) codes.
            enc += [nn.Flatten(), _act(cfg.latent_activation)]
            dec = [nn.Unflatten(1, (8, 2, 2)), *dec]
        else:
            # A linear bottleneck around the lecture's conv stack gives any latent size (e.g. 2 for a map).
            enc += [nn.Flatten(), nn.Linear(CNN_CODE, cfg.latent_dim), _act(cfg.latent_activation)]
            dec = [nn.Linear(cfg.latent_dim, CNN_CODE), nn.ReLU(True), nn.Unflatten(1, (8, 2, 2)), *dec]
        return AE(nn.Sequential(*enc), nn.Sequential(*dec), cfg.latent_dim, cfg.output, cfg.recon)
    body = nn.Sequential(
        nn.Conv2d(c, 16, 4, stride=2, padding=1),  # b, 16, 14, 14
        nn.ReLU(True),
        nn.Conv2d(16, 32, 4, stride=2, padding=1),  # b, 32, 7, 7
        nn.ReLU(True),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 256),
        nn.ReLU(True),
    )
    dec = nn.Sequential(
        nn.Linear(cfg.latent_dim, 256),
        nn.ReLU(True),
        nn.Linear(256, 32 * 7 * 7),
        nn.ReLU(True),
        nn.Unflatten(1, (32, 7, 7)),
        nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1),  # b, 16, 14, 14
        nn.ReLU(True),
        nn.ConvTranspose2d(16, c, 4, stride=2, padding=1),  # b, 1, 28, 28
        _act(cfg.output),
    )
    return VAE(body, nn.Linear(256, cfg.latent_dim), nn.Linear(256, cfg.latent_dim), dec, cfg.latent_dim, cfg.output,
               cfg.recon)


BUILDERS = {"mlp": build_mlp, "cnn": build_cnn}


def build_model(cfg: RunConfig, shape: tuple[int, ...] = (1, 28, 28)) -> nn.Module:
    """The model for `cfg`, for images of `shape` (C, H, W)."""
    return BUILDERS[cfg.arch](cfg, tuple(shape))


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
