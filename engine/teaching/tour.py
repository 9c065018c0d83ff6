"""The guided tour: the lecture's story in its own order, one prediction per step.

Each step asks the student to predict before anything is shown (`question`, `choices`, the index of the right
`answer`), then the Lessons page reveals the evidence of `lesson` (a key of `engine.teaching.lessons.LESSONS`, or
"" for a step that shows formulas and points to another page) and `reveal` says what it means. The right answers
are the lessons' claims, which tests/test_lessons.py asserts numerically on trained runs. Pure data, no Streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TourStep:
    key: str
    title: str
    lesson: str  # a LESSONS key whose evidence is revealed, or "" (formulas and a link instead)
    question: str
    choices: tuple[str, ...]
    answer: int  # index into choices
    reveal: str  # what the evidence shows, in one or two sentences


TOUR: tuple[TourStep, ...] = (
    TourStep(
        "curse", "The curse of dimensionality", "curse",
        "Put a ball inside a cube so it touches every face. As the dimension d grows, what share of the cube's "
        "volume does the ball fill?",
        ("About half, whatever d is", "It grows towards all of it", "It shrinks towards nothing"), 2,
        "V_sphere/V_cube → 0: at d = 10 the ball fills 0.25 % of the cube, and distances between random points become "
        "nearly equal. Compressing data to a few dimensions gives distances (and learning) their meaning back."),
    TourStep(
        "ae-uses", "An autoencoder and what it is for", "complete",
        "An autoencoder trained to rebuild digits through a 16-number code is shown a square or a ring it has never "
        "seen. What comes out?",
        ("A faithful copy of the shape", "Something digit-like: it draws what it knows", "A black image"), 1,
        "Squeezed through a narrow code, the network keeps only what digits have in common, so whatever goes in comes "
        "out as a digit. An over-complete code with no penalty copies such shapes instead (not pure noise: it varies "
        "in directions no digit does, which the model never learned to pass) — hence the regularizers."),
    TourStep(
        "mlp-cnn", "MLP vs CNN", "mlp-cnn",
        "The lecture's MLP autoencoder (3-number code) blurs digits that its CNN (32-number code) keeps sharper. Give "
        "the MLP a 32-number code too. What happens?",
        ("It stays much blurrier than the CNN: convolutions are what matters",
         "It reconstructs about as well as the CNN: the 3-number code made the blur",
         "It gets worse than with 3 numbers"), 1,
        "The lecture's pair changes two things at once. At equal code size the MLP and the CNN reach about the same "
        "error — the CNN with far fewer weights, and it copes better with digits moved by a few pixels."),
    TourStep(
        "ae-latent", "The AE's latent space has holes", "ae-latent",
        "A plain autoencoder with a 2-D code: decode points between the clusters of codes. What do you get?",
        ("Clean digits everywhere", "Blends and distortions that look like no digit", "Black images"), 1,
        "Nothing in the AE's loss says where codes go, so the decoder was never trained on the gaps: what it draws "
        "there is arbitrary. Click on the map to see for yourself."),
    TourStep(
        "regularizers", "Regularized autoencoders", "regularizers",
        "Train the same AE on noisy inputs with the clean digits as targets. Shown noisy held-out digits, whose output "
        "is closer to the clean digit?",
        ("The AE trained on clean inputs", "The denoising AE", "No difference: it is the same network"), 1,
        "A penalty or a corruption gives the same capacity a code with a useful property: denoising AEs clean inputs, "
        "contractive AEs resist small changes, sparse AEs switch most units off."),
    TourStep(
        "vae-idea", "The VAE idea and the reparameterization trick", "",
        "A VAE's encoder outputs μ and σ, and the decoder gets a sample z ~ N(μ, σ²). If the network draws z directly, "
        "does the gradient of the loss reach μ and σ?",
        ("Yes, as through any layer", "No: sampling blocks it — write z = μ + σ·ε and it flows",
         "Only σ gets a gradient"), 1,
        "A random draw has no derivative with respect to its parameters. Writing z = μ + σ⊙ε with ε ~ N(0, I) moves "
        "the randomness into an input, and μ and σ get ordinary gradients. The VAE theory page measures both "
        "with autograd on a trained VAE."),
    TourStep(
        "vae-latent", "The VAE's latent space", "vae-latent",
        "Add sampling and the KL term to the same network as the holey AE. Where do the codes go?",
        ("The same clusters and holes", "Near the origin, spread about like N(0, I), with far fewer holes",
         "All to one point"), 1,
        "The KL term pulls every posterior towards N(0, I) and the noise makes neighbouring codes decode alike: the "
        "region around the origin is filled, and a grid over the prior decodes to a smooth map of digits."),
    TourStep(
        "beta", "The β tension", "beta",
        "The loss is reconstruction + β·KL. Raise β from 0 to 16: what happens to the KL (rate) and the reconstruction "
        "error (distortion)?",
        ("Both fall", "The KL falls and the reconstruction error rises", "The KL rises and the reconstruction error "
                                                                          "falls"), 1,
        "β is the price of each nat of information in z: cheap information (β = 0) gives an AE with σ → 0, expensive "
        "information switches latent dimensions off and blurs."),
    TourStep(
        "epochs", "Samples over the epochs", "epochs",
        "Decode the same 64 random codes z ~ N(0, I) after every epoch. How do they change?",
        ("They are digits from the first epoch on", "Blobs first, then strokes and digits", "They get blurrier"), 1,
        "Early on the decoder only knows the average digit; strokes and shapes appear as the ELBO improves."),
    TourStep(
        "applications", "Applications", "applications",
        "An autoencoder trained on every digit except 2 is shown held-out digits, 2s included. Does its reconstruction "
        "error pick out the 2s?",
        ("No: it rebuilds a 2 as well as any digit", "Yes: 2s reconstruct worse, so the error flags most of them",
         "Only if it was also trained on 2s"), 1,
        "A model rebuilds what it has seen: an unusual input has a high reconstruction error (AUC well above 0.5). "
        "Compression, denoising and generation are on the Applications page."),
)

STEPS: dict[str, TourStep] = {s.key: s for s in TOUR}


def verdict(step: TourStep, choice: int) -> tuple[bool, str]:
    """Whether the prediction `choice` was right, and a sentence saying so."""
    if choice == step.answer:
        return True, f"Right — “{step.choices[step.answer]}”."
    return False, f"Not quite: you predicted “{step.choices[choice]}”; the evidence says “{step.choices[step.answer]}”."
