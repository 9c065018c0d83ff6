"""The core: run configuration and presets, the models, the loss terms, the one training loop and the
checkpoint store. Imports only `engine.data` (the trainer loads datasets by name; configs validate them)."""
