"""The Generate page's Large texture tab: what the canvas is made from, how, and the result beside the classics.

Streamlit glue only: the canvas, the classic methods and the measures come from ``vae_core.tasks``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from pages.shared import cached, session
from pages.shared.generate_views import keep, kept, show_canvas
from pages.shared.recipe_io import recipe_download

FIELDS = (
    "One of my images",
    "An image I upload",
    "A blend of 2-4 of my images",
    "A random walk through the model's space",
    "The Latent sliders' code",
)
HONEST = (
    "**Where the classic methods win.** The VAE redraws every patch from a few dozen numbers, so its textures are "
    "softer than the photo: repeating the photo keeps its exact look (but shows a seam at every repeat, unless the "
    "photo happens to tile), and tiling and blending usually keeps the look without seams and scores a lower texture "
    "distance. The VAE is for what they cannot do: blends of textures, mixes and textures that were never photographed."
)
EXPERT = (
    "The canvas is covered by the model's patches with 50% overlap, blended with raised-cosine weights. With "
    "*matching* (recommended), a pool of candidate codes is decoded once and each spot takes one of the three "
    "candidates that best agree with what is already painted there (image quilting with the decoder as the source "
    "of patches); *direct* decodes a smooth field of codes as it is, and shows why matching is needed: neighbouring "
    "patches do not line up. Seamless canvases wrap around: the last column of patches overlaps the first. "
    "**Seam ratio**: the mean step in brightness across the lines where patches meet (or across the wrap-around "
    "edges) divided by the mean step across all other lines; 1 means no seam. **Texture distance**: the sliced "
    "Wasserstein distance between 7x7-pixel neighbourhoods of the canvas and of the source, at four scales "
    "(0 = the same statistics). Measured over the sample set by `python -m vae_core bench --generate`."
)


def _canvas_options(model: Any) -> tuple[Any, str]:
    """The size, seamless, variation and expert widgets -> (CanvasSettings, field kind)."""
    from vae_core.tasks.synthesis import CanvasSettings

    p = model.config.image_size
    kind = st.radio("Made from", FIELDS, key="gen_large_kind", horizontal=True)
    a, b, c = st.columns(3)
    sizes = [s for s in (256, 512, 768, 1024) if s >= 2 * p]
    size = a.select_slider("Size in pixels (square)", sizes, 512, key="gen_large_size")
    seamless = b.toggle("Seamless (tiles without a seam)", True, key="gen_large_seamless")
    variation = c.slider(
        "Variation",
        0.0,
        2.0,
        0.5,
        0.1,
        key="gen_large_variation",
        help="0: only patches like the source's; more: new ones",
    )
    walk = kind == FIELDS[3]
    with st.expander("Details for experts"):
        x, y, z = st.columns(3)
        method = x.radio("Patches", ("match", "direct"), key="gen_large_method", help="See below")
        seed = y.number_input("Seed", 0, 10**6, 0, key="gen_large_seed")
        temperature = z.slider("Temperature (random walk)", 0.3, 1.5, 1.0, 0.1, key="gen_large_temp", disabled=not walk)
        st.markdown(EXPERT)
    field = "walk" if walk else "blend" if kind == FIELDS[2] else "one"
    settings = CanvasSettings(size, seamless, field, variation, method, temperature, seed=seed)
    return settings, kind


def _source(kind: str, model: Any) -> Any:
    """The picked image(s) (list of (name, pixels)) or the sliders' code (D,); None while incomplete."""
    from vae_core.data.decode import decode_image
    from vae_core.data.images import ImageRejected

    images = {im.name: im.pixels for im in st.session_state[session.IMAGES]}
    if kind == FIELDS[0]:
        name = st.selectbox("Image", list(images), key="gen_large_image")
        return [(name, images[name])] if name else None
    if kind == FIELDS[1]:
        upload = st.file_uploader("A photo of a texture", key="gen_large_upload")
        if upload is None:
            return None
        try:
            return [(upload.name, decode_image(upload.getvalue(), upload.name).pixels)]
        except ImageRejected as exc:
            st.error(str(exc))
            return None
    if kind == FIELDS[2]:
        names = st.multiselect("2 to 4 images", list(images), list(images)[:2], max_selections=4, key="gen_large_mix")
        if len(names) < 2:
            st.info("Choose at least two images.")
            return None
        return [(n, images[n]) for n in names]
    if kind == FIELDS[4]:
        z = st.session_state.get(session.LAT_Z)
        if z is None:
            st.info("Open the Latent sliders first (or click a point on the Latent map): their code appears here.")
            return None
        return np.asarray(z, np.float32)
    return []  # a random walk needs no source


def _make_large(model: Any, data: Any, settings: Any, source: Any) -> None:
    """Make the canvas (with a classic comparison for one image) under a progress bar and keep it."""
    from vae_core.tasks import large_texture as lt
    from vae_core.tasks.recipe import large_recipe
    from vae_core.tasks.synthesis import style_from_code, synthesize

    mv, dv = st.session_state[session.MODEL_VERSION], st.session_state[session.DATASET_VERSION]
    fp, name = cached.model_key(model, mv), st.session_state[session.MODEL_SOURCE]
    bar = st.progress(0.0, text="Decoding patches...")

    def progress(done: int, total: int) -> None:
        text = "Now the classic methods..." if done >= total else f"Making the texture: {done:,} of {total:,} patches"
        bar.progress(min(1.0, done / total), text=text)

    channels = model.config.channels
    try:
        if isinstance(source, np.ndarray):
            styles = [style_from_code(source, cached.code_spread(model, mv, data, dv))]
        else:
            sources = [lt.prepare_source(pixels, channels) for _, pixels in source]
            styles = [lt.source_style(model, s, settings.seed) for s in sources]
        recipe = large_recipe(styles, settings, fp, name)
        if isinstance(source, list) and len(source) == 1:
            shown = lt.compare_large_texture(model, sources[0], settings, progress, style=styles[0])
        else:
            shown = synthesize(model, styles, settings, progress)
        keep("large", recipe, shown)
    except ValueError as exc:
        st.error(str(exc))
    bar.empty()


def large_texture_tab(model: Any, data: Any) -> None:
    """The Large texture tab: choose what it is made from and how, make it, show it tiled 2x2 beside the classics."""
    from pages.shared.compare_view import show_task_result
    from vae_core.tasks.synthesis import seam_view, tiled_preview

    st.caption(
        "A texture far bigger than the model's patches, shown repeated 2x2 so you can see whether its edges meet."
    )
    settings, kind = _canvas_options(model)
    source = _source(kind, model)
    if source is not None and st.button("Make the texture", key="gen_large_run", type="primary"):
        _make_large(model, data, settings, source)
    done = kept("large")
    if done is None:
        return
    shown = done["shown"]
    if hasattr(shown, "methods"):  # a TaskResult: the VAE beside repetition and tiling-and-blending
        side = min(shown.reference.shape[:2])
        st.caption(
            f"Each canvas is shown repeated 2x2, cropped to the {side} px around the point where its four copies meet "
            "(the source's size, so all are at the same scale): a seam would show as a cross through the middle."
        )
        show_task_result(
            shown, "gen_large_cmp", "large_texture", every_method=True, preview=lambda im: seam_view(im, side),
            reference_title="Source", every_verdict=True,
        )  # fmt: skip
        st.markdown(HONEST)
        recipe_download(done["recipe"], "gen_large_recipe", "large_texture")
        with st.expander("The whole canvases, repeated 2x2"):
            for method in shown.methods:
                if method.output is not None:
                    st.image(tiled_preview(method.output), caption=method.name, width="stretch")
    else:
        show_canvas(shown, "gen_large_dl", done["recipe"], "Shown 2x2")
