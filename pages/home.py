"""Home: what the app does, what a latent space is, the 3-step path, and a one-click start."""

import streamlit as st

from pages.shared import session

st.title("Texture VAE Explorer")
st.markdown(
    "Teach a small neural network what your textures look like (wood, stone, fabric, grass...), "
    "then look inside it. The network is a **variational autoencoder (VAE)**: it squeezes each small "
    "square of an image, a *patch*, into a short list of numbers and then redraws the patch from "
    "those numbers alone."
)
st.markdown(
    "That short list of numbers is the patch's position in the model's **latent space**: a map where "
    "similar-looking patches sit close together. Moving around the map changes the picture smoothly, "
    "so you can see which number controls which look, blend textures, or invent new ones."
)

st.subheader("Three steps")
c1, c2, c3 = st.columns(3)
CARD = {"border": True, "height": "stretch"}  # as tall as the row, so that the three cards line up
with c1, st.container(**CARD):
    st.markdown("**1 · Add textures**  \nUpload photos or a zip, take a webcam shot, or use the built-in samples.")
    st.page_link("pages/data.py", label="Data", icon=":material/photo_library:")
with c2, st.container(**CARD):
    st.markdown("**2 · Train a model**  \nPick Quick, Balanced or Quality and watch it learn, live.")
    st.page_link("pages/train.py", label="Train", icon=":material/model_training:")
with c3, st.container(**CARD):
    st.markdown("**3 · Explore**  \nCompare originals with the model's redrawings, patch by patch or whole images.")
    st.page_link("pages/reconstructions.py", label="Reconstructions", icon=":material/compare:")

st.divider()
st.markdown("**In a hurry?** Load the sample textures and a ready-trained starter model, so every page works at once.")
at_stake = session.samples_would_replace()  # "" when there is nothing of the user's to lose
replace_now = False
if st.button("Try it with sample textures", key="home_try_samples", type="primary", icon=":material/rocket_launch:"):
    replace_now = not at_stake
    st.session_state[session.HOME_CONFIRM] = bool(at_stake)
if at_stake and st.session_state.get(session.HOME_CONFIRM):
    with st.container(border=True):
        st.warning(f"The samples and the starter model would replace {at_stake}.")
        a, b, c = st.columns(3)
        replace_now = a.button("Replace them with the samples", key="home_confirm_replace", type="primary")
        if b.button("Add the samples beside my textures", key="home_confirm_add"):
            st.session_state[session.HOME_NOTICE] = ("success", session.add_samples_beside())
            st.session_state[session.HOME_CONFIRM] = False
            st.rerun()
        if c.button("Cancel", key="home_confirm_cancel"):
            st.session_state[session.HOME_CONFIRM] = False
            st.rerun()
if replace_now:
    st.session_state[session.HOME_CONFIRM] = False
    with st.spinner("Loading the sample textures and the starter model..."):
        error = session.try_samples()
    st.session_state[session.HOME_NOTICE] = (
        ("error", f"The sample textures are loaded, but the starter model is not: {error}")
        if error
        else ("success", "Samples and the starter model are loaded. Have a look around!")
    )
    st.rerun()  # so the sidebar shows the new data and model

notice = st.session_state.pop(session.HOME_NOTICE, None)  # shown once, after the rerun that made it
if notice:
    kind, text = notice
    (st.error if kind == "error" else st.success)(text)
    if st.session_state[session.MODEL] is not None:
        st.page_link("pages/reconstructions.py", label="See the reconstructions", icon=":material/compare:")
    st.page_link("pages/data.py", label="See the data", icon=":material/photo_library:")
