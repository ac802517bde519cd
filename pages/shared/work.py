"""Keeping a person's work across reloads: "Save my work", "Open my work", and a warning before the tab closes.

A reload starts a new Streamlit session, and the old one's images, labels, patches and model
are gone. So the sidebar offers one file with all of it (``vae_core.model.workfile``), a way
to open that file again, and, while a training run is going or a model trained here has not
been saved, the browser's own "Leave site?" question (a ``beforeunload`` handler installed by
a tiny Components v2 element with no visible content).
"""

from __future__ import annotations

import streamlit as st

from pages.shared import jobs, session
from vae_core.data.images import as_typed

FILE_NAME = "my_texture_vae_work.zip"
_LEAVE_GUARD_JS = """
export default function ({ data }) {
  window.__textureVaeLeaveGuard = Boolean(data && data.armed);
  if (!window.__textureVaeLeaveHook) {
    window.__textureVaeLeaveHook = (event) => {
      if (!window.__textureVaeLeaveGuard) return undefined;
      event.preventDefault();
      event.returnValue = '';  // the browser shows its own "Leave site?" question
      return '';
    };
    window.addEventListener('beforeunload', window.__textureVaeLeaveHook);
  }
}
"""


@st.cache_resource(show_spinner=False)
def _leave_guard_component():
    """The registered element (code only, no user data: safe to share across sessions)."""
    return st.components.v2.component("texture_vae_leave_guard", html="<span></span>", js=_LEAVE_GUARD_JS)


def unsaved_model() -> bool:
    """True while the current model was trained here and has not been saved with "Save my work"."""
    state = st.session_state
    trained_here = state[session.MODEL] is not None and str(state[session.MODEL_SOURCE]).startswith("Trained here")
    return trained_here and state.get(session.WORK_SAVED) != state[session.MODEL_VERSION]


def unsaved() -> bool:
    """True while a reload would lose something: a run in progress, or a model trained here and not saved."""
    return jobs.job_active() or unsaved_model()


def leave_guard() -> None:
    """Ask before the tab is closed or reloaded while ``unsaved()``."""
    _leave_guard_component()(data={"armed": unsaved()}, key="leave_guard")


def _mark_saved() -> None:
    st.session_state[session.WORK_SAVED] = st.session_state[session.MODEL_VERSION]


def work_controls() -> None:
    """The sidebar's "Your work" box: save everything in one file, or open such a file."""
    from vae_core.model.workfile import MAX_IMAGE_BYTES, save_work

    state = st.session_state
    with st.expander("Save or open your work", icon=":material/save:", expanded=unsaved_model()):
        st.caption(
            "A reload or a closed tab starts a new session: your images, labels and model are gone. "
            f"Save them in one file (images up to {MAX_IMAGE_BYTES // 2**20} MB) and open it later."
        )
        if state[session.IMAGES] or state[session.MODEL] is not None:
            data = state[session.DATASET]
            kwargs = {
                "images": list(state[session.IMAGES]),
                "patch_config": state[session.PATCH_CONFIG],
                "model": state[session.MODEL],
                "train_config": state[session.TRAIN_CONFIG],
                "state": state[session.TRAIN_STATE],
                "dataset": state[session.MODEL_DATASET] or (data.summary() if data is not None else None),
                "model_source": state[session.MODEL_SOURCE],
            }
            st.download_button(
                "Save my work",
                lambda: save_work(**kwargs).data,  # made when clicked, not on every page run
                FILE_NAME,
                "application/zip",
                key="work_save",
                on_click=_mark_saved,
                icon=":material/download:",
                width="stretch",
            )
        upload = st.file_uploader("Open my work", type=["zip"], key="work_upload")
        if upload is not None and state.get(session.WORK_UPLOAD_SEEN) != upload.file_id:
            state[session.WORK_UPLOAD_SEEN] = upload.file_id
            _open(upload.name, upload.getvalue())
            st.rerun()
        notice = state.get(session.WORK_NOTICE)
        if notice:
            (st.error if notice[0] == "error" else st.success)(notice[1])


def _open(name: str, data: bytes) -> None:
    """Restore a work file into this session in one step; a file that cannot be opened changes nothing."""
    from vae_core.model.workfile import WorkFileError, open_work

    if jobs.job_active():
        st.session_state[session.WORK_NOTICE] = ("error", "Stop the training run first; then open your work.")
        return
    try:
        with st.spinner("Opening your work..."):
            work = open_work(data, name)
    except WorkFileError as exc:
        st.session_state[session.WORK_NOTICE] = ("error", f"{as_typed(exc)} Nothing was changed.")
        return
    if work.checkpoint is not None:
        session.set_checkpoint(work.checkpoint, work.model_source or name)
        st.session_state[session.WORK_SAVED] = st.session_state[session.MODEL_VERSION]  # it is in that file
    if work.images is not None:
        session.set_images(work.images, work.patch_config)
    else:
        images = list(st.session_state[session.IMAGES])
        for image in images:
            image.label = work.labels.get(image.name, image.label)
        session.set_images(images, work.patch_config)
    text = f"Opened '{as_typed(name)}'."
    if work.rejected:
        text += " Could not read: " + "; ".join(as_typed(r.reason) for r in work.rejected)
    if work.images is None:
        text += " The file holds no images: upload them again on the Data page (their labels are restored)."
    st.session_state[session.WORK_NOTICE] = ("success", text)
