"""Texture VAE Explorer: the router. Page titles, icons and order live here; each page is a file in pages/."""

import logging
import os
import threading

import streamlit as st

from pages.shared.session import init_state
from pages.shared.sidebar import render_sidebar
from vae_core.training.slots import share_cores_with_training

UNEXPECTED = "Something went wrong on this page. Your data and model are safe; try again or reload the page."


UMAP_WARM_UP_DELAY_S = 8.0  # let the first visitor's Home page render before numba compiles
# Set to "0" where the server process is short-lived (AppTest): a daemon thread still inside
# numba's compiler when the interpreter exits aborts the process.
WARM_UP_ENV = "TEXTURE_VAE_WARM_UP_UMAP"


@st.cache_resource(show_spinner=False)
def _warm_up_umap() -> threading.Thread:
    """Compile UMAP's numba code once per server, in the background (shared code, no user data).

    Compiling holds the GIL much of the time, so it starts a few seconds after the first page
    run instead of competing with it, at a lower CPU priority; the first map is still far from
    the first page load. While a training run is going it waits (training runs in its own
    process, but on a small server the compile still took about a tenth of its speed).
    """
    from vae_core.explore.projection import warm_up_umap_in_background
    from vae_core.training.slots import training_is_running

    return warm_up_umap_in_background(UMAP_WARM_UP_DELAY_S, wait_while=training_is_running)


@st.cache_resource(show_spinner=False)
def _collect_garbage() -> object:
    """One full garbage collection a minute for the whole server (no user data).

    It replaces Streamlit's collection after every script run, turned off in
    .streamlit/config.toml (``runner.postScriptGC``): that one cost about 0.25 s per run.
    """
    from vae_core.data.budget import GarbageCollector

    return GarbageCollector(every_s=60.0).start()


st.set_page_config(page_title="Texture VAE Explorer", page_icon="🧶", layout="wide")
init_state()
_collect_garbage()
if os.environ.get(WARM_UP_ENV, "1") != "0":
    _warm_up_umap()

page = st.navigation(
    {
        "Start": [
            st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        ],
        "Build": [
            st.Page("pages/data.py", title="Data", icon=":material/photo_library:"),
            st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
            st.Page("pages/model.py", title="Model", icon=":material/neurology:"),
        ],
        "Explore": [
            st.Page("pages/reconstructions.py", title="Reconstructions", icon=":material/compare:"),
            st.Page("pages/latent_sliders.py", title="Latent sliders", icon=":material/tune:"),
            st.Page("pages/latent_map.py", title="Latent map", icon=":material/scatter_plot:"),
        ],
        "Use the model": [
            st.Page("pages/generate.py", title="Generate", icon=":material/auto_awesome:"),
            st.Page("pages/restore.py", title="Restore", icon=":material/healing:"),
            st.Page("pages/compress.py", title="Compress", icon=":material/compress:"),
            st.Page("pages/analyze.py", title="Analyze", icon=":material/category:"),
        ],
    }
)
try:
    share_cores_with_training()  # while a run trains, this page's torch work takes the cores it leaves
    render_sidebar()
    page.run()
except Exception:  # last resort: st.stop()/st.rerun() are not Exceptions, so they pass through
    logging.getLogger("texture_vae.app").exception("page %s failed", page.title)
    st.error(UNEXPECTED)
