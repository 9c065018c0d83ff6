"""The latent map that the Latent space page and lessons 2 and 3 share."""
