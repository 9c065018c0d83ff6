"""The lecture's code listings, verbatim, and how the engine's model of a run differs from them.

The Train page shows the listing that matches the chosen settings beside the engine's `print(model)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..core.config import RunConfig
from ..core.models import CNN_CODE, build_model, n_params

MLP_AE = '''class autoencoder(nn.Module):
    def __init__(self):
        super(autoencoder, self).__init__()
        self.encoder = nn.Sequential(
            nn.Linear(28 * 28, 128),
            nn.ReLU(True),
            nn.Linear(128, 64),
            nn.ReLU(True), nn.Linear(64, 12), nn.ReLU(True), nn.Linear(12, 3))
        self.decoder = nn.Sequential(
            nn.Linear(3, 12),
            nn.ReLU(True),
            nn.Linear(12, 64),
            nn.ReLU(True),
            nn.Linear(64, 128),
            nn.ReLU(True), nn.Linear(128, 28 * 28), nn.Tanh())

    def forward(self, x):
        x = self.encoder(x)
        x = self.decoder(x)
        return x'''

CNN_AE = '''class autoencoder(nn.Module):
    def __init__(self):
        super(autoencoder, self).__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 16, 3, stride=3, padding=1), # b, 16, 10, 10
            nn.ReLU(True),
            nn.MaxPool2d(2, stride=2), # b, 16, 5, 5
            nn.Conv2d(16, 8, 3, stride=2, padding=1), # b, 8, 3, 3
            nn.ReLU(True),
            nn.MaxPool2d(2, stride=1) # b, 8, 2, 2
        )
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(8, 16, 3, stride=2), # b, 16, 5, 5
            nn.ReLU(True),
            nn.ConvTranspose2d(16, 8, 5, stride=3, padding=1), # b, 8, 15, 15
            nn.ReLU(True),
            nn.ConvTranspose2d(8, 1, 2, stride=2, padding=1), # b, 1, 28, 28
            nn.Tanh()
        )

    def forward(self, x):
        x = self.encoder(x)
        x = self.decoder(x)
        return x'''

AE_LOOP = '''model = autoencoder().cuda()
criterion = nn.MSELoss()
optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate,
                             weight_decay=1e-5)

for epoch in range(num_epochs):
    total_loss = 0
    for data in dataloader:
        img, _ = data
        img = Variable(img).cuda()
        # =====forward=====
        output = model(img)
        loss = criterion(output, img)
        # =====backward=====
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total_loss += loss.data'''

VAE = '''class VAE(nn.Module):
    def __init__(self):
        super(VAE, self).__init__()

        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparametrize(self, mu, logvar):
        std = logvar.mul(0.5).exp_()
        if torch.cuda.is_available():
            eps = torch.cuda.FloatTensor(std.size()).normal_()
        else:
            eps = torch.FloatTensor(std.size()).normal_()
        eps = Variable(eps)
        return eps.mul(std).add_(mu)

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return F.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = self.reparametrize(mu, logvar)
        return self.decode(z), mu, logvar'''

VAE_LOSS = '''def loss_function(recon_x, x, mu, logvar):
    """
    recon_x: generating images
    x: origin images
    mu: latent mean
    logvar: latent log variance
    """

    BCE = reconstruction_function(recon_x, x) # mse loss
    # loss = 0.5 * sum(1 + log(sigma^2) - mu^2 - sigma^2)
    KLD_element = mu.pow(2).add_(logvar.exp()).mul_(-1).add_(1).add_(logvar)
    KLD = torch.sum(KLD_element).mul_(-0.5)
    # KL divergence
    return BCE + KLD'''

VAE_LOOP = '''for epoch in range(num_epochs):
    model.train()
    train_loss = 0
    for batch_idx, data in enumerate(dataloader):
        img, _ = data
        img = img.view(img.size(0), -1)
        img = Variable(img)
        if torch.cuda.is_available():
            img = img.cuda()
        optimizer.zero_grad()
        recon_batch, mu, logvar = model(img)
        loss = loss_function(recon_batch, img, mu, logvar)
        loss.backward()
        train_loss += loss.data[0]
        optimizer.step()
        if batch_idx % 100 == 0:
            print('Train Epoch: {} [{}/{} ({:.0f}%)]\\tLoss: {:.6f}'.format(
                epoch,
                batch_idx * len(img),
                len(dataloader.dataset),
                100. * batch_idx / len(dataloader),
                loss.data[0] / len(img)))'''


@dataclass(frozen=True)
class Listing:
    title: str  # which of the lecture's listings
    model: str  # its model class
    loss: str  # its loss and training loop


def listing(cfg: RunConfig) -> Listing:
    """The lecture listing closest to the run's settings."""
    if cfg.variational:
        title = "the lecture's VAE (an MLP: the lecture has no convolutional VAE)" if cfg.arch == "cnn" else \
            "the lecture's VAE"
        return Listing(title, VAE, VAE_LOSS + "\n\n" + VAE_LOOP)
    if cfg.arch == "cnn":
        return Listing("the lecture's CNN autoencoder", CNN_AE, AE_LOOP)
    return Listing("the lecture's MLP autoencoder", MLP_AE, AE_LOOP)


def printed_model(cfg: RunConfig, shape: tuple[int, ...] = (1, 28, 28)) -> tuple[str, int]:
    """`print(model)` of the engine's model for `cfg` and its parameter count, built on PyTorch's meta device
    (no weights are allocated)."""
    with torch.device("meta"):
        model = build_model(cfg, tuple(shape))
    return str(model), n_params(model)


def differences(cfg: RunConfig) -> list[str]:
    """Where the engine's model and training for `cfg` differ from the lecture's listing (markdown lines)."""
    out = ["Shapes: the engine's models take and return images (B, 1, 28, 28): `Flatten`/`Unflatten` layers "
           "replace the listing's `img.view(img.size(0), -1)`. `Variable` and `.cuda()` are gone from modern "
           "PyTorch: tensors live on the chosen device."]
    if cfg.variational:
        return out + _vae_differences(cfg)
    return out + (_cnn_differences(cfg) if cfg.arch == "cnn" else _mlp_differences(cfg)) + _ae_training(cfg)


def _mlp_differences(cfg: RunConfig) -> list[str]:
    lines = []
    if tuple(cfg.hidden) == (128, 64, 12) and cfg.latent_dim == 3:
        lines.append("Layers: the same 784-128-64-12-3 encoder and its mirror as decoder.")
    else:
        lines.append(f"Layers: hidden sizes {', '.join(map(str, cfg.hidden)) or 'none'} and a {cfg.latent_dim}-number "
                     "code, where the lecture has 128, 64, 12 and a 3-number code.")
    if cfg.latent_activation != "none":
        lines.append(f"The engine puts a {cfg.latent_activation} on the code; the lecture's code is linear.")
    return lines


def _cnn_differences(cfg: RunConfig) -> list[str]:
    if cfg.latent_dim == CNN_CODE:
        return ["Layers: the lecture's conv stack, layer for layer; the 8×2×2 feature map is flattened into a "
                "32-number code (so every model has codes of shape (B, K)) and unflattened for the decoder."]
    return [f"Layers: the lecture's conv stack with a linear bottleneck around it: Linear(32, {cfg.latent_dim}) "
            f"after the encoder and Linear({cfg.latent_dim}, 32) + ReLU before the decoder, for a "
            f"{cfg.latent_dim}-number code (the lecture's code is the 32-number 8×2×2 feature map)."]


def _ae_training(cfg: RunConfig) -> list[str]:
    lines = []
    if cfg.output == "tanh":
        lines.append("Output: Tanh, as in the lecture, so the images are scaled to [-1, 1] on the way in (what "
                     "`transforms.Normalize((0.5,), (0.5,))` does in the lecture's data loader).")
    else:
        lines.append("Output: Sigmoid (pixels in [0, 1]) where the lecture has Tanh (pixels in [-1, 1]).")
    if cfg.recon == "mse" and cfg.recon_reduction == "mean":
        lines.append("Loss: `nn.MSELoss()` exactly — the squared error summed over the 784 pixels, divided by 784, "
                     "averaged over the batch.")
    else:
        kind = "binary cross-entropy" if cfg.recon == "bce" else "squared error"
        how = "summed over the 784 pixels" if cfg.recon_reduction == "sum" else "averaged over the pixels"
        lines.append(f"Loss: {kind} {how} and averaged over the batch, where the lecture uses `nn.MSELoss()` "
                     "(the mean over pixels and batch).")
    extra = [name for name, on in (("denoising", cfg.noise_std > 0), ("contractive", cfg.contractive_weight > 0),
                                   ("sparsity", cfg.sparsity_weight > 0)) if on]
    if extra:
        lines.append(f"Regularisers the listing does not have: {', '.join(extra)} (the lecture's regularisation "
                     "slide).")
    lines.append(f"Optimiser: Adam(lr={cfg.lr:g}, weight_decay={cfg.weight_decay:g}); the lecture: Adam(lr="
                 "learning_rate, weight_decay=1e-5).")
    return lines


def _vae_differences(cfg: RunConfig) -> list[str]:
    lines = []
    if cfg.arch == "cnn":
        lines.append("Layers: a convolutional encoder and decoder (two stride-2 convolutions, 28→14→7) instead of "
                     "the lecture's fc1/fc3 layers; the μ and log σ² heads are the same idea.")
    elif tuple(cfg.hidden) == (400,) and cfg.latent_dim == 20:
        lines.append("Layers: the same 784-400-20 model. Names: `fc1` + ReLU → `body`, `fc21` → `fc_mu`, `fc22` → "
                     "`fc_logvar`, `fc3`, ReLU, `fc4`, `F.sigmoid` → the `decoder` Sequential.")
    else:
        lines.append(f"Layers: hidden sizes {', '.join(map(str, cfg.hidden)) or 'none'} and a {cfg.latent_dim}-number "
                     "code, where the lecture has 400 and 20.")
    lines.append("Sampling: `mu + std * torch.randn_like(std)` — the same z = μ + σ·ε as `reparametrize`. In eval mode "
                 "the engine decodes μ itself for the reconstructions it shows; the listing always samples.")
    lines.append("Loss: the listing sums BCE and KL over the **whole batch**; the engine sums them over pixels and "
                 "latent dimensions and **averages over the batch** (the per-image loss the listing prints as "
                 f"`loss / len(img)`). Same minimum; the gradients are {cfg.batch_size}× smaller, which Adam, "
                 "being invariant to a constant scale of the loss, hardly notices.")
    if cfg.recon == "bce":
        lines.append("The listing names its reconstruction term `BCE` but comments it 'mse loss'; the engine uses a "
                     "summed binary cross-entropy (choose MSE on this page to follow the comment).")
    else:
        lines.append("Reconstruction: squared error, as the listing's comment says ('mse loss').")
    if cfg.beta != 1:
        lines.append(f"β = {cfg.beta:g} weighs the KL term (the listing: BCE + KLD, β = 1).")
    return lines
