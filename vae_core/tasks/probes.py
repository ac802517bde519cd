"""Linear and nearest-neighbour probes, cross-validated with folds grouped by source image.

Patches cut from one image overlap and share its lighting, so a split that puts patches of
one image on both sides measures memory, not recognition. Every fold here holds out whole
*groups* (an image, or a spatial block of one: see :mod:`vae_core.tasks.analyze`), stratified
by class so each fold sees every class it can (scikit-learn's ``StratifiedGroupKFold``).

The probes are deliberately plain, so that the score measures the features rather than the
classifier: a standardised L2 logistic regression, and k nearest neighbours (k <= 5) in the
standardised space. Scores are balanced accuracy (the mean of the per-class recalls, so a
large class cannot hide a small one), its spread across folds, the per-class recall and the
confusion matrix of the out-of-fold predictions.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

PROBES = ("logistic", "knn")  # the two probes every feature set is scored with
LOGISTIC_C = 1.0  # inverse L2 strength of the logistic probe (README, ablation)
MAX_NEIGHBOURS = 5  # k of the kNN probe, fewer when a class has fewer training examples


@dataclass
class ProbeScore:
    """How well one probe on one feature set classifies held-out groups."""

    balanced_accuracy: float  # mean over folds of the balanced accuracy (mean per-class recall)
    spread: float  # standard deviation of that across folds
    fold_scores: list[float]  # one balanced accuracy per fold
    recall: np.ndarray  # (K,) per-class recall of all out-of-fold predictions (NaN for a class never tested)
    confusion: np.ndarray  # (K, K) int64: rows true class, columns predicted class
    predicted: np.ndarray  # (N,) int64 out-of-fold prediction of every example


@contextlib.contextmanager
def quiet_single_thread() -> Iterator[None]:
    """Fit probes on one BLAS/OpenMP thread, without convergence chatter.

    These fits are small (hundreds of examples); on a busy 2-core server, BLAS threads fighting
    each other made a 3-second cross-validation take 70 seconds (measured, README "Analyze").
    """
    from threadpoolctl import threadpool_limits

    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore")  # convergence notes, or a fold without some class
        yield


def grouped_folds(
    labels: np.ndarray, groups: np.ndarray, n_splits: int = 5, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Folds ``(train_idx, test_idx)`` over examples ``(N,)``; no group is ever on both sides of a fold.

    ``n_splits`` shrinks to the smallest number of groups in a class (at least 2), so that every
    class can appear in several test folds. Raises ``ValueError`` with fewer than 2 groups per class.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    labels, groups = np.asarray(labels), np.asarray(groups)
    per_class = [len(np.unique(groups[labels == c])) for c in np.unique(labels)]
    if min(per_class, default=0) < 2:
        raise ValueError("every class needs at least 2 separate images (or image parts) to be cross-validated")
    k = max(2, min(n_splits, min(per_class)))
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return [(tr, te) for tr, te in splitter.split(np.zeros(len(labels)), labels, groups)]


def block_weights(blocks: list[int]) -> np.ndarray:
    """Per-column weights ``(sum(blocks),)`` that give every block of a feature set the same total variance.

    After standardising, a block of n columns carries variance n; a 2,608-number descriptor
    next to 54 LBP bins would drown them. Each block is scaled by sqrt(smallest / n), so the
    smallest block keeps weight 1 and a set of one block is left as it is.
    """
    smallest = min(blocks)
    return np.concatenate([np.full(n, np.sqrt(smallest / n)) for n in blocks])


def _weigh(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return x * weights


def make_probe(kind: str, n_train_min: int = MAX_NEIGHBOURS, blocks: list[int] | None = None):
    """A fresh scikit-learn pipeline: standardise, weigh the blocks (:func:`block_weights`), then ``kind``.

    ``kind``: "logistic" or "knn"; ``n_train_min``: the fewest training examples of any class
    (k of kNN is at most this); ``blocks``: column counts of the parts of a combined feature set.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    steps = [StandardScaler()]
    if blocks and len(blocks) > 1:
        steps.append(FunctionTransformer(_weigh, kw_args={"weights": block_weights(blocks)}))
    if kind == "logistic":
        return make_pipeline(*steps, LogisticRegression(C=LOGISTIC_C, max_iter=2000))
    if kind == "knn":
        return make_pipeline(*steps, KNeighborsClassifier(n_neighbors=max(1, min(MAX_NEIGHBOURS, n_train_min))))
    raise ValueError(f"kind={kind!r} is not a probe; choose one of {PROBES}")


def cross_validate(
    features: np.ndarray,
    labels: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    kind: str,
    n_classes: int,
    blocks: list[int] | None = None,
) -> ProbeScore:
    """Score probe ``kind`` on ``features`` (N, F) with ``labels`` (N,) in [0, n_classes) over ``folds``.

    ``blocks``: the column counts of a combined set's parts (see :func:`make_probe`).
    """
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix

    x = np.nan_to_num(np.asarray(features, np.float64))
    y = np.asarray(labels)
    predicted = np.full(len(y), -1, np.int64)
    scores = []
    for train, test in folds:
        n_min = int(np.bincount(y[train]).min(initial=len(train)))
        probe = make_probe(kind, n_min, blocks)
        with quiet_single_thread():
            probe.fit(x[train], y[train])
            predicted[test] = probe.predict(x[test])
            scores.append(float(balanced_accuracy_score(y[test], predicted[test])))
    tested = predicted >= 0
    confusion = confusion_matrix(y[tested], predicted[tested], labels=np.arange(n_classes))
    support = confusion.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(support > 0, np.diag(confusion) / support, np.nan)
    return ProbeScore(
        balanced_accuracy=float(np.mean(scores)),
        spread=float(np.std(scores)),
        fold_scores=scores,
        recall=recall,
        confusion=confusion.astype(np.int64),
        predicted=predicted,
    )


def patch_folds(
    unit_folds: list[tuple[np.ndarray, np.ndarray]], patch_unit: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The image-level folds carried over to patches: a patch is on the side of the image it was cut from."""
    out = []
    for train, test in unit_folds:
        out.append((np.flatnonzero(np.isin(patch_unit, train)), np.flatnonzero(np.isin(patch_unit, test))))
    return out
