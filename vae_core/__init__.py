"""Texture VAE Explorer's engine: a plain PyTorch library, usable from a notebook, a script or the CLI.

Subpackages follow the data's path; imports point down this list only:

- ``tasks``: what a VAE is for (generate, restore, compress, analyze), each next to its classic method.
- ``explore``: read-only views of a trained model (codes, metrics and PCA, maps, sliders, figures).
- ``training``: ``fit`` and background jobs.
- ``model``: the VAE, its loss, checkpoints, the browser decoder.
- ``data``: uploads -> images -> patches, and the built-in samples.
- ``config`` (every setting) and ``imaging`` (pixel helpers), used by all of the above.

``cli`` and ``bench`` sit beside them (``python -m vae_core ...``). Nothing here imports
streamlit, and importing the package does no work: torch, scikit-learn and umap are imported
where they are needed, because each costs seconds and the app's Home page must load without them.
"""

__version__ = "0.1.0"
