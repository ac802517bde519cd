"""The live latent-slider panel: a Components v2 element that redraws the texture while a thumb moves.

How it stays live without a server round trip per movement:

- Python sends, in ``data``, the model's decoder once per model and browser session
  (``vae_core.model.browser_decoder``: its layers and weights, ~1.7 MB at 32 px), which the browser
  runs in plain JavaScript (``browser_decoder.js``, about 30 ms a decode on this 2-core machine).
  If the browser lacks it (a reload), it asks for it again with the trigger ``need_decoder``.
- Python also sends one sprite PNG per slider (once ready): a strip of S frames decoded along
  that slider's range with every other dimension fixed at the current code. Each strip is
  sent once (the panel keeps it, with the code it belongs to), so the reruns that poll for
  the next strips stay small and quick. While a thumb
  moves, the browser cross-fades the two pre-decoded frames either side of the thumb and eases
  the picture towards it on every animation frame (no network, no Python). A slider whose strip
  is from an older code is decoded exactly in the browser instead, once per animation frame.
- On release the browser decodes the exact code itself and draws it at once; then it sends the
  code as the trigger value ``release``. The page's callback stores it, the fragment reruns,
  decodes the same code on the server (for the download and the JSON box) and sends it back
  with a new ``exact_token``; the browser checks that picture against its own and shows it.
  Without a browser decoder, the server's picture is the first exact one.

The browser keeps measurements in ``window.__latentMetrics`` (the e2e tests read them):
``drawsDuringDrag`` and ``dragMs`` for the last drag, ``inputsDuringDrag``, ``liveDecodes``,
``releaseLatencyMs`` (pointerup to the frame that shows the exact image) and ``releaseSource``
('browser' or 'server'), ``releaseToDataMs`` (until the server's reply reached the component),
and ``browserVsServerMaxDiff`` (largest difference, 0-255, between the two exact pictures).
The panel's JavaScript and CSS are ``slider_component.js`` and ``slider_component.css`` beside this
file (read once per server); everything is served inline: no CDN.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

from vae_core.model.browser_decoder import decoder_js

COMPONENT_NAME = "texture_vae_latent_sliders"
HERE = Path(__file__).resolve().parent  # slider_component.js and .css live beside this file

_HTML = '<div class="lat-root" data-testid="latent-slider-panel"></div>'


@st.cache_resource(show_spinner=False)
def _component() -> Any:
    """The registered component (code only, no user data: safe to share across sessions)."""
    css = (HERE / "slider_component.css").read_text(encoding="utf-8")
    js = (HERE / "slider_component.js").read_text(encoding="utf-8")
    return st.components.v2.component(COMPONENT_NAME, html=_HTML, css=css, js=decoder_js() + js)


def latent_slider_panel(
    data: dict, *, key: str, on_release: Callable[[], None], on_need_decoder: Callable[[], None]
) -> Any:
    """Mount the panel. ``data``: size, frames, z, exact, exact_token, decoder={token, spec | None},
    dims=[{dim, lo, hi, active, src, hint}] (``src``: that slider's strip, sent once per code).

    ``on_release`` runs (before the rerun) when the user lets go of a slider; read the code with
    ``release_value(key)``. ``on_need_decoder`` runs when the browser lacks the decoder for
    ``decoder.token`` (send its spec again).
    """
    return _component()(
        data=data,
        key=key,
        on_release_change=on_release,
        on_poll_change=lambda: None,
        on_need_decoder_change=on_need_decoder,
    )


def release_value(key: str) -> list[float] | None:
    """The code the browser sent on release (inside the ``on_release`` callback), else None."""
    state = st.session_state.get(key) or {}
    value = state.get("release") if hasattr(state, "get") else None
    return list(value["z"]) if isinstance(value, dict) and "z" in value else None
