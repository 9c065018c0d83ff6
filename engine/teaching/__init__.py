"""What the lecture teaches, computed from trained runs: the lessons (claim, runs, evidence), the
applications (compression vs PCA, denoising, anomaly detection, generation), latent-space analysis,
the Ising and graph-autoencoder analyses, and export to a standalone model file."""
