"""The Latent space page's own panels: draw your own digit, AE vs VAE interpolation."""
