"""Two small image widgets in one Components v2 element (inline, no CDN): a before/after slider, click-to-place.

- :func:`before_after`: two pictures of the same size on top of each other; dragging the handle
  (or the arrow keys on it) shows the left picture on one side and the right one on the other.
  Everything happens in the browser: no rerun while dragging.
- :func:`click_to_place`: a picture with a dashed outline (the hole); a click sends its position,
  in the picture's own pixels, as the trigger ``click`` and calls ``on_click``; read it there with
  :func:`clicked_point`.

Small pictures are enlarged with crisp pixels (``image-rendering: pixelated``). The JavaScript and
CSS are ``image_widgets.js`` and ``image_widgets.css`` beside this file (read once per server).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from vae_core.imaging import data_url, to_png

COMPONENT_NAME = "texture_vae_image_widgets"
HERE = Path(__file__).resolve().parent


@st.cache_resource(show_spinner=False)
def _component() -> Any:
    """The registered component (code only, no user data: safe to share across sessions)."""
    css = (HERE / "image_widgets.css").read_text(encoding="utf-8")
    js = (HERE / "image_widgets.js").read_text(encoding="utf-8")
    return st.components.v2.component(COMPONENT_NAME, html='<div class="iw-root"></div>', css=css, js=js)


def before_after(
    left: np.ndarray, right: np.ndarray, left_label: str, right_label: str, *, key: str, max_width: int = 720
) -> None:
    """A comparison slider between two ``(H, W, C) uint8`` pictures of the same size, up to ``max_width`` px wide."""
    if left.shape[:2] != right.shape[:2]:
        st.error(f"These pictures differ in size ({left.shape[:2]} and {right.shape[:2]}); they cannot be compared.")
        return
    data = {
        "mode": "compare",
        "left": data_url(to_png(left)),
        "right": data_url(to_png(right)),
        "left_label": left_label,
        "right_label": right_label,
        "width": int(left.shape[1]),
        "height": int(left.shape[0]),
        "max_width": max_width,
    }
    _component()(data=data, key=key)


def click_to_place(
    image: np.ndarray,
    hole: tuple[int, int, int, int] | None,
    *,
    key: str,
    on_click: Callable[[], None],
    max_width: int = 512,
) -> None:
    """``image`` (H, W, C) uint8 with ``hole`` = (top, left, h, w) outlined; a click calls ``on_click``."""
    data = {
        "mode": "pick",
        "image": data_url(to_png(image)),
        "hole": [int(v) for v in hole] if hole is not None else None,
        "width": int(image.shape[1]),
        "height": int(image.shape[0]),
        "max_width": max_width,
    }
    _component()(data=data, key=key, on_click_change=on_click)


def clicked_point(key: str) -> tuple[int, int] | None:
    """The (x, y) the browser sent for the last click on ``click_to_place(key=key)`` (inside ``on_click``)."""
    state = st.session_state.get(key) or {}
    value = state.get("click") if hasattr(state, "get") else None
    if isinstance(value, dict) and "x" in value and "y" in value:
        return int(value["x"]), int(value["y"])
    return None
