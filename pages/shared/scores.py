"""The model's validation scores (and per-dimension KL) on the session's patches, computed off the page's thread.

The work runs in ``vae_core.explore.score_runs``' server-wide line, keyed by content, so a class
that holds the same samples and model computes it once. A page waits a moment (``WAIT_S``) for
the run (long enough for small data on a warm server, so most visits show the numbers at once);
if it is not done by then, the page shows a progress bar that polls and reruns the page when
the result is ready. The page's script run, and so a page switch, then never waits on thousands
of patches, even while a training run holds the other core.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import streamlit as st

from pages.shared import cached
from vae_core.data.images import plural

WAIT_S = 0.25  # how long a page run waits for a result before it shows progress instead
POLL_S = 0.5


def _in_background(key: tuple, work: Any, wait: float, describe: Callable[[Any], str]) -> tuple[Any, str | None]:
    """(the run's result or None, why it failed or None); while it runs, a polling progress bar."""
    from vae_core.explore.score_runs import UNEXPECTED, get_score_line, wait_s
    from vae_core.training.slots import QueueFull

    try:
        run = get_score_line().request(key, work)
    except QueueFull as exc:  # a busy server: the rest of the page still works
        st.warning(str(exc))
        return None, None
    if run.wait(wait_s(wait)):
        if run.error is None or run.error == UNEXPECTED:
            return run.result, run.error
        return None, f"{run.error}. Add more or larger images on the Data page."  # the data cannot be scored

    @st.fragment(run_every=POLL_S)
    def progress() -> None:
        if not run.running:
            st.rerun()  # the whole page, now with the result
        st.progress(run.fraction, text=describe(run))

    progress()
    return None, None


def evaluation(model: Any, model_version: str, data: Any, dataset_version: str) -> tuple[Any, str | None]:
    """(``vae_core.explore.metrics.Evaluation`` on every validation patch, or None; why it failed, or None).

    While the scores are being computed this draws a progress bar that reruns the page when they
    are ready, and returns (None, None); on a server too busy to take the run, a warning, and the same.
    """
    from vae_core.explore.score_runs import evaluation_work

    model_digest, data_digest = cached.model_key(model, model_version), cached.data_key(data, dataset_version)
    pca_for = partial(cached.pca_baseline_by_digest, data, data_digest)  # shared with the grid's
    total = plural(len(data.val), "validation patch", "validation patches")
    return _in_background(
        (model_digest, data_digest, "scores"),
        evaluation_work(model, data, pca_for),
        WAIT_S,
        lambda run: (
            f"Scoring the model: {run.done:,} of {total}"
            if run.total
            else f"Scoring the model on all {total}: first the PCA baseline it is compared with..."
        ),
    )


def kl_per_dimension(
    model: Any, model_version: str, data: Any, dataset_version: str, wait: float = WAIT_S
) -> tuple[np.ndarray | None, str | None]:
    """(Mean KL in nats of each latent dimension over ``cached.summary_codes``, or None; why not, or None).

    ``wait``: 0 when the page already waits for another run of the line (it runs one at a time).
    """
    from vae_core.explore.score_runs import kl_work

    model_digest, data_digest = cached.model_key(model, model_version), cached.data_key(data, dataset_version)
    codes_for = partial(cached.summary_codes_by_digest, model, model_digest, data, data_digest)  # the sliders' too
    return _in_background(
        (model_digest, data_digest, "kl"),
        kl_work(model, data, codes_for),
        wait,
        lambda run: "Measuring how much each number is used...",
    )
