"""Latent maps: PCA exactness and speed, UMAP shapes/progress/inverse, bad inputs, threads.

UMAP data is small (200 codes of dimension 8), so the whole file costs one numba
compilation of umap-learn's exact-neighbour path plus about a second per fit.
"""

from __future__ import annotations

import pickle
import threading

import numpy as np
import pytest

from vae_core.explore import projection
from vae_core.explore.projection import Projection, project_pca, project_umap, warm_up_umap


@pytest.fixture(scope="module")
def small_codes() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(200, 8)).astype(np.float32)


@pytest.fixture(scope="module")
def umap_map(small_codes) -> tuple[Projection, list[tuple[float, str]]]:
    events: list[tuple[float, str]] = []
    return project_umap(small_codes, on_progress=lambda f, m: events.append((f, m))), events


def test_pca_is_exact_in_the_span():
    rng = np.random.default_rng(1)
    basis = np.linalg.qr(rng.normal(size=(8, 2)))[0].T  # (2, 8) orthonormal
    codes = (rng.normal(size=(50, 2)) * [3.0, 1.0]) @ basis + rng.normal(size=8)
    p = project_pca(codes.astype(np.float32), n_components=2)
    assert p.method == "pca" and p.coords.shape == (50, 2) and p.coords.dtype == np.float32
    assert p.n_components == 2 and p.latent_dim == 8
    np.testing.assert_allclose(p.inverse(p.coords), codes, atol=1e-5)
    np.testing.assert_allclose(p.transform(codes), p.coords, atol=1e-5)
    np.testing.assert_allclose(p.components @ p.components.T, np.eye(2), atol=1e-10)
    np.testing.assert_allclose(p.explained_variance_ratio.sum(), 1.0, atol=1e-6)  # rank 2: all variance
    assert p.explained_variance_ratio[0] > p.explained_variance_ratio[1]
    assert p.coords[:, 0].var() > p.coords[:, 1].var()
    again = project_pca(codes.astype(np.float32), n_components=2)
    np.testing.assert_array_equal(again.coords, p.coords)  # sign convention makes it deterministic


def test_pca_3d_accepts_codes_object_and_single_points():
    from vae_core.explore.latent import Codes

    mu = np.random.default_rng(2).normal(size=(30, 5)).astype(np.float32)
    p = project_pca(Codes(mu=mu, logvar=np.zeros_like(mu)), n_components=3)
    assert p.coords.shape == (30, 3)
    assert p.inverse(p.coords[0]).shape == (1, 5)  # one point as a (k,) vector
    assert p.inverse(np.zeros((0, 3))).shape == (0, 5)
    assert p.transform(mu[:0]).shape == (0, 3)


def test_pca_of_10000_codes_keeps_their_order_and_spread():
    # speed is measured by `python -m vae_core bench --projection`, not here
    codes = np.random.default_rng(3).normal(size=(10000, 32)).astype(np.float32) * np.linspace(3, 0.1, 32)
    p = project_pca(codes)
    assert p.coords.shape == (10000, 2) and np.isfinite(p.coords).all()
    assert p.coords[:, 0].std() > p.coords[:, 1].std() > 2.5  # the two widest directions, widest first


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda c: project_pca(c[0]), "2-D array"),
        (lambda c: project_pca(np.where(np.arange(8) == 3, np.nan, c)), "NaN or inf in 200 of 200"),
        (lambda c: project_pca(c[:1]), "at least 2"),
        (lambda c: project_pca(c, n_components=9), "n_components=9 is out of range"),
        (lambda c: project_pca(c).inverse(np.zeros((2, 3))), r"shape \(M, 2\)"),
        (lambda c: project_pca(c).transform(c[:, :4]), "fitted on 8"),
        (lambda c: project_umap(c[:7]), "UMAP needs at least 10 codes; this dataset has 7. Add images or use PCA"),
        (lambda c: project_umap(c, n_components=4), "n_components=4 is not supported"),
        (lambda c: project_umap(c, n_neighbors=1), "n_neighbors=1 is too small"),
        (lambda c: project_umap(c, min_dist=2.0), "min_dist=2.0 is out of range"),
    ],
)
def test_bad_inputs_name_the_parameter(small_codes, call, match):
    with pytest.raises(ValueError, match=match):
        call(small_codes)


def test_umap_map_progress_transform_inverse(umap_map, small_codes):
    p, events = umap_map
    assert p.method == "umap" and p.coords.shape == (200, 2) and p.coords.dtype == np.float32
    assert np.isfinite(p.coords).all() and p.coords.std(axis=0).min() > 0
    fractions = [f for f, _ in events]
    assert fractions == sorted(fractions) and fractions[0] < 0.1 and fractions[-1] == 1.0
    assert any(m.startswith("optimising layout (epoch") for _, m in events)
    np.testing.assert_array_equal(project_umap(small_codes).coords, p.coords)  # seeded: reproducible

    new = p.transform(small_codes[:5] + 0.01)
    assert new.shape == (5, 2) and np.isfinite(new).all()
    inv = p.inverse(p.coords[:3])
    assert inv.shape == (3, 8) and inv.dtype == np.float32 and np.isfinite(inv).all()
    np.testing.assert_allclose(p.inverse(p.coords[:3], approx=True), small_codes[:3], atol=1e-5)
    mid = p.inverse(p.coords[:2].mean(0, keepdims=True), approx=True)
    assert mid.shape == (1, 8) and np.isfinite(mid).all()

    restored = pickle.loads(pickle.dumps(p))  # st.cache_data pickles what it caches
    np.testing.assert_array_equal(restored.coords, p.coords)
    np.testing.assert_allclose(restored.transform(small_codes[:5] + 0.01), new, atol=1e-5)


def test_umap_small_set_lowers_n_neighbors_and_3d_inverse(small_codes):
    p = project_umap(small_codes[:12], n_components=3, n_neighbors=15)
    assert p.params["n_neighbors"] == 11
    assert p.coords.shape == (12, 3) and np.isfinite(p.coords).all()
    inv = p.inverse(p.coords[:2])  # umap-learn 0.5 inverts 3-D maps too (Delaunay in 3-D)
    assert inv.shape == (2, 8) and np.isfinite(inv).all()


def test_concurrent_umap_calls_all_succeed(small_codes):
    barrier = threading.Barrier(3)
    results: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = project_umap(small_codes + i, n_neighbors=10, seed=i).coords
        except BaseException as e:  # report in the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    assert sorted(results) == [0, 1, 2]
    for coords in results.values():
        assert coords.shape == (200, 2) and np.isfinite(coords).all()


def test_umap_waits_for_a_running_call(small_codes):
    waiting = threading.Event()
    out: list[Projection] = []

    def on_progress(fraction: float, message: str) -> None:
        if message.startswith("waiting"):
            waiting.set()

    with projection._UMAP_LOCK:  # stands for another session's map in progress
        t = threading.Thread(target=lambda: out.append(project_umap(small_codes, on_progress=on_progress)))
        t.start()
        assert waiting.wait(timeout=30)
        assert not out  # it really waits
    t.join(timeout=300)
    assert out and out[0].coords.shape == (200, 2)


def test_warm_up_is_idempotent_and_shares_the_lock(small_codes):
    seconds = []
    thread = threading.Thread(target=lambda: seconds.append(warm_up_umap()))
    thread.start()
    p = project_umap(small_codes, n_neighbors=5)  # alongside the warm-up: waits or goes first
    thread.join(timeout=300)
    assert seconds and seconds[0] >= 0 and np.isfinite(p.coords).all()
    assert "warm-up" in projection._COMPILED
    assert warm_up_umap() < 0.05  # nothing left to compile


def test_umap_fits_a_spread_subset_and_places_the_rest(small_codes):
    events: list[tuple[float, str]] = []
    p = project_umap(small_codes, n_neighbors=10, max_fit=60, on_progress=lambda f, m: events.append((f, m)))
    assert p.coords.shape == (200, 2) and np.isfinite(p.coords).all()
    assert p.params["n_fitted"] == 60 and p.codes.shape == (200, 8)
    assert any("placed 140 of 140" in m for _, m in events) and events[-1][0] == 1.0
    # the placed codes land among the fitted ones, not in a corner of their own
    lo, hi = p.coords[::4].min(0), p.coords[::4].max(0)
    assert ((p.coords >= lo - (hi - lo)) & (p.coords <= hi + (hi - lo))).all()
    with pytest.raises(ValueError, match="max_fit=5 is too small"):
        project_umap(small_codes, max_fit=5)


def test_the_warm_up_waits_while_told_to_then_compiles_once(monkeypatch):
    """The app's warm-up waits while a training run is going (a compile slowed it on two cores)."""
    import time

    called, busy_until = [], time.monotonic() + 0.4
    monkeypatch.setattr(projection, "warm_up_umap", lambda: called.append(time.monotonic()))
    thread = projection.warm_up_umap_in_background(0.0, wait_while=lambda: time.monotonic() < busy_until, poll_s=0.05)
    thread.join(timeout=30)
    assert len(called) == 1 and called[0] >= busy_until
    never = projection.warm_up_umap_in_background(0.0, wait_while=lambda: True, max_wait_s=0.2, poll_s=0.05)
    never.join(timeout=30)
    assert len(called) == 2  # a run that never ends does not keep the map cold for ever

    def broken() -> bool:
        raise TypeError("'int' object is not callable")  # what the app's first condition did (a property called)

    projection.warm_up_umap_in_background(0.0, wait_while=broken, poll_s=0.05).join(timeout=30)
    assert len(called) == 3  # a failing condition is logged, and the compile still happens
    assert isinstance(thread, threading.Thread)
