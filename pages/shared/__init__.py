"""Streamlit glue shared by several pages: session state, guards, sidebar, cached computations, components.

Only code that calls Streamlit lives here; anything that computes belongs in ``vae_core``.
"""
