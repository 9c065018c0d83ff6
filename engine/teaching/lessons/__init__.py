"""The lecture's claims as lessons: each one names the runs it needs and computes its evidence from them.

A lesson = a claim, the runs that show it (RunConfigs from `engine.core.presets.preset`, small enough to train
on a laptop CPU in a minute or two; longer on a GPU), an evidence function (numbers and uint8 images computed
from the trained runs) and one or two sentences saying why it happens. A lesson that compares runs names what
differs between them (`Lesson.comparisons`, `Lesson.diffs`: a table computed from the configs), and arms whose
difference is small next to the seed-to-seed spread are trained at 3 seeds (`Lesson.replicated`). Runs go
through the checkpoint cache, so a class opening the same lesson trains each run once. Pure torch: the pages
draw what this returns.

    from engine.teaching.lessons import LESSONS, train_lesson
    runs = train_lesson("beta", size="cpu")      # trains (or loads) the β sweep
    ev = LESSONS["beta"].evidence(runs)          # {"rows": [...], "curves": [...], ...}
    LESSONS["mlp-cnn"].diffs("cpu")              # what differs between the runs each comparison sets side by side

Modules: `base` (sizes, Runs, seeds, config differences), one module per topic (`architecture`, `latent`, `vae`,
`regularizers`, `capacity`, `curse`) and `catalog` (the texts, LESSONS, the list of every run).
"""

from .architecture import mlp_cnn_evidence, mlp_cnn_specs, shift, shifted_error
from .base import (
    N_SHOW,
    OFFERED_SIZES,
    SEEDS,
    SEPARATED,
    SIZES,
    Comparison,
    Lesson,
    Runs,
    Size,
    budget,
    config_diff,
    default_size,
    differing_fields,
    n_weights,
    named,
    seed_stats,
    separated,
    sq_err,
    u8,
    with_seeds,
)
from .capacity import complete_evidence, complete_specs, strangers
from .catalog import LESSONS, lesson_runs, train_lesson
from .curse import DIMS, curse_evidence, distance_contrast, monte_carlo_ratio, sphere_cube_ratio
from .latent import (
    ae_latent_evidence,
    gaussian_gap,
    latent_evidence,
    latent_specs,
    nearest_real,
    plane_grid,
    vae_latent_evidence,
)
from .regularizers import (
    contractive_evidence,
    denoising_evidence,
    regularizer_evidence,
    regularizer_specs,
    sensitivity,
    sparsity_evidence,
)
from .vae import BETAS, beta_evidence, beta_specs, epochs_evidence, epochs_specs

__all__ = [
    "BETAS", "DIMS", "LESSONS", "N_SHOW", "OFFERED_SIZES", "SEEDS", "SEPARATED", "SIZES", "Comparison", "Lesson",
    "Runs", "Size",
    "ae_latent_evidence", "beta_evidence", "beta_specs", "budget", "complete_evidence", "complete_specs",
    "config_diff", "contractive_evidence", "curse_evidence", "default_size", "denoising_evidence",
    "differing_fields", "distance_contrast", "epochs_evidence", "epochs_specs", "gaussian_gap", "latent_evidence",
    "latent_specs", "lesson_runs", "mlp_cnn_evidence", "mlp_cnn_specs", "monte_carlo_ratio", "n_weights", "named",
    "nearest_real", "plane_grid", "regularizer_evidence", "regularizer_specs", "seed_stats", "sensitivity",
    "separated", "shift", "shifted_error", "sparsity_evidence", "sphere_cube_ratio", "sq_err", "strangers",
    "train_lesson", "u8", "vae_latent_evidence", "with_seeds",
]
