"""Generate: new textures from the model: samples, blends between two textures, mixes, and large seamless textures."""

import streamlit as st

from pages.shared import cached, session
from pages.shared import generate_views as gv
from pages.shared.guards import require_compatible
from pages.shared.large_texture_view import large_texture_tab
from pages.shared.recipe_io import make_recipe
from vae_core.imaging import to_png
from vae_core.tasks import generate as g

st.title("Generate")
st.caption("Make textures that are in none of your images: the model draws them from its own numbers (its codes).")
require_compatible()
model, data = st.session_state[session.MODEL], st.session_state[session.DATASET]
mv, dv = st.session_state[session.MODEL_VERSION], st.session_state[session.DATASET_VERSION]
setup = cached.slider_setup(model, mv, data, dv)
tabs = st.tabs(["Random samples", "Blend two textures", "Mix and arithmetic", "Large texture", "Open a recipe"])

with tabs[0]:
    st.caption(
        "Random codes, decoded: textures the model makes up. A lower temperature gives safer, plainer ones; a higher "
        "one, stranger ones. A small model trained on a few images makes soft, blotchy samples."
    )
    a, b, c = st.columns(3)
    n = a.slider("How many", 4, g.MAX_SAMPLES, 16, 4, key="gen_n")
    temperature = b.slider("Temperature", *g.TEMPERATURES, 1.0, 0.1, key="gen_temperature")
    seed = c.number_input("Seed", 0, 10**6, 0, key="gen_seed", help="The same seed always gives the same samples.")
    if st.button("Draw samples", key="gen_draw", type="primary"):
        made = g.prior_samples(model, n, temperature, seed)
        gv.keep("samples", make_recipe("samples", {"z": made.codes}, {"temperature": temperature, "seed": seed}), made)
    if done := gv.kept("samples"):
        made, cols = done["shown"], st.columns(8)
        for i, (z, image) in enumerate(zip(made.codes, made.images, strict=True)):
            cols[i % 8].image(image, caption=f"Sample {i + 1}", width="stretch")
            gv.open_in_sliders(z, f"Sample {i + 1} from Generate", f"gen_open_{i}", where=cols[i % 8], short=True)
        grid = to_png(g.grid_image(made.images))
        gv.downloads("gen_samples", done["recipe"], "samples", [("Grid (PNG)", grid, "samples.png")])

with tabs[1]:
    st.caption(
        "Top row: blending inside the model, which changes what the texture *is*. Bottom row: the same two ends "
        "mixed like paint (a cross-fade of the pixels), to compare."
    )
    left, right = st.columns(2)
    with left:
        end_a = gv.pick_code("Start", "gen_a", model, data, patch=1)
    with right:
        end_b = gv.pick_code("End", "gen_b", model, data, patch=len(data.train) // 2)
    a, b = st.columns(2)
    steps = a.slider("Frames", 3, g.MAX_STEPS, 8, key="gen_steps")
    method = b.radio("Path", g.METHODS, key="gen_method", horizontal=True, help=gv.PATH_HELP)
    if end_a and end_b and st.button("Blend", key="gen_blend", type="primary"):
        interp = g.interpolate_ends(model, end_a[0], end_b[0], steps, method)
        recipe = make_recipe("interpolation", {"ends": interp.codes[[0, -1]]}, {"steps": steps, "method": method})
        gv.keep("interpolation", recipe, interp)
    if done := gv.kept("interpolation"):
        strip = g.interpolation_strip(done["shown"])
        st.image(strip, caption="Top: through the model · Bottom: a cross-fade of the pixels")
        files = [
            ("Strip (PNG)", to_png(strip), "blend.png"),
            ("Animation (GIF)", g.interpolation_gif(done["shown"]), "blend.gif"),
        ]
        gv.downloads("gen_interp", done["recipe"], "blend", files)

with tabs[2]:
    st.caption(
        "**Mix**: some of the code's numbers from A, all the others from B. "
        "**Arithmetic**: A, changed the way B would have to change to become C (A + strength × (C − B))."
    )
    cols = st.columns(3)
    picks = []
    for i, (col, name) in enumerate(zip(cols, "ABC", strict=True)):
        with col:
            picks.append(gv.pick_code(name, f"gen_m{name.lower()}", model, data, patch=1 + i * len(data.train) // 3))
    order = [int(d) for d in setup.order]
    dims = st.multiselect(
        "Numbers taken from A (most used first)",
        order,
        order[:4],
        key="gen_dims",
        format_func=lambda d: f"z[{d}] · {setup.kl[d]:.2f} nats",
    )
    strength = st.slider("Strength of the change C − B", -2.0, 2.0, 1.0, 0.1, key="gen_strength")
    mix_clicked, arith_clicked = gv.two_buttons(("Mix A and B", "gen_mix"), ("A + strength × (C − B)", "gen_arith"))
    if mix_clicked and all(picks[:2]):
        made = g.decode_codes(model, g.mix_dimensions(picks[0][0], picks[1][0], dims))
        codes = {"a": picks[0][0][None], "b": picks[1][0][None]}
        gv.keep("mix", make_recipe("mix", codes, {"dims": [int(d) for d in dims]}), made)
    if arith_clicked and all(picks):
        made = g.decode_codes(model, g.latent_arithmetic(picks[0][0], picks[1][0], picks[2][0], strength))
        codes = {"a": picks[0][0][None], "b": picks[1][0][None], "c": picks[2][0][None]}
        gv.keep("mix", make_recipe("arithmetic", codes, {"strength": strength}), made)
    if done := gv.kept("mix"):
        gv.show_code_result(done, "gen_mixed")

with tabs[3]:
    large_texture_tab(model, data)

with tabs[4]:
    gv.open_recipe_tab(model)
