"""Read-only views of a trained model: ``latent`` (encode, decode, dimensions in use, traversals),
``metrics`` (PSNR/SSIM and the PCA baseline), ``fullimage`` (whole images from patches), ``sliders``
(slider ranges and preview strips), ``projection`` (PCA/UMAP maps), ``latent_map`` (the map's data),
``figures`` (plotly figures as dicts).
"""
