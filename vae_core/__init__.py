"""Texture VAE Explorer's engine: data, model, training, checkpoints and latent tools.

``vae_core`` is a plain library. It never imports streamlit, and importing it does no
work: torch, scikit-learn and umap are imported inside the functions that need them,
because each costs seconds to import and the app's Home page must load without them.

Modules, one idea each:

- ``data``: decode uploaded images and zip archives, with limits and labels.
- ``patches``: cut images into training/validation patches (``PatchDataset``).
- ``samples``: the built-in sample textures (procedural + scikit-image).
- ``config``: ``ModelConfig`` / ``TrainConfig`` dataclasses and presets.
- ``model``: the convolutional beta-VAE (``ConvVAE``).
- ``losses``: the VAE objective (reconstruction + beta * KL with free bits).
- ``train``: ``fit()``, the training loop (time budget, callbacks, DDP).
- ``checkpoint``: safetensors checkpoints with validated JSON metadata.
- ``metrics``: PSNR/SSIM (scikit-image) and the PCA baseline.
- ``latent``: encode/decode sets, traversals, interpolation, dimension ranking.
- ``browser_decoder``: the decoder exported for the browser (runs in ``browser_decoder.js``).
- ``bench``: throughput and latency benchmarks (``python -m vae_core bench``).
- ``cli``: the command line (``python -m vae_core ...``).
"""

__version__ = "0.1.0"
