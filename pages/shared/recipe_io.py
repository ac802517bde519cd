"""Texture recipes in the pages: a download button for any view, and an uploader that checks a recipe against the model.

Used by Latent sliders and Generate. The checking and drawing live in ``vae_core.tasks.recipe``;
here are only the widgets and the plain-words messages.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from pages.shared import cached, session
from vae_core.data.images import as_typed

RECIPE_HELP = (
    "A small text file with the numbers behind this picture and the settings that made it. Upload it here later "
    "(with the same model) to get exactly the same texture back, or share it with someone who has the model."
)


def make_recipe(view: str, codes: dict, settings: dict) -> Any:
    """A ``vae_core.tasks.recipe.Recipe`` of this session's model for one view."""
    from vae_core.tasks.recipe import Recipe

    model, mv = st.session_state[session.MODEL], st.session_state[session.MODEL_VERSION]
    return Recipe(view, codes, settings, cached.model_key(model, mv), st.session_state[session.MODEL_SOURCE])


def recipe_download(recipe: Any, key: str, stem: str = "texture", where: Any = st) -> None:
    """A button that downloads ``recipe`` as JSON."""
    from vae_core.tasks.recipe import to_json

    where.download_button(
        "Recipe (JSON)",
        to_json(recipe),
        f"{stem}_recipe.json",
        "application/json",
        key=key,
        on_click="ignore",
        icon=":material/receipt_long:",
        help=RECIPE_HELP,
    )


def recipe_upload(key: str, seen_key: str) -> Any:
    """An uploader for a recipe: a checked ``Recipe`` the first run after a good file arrives, else None.

    A file that cannot be opened gets its reason under the uploader, and nothing else changes.
    """
    from vae_core.tasks.recipe import MAX_RECIPE_BYTES, RecipeError, read_recipe

    upload = st.file_uploader("A texture recipe (.json)", type=["json"], key=key, help=RECIPE_HELP)
    if upload is None or st.session_state.get(seen_key) == upload.file_id:
        return None
    if upload.size > MAX_RECIPE_BYTES:  # before reading it: a recipe is small
        st.error(
            f"'{as_typed(upload.name)}' is {upload.size / 1e6:.1f} MB; "
            f"a recipe is at most {MAX_RECIPE_BYTES / 1e6:.0f} MB."
        )
        return None
    model, mv = st.session_state[session.MODEL], st.session_state[session.MODEL_VERSION]
    try:
        recipe = read_recipe(
            upload.getvalue(),
            fingerprint=cached.model_key(model, mv),
            model_name=st.session_state[session.MODEL_SOURCE],
            latent_dim=model.latent_dim,
            patch_size=model.config.image_size,
        )
    except RecipeError as exc:  # shown again on every run while the file stays: nothing else changes
        st.error(f"'{as_typed(upload.name)}' cannot be opened: {as_typed(exc)}")
        return None
    st.session_state[seen_key] = upload.file_id  # opened once; later runs keep what it opened
    return recipe


def sliders_recipe_expander() -> None:
    """Latent sliders' "Open a texture recipe": a sliders recipe becomes the starting point (others go to Generate)."""
    from vae_core.tasks.recipe import VIEW_NAMES

    with st.expander("Open a texture recipe"):
        recipe = recipe_upload("lat_recipe_upload", session.LAT_RECIPE_SEEN)
        if recipe is None:
            return
        if recipe.view != "sliders":
            st.info(f"This recipe holds {VIEW_NAMES[recipe.view]}: open it on the Generate page (Open a recipe).")
            st.page_link("pages/generate.py", label="Go to Generate", icon=":material/auto_awesome:")
            return
        session.set_slider_start(recipe.codes["z"][0], recipe.settings.get("label") or "A texture recipe")
        st.rerun()


def sliders_recipe_download(z: Any, where: Any) -> None:
    """The sliders' current code ``z`` (D,) as a recipe download button in ``where``."""
    label = st.session_state[session.LAT_START]["label"]
    recipe_download(
        make_recipe("sliders", {"z": z[None]}, {"label": f"{label} (moved by hand)"[:200]}),
        "lat_recipe",
        "latent_texture",
        where,
    )
