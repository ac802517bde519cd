"""Two- and three-dimensional maps of latent codes (PCA and UMAP) for the Latent map page.

A ``Projection`` holds the map coordinates of every code plus what is needed to place new
codes on the map (``transform``) and to turn a point of the map back into a code
(``inverse``), which the page then decodes into a patch.

Separate from ``latent`` because it needs no torch: codes come in as numpy arrays.
umap-learn is imported inside the functions that use it (importing it costs seconds).

Thread safety. umap-learn runs numba-compiled code. numba picks one threading layer per
process: "tbb" and "omp" are documented as threadsafe, but "workqueue", the fallback when
neither TBB nor an OpenMP runtime loads, aborts the whole process when two threads enter
parallel code at once. umap-learn also builds some numba functions per call and keeps
state on the fitted object. So every UMAP call here (fit, transform, inverse, warm-up) runs
under one module-level lock, whatever the layer. On a 2-core server, two layouts running at
once would only slow each other down, so the lock also avoids wasted time.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from vae_core.imaging import spread_indices

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from vae_core.explore.latent import Codes

ProgressFn = Callable[[float, str], None]  # on_progress(fraction in [0, 1], message)

UMAP_MIN_POINTS = 10  # below this a neighbour graph says nothing; the page should offer PCA
APPROX_NEIGHBOURS = 8  # map points averaged by ``Projection.inverse(..., approx=True)``
LAYOUT_START, LAYOUT_END = 0.4, 0.95  # progress fractions spanned by UMAP's layout epochs

_UMAP_LOCK = threading.Lock()  # serialises every umap-learn call in this process (module docstring)
_COMPILED: set[str] = set()  # "warm-up" once warm_up_umap ran, "fit" once a real project_umap call finished
UMAP_FIT_MAX = 20000  # project_umap fits at most this many codes and places the rest with transform


@dataclass
class Projection:
    """A fitted map of N latent codes of dimension D into k = 2 or 3 dimensions."""

    method: str  # "pca" or "umap"
    coords: np.ndarray  # (N, k) float32: where each fitted code lies on the map
    mean: np.ndarray | None = None  # PCA: (D,) float64 mean of the fitted codes
    components: np.ndarray | None = None  # PCA: (k, D) float64 orthonormal axes, most variance first
    explained_variance_ratio: np.ndarray | None = None  # PCA: (k,) share of the codes' variance per axis
    reducer: Any = None  # UMAP: the fitted ``umap.UMAP``
    codes: np.ndarray | None = None  # UMAP: (N, D) float32 fitted codes, for ``inverse(approx=True)``
    params: dict[str, Any] = field(default_factory=dict)  # settings actually used (n_neighbors after clipping, seed)

    @property
    def n_components(self) -> int:
        """k, the map's dimensionality."""
        return int(self.coords.shape[1])

    @property
    def latent_dim(self) -> int:
        """D, the dimensionality of the codes the map was fitted on."""
        if self.method == "pca":
            return int(self.components.shape[1])
        return int(self.codes.shape[1])

    def transform(self, codes: np.ndarray | Codes) -> np.ndarray:
        """Place new codes on the map: (M, D) -> (M, k) float32.

        PCA is exact. UMAP uses ``UMAP.transform``, which optimises each new point against
        the fitted ones (it does not move them), so it takes a fraction of a fit's time.
        """
        x = _as_codes(codes, "codes", min_rows=0)
        if x.shape[1] != self.latent_dim:
            raise ValueError(
                f"codes have {x.shape[1]} dimensions but this map was fitted on {self.latent_dim}; "
                "encode them with the same model"
            )
        if len(x) == 0:
            return np.zeros((0, self.n_components), np.float32)
        if self.method == "pca":
            return ((x - self.mean) @ self.components.T).astype(np.float32)
        with _UMAP_LOCK:
            return np.asarray(self.reducer.transform(x), dtype=np.float32)

    def inverse(self, coords: np.ndarray, approx: bool = False) -> np.ndarray:
        """Codes for points of the map: (M, k) -> (M, D) float32.

        PCA: ``mean + coords @ components``, exact for codes in the span of the axes
        (``approx`` is ignored). UMAP: ``UMAP.inverse_transform``, which triangulates the
        map and optimises each code against its simplex's corners. It takes seconds per call
        on thousands of codes (it re-triangulates and recompiles a numba kernel every call),
        so batch the points, or pass ``approx=True`` for an inverse-distance-weighted mean
        of the codes of the ``APPROX_NEIGHBOURS`` nearest fitted points (milliseconds; a
        point on a fitted point gives back that point's code). Points outside the map's
        hull give codes with no meaning under either UMAP inverse: keep clicks in range.
        """
        k = self.n_components
        y = np.asarray(coords, dtype=np.float64)
        if y.ndim == 1 and y.size == k:
            y = y[None, :]
        if y.ndim != 2 or y.shape[1] != k:
            raise ValueError(f"coords must have shape (M, {k}) for this {k}-D map; got {y.shape}")
        if not np.isfinite(y).all():
            raise ValueError("coords contain NaN or inf; pass finite map positions")
        if len(y) == 0:
            return np.zeros((0, self.latent_dim), np.float32)
        if self.method == "pca":
            return (self.mean + y @ self.components).astype(np.float32)
        if approx:
            return _weighted_neighbours(self.coords, self.codes, y)
        with _UMAP_LOCK:
            return np.asarray(self.reducer.inverse_transform(y.astype(np.float32)), dtype=np.float32)


def _as_codes(codes: np.ndarray | Codes, name: str, min_rows: int) -> np.ndarray:
    """Validate (N, D) codes (or a ``Codes``, using its ``mu``) -> float32, C-contiguous."""
    x = np.asarray(getattr(codes, "mu", codes))
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (N, D); got shape {x.shape}. Pass one row per code")
    if x.shape[1] < 1:
        raise ValueError(f"{name} have no dimensions (shape {x.shape}); encode the patches first")
    if len(x) < min_rows:
        raise ValueError(f"{name} has {len(x)} rows; this needs at least {min_rows}")
    x = np.ascontiguousarray(x, dtype=np.float32)
    bad = int((~np.isfinite(x)).any(axis=1).sum())
    if bad:
        raise ValueError(f"{name} contain NaN or inf in {bad} of {len(x)} rows; drop those rows or re-encode")
    return x


def _check_components(n_components: int, allowed: tuple[int, ...]) -> None:
    if n_components not in allowed:
        raise ValueError(f"n_components={n_components} is not supported; choose one of {allowed}")


def project_pca(codes: np.ndarray | Codes, n_components: int = 2) -> Projection:
    """PCA of codes (N, D) -> ``Projection`` with coords (N, n_components) float32.

    Why not scikit-learn's PCA (the pixel baseline in ``explore.metrics`` uses it): here D is
    the latent size (tens), so the D x D covariance is tiny and numpy's eigh on it is exact,
    dependency-free and fast enough to redo on every rerun. Eigen-decomposition of that
    covariance (what scikit-learn calls the "covariance_eigh" solver) is O(N D^2),
    milliseconds for 10,000 codes of dimension 32, and it gives D axes even when N < D.
    Each axis's sign is fixed so that its largest loading is
    positive, so the same codes always give the same picture.
    """
    x = _as_codes(codes, "codes", min_rows=2).astype(np.float64)
    d = x.shape[1]
    if not 1 <= n_components <= d:
        raise ValueError(f"n_components={n_components} is out of range for {d}-dimensional codes; choose 1..{d}")
    mean = x.mean(axis=0)
    xc = x - mean
    evals, evecs = np.linalg.eigh(xc.T @ xc)  # ascending
    order = np.argsort(evals)[::-1][:n_components]
    components = evecs[:, order].T  # (k, D)
    signs = np.sign(components[np.arange(n_components), np.abs(components).argmax(axis=1)])
    components *= np.where(signs == 0, 1.0, signs)[:, None]
    total = float(np.clip(evals, 0, None).sum())
    ratio = np.clip(evals[order], 0, None) / total if total > 0 else np.zeros(n_components)
    return Projection(
        method="pca",
        coords=(xc @ components.T).astype(np.float32),
        mean=mean,
        components=components,
        explained_variance_ratio=ratio,
        params={"n_components": n_components},
    )


class _LayoutProgress:
    """File-like sink for umap-learn's tqdm epoch bar: "n/total" writes -> on_progress calls.

    umap-learn has no progress callback, but it passes ``tqdm_kwds`` to the tqdm bar of its
    layout loop; with ``file=`` this object and ``bar_format="{n}/{total}"`` each refresh
    of the bar arrives here as text.
    """

    _pattern = re.compile(r"(\d+)/(\d+)")

    def __init__(self, on_progress: ProgressFn) -> None:
        self.on_progress = on_progress

    def write(self, s: str) -> int:
        found = self._pattern.findall(s)
        if found:
            n, total = (int(v) for v in found[-1])
            if total > 0:
                frac = LAYOUT_START + (LAYOUT_END - LAYOUT_START) * min(n, total) / total
                self.on_progress(frac, f"optimising layout (epoch {n}/{total})")
        return len(s)

    def flush(self) -> None:
        pass


def project_umap(
    codes: np.ndarray | Codes,
    n_components: int = 2,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    seed: int | None = 0,
    on_progress: ProgressFn | None = None,
    max_fit: int | None = UMAP_FIT_MAX,
) -> Projection:
    """UMAP (McInnes et al. 2018) of codes (N, D) -> ``Projection`` with coords (N, k) float32.

    Neighbours are always found with pynndescent's approximate search
        (``force_approximation_algorithm``). umap-learn's exact search, its default below 4,096
        codes, calls a Python-level distance function once per pair through scikit-learn:
        4,000 codes took 28-44 s warm on this project's 2-core machine, against 4.3 s
        approximate (5,000: 5.4 s; 20,000: 14.5 s). One path also means one warm-up.

        Above ``max_fit`` codes (``None``: no limit) the layout is fitted on ``max_fit`` of them,
        evenly spread, and the others are placed with ``UMAP.transform``, which moves only the
        new points; the price is that the placed codes do not shape the layout.

        ``n_neighbors`` is lowered to N - 1 for small sets (``params`` records the value used).
        ``seed`` makes the map reproducible but single-threaded (umap-learn's rule); ``None``
        uses all cores and gives a different map each time. ``on_progress(fraction, message)``
        gets coarse stages: 0.02 neighbour graph (plus spectral initialisation), 0.4-0.95 the
        layout epochs as umap-learn's tqdm bar reports them, 1.0 done. The first call in a
        process also compiles umap-learn's numba code (about a minute on 2 cores) unless
        ``warm_up_umap`` ran first. Calls from several threads run one at a time.
    """
    x = _as_codes(codes, "codes", min_rows=0)
    _check_components(n_components, (2, 3))
    if len(x) < UMAP_MIN_POINTS:
        raise ValueError(
            f"UMAP needs at least {UMAP_MIN_POINTS} codes; this dataset has {len(x)}. Add images or use PCA."
        )
    if n_neighbors < 2:
        raise ValueError(f"n_neighbors={n_neighbors} is too small; choose 2 or more (15 is typical)")
    if not 0.0 <= min_dist <= 1.0:
        raise ValueError(f"min_dist={min_dist} is out of range; choose 0.0..1.0 (0.1 is typical)")
    if max_fit is not None and max_fit < max(UMAP_MIN_POINTS, n_neighbors + 1):
        raise ValueError(f"max_fit={max_fit} is too small; choose at least {max(UMAP_MIN_POINTS, n_neighbors + 1)}")
    fit = spread_indices(len(x), max_fit) if max_fit is not None else np.arange(len(x))
    used_neighbors = min(n_neighbors, len(fit) - 1)
    report = on_progress or (lambda frac, msg: None)

    if not _UMAP_LOCK.acquire(blocking=False):
        report(0.0, "waiting for another UMAP map to finish")
        _UMAP_LOCK.acquire()
    try:
        cold = not _COMPILED
        report(0.02, "building neighbour graph" + (" (the first map compiles UMAP: a minute or so)" if cold else ""))
        import umap

        tqdm_kwds = {"disable": True}
        if on_progress is not None:
            tqdm_kwds = {"disable": False, "file": _LayoutProgress(on_progress), "bar_format": "{n}/{total}"}
            tqdm_kwds |= {"mininterval": 0.25, "desc": ""}
        reducer = umap.UMAP(
            n_components=n_components,
            n_neighbors=used_neighbors,
            min_dist=min_dist,
            random_state=seed,
            transform_seed=42 if seed is None else seed,
            n_jobs=1 if seed is not None else -1,  # umap-learn forces 1 with a seed; saying so avoids its warning
            tqdm_kwds=tqdm_kwds,
            force_approximation_algorithm=True,  # see the docstring: the exact search is the slow one here
        )
        coords = np.empty((len(x), n_components), np.float32)
        coords[fit] = reducer.fit_transform(x[fit])
        # The fitted object keeps tqdm_kwds for transform/inverse: drop the callback so later
        # calls do not report into a finished page, and so the object pickles (st.cache_data).
        reducer.tqdm_kwds = {"disable": True}
        rest = np.setdiff1d(np.arange(len(x)), fit)
        if len(rest):
            report(LAYOUT_END, f"placing the other {len(rest):,} codes on the map of {len(fit):,}")
            for i in range(0, len(rest), max(len(fit), 1)):  # chunks: transform holds a chunk x fit distance matrix
                coords[rest[i : i + len(fit)]] = reducer.transform(x[rest[i : i + len(fit)]])
                report(
                    LAYOUT_END + 0.05 * min(1.0, (i + len(fit)) / len(rest)),
                    f"placed {min(i + len(fit), len(rest)):,} of {len(rest):,} other codes",
                )
        _COMPILED.add("fit")
    finally:
        _UMAP_LOCK.release()
    if not np.isfinite(coords).all():
        raise ValueError("UMAP produced NaN coordinates; try a larger n_neighbors or use PCA")
    report(1.0, "done")
    return Projection(
        method="umap",
        coords=coords,
        reducer=reducer,
        codes=x,
        params={
            "n_components": n_components,
            "n_neighbors": used_neighbors,
            "min_dist": min_dist,
            "seed": seed,
            "n_fitted": len(fit),
        },
    )


def _weighted_neighbours(coords: np.ndarray, codes: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Inverse-distance-weighted mean code of the nearest map points: (M, k) -> (M, D) float32."""
    from scipy.spatial import cKDTree

    k = min(APPROX_NEIGHBOURS, len(coords))
    dist, idx = cKDTree(coords.astype(np.float64)).query(y, k=k)
    dist, idx = dist.reshape(len(y), k), idx.reshape(len(y), k)
    w = 1.0 / np.maximum(dist, 1e-12) ** 2
    w /= w.sum(axis=1, keepdims=True)
    return np.einsum("mk,mkd->md", w, codes[idx].astype(np.float64)).astype(np.float32)


def wait_until_umap_idle(timeout: float = 300.0) -> bool:
    """Block until no umap-learn call (the warm-up included) runs in this process, at most ``timeout`` s; True if idle.

    numba's compiler and its compiled layout hold the GIL for long stretches, so Python-heavy
    work in another thread (the Analyze task) crawls meanwhile: measured 20-30x slower on a busy
    2-core server, so waiting first is faster overall.
    """
    if not _UMAP_LOCK.acquire(timeout=timeout):
        return False
    _UMAP_LOCK.release()
    return True


def warm_up_umap() -> float:
    """Compile umap-learn's numba code now, so the first real map is fast; returns seconds taken.

    Runs a tiny seeded fit (with pynndescent's neighbour search, as ``project_umap`` does), a
    transform and an inverse on random data: about 25-55 s on this project's 2-core machine.
    Compiling holds the GIL much of the time, so other threads of the process run slower
    meanwhile. Meant for a background thread at server start: it holds the
    same lock as real calls, which wait for it, and a repeated call returns at once.
    Compiled code lives in this process only (numba also caches some pynndescent and
    umap-learn functions on disk). It compiles the single-threaded layout that seeded maps
    use; ``seed=None`` maps still compile umap-learn's parallel layout on first use.
    """
    t0 = time.perf_counter()
    with _UMAP_LOCK:
        if "warm-up" in _COMPILED:
            return time.perf_counter() - t0
        import umap

        x = np.random.default_rng(0).normal(size=(200, 8)).astype(np.float32)
        reducer = umap.UMAP(n_neighbors=10, n_epochs=20, random_state=0, n_jobs=1, force_approximation_algorithm=True)
        y = reducer.fit_transform(x)
        reducer.transform(x[:4])
        reducer.inverse_transform(y[:2])
        _COMPILED.add("warm-up")
    return time.perf_counter() - t0


def warm_up_umap_in_background(
    delay_s: float = 0.0,
    wait_while: Callable[[], bool] | None = None,
    max_wait_s: float = 900.0,
    poll_s: float = 2.0,
) -> threading.Thread:
    """Run ``warm_up_umap`` in a daemon thread after ``delay_s`` seconds, at background CPU priority.

    The app starts it with the server: the first visitor's map is then warm, and pages and
    training keep the CPU while numba compiles (``training.threads.background_priority``).
    Before that, scikit-learn's PCA is imported at normal priority, so that the first visit to
    the Model or Reconstructions page does not pay for that import (about 3 s).

    ``wait_while``: while it returns True (the app: a training run is going), the compile waits,
    polling every ``poll_s`` seconds, for at most ``max_wait_s``. On two cores even a low-priority
    compile slowed a fresh server's first training run by about a tenth (README, "Training runs in
    its own process"). A map asked for meanwhile compiles what it needs itself; nothing is held
    while waiting.
    """
    from vae_core.training.threads import background_priority

    def work() -> None:
        # First, at normal priority, what the pages import on a first visit (the PCA baseline's
        # scikit-learn: about 3 s): a page importing it meanwhile would wait on this import.
        import sklearn.decomposition  # noqa: F401

        deadline = time.monotonic() + max_wait_s
        while wait_while is not None and time.monotonic() < deadline:
            try:
                if not wait_while():
                    break
            except Exception:  # a broken predicate must not cost the server its warm map
                log.exception("the UMAP warm-up's wait condition failed; compiling now")
                break
            time.sleep(poll_s)
        background_priority()
        warm_up_umap()

    thread = threading.Timer(delay_s, work)
    thread.name, thread.daemon = "umap-warm-up", True
    thread.start()
    return thread
