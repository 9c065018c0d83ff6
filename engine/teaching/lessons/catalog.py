"""The eight lessons: claim, why, runs, evidence — and the list of every run they need (the demo pack)."""

from __future__ import annotations

from ...core.config import RunConfig
from ...core.store import Store
from . import architecture, capacity, latent, regularizers
from .architecture import mlp_cnn_evidence, mlp_cnn_specs
from .base import Lesson, Runs, Size, default_size
from .capacity import complete_evidence, complete_specs
from .curse import curse_evidence
from .latent import ae_latent_evidence, latent_specs, vae_latent_evidence
from .regularizers import regularizer_evidence, regularizer_specs
from .vae import beta_comparisons, beta_evidence, beta_specs, epochs_evidence, epochs_specs

LESSONS: dict[str, Lesson] = {
    "mlp-cnn": Lesson(
        "mlp-cnn", "1 · MLP vs CNN autoencoder",
        "The lecture's MLP autoencoder blurs digits that its CNN keeps sharper. The blur comes from the MLP's "
        "3-number code: given the same 32-number code as the CNN, the MLP reconstructs about as well — and the CNN "
        "does it with about 38.5× fewer weights. What the convolutions do buy: move the digits by 2 pixels and the "
        "CNN's error grows about half as much as the MLP's.",
        "Three numbers cannot hold a digit's strokes, so the decoder draws a typical digit of that kind: a blur. The "
        "lecture's CNN keeps 32 numbers (an 8×2×2 feature map). An MLP needs a weight for every pixel–unit pair "
        "(about 220,000) and learns each position separately, so a digit moved off the positions it was trained on "
        "is new to it; a convolution applies the same small filters at every position (5,729 weights in all), so a "
        "moved stroke is still a stroke.",
        mlp_cnn_specs, mlp_cnn_evidence, comparisons=architecture.COMPARISONS, labels=architecture.LABELS,
        replicated=("mlp32", "cnn"),
        note="The lecture's two models plus the MLP with a 32-number code, all trained alike (lr 2e-3 and batch 32 "
             "instead of the lecture's 1e-3 and 128, so 6 epochs suffice). The two 32-number models are close, so "
             "each is trained at 3 seeds: their errors are mean ± seed-to-seed spread (the 3-number MLP is far "
             "from both: one seed)."),
    "ae-latent": Lesson(
        "ae-latent", "2 · The AE latent space has holes",
        "An autoencoder's codes form clusters of the same digit with empty space between them, spread over an "
        "arbitrary region of the plane: most of the plane the codes span is far from every code, and nothing says "
        "where to draw a new code from — decodes there are blends and distortions the decoder was never trained "
        "on.",
        "Nothing in the AE's loss says where codes should go, only that the decoder can rebuild them: the decoder is "
        "never trained on the gaps, so what it outputs there is arbitrary.",
        latent_specs, ae_latent_evidence, comparisons=latent.COMPARISONS, labels=latent.LABELS,
        note="The lecture's VAE network (784-400-2) with its variational part switched off: a plain AE that differs "
             "from lesson 3's VAE in nothing else, with a 2-D code so the plane can be drawn; 5 epochs."),
    "vae-latent": Lesson(
        "vae-latent", "3 · The VAE latent space is regular",
        "A VAE's codes stay near the origin, on the prior's scale: several times closer to N(0, I) than the same "
        "network without the variational part (not equal to it after a short run), and they leave far fewer empty "
        "regions: decoding a grid over the prior gives a smooth map of digits.",
        "The KL term pulls every posterior toward N(0, I) and the sampling noise forces nearby codes to decode to "
        "similar images, so the whole region around the origin is used and smooth.",
        latent_specs, vae_latent_evidence, comparisons=latent.COMPARISONS, labels=latent.LABELS,
        note="The lecture's VAE with a 2-D latent, next to the same network without sampling and KL (lesson 2)."),
    "beta": Lesson(
        "beta", "4 · Reconstruction vs KL: the β sweep",
        "Raising β buys a lower KL (rate) with a higher reconstruction error (distortion); β = 0 turns the VAE into an "
        "AE (posterior std → 0), large β blurs and switches latent dimensions off.",
        "The loss is recon + β·KL: β is the price of each nat of information in z. With β = 0 information is free and "
        "the noise is useless, so σ shrinks; with a high β only the few dimensions worth their price stay active.",
        beta_specs, beta_evidence, comparisons=beta_comparisons(),
        note="The lecture's VAE (784-400-20) at β = 0, 0.5, 1, 4, 16, for 3 of lesson 5's 10 epochs (the ordering "
             "is plain by then). A dimension counts as active when its average KL exceeds 0.1 nats."),
    "epochs": Lesson(
        "epochs", "5 · Samples improve with training",
        "Samples decoded from the same random z turn from blobs into digits as training goes on.",
        "The decoder learns to map the whole prior onto the data: early on it only knows the average digit, then "
        "strokes and shapes appear as the ELBO improves.",
        epochs_specs, epochs_evidence,
        note="The lecture's VAE (lesson 4's β = 1 run, trained on); the same 64 codes are decoded after every epoch. "
             "How digit-like they are: the share of their ink that forms bright strokes, and how sure a plain "
             "digit classifier is about them, next to the same two numbers for real digits. "
             "The lecture's code trains 100 epochs on 60,000 digits and sums the loss over each batch; here 10 epochs "
             "on the bundled 9,000, with the loss averaged over the batch (Adam's steps barely depend on that "
             "scale)."),
    "regularizers": Lesson(
        "regularizers", "6 · Regularized autoencoders",
        "Denoising AEs turn noisy inputs into clean digits, much closer to the clean digit than the same AE trained "
        "on clean inputs; contractive AEs move their code about half as much when the input moves a little; sparse "
        "AEs switch most units off (mean activation near ρ = 0.05 instead of ≈ 0.46). The lecture's sparsity "
        "makes every digit use about the same share of the units; Ng's makes every unit fire about equally often.",
        "Each adds a wish to the loss: rebuild the clean x from a corrupted one, keep ‖∂E/∂x‖ small, or keep the mean "
        "activation at ρ — the same capacity, but a code with a useful property. The lecture's sparsity pulls each "
        "input's mean activation over the layer, ρ(x), to the target: each digit may use only a few units, whichever "
        "they are. Ng's version pulls each unit's mean over the inputs to the target: every unit must be rarely on. "
        "(The lecture names the target ρ̂ and the measured mean ρ; Ng the other way round.)",
        regularizer_specs, regularizer_evidence, params={"level": 0.5}, comparisons=regularizers.COMPARISONS,
        labels=regularizers.LABELS,
        note="Each regularized model next to the same model with its penalty switched off: 5 epochs for the "
             "denoising pair, 2 for the contractive pair, 1 for the sparse ones (their effects are plain by then). "
             "The lecture's sparsity is one KL per image, Ng's a sum of one KL per unit, so the lecture's form is "
             "weighted by the 1,024 units."),
    "complete": Lesson(
        "complete", "7 · Under- vs over-complete",
        "An over-complete autoencoder without regularization copies its input: it rebuilds digits almost perfectly "
        "and also shapes it has never seen, while an under-complete one turns everything into a digit.",
        "With more code units than pixels, the identity map is a perfect solution and nothing forbids it, so the "
        "model drifts toward copying instead of learning what digits have in common — hence the need for "
        "regularizers. (Pure noise is not copied: it points in directions that digits never vary in, which the model "
        "was never trained to pass through.)",
        complete_specs, complete_evidence,
        note="One-layer AEs (784 → k → 784) with k = 16 and k = 1024, no penalty, 4 epochs.",
        comparisons=capacity.COMPARISONS, labels=capacity.LABELS),
    "curse": Lesson(
        "curse", "8 · The curse of dimensionality",
        "In high dimensions almost all of a cube's volume is outside its inscribed sphere, and distances between "
        "random points become nearly equal.",
        "V_sphere/V_cube = π^{d/2}/(d·2^{d−1}·Γ(d/2)) → 0 because the corners multiply; and a distance sums d "
        "independent terms, so its spread shrinks like 1/√d relative to its mean — compressing to a few dimensions "
        "makes distances (and learning) meaningful again.",
        lambda size: {}, curse_evidence, note="Pure mathematics: no training."),
}


def lesson_runs(size: Size, keys: list[str] | None = None) -> list[tuple[str, RunConfig]]:
    """Every run the lessons need at `size`, once each (lessons share runs), as (first lesson/role, config)."""
    seen: dict[str, tuple[str, RunConfig]] = {}
    for key in keys or LESSONS:
        for role, cfg in LESSONS[key].run_specs(size).items():
            seen.setdefault(cfg.run_id(), (f"{key}/{role}", cfg))
    return list(seen.values())


def train_lesson(key: str, size: Size | None = None, store: Store | None = None, report=None) -> Runs:
    """Train (or load from the cache) every run a lesson needs, synchronously; for tests and the CLI."""
    from ...core.trainer import train

    runs = LESSONS[key].runs(size or default_size(), store)
    for role, cfg in runs.specs.items():
        res = train(cfg, report, store=runs.store)
        if res.status != "completed":
            raise RuntimeError(f"lesson '{key}': run '{role}' ended {res.status}: {res.message}")
    return runs
