"""The Analyze task: probes beat chance, folds never split an image, plain messages, exact CSV round trips."""

from __future__ import annotations

import numpy as np
import pytest

from vae_core.config import AnalyzeConfig
from vae_core.data.images import TextureImage
from vae_core.data.samples import procedural_texture
from vae_core.tasks import analyze_features as af
from vae_core.tasks import analyze_report as report
from vae_core.tasks import probes
from vae_core.tasks.analyze import analyze, classify_image, start_analysis

KINDS = ("stripes", "dots", "checks")
SMALL = AnalyzeConfig(max_patches=9, gallery_per_image=2, n_splits=3)


def _images(kinds=KINDS, per_kind: int = 4, size: int = 64) -> list[TextureImage]:
    return [
        TextureImage(f"{k}_{i}.png", k, procedural_texture(k, size=size, seed=10 * j + i))
        for j, k in enumerate(kinds)
        for i in range(per_kind)
    ]


@pytest.fixture(scope="module")
def model():
    """The bundled starter (32 px, 32 numbers): what a user gets; an untrained tiny model's features are too weak."""
    from pathlib import Path

    from vae_core.model.checkpoint import load_checkpoint

    return load_checkpoint(Path(__file__).resolve().parents[2] / "assets" / "starter.safetensors").model.eval()


@pytest.fixture(scope="module")
def analysis(model):
    """In its own thread with one torch thread, as the app runs it (two fight on a busy 2-core machine)."""
    from testkit import in_new_thread

    from vae_core.training.threads import pin_torch_threads

    return in_new_thread(lambda: (pin_torch_threads(1), analyze(_images(), model, SMALL))[1])


def test_the_probes_beat_chance_on_procedural_textures(analysis):
    chance = 1 / len(KINDS)
    assert analysis.chance == pytest.approx(chance)
    # Classic sets are far above chance on these; the model's sets above it (how far depends on the model).
    margins = {af.LBP: 0.4, af.LBP_GLCM: 0.4, af.LATENT_LBP: 0.25, af.DESCRIPTOR: 0.1, af.CODES: 0.1}
    for name, margin in margins.items():
        score = analysis.score(name)
        assert score.balanced_accuracy > chance + margin, (name, score.balanced_accuracy)
        assert score.confusion.sum() == 12 and len(score.fold_scores) == analysis.n_folds == 3
    assert analysis.score(af.CODES, "patch").balanced_accuracy > chance + 0.1
    assert analysis.score(af.DESCRIPTOR, "patch") is None  # pooled over an image: no patch level
    # The comparison has the one result shape, with the VAE descriptor as its VAE method.
    assert analysis.result.vae.name == af.DESCRIPTOR
    assert {m.name for m in analysis.result.classic} == {af.LBP, af.GLCM, af.LBP_GLCM, af.PCA}
    assert analysis.result.verdict().startswith("The VAE")


def test_grouped_folds_never_put_one_image_on_both_sides(analysis):
    f = analysis.features
    folds = probes.grouped_folds(f.unit_labels, np.arange(len(f.unit_labels)), 3, seed=0)
    for (train, test), (ptrain, ptest) in zip(folds, probes.patch_folds(folds, f.patch_unit), strict=True):
        assert not set(train) & set(test)
        assert not set(f.patch_unit[ptrain]) & set(f.patch_unit[ptest])  # no image's patches on both sides
        assert len(ptrain) + len(ptest) == len(f.patch_unit)
    # Any grouping, not only one image per group: a group is never split.
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 30, 300)
    labels = groups % 3
    for train, test in probes.grouped_folds(labels, groups, 5, seed=1):
        assert not set(groups[train]) & set(groups[test])


def test_fewer_than_two_labels_gives_a_plain_message(model):
    one_label = [TextureImage(f"a_{i}.png", "brick", procedural_texture("dots", 64, i)) for i in range(4)]
    message = af.label_problem(one_label)
    assert "at least 2 labels" in message and "'brick'" in message and "Data page" in message
    with pytest.raises(af.AnalysisInputError, match="at least 2 labels"):
        analyze(one_label, model, SMALL)
    assert "no images yet" in af.label_problem([])


def test_a_label_with_too_few_images_is_named_or_cut_into_blocks():
    images = [*_images(per_kind=3), TextureImage("wood_0.png", "wood", procedural_texture("wood", 64, 0))]
    with pytest.raises(af.AnalysisInputError, match=r"Too few: 'wood' \(1 image\)"):
        af.make_units(images, 32, 3, SMALL)
    # One image big enough for 2 x 2 blocks of 2 patches each: its blocks count as images.
    images[-1] = TextureImage("wood_0.png", "wood", procedural_texture("wood", 128, 0))
    units, skipped = af.make_units(images, 32, 3, SMALL)
    wood = [u for u in units if u.label == "wood"]
    assert [u.name for u in wood] == [f"wood_0.png (part {k} of 4)" for k in (1, 2, 3, 4)]
    assert all(u.pixels.shape == (64, 64, 3) for u in wood) and not skipped


def test_the_feature_csv_round_trips(analysis):
    f = analysis.features
    for name, level in ((af.DESCRIPTOR, "image"), (af.CODES, "patch"), (af.LBP_GLCM, "image")):
        names, labels, values = report.read_features_csv(report.features_csv(f, name, level))
        table = f.image if level == "image" else f.patch
        np.testing.assert_array_equal(values, table[name])  # exactly: float32 written with 9 digits
        units = np.arange(len(values)) if level == "image" else f.patch_unit
        assert names == [f.unit_names[u] for u in units]
        assert labels == [f.label_names[f.unit_labels[u]] for u in units]
    with pytest.raises(ValueError, match="no patch-level features"):
        report.features_csv(f, af.DESCRIPTOR, "patch")


def test_a_new_image_is_classified_with_its_nearest_training_patches(analysis):
    prediction = classify_image(analysis, procedural_texture("dots", 80, seed=99))
    assert prediction.label in KINDS and set(prediction.probabilities) == set(KINDS)
    assert sum(prediction.probabilities.values()) == pytest.approx(1.0)
    assert prediction.probability == max(prediction.probabilities.values())
    assert prediction.nearest.shape == (8, 3, 32, 32) and prediction.nearest.dtype == np.uint8
    assert set(prediction.nearest_labels) <= set(KINDS)
    with pytest.raises(ValueError, match="at least 32"):
        classify_image(analysis, np.zeros((20, 40, 3), np.uint8))


def test_the_report_figures_and_tables(analysis):
    dims = report.class_dimensions(analysis.features)
    assert dims.offsets.shape == (3, 32) and sorted(dims.order.tolist()) == list(range(32))
    fig = report.dimension_figure(dims)
    cells = fig["data"][1]
    assert len(cells["x"]) == 3 * 32
    # A click on cell (row 2, column 1) is class 2 and the second most telling dimension.
    click = [{"curve_number": 1, "point_index": 2 * 32 + 1}]
    assert report.read_dimension_click(click, dims) == (2, int(dims.order[1]))
    assert report.read_dimension_click([{"curve_number": 0, "point_index": 0}], dims) is None
    score = analysis.score(af.LBP)
    heat = report.confusion_figure(score.confusion, analysis.features.label_names)
    assert np.allclose(np.sum(heat["data"][0]["z"], axis=1), 1.0)
    lines = report.confusion_csv(score.confusion, analysis.features.label_names).splitlines()
    assert lines[0] == "true \\ predicted,checks,dots,stripes" and len(lines) == 4
    scores = report.scores_csv(analysis).splitlines()
    assert len(scores) == 1 + len(analysis.scores) and "recall stripes" in scores[0]
    sentences = report.summary_sentences(analysis)
    assert "12 images of 3 labels" in sentences[0] and "33%" in sentences[0]
    assert not any("better than guessing" in s for s in sentences)  # LBP is far above chance here
    assert len(report.accuracy_figure(analysis)["data"][0]["x"]) == len(af.FEATURE_SETS)


def test_block_weights_give_each_part_the_same_variance():
    w = probes.block_weights([4, 16])
    assert w.shape == (20,)
    assert np.sum(w[:4] ** 2) == pytest.approx(np.sum(w[4:] ** 2)) == pytest.approx(4.0)


def test_a_background_run_reports_its_result_or_stops_when_cancelled(model):
    run = start_analysis(_images(per_kind=3), model, key="v1", config=SMALL)
    run.cancel()  # as the page does when a newer analysis replaces it
    run.thread.join(60)
    assert not run.thread.is_alive() and run.analysis is None
    assert run.error == "Stopped: a newer analysis replaced this one." and not run.running


def _coef_model(images):
    """A small coefficient model (the presets' kind) started at PCA of the images' patches."""
    from dataclasses import replace

    import torch

    from vae_core.config import APP_MODEL
    from vae_core.model.vae import build_model, init_linear_path

    model = build_model(replace(APP_MODEL, coef_k=64, hidden=32)).eval()
    cells = [im.pixels[y : y + 32, x : x + 32] for im in images for y in (0, 32) for x in (0, 32)]
    init_linear_path(model, torch.from_numpy(np.stack(cells).transpose(0, 3, 1, 2).copy()))
    return model


def test_a_model_without_feature_maps_is_described_by_its_pooled_codes():
    """The presets' coefficient model has no convolutional encoder: the descriptor pools its codes, and says so."""
    from vae_core.tasks.latent_features import encoder_maps

    images = _images()
    model = _coef_model(images)
    with pytest.raises(ValueError, match="no convolutional encoder"):
        encoder_maps(model, images[0].pixels)
    result = analyze(images, model, SMALL)
    assert result.describer.parts == af.CODE_DESCRIPTOR_PARTS and "codes" in result.describer.words
    assert len(result.features.image[af.DESCRIPTOR][0]) == 3 * 2 * model.latent_dim  # mean and spread at 3 scales
    assert result.score(af.DESCRIPTOR).balanced_accuracy > 1 / len(KINDS) + 0.1


def test_the_descriptor_ablation_skips_feature_map_candidates_for_a_model_without_them():
    from vae_core.bench.analyze import CANDIDATES, NEEDS_MAPS, ablation

    images = _images()
    rows = ablation(images, _coef_model(images))
    names = {r["candidate"] for r in rows}
    assert NEEDS_MAPS and not names & NEEDS_MAPS
    assert set(CANDIDATES) - NEEDS_MAPS <= names and all(0 <= r["logistic"] <= 1 for r in rows)
