"""The lecture's formulas as LaTeX strings (for `st.latex`), optionally filled in with a run's numbers.

Pure functions: numbers in, a LaTeX string out (no `$`, KaTeX-compatible). The pages place them beside the
plot that shows the same quantity; the Lessons page reuses them. Loss values are per image, as the
engine logs them (sums over pixels / latent dimensions, means over the batch).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

PIXELS = 784


def num(x: float | None, digits: int = 4) -> str:
    """A number for LaTeX: `digits` significant digits, powers of ten as ×10^k, '?' when unknown."""
    if x is None or not math.isfinite(x):
        return r"\text{?}"
    s = f"{x:.{digits}g}"
    if "e" in s:
        mantissa, exp = s.split("e")
        return rf"{mantissa}\times 10^{{{int(exp)}}}" if mantissa != "1" else rf"10^{{{int(exp)}}}"
    return s


def aligned(*lines: str) -> str:
    """Lines stacked and aligned at their '&' (KaTeX's aligned): keeps a formula narrow enough for a column."""
    return r"\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}"


# ---- reconstruction terms --------------------------------------------------------------------------
def distance(recon: str = "mse", reduction: str = "sum", pixels: int = PIXELS, target: str = "x",
             output: str = r"\hat x") -> str:
    """d(x, x̂): the reconstruction error of one image, as the engine computes it (BCE by name; `bce()`
    writes it out)."""
    d = rf"\mathrm{{BCE}}({target}, {output})" if recon == "bce" else rf"\|{target} - {output}\|_2^2"
    return rf"\tfrac{{1}}{{{pixels}}}{d}" if reduction == "mean" else d


def bce() -> str:
    """The binary cross-entropy of an image, summed over its pixels: −log p(x|x̂) of a Bernoulli decoder."""
    return r"\mathrm{BCE}(x, \hat x) = -\sum_{i}\big[x_i\log \hat x_i + (1-x_i)\log(1-\hat x_i)\big]"


def corruption(kind: str, level: float) -> str:
    """T(x), the denoising corruption."""
    if kind == "mask":
        return rf"T(x) = x\odot m,\ m_i\sim\mathrm{{Bernoulli}}({num(1 - level, 3)})"
    return rf"T(x) = \mathrm{{clip}}_{{[0,1]}}\big(x + {num(level, 3)}\,\epsilon\big),\ \epsilon\sim\mathcal{{N}}(0, I)"


def pixel_error(mean: float | None = None, pixels: int = PIXELS) -> str:
    """The mean squared pixel error of a reconstruction (pixels in [0, 1]); with a number, its average."""
    head = (rf"\mathrm{{err}}(x) = \tfrac{{1}}{{{pixels}}}\sum_{{p=1}}^{{{pixels}}}"
            r"\big(x_p - D_\theta(E_\phi(x))_p\big)^2")
    return head if mean is None else aligned("&" + head, rf"&\overline{{\mathrm{{err}}}} = {num(mean, 3)}")


def sampling(temperature: float = 1.0, matched: bool = False) -> str:
    """How fresh samples are made: z from the prior (or the AE codes' own spread), then the decoder."""
    t = "" if temperature == 1 else rf"{num(temperature, 3)}^2\,"
    dist = rf"\mathcal{{N}}(\mu_{{codes}}, {t}\sigma_{{codes}}^2)" if matched else rf"\mathcal{{N}}(0, {t}I)"
    return rf"z\sim {dist},\qquad x = D_\theta(z)"


# ---- the lecture's AE losses ---------------------------------------------------------------------------
def ae_vanilla() -> str:
    """The lecture's vanilla AE loss with the empirical measure μ_ref."""
    return aligned(r"&\mu_{ref} = \frac{1}{N}\sum_{i=1}^N \delta_{x_i},\quad d(x, x') = \|x - x'\|_2^2",
                   r"&L(\theta, \phi) := \mathbb{E}_{x\sim\mu_{ref}}\big[d(x, D_\theta(E_\phi(x)))\big]")


def ae_denoising() -> str:
    return r"L(\theta, \phi) = \mathbb{E}_{x\sim\mu_X,\,T\sim\mu_T}\big[d(x, (D_\theta\circ E_\phi\circ T)(x))\big]"


def ae_contractive() -> str:
    return r"L_{contractive}(\theta, \phi) = \mathbb{E}_{x\sim\mu_{ref}}\,\|\nabla_x E_\phi(x)\|_F^2"


def ae_sparsity() -> str:
    return aligned(r"&L_{sparsity}(\theta, \phi) = \mathbb{E}_{x\sim\mu_X}\Big[\sum_{k\in 1:K} w_k\, "
                   r"s(\hat\rho_k, \rho_k(x))\Big]",
                   r"&\rho_k(x) = \frac{1}{n}\sum_{i=1}^n a_{k,i}(x),\quad s(\rho, \hat\rho) = KL(\rho\,\|\,\hat\rho)")


def ae_loss(recon: str = "mse", reduction: str = "sum", *, noise: tuple[str, float] | None = None,
            contractive: float = 0.0, sparsity: float = 0.0, rho: float = 0.05,
            values: dict[str, float] | None = None, pixels: int = PIXELS) -> str:
    """The loss a plain AE run minimises, with only its active terms and its weights, one per line; with
    `values` ({"recon", "contractive", "sparsity", "loss"} per image, as logged) a last line puts in the numbers."""
    denoise = bool(noise and noise[1] > 0)
    lines = [r"\mathcal{L} &= \mathbb{E}_{x}\big[" + distance(recon, reduction, pixels, "x",
                                                              rf"D_\theta(E_\phi({'T(x)' if denoise else 'x'}))")
             + r"\big]"]
    if contractive > 0:
        lines.append(rf"&\quad + {num(contractive, 3)}\;\mathbb{{E}}_x\|\nabla_x E_\phi(x)\|_F^2")
    if sparsity > 0:
        lines.append(rf"&\quad + {num(sparsity, 3)}\sum_j KL\big({num(rho, 3)}\,\|\,\hat\rho_j\big)")
    if values:
        scale = rf"\tfrac{{1}}{{{pixels}}}\cdot " if reduction == "mean" else ""
        nums = [scale + num(values.get("recon"))]
        if contractive > 0:
            nums.append(rf"{num(contractive, 3)}\cdot {num(values.get('contractive'))}")
        if sparsity > 0:
            nums.append(rf"{num(sparsity, 3)}\cdot {num(values.get('sparsity'))}")
        filled = " + ".join(nums)
        lines.append(f"&= {filled}" + ("" if filled == num(values.get("loss")) else rf" = {num(values.get('loss'))}"))
    if denoise:
        lines.append(r"&\text{with } " + corruption(*noise))
    return aligned(*lines)


# ---- the VAE ----------------------------------------------------------------------------------------
def elbo() -> str:
    """The evidence lower bound and the loss as its negative."""
    return aligned(r"\log p_\theta(x) &\ge \mathrm{ELBO}", r"&= \mathbb{E}_{q_\phi(z|x)}\big[\log p_\theta(x|z)\big]",
                   r"&\quad - D_{KL}\big(q_\phi(z|x)\,\|\,p(z)\big)")


def vae_loss(recon: float | None = None, kl: float | None = None, beta: float = 1.0, recon_kind: str = "bce",
             reduction: str = "sum", pixels: int = PIXELS) -> str:
    """L = recon + β·KL (the negative ELBO at β = 1), over two lines; with numbers a third fills it in."""
    d = distance(recon_kind, reduction, pixels, "x", r"D_\theta(z)")
    recon_term = rf"\mathbb{{E}}_{{z\sim q_\phi(z|x)}}\big[{d}\big]"
    lines = [rf"\mathcal{{L}} &= \underbrace{{{recon_term}}}_{{\text{{reconstruction}}}}",
             r"&\quad + \beta\,\underbrace{D_{KL}\big(q_\phi(z|x)\,\|\,\mathcal{N}(0, I)\big)}_{\text{KL}}"]
    if recon is not None and kl is not None:
        scale = rf"\tfrac{{1}}{{{pixels}}}\cdot " if reduction == "mean" else ""
        total = (recon / pixels if reduction == "mean" else recon) + beta * kl
        lines.append(rf"&= {scale}{num(recon)} + {num(beta, 3)}\times {num(kl)} = {num(total)}")
    return aligned(*lines)


def kl_closed_form() -> str:
    """The closed-form KL of a diagonal Gaussian to N(0, I), summed over the K latent dimensions."""
    return aligned(r"&D_{KL}\big(\mathcal{N}(\mu, \sigma^2)\,\|\,\mathcal{N}(0, I)\big)",
                   r"&\quad = -\tfrac{1}{2}\sum_{j=1}^{K}\big(1 + \log\sigma_j^2 - \mu_j^2 - \sigma_j^2\big)")


def kl_one_dim(mu: float, sigma: float) -> str:
    """One dimension of the closed form with numbers: −½(1 + log σ² − μ² − σ²) = value."""
    s2 = sigma * sigma
    value = -0.5 * (1 + math.log(s2) - mu * mu - s2) if s2 > 0 else math.inf
    return aligned(rf"&-\tfrac{{1}}{{2}}\big(1 + \log {num(s2, 3)} - ({num(mu, 3)})^2 - {num(s2, 3)}\big)",
                   rf"&\quad = {num(value, 3)}\ \text{{nats}}")


def kl_sum(per_dim: Sequence[float], show: int = 3) -> str:
    """Σ_j KL_j with the run's numbers: the largest `show` terms named, the rest summed."""
    vals = [float(v) for v in per_dim]
    order = sorted(range(len(vals)), key=lambda j: -vals[j])
    terms = [rf"\underbrace{{{num(vals[j], 3)}}}_{{z_{{{j + 1}}}}}" for j in order[:show]]
    if len(vals) > show:
        rest = num(sum(vals[j] for j in order[show:]), 3)
        terms.append(rf"\underbrace{{{rest}}}_{{\text{{other {len(vals) - show}}}}}")
    return aligned(rf"\sum_{{j=1}}^{{{len(vals)}}} KL_j &= " + " + ".join(terms),
                   rf"&= {num(sum(vals), 4)}\ \text{{nats per image}}")


def reparameterization(mu: float | None = None, sigma: float | None = None, eps: float | None = None) -> str:
    """z = μ + σ⊙ε; with numbers (one coordinate) a second line fills it in."""
    head = r"&z = \mu_\phi(x) + \sigma_\phi(x)\odot\varepsilon,\quad \varepsilon\sim\mathcal{N}(0, I)"
    if mu is None or sigma is None or eps is None:
        return aligned(head)
    return aligned(head, rf"&z_1 = {num(mu, 3)} + {num(sigma, 3)}\times({num(eps, 3)}) = {num(mu + sigma * eps, 3)}")


def reparam_gradients() -> str:
    """Why the trick lets the gradient through: z is a differentiable function of μ and σ."""
    return aligned(r"&\text{trick: } \frac{\partial z}{\partial\mu} = 1,\quad \frac{\partial z}{\partial\sigma} = "
                   r"\varepsilon",
                   r"&\text{.sample(): } z\sim\mathcal{N}(\mu, \sigma^2)\text{, no } \partial z/\partial\mu")


def score_function() -> str:
    """The score-function (REINFORCE) estimator, the alternative when sampling cannot be reparameterized."""
    return aligned(r"\nabla_\mu\,\mathbb{E}_{z\sim q}[f(z)] &= \mathbb{E}_{z\sim q}\big[f(z)\,\nabla_\mu\log q(z)\big]",
                   r"&= \mathbb{E}_{z\sim q}\Big[f(z)\,\frac{z-\mu}{\sigma^2}\Big]")


# ---- the Bayesian picture ----------------------------------------------------------------------------
def marginal_likelihood() -> str:
    return (r"p(X) = \sum_{Z} \underbrace{p(X|Z)}_{\text{decoder}}\;\underbrace{p(Z)}_{\text{latent "
            r"distribution}}")


def encoder_posterior() -> str:
    return r"p(Z|X) \approx q_\phi(Z|X) = \mathcal{N}\big(\mu_\phi(X),\ \mathrm{diag}\,\sigma^2_\phi(X)\big)"


def uniform_prior_fails() -> str:
    """KL to a uniform prior is infinite as soon as the Gaussian posterior has mass outside its support."""
    return aligned(r"D_{KL}\big(q\,\|\,\mathcal{U}[-a, a]\big) &= \int q(z)\log\frac{q(z)}{p(z)}\,dz = \infty",
                   r"&\text{since } q(z) > 0 = p(z) \text{ for } |z| > a")


def aggregate_posterior(mean: float | None = None, std: float | None = None) -> str:
    """p(Z) = Σ_X p(Z|X)p(X) = N(0, I); with numbers, the measured mean and spread of the aggregate."""
    lines = [r"p(Z) &= \sum_X p(Z|X)\,p(X)", r"&= \sum_X \mathcal{N}(0, I)\,p(X)",
             r"&= \mathcal{N}(0, I)\sum_X p(X) = \mathcal{N}(0, I)"]
    if mean is not None and std is not None:
        lines.append(rf"&\text{{measured: }}\overline{{z}} = {num(mean, 2)},\ \ \mathrm{{std}}(z) = {num(std, 3)}")
    return aligned(*lines)


def total_variance(var_mu: float | None = None, mean_var: float | None = None) -> str:
    """Var[z] = Var[μ] + E[σ²] (law of total variance): why std(μ) < 1 when the aggregate matches N(0, I)."""
    head = (r"\mathrm{Var}[z] &= \underbrace{\mathrm{Var}_x[\mu_\phi(x)]}_{\text{spread of the means}} + "
            r"\underbrace{\mathbb{E}_x[\sigma^2_\phi(x)]}_{\text{posterior noise}}")
    if var_mu is None or mean_var is None:
        return aligned(head)
    return aligned(head, rf"&= {num(var_mu, 3)} + {num(mean_var, 3)} = {num(var_mu + mean_var, 3)}")


# ---- the curse of dimensionality --------------------------------------------------------------------------
def hypersphere_ratio(d: int | None = None, value: float | None = None) -> str:
    """The lecture's V_sphere / V_cube → 0, optionally at one d with its value."""
    head = r"\frac{V_{\text{hypersphere}}}{V_{\text{hypercube}}} = \frac{\pi^{d/2}}{d\,2^{d-1}\,\Gamma(d/2)}"
    if d is None or value is None:
        return head + r"\ \xrightarrow{d\to\infty}\ 0"
    return head + rf" = {num(value, 3)}\quad(d = {d})"


def sample_cost(d: int | None = None, per_axis: float | None = None) -> str:
    """Samples needed to keep `per_axis` samples along every axis of a d-dimensional space: N = n^d."""
    head = r"N(d) = n^{d}"
    if d is None or per_axis is None:
        return head + r"\quad\text{(}n\text{ samples per axis, }d\text{ axes)}"
    power = rf" = 10^{{{d * math.log10(per_axis):.1f}}}" if per_axis != 10 else ""  # 10^10 needs no 10^10.0
    return head + rf" = {num(per_axis, 3)}^{{{d}}}{power}"


def per_axis(n_samples: int | None = None, d: int | None = None) -> str:
    """The density a fixed sample gives: n = N^{1/d} samples per axis."""
    head = r"n = N^{1/d}"
    if n_samples is None or d is None:
        return head
    return head + rf" = {n_samples:,}".replace(",", "{,}") + rf"^{{1/{d}}} = {num(n_samples ** (1 / d), 3)}"
