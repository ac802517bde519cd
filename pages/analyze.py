"""Analyze: can the model tell your labelled textures apart? Tested fairly, next to LBP, GLCM and raw-pixel PCA."""

from collections import Counter

import plotly.graph_objects as go
import streamlit as st

from pages.shared import session
from pages.shared.analyze_view import classify_section, confusion_section, dimensions_section, downloads_section
from pages.shared.compare_view import show_task_result
from pages.shared.guards import require_dataset, require_model
from vae_core.data.images import as_typed
from vae_core.tasks.analyze import start_analysis
from vae_core.tasks.analyze_features import label_problem
from vae_core.tasks.analyze_report import accuracy_figure, summary_sentences

st.title("Analyze")
st.caption(
    "Does the way the model describes textures tell your labels apart? Each image is classified by a classifier "
    "that never saw it, using the model's features and, side by side, classic texture descriptors."
)
require_dataset()
require_model()
images, model = st.session_state[session.IMAGES], st.session_state[session.MODEL]
problem = label_problem(images)
if problem:
    st.info(problem)
    st.page_link("pages/data.py", label="Go to Data", icon=":material/photo_library:")
    st.stop()
counts = Counter(im.label for im in images)
st.write(
    f"**{len(images)} images, {len(counts)} labels:** " + ", ".join(f"{k} ({n})" for k, n in sorted(counts.items()))
)

key = (st.session_state[session.MODEL_VERSION], st.session_state[session.IMAGES_VERSION])
run = st.session_state.get(session.ANALYSIS)
if run is None or run.key != key:
    if run is not None:
        st.info("Your images, labels or model changed since the last analysis. Run it again to see the new result.")
    st.write(
        "The analysis describes every image in several ways, then tests how well each description tells the labels "
        "apart. A hundred images take a minute or two; a progress bar shows how far it has got."
    )
    if st.button("Run the analysis", key="an_run", type="primary", icon=":material/play_arrow:"):
        if run is not None:
            run.cancel()  # an older run for other data stops instead of queueing
        st.session_state[session.ANALYSIS] = start_analysis(images, model, key)
        st.rerun()
    st.stop()

if run.running:

    @st.fragment(run_every=1.0)
    def progress() -> None:
        if not run.running:
            st.rerun()
        st.progress(run.fraction, text=run.message)

    progress()
    st.stop()
if run.error:
    st.error(run.error)
    st.page_link("pages/data.py", label="Change the images or labels on the Data page", icon=":material/photo_library:")
    if st.button("Try again", key="an_retry"):
        st.session_state.pop(session.ANALYSIS)
        st.rerun()
    st.stop()

analysis = run.analysis
st.subheader("The answer")
for sentence in summary_sentences(analysis):
    st.write(sentence)
st.plotly_chart(go.Figure(accuracy_figure(analysis)), key="an_accuracy", config={"displayModeBar": False})
if analysis.features.skipped:
    st.warning(f"Left out (smaller than one patch): {as_typed(', '.join(analysis.features.skipped))}.")

st.subheader("Every feature set, side by side")
show_task_result(analysis.result, key="an_result", file_stem="texture_analysis")

st.subheader("Where the mistakes are")
confusion_section(analysis)

st.subheader("Which latent dimensions matter for which label")
dimensions_section(analysis, session.compatible())

st.subheader("Classify a new image")
classify_section(analysis, id(run))

st.subheader("Downloads")
downloads_section(analysis)

with st.expander("Details for experts"):
    st.markdown(
        f"""
- **Fair tests.** Cross-validation with {analysis.n_folds} folds grouped by source image (scikit-learn's
  `StratifiedGroupKFold`): every image, with all its patches, is on one side of each split only. A label with
  fewer than 3 images is cut into 2 x 2 spatial blocks, which then count as images.
- **Probes.** Standardised features, then an L2 logistic regression (C = 1) or 5 nearest neighbours. Balanced
  accuracy: the mean of the per-label recalls. Combined sets weigh each part equally.
- **VAE texture descriptor.** {analysis.describer.words if analysis.describer else ""} **VAE codes**: mean and spread of
  the patches' codes (mu). **Raw-pixel PCA**: as many numbers per patch as the code, pooled the same way.
- **LBP**: uniform patterns at radii 1, 2, 3 (8, 16, 24 points). **GLCM**: 6 Haralick properties at distances
  1, 2, 4 over 4 directions (mean and range). Both read grey levels.
- Unsupervised steps (the VAE itself, the PCA) saw every image, without labels; only the probes see labels, and
  only on their training folds. The README's "Analyze" section has the benchmark and the descriptor's ablation.
"""
    )
