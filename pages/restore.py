"""Restore: damage an image on purpose, then repair it with the VAE and with classic filters, side by side."""

import streamlit as st

from pages.shared import session
from pages.shared.compare_view import show_task_result
from pages.shared.guards import require_model
from pages.shared.image_source import pick_image
from pages.shared.image_widgets import click_to_place, clicked_point
from vae_core.data.images import to_channels
from vae_core.tasks.damage import DamageConfig, damage, hole_around
from vae_core.tasks.restore import restore, why_the_vae_loses

MAX_SIDE = 256  # bigger images are shrunk first: a restoration then takes seconds, not minutes, on a CPU
KINDS = {"Noise": "noise", "Salt and pepper": "salt_pepper", "JPEG artefacts": "jpeg", "A hole": "hole"}

st.title("Restore")
st.caption(
    "Damage a texture on purpose, then see whether the model repairs it better than the classic filters. "
    "Expect the classic ones, non-local means above all, to win on noise: they were designed for it. "
    "The page says so whenever they do."
)
require_model()
model, model_version = st.session_state[session.MODEL], st.session_state[session.MODEL_VERSION]

st.subheader("1 · Pick an image")
picked = pick_image("rs", MAX_SIDE, session.RESTORE_UPLOAD)
if picked is None:
    st.info("Upload an image, or pick one of the textures, to start.")
    st.stop()
clean, name = to_channels(picked[0], model.config.channels), picked[1]
if min(clean.shape[:2]) < model.config.image_size:
    st.error(f"This image is smaller than the model's {model.config.image_size}-pixel patches; pick a larger one.")
    st.stop()
height, width = clean.shape[:2]

st.subheader("2 · Damage it")
kind = KINDS[st.radio("Damage", list(KINDS), horizontal=True, key="rs_kind")]
c1, c2 = st.columns(2)
settings, hole = {}, None
if kind == "noise":
    settings["sigma"] = c1.slider("Noise strength (σ)", 0.02, 0.40, 0.10, 0.01, key="rs_sigma")
elif kind == "salt_pepper":
    settings["amount"] = c1.slider("Pixels hit (%)", 1, 50, 10, key="rs_amount") / 100
elif kind == "jpeg":
    settings["quality"] = c1.slider("JPEG quality (lower is worse)", 1, 90, 10, key="rs_quality")
else:
    size_w = c1.slider("Hole width (% of the image)", 5, 80, 50, key="rs_hole_w")
    size_h = c2.slider("Hole height (% of the image)", 5, 80, 50, key="rs_hole_h")
    at_x = c1.slider("Hole centre, across (%)", 0, 100, 50, key="rs_hole_x")
    at_y = c2.slider("Hole centre, down (%)", 0, 100, 50, key="rs_hole_y")
    hole = hole_around(
        height, width, at_y * height / 100, at_x * width / 100, size_h * height // 100, size_w * width // 100
    )
    settings["hole"] = hole
if kind in ("noise", "salt_pepper"):
    settings["seed"] = c2.number_input("Random seed (same seed, same damage)", 0, 1_000_000, 0, key="rs_seed")
config = DamageConfig(kind=kind, **settings)
damaged = damage(clean, config)


def place_hole() -> None:
    """A click on the picture moves the hole's centre there (as percentages, whatever the image's size)."""
    point = clicked_point("rs_pick")
    if point is not None:
        st.session_state["rs_hole_x"] = min(100, max(0, round(100 * point[0] / width)))
        st.session_state["rs_hole_y"] = min(100, max(0, round(100 * point[1] / height)))


left, right = st.columns(2)
left.image(clean, caption=f"Original: {name}", width="stretch")
with right:
    if kind == "hole":
        click_to_place(damaged.pixels, hole, key="rs_pick", on_click=place_hole)
        st.caption(f"Damaged: {config.describe()}. Click the picture to move the hole.")
    else:
        st.image(damaged.pixels, caption=f"Damaged: {config.describe()}", width="stretch")

st.subheader("3 · Restore")
run_key = (model_version, name, clean.shape, config)
run = st.session_state.get(session.RESTORE_RUN)
busy = run is not None and run.running
if st.button("Restore", type="primary", key="rs_go", disabled=busy, icon=":material/healing:"):
    from functools import partial

    from vae_core.tasks.runs import start_task

    work = partial(restore, model, clean, damaged)  # pickled to a worker process
    st.session_state[session.RESTORE_RUN] = start_task(work, key=run_key, name="restore")
    st.rerun()

if busy:

    @st.fragment(run_every=1.0)
    def progress() -> None:
        if not run.running:
            st.rerun()
        place = run.queue_position()
        st.progress(
            run.fraction, text=f"Waiting for other people's restorations: {place} in line" if place else run.message
        )
        if st.button("Stop", key="rs_stop", help="Keeps what the VAE has done so far."):
            run.stop()

    progress()
elif run is not None and run.error:
    st.error(run.error)
elif run is not None and run.result is not None:
    result = run.result
    if run.key != run_key:
        st.info("The result below is for earlier settings; press Restore to repair the picture above.")
    show_task_result(
        result,
        key="rs_result",
        file_stem=f"{str(run.key[1]).rsplit('.', 1)[0]}_{result.extra['kind']}",
        input_label="Damaged",
        every_verdict=True,
        slider=True,
        magnifier=True,
    )
    reason = why_the_vae_loses(result, [m.name for m in result.metrics])
    if reason:
        st.info(reason, icon=":material/lightbulb:")
    if result.extra.get("damaged_scores"):
        before = result.extra["damaged_scores"]
        st.caption(f"The damaged picture itself scores {before['PSNR']:.2f} dB PSNR and {before['SSIM']:.3f} SSIM.")
    if result.extra.get("original_scores"):
        own_scores = result.extra["original_scores"]
        st.caption(
            f"A perfect fill (the original) scores a texture distance of {own_scores['texture distance']:.3f} "
            f"and a seam ratio of {own_scores['seam ratio']:.2f}: the values to compare the fills with."
        )
    with st.expander("Details for experts"):
        st.markdown(
            "**VAE.** Noise and JPEG: every overlapping patch is encoded and decoded, and the decodes are "
            "blended (75% overlap). Salt-and-pepper and holes: the black/white or missing pixels are treated "
            "as unknown, and the codes of the patches around them are optimised (Adam, through the decoder) so "
            "their decodes match the known pixels, agree with each other, and stay likely under this image's "
            "own distribution of codes. Known pixels are kept exactly.\n\n"
            "**Classic methods** (scikit-image, SciPy) estimate the noise level from the damaged picture, "
            "as the VAE is not told it either. Non-local means averages similar patches from the whole "
            "neighbourhood, which is why it is hard to beat on noise.\n\n"
            f"**Timing**: the VAE took {result.vae.seconds:.1f} s; table column *seconds*."
        )
