"""Training engine for autoencoders and VAEs: pure Python + torch (never imports streamlit).

Layers, lowest first (a lower layer never imports a higher one; import-linter checks it):
    engine.data      datasets by name (MNIST, Ising, uploads, graphs, subsets)
    engine.core      config, presets, models, losses, the training loop, the checkpoint store
    engine.jobs      background job backends (embedded worker processes, Ray) and classroom mode
    engine.teaching  lessons, applications, latent-space analysis, export
    engine.cli       `python -m engine ...`
Importing `engine` itself loads nothing, so `python -m engine --help` answers at once.
"""
