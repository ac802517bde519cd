"""The model's validation scores on the session's patches, computed off the page's thread.

The work runs in ``vae_core.explore.score_runs``' server-wide line, keyed by content, so a class
that holds the same samples and model scores them once. A page waits ``WAIT_S`` for the run
(long enough for small data and a warm server, so most visits show the numbers at once); if it
is not done by then, the page shows a progress bar that polls and reruns the page when the
scores are ready. The page's script run, and so a page switch, then never waits on thousands
of patches, even while a training run holds the other core.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from pages.shared import cached
from vae_core.data.images import plural

WAIT_S = 0.4  # how long a page run waits for the scores before it shows progress instead
POLL_S = 0.5


def evaluation(model: Any, model_version: str, data: Any, dataset_version: str) -> tuple[Any, str | None]:
    """(``vae_core.explore.metrics.Evaluation`` on every validation patch, or None; why it failed, or None).

    While the scores are being computed this draws a progress bar that reruns the page when they
    are ready, and returns (None, None); on a server too busy to take the run, a warning, and the same.
    """
    from functools import partial

    from vae_core.explore.score_runs import UNEXPECTED, evaluation_work, get_score_line, wait_s
    from vae_core.training.slots import QueueFull

    model_digest, data_digest = cached.model_key(model, model_version), cached.data_key(data, dataset_version)
    try:
        pca_for = partial(cached.pca_baseline_by_digest, data, data_digest)  # shared with the grid's
        run = get_score_line().request((model_digest, data_digest), evaluation_work(model, data, pca_for))
    except QueueFull as exc:  # a busy server: the rest of the page still works
        st.warning(str(exc))
        return None, None
    if run.wait(wait_s(WAIT_S)):
        if run.error is None or run.error == UNEXPECTED:
            return run.result, run.error
        return None, f"{run.error}. Add more or larger images on the Data page."  # the data cannot be scored
    total = plural(len(data.val), "validation patch", "validation patches")

    @st.fragment(run_every=POLL_S)
    def progress() -> None:
        if not run.running:
            st.rerun()  # the whole page, now with the numbers
        text = f"Scoring the model: {run.done:,} of {total}" if run.total else "Scoring the model: PCA baseline first"
        st.progress(run.fraction, text=text)

    progress()
    return None, None
