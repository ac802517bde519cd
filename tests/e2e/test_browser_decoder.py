"""The JavaScript decoder (vae_core/browser_decoder.js) gives torch's pixels, in Chromium.

No Streamlit server here: a blank page runs ``buildDecoder`` on ``decoder_spec(model)`` and
the result is compared with ``model.decode`` for the starter and for models that use every
layer kind the exporter knows (residual blocks, GroupNorm, no linear path, one channel,
64 px, the coefficient model's MLP and basis). Weights are randomised so that no layer is an
identity that would hide a bug.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from vae_core.config import APP_MODEL, QUALITY_MODEL, ModelConfig
from vae_core.model.browser_decoder import decoder_js, decoder_spec, fits_browser, spec_floats
from vae_core.model.checkpoint import load_checkpoint
from vae_core.model.vae import ConvVAE, new_model

pytestmark = pytest.mark.e2e

STARTER_PATH = Path(__file__).resolve().parents[2] / "assets" / "starter.safetensors"


@pytest.fixture
def blank(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_content("<html><body></body></html>")
    page.add_script_tag(content=decoder_js())
    yield page
    context.close()


def browser_decode(page, model: ConvVAE, z: np.ndarray) -> np.ndarray:
    spec = decoder_spec(model)
    out = page.evaluate(
        """([spec, zs]) => { const d = buildDecoder(spec); return zs.map((z) => Array.from(d.decode(z))); }""",
        [spec, z.tolist()],
    )
    c, s = model.config.channels, model.config.image_size
    return np.asarray(out, np.float32).reshape(len(z), c, s, s)


def randomised(config: ModelConfig, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = new_model(config).eval()
    with torch.no_grad():
        for p in model.parameters():  # zero-initialised output layers would hide mistakes
            p.add_(torch.randn_like(p) * 0.05)
        if config.arch == "coef":  # a basis of orthonormal rows and uneven scales, as PCA gives
            d = config.channels * config.image_size**2
            rows = torch.linalg.qr(torch.randn(d, model.basis_size))[0].T
            model.set_basis(torch.rand(d), rows, torch.rand(model.basis_size) * 0.2 + 0.01)
    return model


def test_starter_decodes_the_same_in_the_browser(blank):
    model = load_checkpoint(STARTER_PATH).model.eval()
    z = np.random.default_rng(0).standard_normal((4, model.latent_dim)).astype(np.float32)
    expected = model.decode(torch.from_numpy(z)).detach().numpy()
    got = browser_decode(blank, model, z)
    assert np.abs(got - expected).max() < 1e-4
    assert got.std() > 0.01  # a real texture, not a flat image


@pytest.mark.parametrize(
    "config",
    [
        ModelConfig(res_blocks=1, norm="group", refine_layers=0),
        ModelConfig(linear_path=False, channels=1, latent_dim=8, refine_layers=3, refine_width=8),
        ModelConfig(image_size=64, width=8, latent_dim=4, refine_layers=1, refine_width=8),
        APP_MODEL,
        replace(APP_MODEL, channels=1, latent_dim=8, coef_k=64, hidden=32, mlp_layers=3, refine_layers=1),
    ],
    ids=["resblocks-groupnorm", "no-linear-path-grey", "64px", "coef", "coef-grey-refined"],
)
def test_every_layer_kind_matches_torch(blank, config):
    model = randomised(config, seed=1)
    z = np.random.default_rng(1).standard_normal((2, config.latent_dim)).astype(np.float32)
    expected = model.decode(torch.from_numpy(z)).detach().numpy()
    got = browser_decode(blank, model, z)
    assert got.shape == expected.shape
    assert expected.std() > 0.003  # not one flat grey, which some bugs would also produce
    assert np.abs(got - expected).max() < 1e-4


def test_rgba_bytes_round_like_the_server(blank):
    model = load_checkpoint(STARTER_PATH).model.eval()
    z = np.random.default_rng(2).standard_normal((1, model.latent_dim)).astype(np.float32)
    rgba = blank.evaluate(
        "([spec, z]) => { const d = buildDecoder(spec); return Array.from(d.rgba(d.decode(z))); }",
        [decoder_spec(model), z[0].tolist()],
    )
    from vae_core.imaging import to_uint8_hwc

    expected = to_uint8_hwc(model.decode(torch.from_numpy(z)).detach().numpy())[0]
    got = np.asarray(rgba, np.uint8).reshape(expected.shape[0], expected.shape[1], 4)
    assert (got[..., 3] == 255).all()
    assert np.abs(got[..., :3].astype(int) - expected.astype(int)).max() <= 1


@pytest.mark.parametrize(
    ("layer", "message"),
    [(torch.nn.ReLU(), "no ReLU layer"), (torch.nn.Conv2d(64, 64, 5, padding=2), "cannot run Conv2d")],
)
def test_layers_the_browser_cannot_run_are_refused(layer, message):
    model = ConvVAE(ModelConfig())
    model.decoder[0] = layer
    with pytest.raises(ValueError, match=message):
        decoder_spec(model)


def test_spec_floats_counts_what_is_sent_and_the_big_basis_stays_home():
    import base64

    for config in (ModelConfig(), ModelConfig(linear_path=False), APP_MODEL, replace(APP_MODEL, channels=1)):
        model = new_model(config)
        assert spec_floats(model) * 4 == len(base64.b64decode(decoder_spec(model)["weights"]))
        assert fits_browser(model)
    assert fits_browser(new_model(ModelConfig(image_size=128)))
    assert fits_browser(new_model(replace(APP_MODEL, image_size=64)))  # 2.1 M numbers (128 coefficients)
    assert not fits_browser(new_model(replace(QUALITY_MODEL, image_size=64)))  # 4 M: server pictures only
    assert not fits_browser(new_model(replace(APP_MODEL, image_size=128)))


def test_spec_is_json(tmp_path):
    spec = decoder_spec(ConvVAE(ModelConfig()))
    assert json.loads(json.dumps(spec))["latent_dim"] == 32
