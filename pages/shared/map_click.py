"""Clicks on the Latent map in every drag mode: a small relay element beside Streamlit's Plotly chart.

Streamlit turns a click on a Plotly chart into a selection only while the chart's drag mode is pan
or zoom; in box or lasso mode (the map's default, so that dragging selects a group as the page
says) a click reaches no one. ``map_click.js`` listens to Plotly's own click on the map and sends
the clicked trace and point back; ``last_click`` returns it while it is newer than the chart's
selection. The JavaScript is served inline (no CDN), read once per server.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import streamlit as st

from pages.shared import session

COMPONENT_NAME = "texture_vae_map_click"
RELAY_KEY = "map_click_relay"  # the relay element's key


@st.cache_resource(show_spinner=False)
def _component() -> Any:
    """The registered component (code only, no user data: safe to share across sessions)."""
    js = (Path(__file__).resolve().parent / "map_click.js").read_text(encoding="utf-8")
    return st.components.v2.component(COMPONENT_NAME, html="<div hidden></div>", js=js)


def last_click(chart_key: str, figure: str) -> dict | None:
    """Mount the relay for the chart ``chart_key`` and return its last click on ``figure``, else None.

    ``figure`` names what is drawn (model, data, layout, colouring): a click on another figure's
    traces means nothing here. A click counts until the chart's own selection changes (a new box,
    lasso, pan-mode click or double-click), so the newer of the two always wins.
    """

    def on_click() -> None:
        value = (st.session_state.get(RELAY_KEY) or {}).get("click")
        if isinstance(value, dict):
            chart = st.session_state.get(chart_key) or {}
            value["selection"] = json.dumps(chart.get("selection"), sort_keys=True, default=str)
            st.session_state[session.MAP_CLICK] = value

    _component()(data={"chart_key": chart_key, "figure": figure}, key=RELAY_KEY, on_click_change=on_click)
    click = st.session_state.get(session.MAP_CLICK)
    chart = st.session_state.get(chart_key) or {}
    if (
        click
        and click.get("figure") == figure
        and click.get("selection") == json.dumps(chart.get("selection"), sort_keys=True, default=str)
    ):
        return click
    return None
