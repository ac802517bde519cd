"""The Latent map's computations: which patches, codes, errors, hover text, figure, selection and exports."""

from __future__ import annotations

import csv
import io
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image
from testkit import tiny_images

from vae_core.config import ModelConfig, PatchConfig
from vae_core.data.images import TextureImage
from vae_core.data.patches import make_patches
from vae_core.data.samples import procedural_texture
from vae_core.explore import latent_map as M
from vae_core.explore.latent import decode, encode
from vae_core.explore.projection import project_pca
from vae_core.model.vae import ConvVAE


@pytest.fixture(scope="module")
def data():
    images = tiny_images(("stripes", "dots", "marble"), name="{kind}_0.png")
    images.append(TextureImage(name="a,b.png", label='odd,"label"', pixels=procedural_texture("wood", 96, seed=2)))
    return make_patches(images, PatchConfig(patch_size=32, patches_per_image=12, seed=0))


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return ConvVAE(ModelConfig(image_size=32, channels=3, latent_dim=4, width=8)).eval()


@pytest.fixture(scope="module")
def points(model, data):
    return M.encode_map(model, data, batch_size=16)


def _all(data):
    return np.concatenate([data.train, data.val])


def test_max_map_points_is_a_pixel_budget():
    assert M.max_map_points(32) == 20_000
    assert M.max_map_points(64) == 5_000
    assert M.max_map_points(128) == 1_250
    with pytest.raises(ValueError, match="patch_size=0"):
        M.max_map_points(0)


def test_dataset_patches_reads_train_then_val_without_concatenating(data):
    index = np.array([0, data.n_train - 1, data.n_train, data.n_train + data.n_val - 1, 3])
    np.testing.assert_array_equal(M.dataset_patches(data, index), _all(data)[index])


def test_encode_map_matches_encode_and_leaves_the_model_alone(model, data, points):
    n = data.n_train + data.n_val
    assert len(points) == n == points.n_total and points.mu.shape == (n, 4)
    np.testing.assert_allclose(points.mu, encode(model, _all(data)).mu, atol=1e-4)
    labels = np.concatenate([data.train_labels, data.val_labels])
    np.testing.assert_array_equal(points.labels, np.asarray(data.label_names)[labels])
    assert set(points.sources) == set(data.image_names)
    assert next(model.parameters()).is_contiguous()  # the caller's model kept its memory format
    subset = M.encode_map(model, data, max_points=10)
    assert len(subset) == 10 and subset.n_total == n
    np.testing.assert_allclose(subset.mu, points.mu[subset.index], atol=1e-4)


def test_reconstruction_error_is_the_mean_squared_error_of_each_decode(model, data, points):
    err = M.reconstruction_error(model, data, points, batch_size=7)
    recon = np.clip(decode(model, points.mu) * 255.0, 0, 255)
    expected = ((recon - _all(data).astype(np.float32)) ** 2).mean(axis=(1, 2, 3))
    assert err.shape == (len(points),) and err.dtype == np.float32
    np.testing.assert_allclose(err, expected, rtol=1e-3)


def test_decode_images_gives_displayable_patches(model):
    out = M.decode_images(model, np.zeros(4))
    assert out.shape == (1, 32, 32, 3) and out.dtype == np.uint8


def test_hover_text_names_number_label_and_source(points):
    text = M.hover_text(points)
    i = len(points) - 1
    assert text[i] == f"#{points.index[i] + 1} · {points.labels[i]} · {points.sources[i]}"
    assert text.shape == (len(points),)


@pytest.mark.parametrize("by", ["label", "source", "error"])
def test_colour_groups_partition_the_points(points, by):
    groups = M.colour_groups(points, by)
    np.testing.assert_array_equal(np.sort(np.concatenate([idx for _, idx in groups])), np.arange(len(points)))
    sizes = [(-len(idx), name) for name, idx in groups]
    assert sizes == sorted(sizes)  # biggest first: small groups are drawn last, on top
    if by == "label":
        assert all((points.labels[idx] == name).all() for name, idx in groups)
    if by == "error":
        assert [name for name, _ in groups] == ["all"]


def test_colour_groups_refuses_an_unknown_colouring(points):
    with pytest.raises(ValueError, match="by='size'"):
        M.colour_groups(points, "size")


def test_click_grid_covers_the_dots_with_a_margin():
    coords = np.array([[0.0, 0.0], [10.0, 2.0], [5.0, 1.0]])
    grid = M.click_grid(coords, shape=(11, 5), margin=0.1)
    assert grid.shape == (55, 2)
    np.testing.assert_allclose(grid.min(0), [-1.0, -0.2], atol=1e-5)
    np.testing.assert_allclose(grid.max(0), [11.0, 2.2], atol=1e-5)
    assert M.overview_grid(coords, n=3).shape == (9, 2)


def test_map_figure_lays_the_click_grid_under_the_dots(points):
    proj = project_pca(points.mu, 2)
    groups = M.colour_groups(points, "label")
    grid = M.click_grid(proj.coords)
    fig = M.map_figure(proj.coords, groups, M.hover_text(points), grid=grid, title="PCA")
    assert len(fig["data"]) == len(groups) + 1
    assert fig["data"][0]["name"] == "empty space" and fig["data"][0]["showlegend"] is False
    assert all(t["type"] == "scattergl" for t in fig["data"])
    assert fig["layout"]["hoverdistance"] == -1  # a click anywhere picks the nearest point
    assert fig["layout"]["dragmode"] == "select"  # dragging selects, as the page says
    grid_trace = fig["data"][0]  # a box over empty space must not paint the grid: selected = unselected = faint
    assert grid_trace["selected"]["marker"] == grid_trace["unselected"]["marker"] == {"opacity": 0.05}
    assert len(set(M.PALETTE)) == len(M.PALETTE) >= 20  # 11+ labels no longer share colours
    assert sum(len(t["x"]) for t in fig["data"][1:]) == len(points)
    legend = sorted(fig["data"][1:], key=lambda t: t["legendrank"])
    assert [t["name"] for t in legend] == sorted(name for name, _ in groups)  # the legend stays alphabetical

    err = np.arange(len(points), dtype=np.float32)
    proj3 = project_pca(points.mu, 3)
    fig3 = M.map_figure(proj3.coords, M.colour_groups(points, "error"), M.hover_text(points), error=err)
    (trace,) = fig3["data"]
    assert trace["type"] == "scatter3d" and len(trace["z"]) == len(points)
    np.testing.assert_array_equal(trace["marker"]["color"], err)


def test_read_selection_maps_plotly_points_and_tells_a_click_on_empty_space(points):
    groups = M.colour_groups(points, "label")
    grid = M.click_grid(project_pca(points.mu, 2).coords)
    box = [{"curve_number": 1, "point_index": 0}, {"curve_number": 2, "point_index": 1}]
    box.append({"curve_number": 0, "point_index": 5})  # a grid position inside the box: dropped
    picked = M.read_selection(box, groups, grid, dragged=True)
    np.testing.assert_array_equal(picked.points, np.sort([groups[0][1][0], groups[1][1][1]]))
    assert picked.spot is None

    click = M.read_selection([{"curve_number": 0, "point_index": 5}], groups, grid, dragged=False)
    assert len(click.points) == 0
    np.testing.assert_allclose(click.spot, grid[5])
    assert M.read_selection([{"curve_number": 0, "point_index": 5}], groups, grid, dragged=True).spot is None
    no_grid = M.read_selection([{"curve_number": 0, "point_index": 2}], groups, None, dragged=False)
    assert no_grid.points.tolist() == [groups[0][1][2]] and no_grid.spot is None


def test_sample_shown_spreads_a_big_selection():
    chosen = np.arange(100, 300)
    shown = M.sample_shown(chosen, limit=60)
    assert len(shown) == 60 and shown[0] == 100 and shown[-1] == 299
    assert len(M.sample_shown(np.array([3, 4]))) == 2 and len(M.sample_shown(np.array([], int))) == 0


def test_selection_csv_round_trips_the_codes(points):
    chosen = np.arange(len(points))
    rows = list(csv.reader(io.StringIO(M.selection_csv(points, chosen))))
    assert rows[0] == ["index", "label", "source", "z0", "z1", "z2", "z3"]
    assert len(rows) == len(points) + 1
    np.testing.assert_allclose(np.array([r[3:] for r in rows[1:]], float), points.mu, atol=1e-5)
    assert {r[1] for r in rows[1:]} == set(points.label_names)  # a label with a comma and quotes survives
    assert [int(r[0]) for r in rows[1:]] == (points.index + 1).tolist()


def test_selection_zip_holds_every_chosen_patch_as_png(data, points):
    chosen = np.array([0, len(points) - 1])
    with zipfile.ZipFile(io.BytesIO(M.selection_zip(data, points, chosen))) as zf:
        names = zf.namelist()
        assert len(names) == 2 and names[0].startswith("patch_00001_") and names[0].endswith(".png")
        assert "," not in names[1] and '"' not in names[1]
        pixels = np.asarray(Image.open(io.BytesIO(zf.read(names[1]))))
    np.testing.assert_array_equal(pixels, _all(data)[-1].transpose(1, 2, 0))


def test_position_text_has_no_negative_zero():
    assert M.position_text(-0.001, 2.346) == "(0.00, 2.35)"
    assert M.position_text(-1.5, -0.004) == "(-1.50, 0.00)"


def _contrast_on_white(colour: str) -> float:
    """WCAG 2 contrast ratio of ``#rrggbb`` against white."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return 1.05 / (luminance + 0.05)


def test_every_label_colour_stands_out_on_white():
    assert min(_contrast_on_white(c) for c in M.PALETTE) >= 3.0  # pale grey/green/blue dots vanished on white


def test_a_label_has_the_same_colour_in_2d_and_3d(points):
    """The click grid is a trace of the 2-D map only; it must not shift the labels' colours (issue 9)."""
    groups = M.colour_groups(points, "label")
    fig2 = M.map_figure(
        project_pca(points.mu, 2).coords,
        groups,
        M.hover_text(points),
        grid=M.click_grid(project_pca(points.mu, 2).coords),
    )
    fig3 = M.map_figure(project_pca(points.mu, 3).coords, groups, M.hover_text(points))
    colours2 = {t["name"]: t["marker"]["color"] for t in fig2["data"][1:]}
    colours3 = {t["name"]: t["marker"]["color"] for t in fig3["data"]}
    assert colours2 == colours3 and len(set(colours2.values())) == len(groups)


def test_colouring_by_error_has_a_colour_bar_and_no_legend_over_it(points):
    err = np.arange(len(points), dtype=np.float32)
    fig = M.map_figure(project_pca(points.mu, 2).coords, M.colour_groups(points, "error"), M.hover_text(points), err)
    (trace,) = fig["data"]
    assert trace["showlegend"] is False and trace["marker"]["showscale"] is True
