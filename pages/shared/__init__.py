"""Streamlit glue shared by several pages: session state, guards, sidebar, cached views, charts.

A sub-package, so Streamlit never mistakes these modules for pages.
"""
