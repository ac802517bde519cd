"""Texture recipes: every view round-trips to identical pixels; another model's recipe and hostile files are refused
in plain words, and nothing is rendered from them. The model fingerprint changes with the weights, not with a reload."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from testkit import tiny_model_config

from vae_core.model.fingerprint import model_fingerprint, short_fingerprint
from vae_core.model.vae import build_model
from vae_core.tasks import generate as g
from vae_core.tasks.recipe import (
    MAX_RECIPE_BYTES,
    Recipe,
    RecipeError,
    large_recipe,
    read_recipe,
    render_recipe,
    to_json,
)
from vae_core.tasks.synthesis import CanvasSettings, style_from_codes, synthesize


@pytest.fixture(scope="module")
def model():
    return build_model(tiny_model_config(), seed=0).eval()


@pytest.fixture(scope="module")
def fp(model):
    return model_fingerprint(model)


def _read(data: bytes, model, fp: str) -> Recipe:
    return read_recipe(data, fingerprint=fp, model_name="Tiny", latent_dim=model.latent_dim, patch_size=32)


def _codes(rows: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((rows, 4)).astype(np.float32) * 1.3


def test_the_fingerprint_follows_the_weights_and_survives_a_checkpoint_round_trip(model, fp):
    from vae_core.model.checkpoint import from_bytes, to_bytes

    assert fp.startswith("sha256:") and len(short_fingerprint(fp)) == 12
    assert model_fingerprint(from_bytes(to_bytes(model)).model) == fp
    other = build_model(tiny_model_config(), seed=0)
    with torch.no_grad():
        other.lin_dec.bias[0] += 1e-6
    assert model_fingerprint(other) != fp


@pytest.mark.parametrize(
    ("view", "codes", "settings"),
    [
        ("sliders", {"z": _codes(1)}, {"label": "Patch 3"}),
        ("samples", {"z": _codes(5)}, {"temperature": 0.7, "seed": 9}),
        ("interpolation", {"ends": _codes(2)}, {"steps": 6, "method": "slerp"}),
        ("mix", {"a": _codes(1, 1), "b": _codes(1, 2)}, {"dims": [0, 2]}),
        ("arithmetic", {"a": _codes(1, 1), "b": _codes(1, 2), "c": _codes(1, 3)}, {"strength": -0.4}),
    ],
)
def test_a_recipe_round_trips_to_identical_pixels(model, fp, view, codes, settings):
    recipe = Recipe(view, codes, settings, fp, "Tiny")
    before = render_recipe(model, recipe)
    reopened = _read(to_json(recipe), model, fp)
    after = render_recipe(model, reopened)
    assert reopened.settings == settings
    for name in codes:
        assert np.array_equal(reopened.codes[name], codes[name])  # float32 bits kept exactly
    assert after.image.dtype == np.uint8 and np.array_equal(after.image, before.image)


def test_a_recipe_reopens_the_picture_the_view_made(model, fp):
    interp = g.interpolate_ends(model, *_codes(2, 5), steps=5, method="lerp")
    recipe = Recipe("interpolation", {"ends": interp.codes[[0, -1]]}, {"steps": 5, "method": "lerp"}, fp, "Tiny")
    assert np.array_equal(render_recipe(model, _read(to_json(recipe), model, fp)).image, g.interpolation_strip(interp))


def test_a_large_texture_recipe_round_trips_to_identical_pixels(model, fp):
    styles = [style_from_codes(_codes(30, s)) for s in (1, 2)]
    settings = CanvasSettings(size=64, field="blend", seed=3, variation=0.7)
    canvas = synthesize(model, styles, settings)
    data = to_json(large_recipe(styles, settings, fp, "Tiny"))
    assert len(data) < 20_000  # small: two styles of 30 codes
    assert np.array_equal(render_recipe(model, _read(data, model, fp)).image, canvas.pixels)


def test_another_models_recipe_is_refused_naming_both_models(model, fp):
    other = model_fingerprint(build_model(tiny_model_config(), seed=1))
    data = to_json(Recipe("sliders", {"z": _codes(1)}, {}, other, "brick_model.safetensors"))
    with pytest.raises(RecipeError) as err:
        _read(data, model, fp)
    message = str(err.value)
    assert "brick_model.safetensors" in message and "Tiny" in message
    assert short_fingerprint(other) in message and short_fingerprint(fp) in message


def _doc(fp: str, **changes) -> dict:
    doc = {
        "format": "texture-vae-recipe",
        "version": 1,
        "model": {"fingerprint": fp, "name": "Tiny"},
        "view": "sliders",
        "codes": {"z": [[0.1, 0.2, 0.3, 0.4]]},
        "settings": {},
    }
    return doc | changes


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda fp: b"\x89PNG not json", "not valid JSON"),
        (lambda fp: b"[" * 100_000 + b"]" * 100_000, "too deeply"),
        (lambda fp: b" " * (MAX_RECIPE_BYTES + 1), "at most"),
        (lambda fp: json.dumps({"hello": 1}).encode(), "not a texture recipe"),
        (lambda fp: json.dumps(_doc(fp, version=7)).encode(), "version"),
        (lambda fp: json.dumps(_doc(fp, codes={"z": [[0.1, 0.2, 0.3]]})).encode(), "list of 4 numbers"),
        (lambda fp: json.dumps(_doc(fp, codes={"z": [[0.1, "x", 0.3, 0.4]]})).encode(), "must be a number"),
        (lambda fp: json.dumps(_doc(fp, codes={"z": [[0.1, True, 0.3, 0.4]]})).encode(), "must be a number"),
        (lambda fp: json.dumps(_doc(fp)).replace("0.2", "NaN").encode(), "not a number"),
        (lambda fp: json.dumps(_doc(fp)).replace("0.2", "1e999").encode(), "not a usable code value"),
        (lambda fp: json.dumps(_doc(fp, codes={"z": [[1.0] * 4] * 300})).encode(), "list of 1 codes"),
        (lambda fp: json.dumps(_doc(fp, view="samples", codes={"z": [[1.0] * 4] * 40_000},
                                    settings={"temperature": 1.0, "seed": 0})).encode(), "1 to 64"),
        (lambda fp: json.dumps(_doc(fp, view="teleport")).encode(), "not one this app knows"),
        (lambda fp: json.dumps(_doc(fp, settings={"evil": 1})).encode(), "does not know"),
        (lambda fp: json.dumps(_doc(fp, view="samples", codes={"z": [[1.0] * 4]})).encode(), "missing"),
        (lambda fp: json.dumps(_doc(fp, view="interpolation", codes={"ends": [[0.0] * 4] * 2},
                                    settings={"steps": 10**9, "method": "slerp"})).encode(), "out of range"),
        (lambda fp: json.dumps(_doc(fp, view="mix", codes={"a": [[0.0] * 4], "b": [[0.0] * 4]},
                                    settings={"dims": [9]})).encode(), "beyond this model's 4"),
        (lambda fp: json.dumps(_doc(fp, model="me")).encode(), "which model"),
        (lambda fp: json.dumps(_doc(fp, codes=[1, 2])).encode(), "JSON object"),
    ],
)  # fmt: skip
def test_malformed_or_hostile_recipes_are_refused_in_plain_words(model, fp, make, words):
    with pytest.raises(RecipeError, match=words):
        _read(make(fp), model, fp)


def test_a_large_texture_recipe_must_fit_the_model(model, fp):
    style = style_from_codes(_codes(10))
    doc = json.loads(to_json(large_recipe([style], CanvasSettings(size=64), fp, "Tiny")))
    doc["settings"]["size"] = 100
    with pytest.raises(RecipeError, match="multiple of 16"):
        _read(json.dumps(doc).encode(), model, fp)
    doc["settings"]["size"] = 64
    doc["codes"]["members0"] = [[0.0] * 4] * 257
    with pytest.raises(RecipeError, match="1 to 256"):
        _read(json.dumps(doc).encode(), model, fp)
