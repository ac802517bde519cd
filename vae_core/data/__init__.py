"""Untrusted bytes -> images -> patches: ``decode`` (one file), ``loaders`` (uploads, zips, folders),
``images`` (the records and label rule), ``patches`` (train/validation patches), ``samples`` (built-in set).

Only numpy and Pillow: no torch, no streamlit.
"""
