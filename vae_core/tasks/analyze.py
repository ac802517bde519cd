"""Analyze: can the VAE tell textures apart? Its features next to LBP, GLCM and raw-pixel PCA, on the user's labels.

:func:`analyze` takes labelled images and a model and returns an :class:`Analysis`: for every
feature set (:data:`vae_core.tasks.analyze_features.FEATURE_SETS`), probes cross-validated
with folds grouped by source image, at the image level (one descriptor per image) and at the
patch level (one per patch); the comparison as a :class:`~vae_core.tasks.results.TaskResult`
(the VAE descriptor against the best classic set, whichever wins); per-class recall and
confusion matrices; and a classifier fitted on everything, which :func:`classify_image` uses
for a new image (its class, the probabilities, and its nearest training patches).

Nothing here imports streamlit; a page runs :func:`start_analysis` (a background thread with
progress) and renders the result with ``pages.shared.compare_view`` and
:mod:`vae_core.tasks.analyze_report`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vae_core.config import AnalyzeConfig
from vae_core.data.images import TextureImage, to_channels
from vae_core.imaging import downscale
from vae_core.tasks import analyze_features as af
from vae_core.tasks import probes
from vae_core.tasks.results import MethodResult, Metric, TaskResult

LEVELS = ("image", "patch")
IMAGES, SPREAD, IMAGES_KNN = "accuracy per image", "± across folds", "per image, kNN"
PATCHES, PATCHES_KNN = "accuracy per patch", "per patch, kNN"
METRICS = [
    Metric(IMAGES, True, 2, help="balanced accuracy of a logistic probe on whole images it did not learn from"),
    Metric(SPREAD, False, 2, help="how much that moved between the cross-validation folds (standard deviation)"),
    Metric(IMAGES_KNN, True, 2, help="the same with the 5 nearest neighbours instead of the logistic probe"),
    Metric(PATCHES, True, 2, help="balanced accuracy of a logistic probe on single patches"),
    Metric(PATCHES_KNN, True, 2, help="the same with the 5 nearest neighbours"),
]
NOTES = {
    af.DESCRIPTOR: "per image: how the encoder's first two layers respond together (covariances), over 8 turns",
    af.CODES: "per image: mean and spread of its patches' codes; per patch: the code (mu)",
    af.LATENT_LBP: "the VAE texture descriptor and LBP side by side (per patch: the code and LBP)",
    af.LBP: "local binary patterns: uniform, radii 1, 2 and 3 (grey levels only)",
    af.GLCM: "grey-level co-occurrence: 6 properties at distances 1, 2 and 4 (grey levels only)",
    af.LBP_GLCM: "LBP and GLCM side by side: the strongest classic set",
    af.PCA: "PCA of the raw pixels with as many numbers as the latent code, pooled like the codes",
}


@dataclass
class Analysis:
    """Everything one analysis found; ``result`` is the VAE-vs-classic table every page renders the same way."""

    result: TaskResult  # one MethodResult per feature set; headline: image-level balanced accuracy
    scores: dict[tuple[str, str, str], probes.ProbeScore]  # (set, level, probe) -> its cross-validated score
    features: af.Features
    n_folds: int
    classifier_set: str  # the feature set of the fitted classifier (the best image-level one)
    classifier: Any = field(repr=False)  # a fitted scikit-learn pipeline on that set
    describer: af.TextureDescriber | None = field(default=None, repr=False)

    @property
    def chance(self) -> float:
        """Balanced accuracy of guessing: 1 / number of classes."""
        return 1.0 / len(self.features.label_names)

    def score(self, feature_set: str, level: str = "image", probe: str = "logistic") -> probes.ProbeScore | None:
        """The score of one feature set, level and probe (None where it does not apply)."""
        return self.scores.get((feature_set, level, probe))


def _task_result(scores: dict, features: af.Features, seconds: dict[str, float], n_folds: int) -> TaskResult:
    methods = []
    for name in af.FEATURE_SETS:
        got = {
            IMAGES: scores.get((name, "image", "logistic")),
            IMAGES_KNN: scores.get((name, "image", "knn")),
            PATCHES: scores.get((name, "patch", "logistic")),
            PATCHES_KNN: scores.get((name, "patch", "knn")),
        }
        metrics = {k: (s.balanced_accuracy if s else float("nan")) for k, s in got.items()}
        metrics[SPREAD] = got[IMAGES].spread
        methods.append(MethodResult(name, name in af.VAE_SETS, metrics, None, seconds.get(name, 0.0), NOTES[name]))
    n = len(features.label_names)
    return TaskResult(
        task="texture classification",
        metrics=METRICS,
        methods=methods,
        extra={"classes": n, "chance": 1.0 / n, "images": len(features.unit_names), "folds": n_folds},
    )


def _fit_final(features: af.Features, feature_set: str):
    """The logistic probe fitted on every image's ``feature_set``, for classifying new images."""
    y = features.unit_labels
    probe = probes.make_probe("logistic", int(np.bincount(y).min()), features.blocks.get((feature_set, "image")))
    with probes.quiet_single_thread():
        probe.fit(np.nan_to_num(features.image[feature_set].astype(np.float64)), y)
    return probe


def analyze(
    images: list[TextureImage],
    model,
    config: AnalyzeConfig | None = None,
    on_progress: Callable[[float, str], None] | None = None,
) -> Analysis:
    """Cross-validate every feature set on labelled ``images`` with ``model``; raises AnalysisInputError in plain words.

    images: TextureImages, (H, W, C) uint8, with labels; model: a ConvVAE (its patch size and
    channels decide how images are cut and converted). Progress goes to ``on_progress(fraction, words)``.
    """
    config = (config or AnalyzeConfig()).validate()
    report = on_progress or (lambda fraction, message: None)
    channels, size = int(model.config.channels), int(model.config.image_size)
    units, skipped = af.make_units(images, size, channels, config)
    describer = af.TextureDescriber(model, config)
    features = af.extract_features(units, describer, report, skipped)
    y, patch_y = features.unit_labels, features.unit_labels[features.patch_unit]
    folds = probes.grouped_folds(y, np.arange(len(y)), config.n_splits, config.seed)
    pfolds = probes.patch_folds(folds, features.patch_unit)
    n_classes = len(features.label_names)
    scores: dict[tuple[str, str, str], probes.ProbeScore] = {}
    seconds = dict(describer.seconds)  # making the features, then testing them below
    jobs = [(name, "image", kind) for name in af.FEATURE_SETS for kind in probes.PROBES]
    jobs += [(name, "patch", kind) for name in af.FEATURE_SETS if name in features.patch for kind in probes.PROBES]
    for j, (name, level, kind) in enumerate(jobs):
        probe = "logistic probe" if kind == "logistic" else "nearest neighbours"
        what = "images" if level == "image" else "patches"
        report(0.92 + 0.07 * j / len(jobs), f"Testing {name} on {what} ({probe})")
        t = time.perf_counter()
        if level == "image":
            x, labels, splits = features.image[name], y, folds
        else:
            x, labels, splits = features.patch[name], patch_y, pfolds
        blocks = features.blocks.get((name, level))
        scores[(name, level, kind)] = probes.cross_validate(x, labels, splits, kind, n_classes, blocks)
        seconds[name] += time.perf_counter() - t
    best = max(af.FEATURE_SETS, key=lambda n: scores[(n, "image", "logistic")].balanced_accuracy)
    report(0.99, f"Fitting the classifier for new images on {best}")
    classifier = _fit_final(features, best)
    report(1.0, "Done")
    return Analysis(
        result=_task_result(scores, features, seconds, len(folds)),
        scores=scores,
        features=features,
        n_folds=len(folds),
        classifier_set=best,
        classifier=classifier,
        describer=describer,
    )


@dataclass
class Prediction:
    """What the fitted classifier says about one new image."""

    label: str  # the most probable class
    probability: float  # its probability
    probabilities: dict[str, float]  # every class -> probability, most probable first
    nearest: np.ndarray  # (k, C, P, P) uint8 the training patches whose codes are closest to the image's patches
    nearest_labels: list[str]  # (k,) their classes
    nearest_images: list[str]  # (k,) the images they come from
    feature_set: str  # which feature set the classifier uses


def classify_image(analysis: Analysis, pixels: np.ndarray, k: int = 8) -> Prediction:
    """Classify ``(H, W, C) uint8`` pixels (any C) with the analysis' classifier; ``k`` nearest training patches."""
    describer, features = analysis.describer, analysis.features
    size = describer.size
    pixels = downscale(to_channels(pixels, int(describer.model.config.channels)), describer.config.max_side)
    if min(pixels.shape[:2]) < size:
        raise ValueError(
            f"the image is {pixels.shape[1]}x{pixels.shape[0]} pixels; it needs at least {size} on each side"
        )
    described = describer.describe(pixels)
    describer.add_pca(pixels, described)
    x = np.nan_to_num(described.image[analysis.classifier_set].astype(np.float64))[None]
    with probes.quiet_single_thread():
        proba = analysis.classifier.predict_proba(x)[0]
    names = [features.label_names[c] for c in analysis.classifier.classes_]
    order = np.argsort(-proba)
    # Nearest gallery patch to each of the image's patches, then the k closest of those.
    d2 = ((described.mu[:, None, :] - features.gallery_mu[None, :, :]) ** 2).sum(-1)
    best_per_gallery = d2.min(0)
    pick = np.argsort(best_per_gallery)[:k]
    units = features.gallery_unit[pick]
    return Prediction(
        label=names[order[0]],
        probability=float(proba[order[0]]),
        probabilities={names[i]: float(proba[i]) for i in order},
        nearest=features.gallery[pick],
        nearest_labels=[features.label_names[features.unit_labels[u]] for u in units],
        nearest_images=[features.unit_names[u] for u in units],
        feature_set=analysis.classifier_set,
    )


# --- running in the background ---------------------------------------------------------------

_RUNNING = threading.BoundedSemaphore(1)  # one analysis at a time per server: each keeps the CPUs busy


@dataclass
class AnalysisRun:
    """An analysis in a background thread (named ``analyze-...``); the page polls its fields."""

    key: Any  # what it was computed for (model and images versions)
    fraction: float = 0.0  # progress in [0, 1]
    message: str = "waiting for another analysis on this server to finish"
    analysis: Analysis | None = None
    error: str | None = None  # plain words
    thread: threading.Thread | None = field(default=None, repr=False)
    cancelled: bool = False  # set by cancel(): the thread stops at its next progress report

    @property
    def running(self) -> bool:
        return self.analysis is None and self.error is None

    def cancel(self) -> None:
        """Stop this run soon (a session that starts a new one does not leave the old one queued or working)."""
        self.cancelled = True


class _Cancelled(Exception):
    pass


def start_analysis(images: list[TextureImage], model, key: Any, config: AnalyzeConfig | None = None) -> AnalysisRun:
    """Start :func:`analyze` in a daemon thread that writes only to the returned run (queued behind any other)."""
    run = AnalysisRun(key=key)

    def progress(fraction: float, message: str) -> None:
        if run.cancelled:
            raise _Cancelled
        run.fraction, run.message = fraction, message

    def work() -> None:
        from vae_core.explore.projection import wait_until_umap_idle
        from vae_core.training.threads import pin_torch_threads

        with _RUNNING:
            run.message = "starting"
            # One torch thread, whatever the machine: the encoder's convolutions are small, and on a
            # busy 2-core server two OpenMP threads made them 20-50x slower (measured: 140 ms
            # against 2.5 ms for a 64 px image), since a thread that waits for a descheduled peer spins.
            pin_torch_threads(1)
            run.message = "Waiting for the server to finish warming up (this can take a minute)"
            wait_until_umap_idle()  # otherwise numba's compiler, holding the GIL, slows this 20-30x
            try:
                progress(0.0, "starting")
                run.analysis = analyze(images, model, config, progress)
            except _Cancelled:
                run.error = "Stopped: a newer analysis replaced this one."
            except af.AnalysisInputError as exc:
                run.error = str(exc)
            except Exception as exc:  # reported on the run; the page shows it in words
                run.error = f"The analysis failed unexpectedly ({type(exc).__name__}: {exc})."

    run.thread = threading.Thread(target=work, name=f"analyze-{id(run):x}", daemon=True)
    run.thread.start()
    return run
