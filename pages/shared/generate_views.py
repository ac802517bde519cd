"""Widgets of the Generate page: pick a code, keep each tab's result, show and download it, the larger tabs.

Streamlit glue only: the codes, pictures and recipes come from ``vae_core.tasks``. "Open a recipe" is here too.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from pages.shared import cached, session
from pages.shared.recipe_io import recipe_download, recipe_upload
from vae_core.explore.latent import encode

SOURCES = ("A patch from my dataset", "An image I upload", "A random sample", "The Latent sliders' code")


def pick_code(title: str, key: str, model: Any, data: Any, patch: int = 1) -> tuple[np.ndarray, str] | None:
    """A code chosen one of four ways, with its picture; (code (D,), words for it) or None while incomplete."""
    from vae_core.tasks.generate import prior_codes

    kind = st.selectbox(title, SOURCES, key=f"{key}_kind")
    z, label = None, ""
    if kind == SOURCES[0]:
        i = st.number_input("Patch number", 1, len(data.train), min(patch, len(data.train)), key=f"{key}_patch") - 1
        z, label = encode(model, data.train[i : i + 1]).mu[0], f"patch {i + 1}"
    elif kind == SOURCES[1]:
        upload = st.file_uploader(f"An image (its centre, as {model.config.image_size} px)", key=f"{key}_upload")
        z, label = _uploaded(key, upload, model) if upload is not None else (None, "")
    elif kind == SOURCES[2]:
        seed = st.number_input("Seed", 0, 10**6, patch, key=f"{key}_seed", help="Each seed draws another texture.")
        z, label = prior_codes(model.latent_dim, 1, 1.0, seed)[0], f"random sample (seed {seed})"
    elif st.session_state.get(session.LAT_Z) is not None:
        z, label = np.asarray(st.session_state[session.LAT_Z], np.float32), "the Latent sliders' code"
    else:
        st.info("Open the Latent sliders first (or click a point on the Latent map): their code appears here.")
    if z is None:
        return None
    st.image(cached.exact_png(model, st.session_state[session.MODEL_VERSION], tuple(map(float, z))), width=96)
    return np.asarray(z, np.float32), label


def _uploaded(key: str, upload: Any, model: Any) -> tuple[np.ndarray | None, str]:
    """The code of an uploaded image's centre, encoded once per file; errors are shown."""
    from vae_core.data.decode import decode_image
    from vae_core.data.images import ImageRejected, to_channels
    from vae_core.imaging import center_patch

    seen = st.session_state.setdefault(session.GEN_UPLOADS, {})
    if key in seen and seen[key][0] == (upload.file_id, st.session_state[session.MODEL_VERSION]):
        return seen[key][1], f"uploaded {upload.name}"
    try:
        pixels = to_channels(decode_image(upload.getvalue(), upload.name).pixels, model.config.channels)
    except ImageRejected as exc:
        st.error(str(exc))
        return None, ""
    z = encode(model, center_patch(pixels, model.config.image_size)[None]).mu[0]
    seen[key] = ((upload.file_id, st.session_state[session.MODEL_VERSION]), z)
    return z, f"uploaded {upload.name}"


def keep(tab: str, recipe: Any, shown: Any) -> None:
    """Remember ``tab``'s newest result (its recipe, and what to show) for this model."""
    results = st.session_state.setdefault(session.GEN_RESULTS, {})
    results[tab] = {"model_version": st.session_state[session.MODEL_VERSION], "recipe": recipe, "shown": shown}


def kept(tab: str) -> dict | None:
    """``tab``'s last result if it was made with the current model, else None."""
    found = st.session_state.setdefault(session.GEN_RESULTS, {}).get(tab)
    return found if found and found["model_version"] == st.session_state[session.MODEL_VERSION] else None


def open_in_sliders(z: np.ndarray, label: str, key: str, where: Any = st, short: bool = False) -> None:
    """A button that makes ``z`` the Latent sliders' starting point and goes there (one click)."""
    text = "Sliders" if short else "Open in Latent sliders"
    if where.button(text, key=key, icon=":material/tune:", help="Open it in the Latent sliders to change it by hand"):
        session.set_slider_start(z, label)
        st.switch_page("pages/latent_sliders.py")


def downloads(key: str, recipe: Any, stem: str, files: list[tuple[str, bytes, str]]) -> None:
    """One row of download buttons: ``files`` as (label, bytes, file name), then the recipe."""
    cols = st.columns(len(files) + 1)
    for col, (label, data, name) in zip(cols, files, strict=False):
        mime = "image/gif" if name.endswith(".gif") else "image/png"
        col.download_button(label, data, name, mime, key=f"{key}_{name}", on_click="ignore", icon=":material/download:")
    recipe_download(recipe, f"{key}_recipe", stem, where=cols[-1])


def show_canvas(canvas: Any, key: str, recipe: Any, caption: str) -> None:
    """A large texture without a classic comparison: tiled 2x2, its seam ratios, downloads."""
    from vae_core.imaging import to_png
    from vae_core.tasks.synthesis import tiled_preview
    from vae_core.tasks.texture_stats import seam_ratio

    seams = seam_ratio(canvas.pixels, canvas.seams_x, canvas.seams_y)
    st.image(tiled_preview(canvas.pixels), caption=caption, width="stretch")
    st.caption(
        f"Seam ratio at the edges {seams.wrap:.2f}, inside {seams.internal:.2f} (1 = no seam to see). "
        "No classic method makes this kind of texture, so there is nothing to compare it with."
    )
    side = canvas.pixels.shape[0]
    downloads(key, recipe, "large_texture", [(f"PNG ({side}x{side})", to_png(canvas.pixels), "large_texture.png")])


PATH_HELP = "slerp curves round so that every frame's code stays typical; lerp goes in a straight line"


def two_buttons(first: tuple[str, str], second: tuple[str, str]) -> tuple[bool, bool]:
    """Two buttons side by side ((label, key) each); whether each was clicked."""
    a, b, _ = st.columns([1, 1, 2])
    return a.button(first[0], key=first[1], type="primary"), b.button(second[0], key=second[1])


def show_code_result(done: dict, key: str) -> None:
    """One decoded code (a mix or arithmetic): picture, open in sliders, downloads with its recipe."""
    from vae_core.imaging import to_png

    made, view = done["shown"], done["recipe"].view
    st.image(made.images[0], width=192, caption="Mixed" if view == "mix" else "A + strength × (C − B)")
    open_in_sliders(made.codes[0], f"A {view} from Generate", f"{key}_open")
    downloads(key, done["recipe"], view, [("Image (PNG)", to_png(made.images[0]), f"{view}.png")])


def open_recipe_tab(model: Any) -> None:
    """The Open a recipe tab: upload a recipe, draw it again exactly, offer it to the sliders and for download."""
    from vae_core.imaging import to_png
    from vae_core.tasks.recipe import VIEW_NAMES, render_recipe
    from vae_core.tasks.synthesis import tiled_preview

    st.caption("A recipe saved from this page or from the Latent sliders opens exactly the same texture again.")
    recipe = recipe_upload("gen_recipe_upload", session.GEN_RECIPE_SEEN)
    if recipe is not None:
        bar = st.progress(0.0, text="Drawing the recipe...")
        rendered = render_recipe(
            model, recipe, lambda d, t: bar.progress(min(1.0, d / t), text="Drawing the recipe...")
        )
        bar.empty()
        keep("recipe", recipe, rendered)
    if (done := kept("recipe")) is None:
        return
    recipe, rendered = done["recipe"], done["shown"]
    st.success(f"Opened {VIEW_NAMES[recipe.view]} made with this model.")
    large = recipe.view == "large"
    st.image(tiled_preview(rendered.image) if large else rendered.image, caption="Shown 2x2" if large else None)
    if rendered.code is not None:
        open_in_sliders(rendered.code, "A code from a recipe", "gen_recipe_open")
    downloads("gen_recipe_dl", recipe, recipe.view, [("Image (PNG)", to_png(rendered.image), f"{recipe.view}.png")])
