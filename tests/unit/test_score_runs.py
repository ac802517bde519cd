"""The server-wide line of validation scorings (vae_core.explore.score_runs)."""

from __future__ import annotations

import threading

import pytest

from vae_core.explore.score_runs import UNEXPECTED, ScoreLine
from vae_core.training.slots import QueueFull


def _gate():
    """Work that waits for the returned event before it returns its key."""
    gate = threading.Event()

    def work(key):
        def run(on_progress):
            on_progress(1, 2)
            assert gate.wait(30)
            on_progress(2, 2)
            return key

        return run

    return gate, work


def test_one_run_per_key_and_every_asker_reads_its_result():
    calls = []
    line = ScoreLine()

    def work(on_progress):
        calls.append(1)
        on_progress(3, 4)
        return "scores"

    first = line.request(("model", "data"), work)
    again = line.request(("model", "data"), work)
    assert first is again and first.wait(30)
    assert first.result == "scores" and first.error is None and not first.running
    assert (first.done, first.total, first.fraction) == (3, 4, 0.75)
    assert line.request(("model", "data"), work).result == "scores" and calls == [1]


def test_a_full_line_refuses_in_plain_words_and_frees_up_as_runs_finish():
    gate, work = _gate()
    line = ScoreLine(max_waiting=2)
    first = line.request("a", work("a"))
    while first.total == 0:  # the thread has taken it: it no longer waits
        threading.Event().wait(0.01)
    line.request("b", work("b"))
    line.request("c", work("c"))
    with pytest.raises(QueueFull, match="scoring 2 other models"):
        line.request("d", work("d"))
    assert line.request("b", work("b")).running  # asking again for a waiting key is not a new place
    gate.set()
    assert all(line.request(k, work(k)).wait(30) for k in "abc")
    assert line.request("d", work("d")).wait(30) and line.waiting == 0


def test_finished_runs_are_kept_up_to_max_kept_least_recently_asked_first_dropped():
    line = ScoreLine(max_kept=2)
    for key in ("a", "b"):
        assert line.request(key, lambda p, key=key: key).wait(30)
    line.request("a", lambda p: "again")  # asked for again: now the most recent
    assert line.request("c", lambda p: "c").wait(30)
    for _ in range(100):  # the thread drops old runs right after finishing one
        if len(line) == 2:
            break
        threading.Event().wait(0.01)
    assert len(line) == 2
    assert line.request("a", lambda p: "new").result == "a"  # kept: not recomputed
    fresh = line.request("b", lambda p: "new b")  # dropped: computed again
    assert fresh.wait(30) and fresh.result == "new b"


def test_a_run_that_fails_reports_why_and_asking_again_does_not_start_it_over():
    line = ScoreLine()

    def bad_data(on_progress):
        raise ValueError("the dataset has no validation patches; raise val_fraction or add images")

    def broken(on_progress):
        raise RuntimeError("out of something")

    plain = line.request("empty", bad_data)
    crash = line.request("crash", broken)
    assert plain.wait(30) and crash.wait(30)
    assert plain.error.startswith("the dataset has no validation patches") and plain.result is None
    assert crash.error == UNEXPECTED  # no internals in the words a page shows
    assert line.request("empty", lambda p: "ok") is plain  # a page polling for it does not loop on reruns


def test_the_evaluation_work_scores_every_validation_patch_with_the_pca_it_is_given(tiny_data, tiny_config):
    import numpy as np

    from vae_core.explore.metrics import evaluate, fit_pca
    from vae_core.explore.score_runs import evaluation_work
    from vae_core.model.vae import build_model

    model = build_model(tiny_config, seed=0).eval()
    asked = []
    pca = fit_pca(tiny_data.train, tiny_config.latent_dim)

    def pca_for(k):
        asked.append(k)
        return pca

    run = ScoreLine().request("k", evaluation_work(model, tiny_data, pca_for))
    assert run.wait(60) and run.error is None and asked == [tiny_config.latent_dim]
    expected = evaluate(model, tiny_data)
    assert run.result.n_val_patches == tiny_data.n_val == run.total == run.done
    np.testing.assert_allclose(run.result.psnr_per_patch, expected.psnr_per_patch, rtol=1e-5)
    np.testing.assert_allclose(run.result.pca_psnr_per_patch, expected.pca_psnr_per_patch, rtol=1e-4)
    fitted_here = ScoreLine().request("k", evaluation_work(model, tiny_data))  # no shared cache: fits its own
    assert fitted_here.wait(60) and fitted_here.result.pca_psnr == pytest.approx(expected.pca_psnr, abs=1e-3)


def test_the_kl_work_measures_the_summary_patches_codes_or_the_codes_it_is_given(tiny_data, tiny_config):
    import numpy as np

    from vae_core.explore.latent import encode, kl_per_dim, summary_patches
    from vae_core.explore.score_runs import kl_work
    from vae_core.model.vae import build_model

    model = build_model(tiny_config, seed=0).eval()
    codes = encode(model, summary_patches(tiny_data))
    line = ScoreLine()
    own, given = (
        line.request("own", kl_work(model, tiny_data)),
        line.request("given", kl_work(model, None, lambda: codes)),
    )
    assert own.wait(60) and given.wait(60) and own.error is None
    assert own.result.shape == (tiny_config.latent_dim,)
    np.testing.assert_allclose(own.result, kl_per_dim(codes), rtol=1e-5)
    np.testing.assert_allclose(given.result, own.result, rtol=1e-5)
