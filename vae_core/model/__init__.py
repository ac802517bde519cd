"""The VAE and what travels with it: ``vae`` (ConvVAE), ``losses`` (the beta-ELBO), ``history`` (curves and
resume state), ``checkpoint`` (safetensors files), ``browser_decoder`` (the decoder exported to JavaScript).
"""
