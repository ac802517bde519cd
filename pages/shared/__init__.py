"""Streamlit glue shared by several pages: session state, guards, sidebar, cached computations, components.

Only code that calls Streamlit lives here; anything that computes belongs in ``vae_core``.

Importing this package also mends one Streamlit quirk (see ``_route_through_app``): every page
imports it, so it runs before any page's own code.
"""

from __future__ import annotations

import streamlit as st


def _route_through_app() -> None:
    """Send a page opened by its own URL in a fresh server through app.py's router.

    Streamlit decides once per server process whether an app uses the old ``pages/`` folder mode:
    until some script run has called ``st.navigation``, a folder named ``pages`` next to app.py
    makes it run a requested page (``/data``) on its own, without app.py, so the session has no
    state and the page fails. That happens to everyone whose tab reconnects or reloads on a deep
    link right after a server restart. When a page finds itself run that way, this switches the
    old mode off and reruns: the rerun goes through app.py (``st.navigation``), which opens the
    requested page.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a future Streamlit without the old mode: nothing to mend
        return
    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        st.rerun()


_route_through_app()
