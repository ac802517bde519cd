"""Widgets of the Generate page: pick a code, keep each tab's result, show and download it, the larger tabs.

Streamlit glue only: the codes, pictures and recipes come from ``vae_core.tasks``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from pages.shared import cached, session
from pages.shared.recipe_io import recipe_download
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


def open_in_sliders(z: np.ndarray, label: str, key: str, where: Any = st) -> None:
    """A button that makes ``z`` the Latent sliders' starting point and goes there (one click)."""
    if where.button("Open in Latent sliders", key=key, icon=":material/tune:", help="Fine-tune this texture by hand"):
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
    fp, name = cached.fingerprint(model, mv), st.session_state[session.MODEL_SOURCE]
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
    from vae_core.tasks.synthesis import tiled_preview

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
        show_task_result(
            shown, "gen_large_cmp", "large_texture", every_method=True, preview=tiled_preview,
            reference_title="Source", every_verdict=True,
        )  # fmt: skip
        st.markdown(HONEST)
        recipe_download(done["recipe"], "gen_large_recipe", "large_texture")
    else:
        show_canvas(shown, "gen_large_dl", done["recipe"], "Shown 2x2")


def open_recipe_tab(model: Any) -> None:
    """The Open a recipe tab: upload a recipe, draw it again exactly, offer it to the sliders and for download."""
    from pages.shared.recipe_io import recipe_upload
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
