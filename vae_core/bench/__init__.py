"""Benchmarks behind ``python -m vae_core bench``: each figure in the README's Performance section comes from here.

``engine`` (training loop, decoding, UMAP, large textures), ``data`` (the data path), ``quality``
(model quality on real photographs), ``compress``, ``restore`` and ``analyze``. The top layer of
the package: a benchmark may use every other part of vae_core, and nothing imports a benchmark.
"""
