"""Home: what the models are, the lecture's pictures in words, where everything is, and whether a GPU was found.

It draws its text before loading PyTorch (the GPU check), so a student sees the page at once."""

from textwrap import dedent

import streamlit as st

from ui.nav import SECTIONS, link

INTRO = dedent("""
    An **autoencoder (AE)** squeezes an image through a small code *z* (the *latent*) with an **encoder** and
    rebuilds it with a **decoder**; it learns only by trying to make the rebuilt image match the input.
    A **variational autoencoder (VAE)** makes the encoder output a *distribution* — a mean μ and a spread σ —
    samples z from it, and adds a **KL term** that pulls these distributions toward a standard normal N(0, I).
    That extra pull fills the latent space evenly, so decoding a random z ~ N(0, I) gives a new, plausible digit:
    the VAE is a **generative model**, the plain AE is a compressor.
""")

PICTURES = dedent("""
    - **The hourglass.** 784 pixels → narrower and narrower layers → a handful of numbers *z* → wider layers → 784
      pixels. An *under-complete* AE (latent < 784) must compress; an *over-complete* one (latent > 784) could just
      copy the input, so it needs a regulariser (sparsity, noise, a contractive penalty) to learn anything useful.
    - **MLP vs CNN reconstructions.** The lecture's MLP autoencoder (784-128-64-12-3) rebuilds MNIST digits as blurry
      blobs; the CNN autoencoder keeps strokes sharper because convolutions know that nearby pixels belong together.
    - **The AE's latent map** has a cluster per digit with *empty space* between them: decode a point from a gap and
      you get a smudge that is no digit. **The VAE's latent map** is one round, regular cloud around 0, so every point
      decodes to something digit-like, and walking across it morphs one digit into another. Click either map on the
      **Latent space** page to decode any point, or draw your own digit and see where it lands.
    - **The reparameterisation trick.** z = μ + σ·ε with ε ~ N(0, I): the randomness sits in ε, so gradients flow
      through μ and σ back to the encoder. The **VAE theory** page measures it with autograd on your own VAE, beside
      the lecture's Bayesian slides.
    - **The tension.** The reconstruction loss hates noise (it wants σ → 0 and codes far apart); the KL term wants
      noise (σ → 1, codes near 0). β sets the exchange rate — watch the two fight on the **Live run** page.
""")


def gpu_note() -> None:
    """Whether training will run on a GPU (the first import of PyTorch takes a few seconds)."""
    with st.spinner("Loading PyTorch…"):
        import torch

        name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    if name:
        st.success(f"GPU found: {name} — training runs on it (device 'auto').", icon=":material/memory:")
    else:
        st.info("No GPU found — training runs on the CPU. That is fine here: a 2-epoch VAE on 2,000 of the "
                "bundled digits takes seconds.", icon=":material/memory:")


st.title("Autoencoders & VAEs — learn them by training them")
st.markdown(INTRO)
with st.expander("The lecture's pictures, in words", icon=":material/draw:"):
    st.markdown(PICTURES)

left, right = st.columns([3, 2])
with left:
    st.subheader("Where to go")
    for section, pages in SECTIONS.items():
        st.caption(section)
        for key, spec in pages.items():
            if key != "home":
                link(key, f"**{spec.title}** — {spec.blurb}")
with right:
    st.subheader("This machine")
    machine = st.container()  # filled last: the text below does not wait for PyTorch
    st.markdown("**Quick start:** Train → preset **seed-vae** → *Quick demo settings* → **Launch**. "
                "The Live run page opens by itself.")
    st.subheader("Data")
    st.caption("The default dataset is the real MNIST test set bundled with the app (10,000 handwritten digits, "
               "works offline): 9,000 for training, 1,000 held out for every picture you see. "
               "MNIST by Yann LeCun, Corinna Cortes and Christopher J.C. Burges, CC BY-SA 3.0.")
with machine:
    gpu_note()
