"""PSNR/SSIM wrappers and the PCA baseline."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vae_core.explore.metrics import (
    Comparison,
    comparison_columns,
    evaluate,
    fit_pca,
    psnr_per_patch,
    ssim_per_patch,
)
from vae_core.model.vae import ConvVAE


def test_psnr_known_values():
    ref = np.full((2, 3, 8, 8), 0.5, np.float32)
    test = ref.copy()
    test[0] += 0.1  # MSE 0.01 -> 20 dB
    p = psnr_per_patch(ref, test)
    assert p[0] == pytest.approx(20.0, abs=1e-3)
    assert p[1] == 100.0  # identical patch: capped, not infinite
    assert psnr_per_patch((ref * 255).astype(np.uint8), (ref * 255).astype(np.uint8))[0] == 100.0


def test_ssim_orders_distortions():
    rng = np.random.default_rng(0)
    ref = rng.random((1, 3, 32, 32)).astype(np.float32)
    light = np.clip(ref + rng.normal(0, 0.02, ref.shape), 0, 1).astype(np.float32)
    heavy = np.clip(ref + rng.normal(0, 0.3, ref.shape), 0, 1).astype(np.float32)
    s_same, s_light, s_heavy = ssim_per_patch(ref, ref)[0], ssim_per_patch(ref, light)[0], ssim_per_patch(ref, heavy)[0]
    assert s_same == pytest.approx(1.0)
    assert s_same > s_light > s_heavy


@pytest.mark.parametrize("channels", [1, 3])
def test_batched_ssim_equals_scikit_images_one_patch_at_a_time(channels):
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(channels)
    ref = rng.integers(0, 256, (40, channels, 32, 32), dtype=np.uint8)
    test = np.clip(ref.astype(int) + rng.integers(-60, 60, ref.shape), 0, 255).astype(np.uint8)
    expected = [
        structural_similarity(r.astype(np.float32) / 255, t.astype(np.float32) / 255, data_range=1.0, channel_axis=0)
        for r, t in zip(ref, test, strict=True)
    ]
    np.testing.assert_allclose(ssim_per_patch(ref, test, chunk=16), expected, atol=1e-6)


def test_pca_baseline_exact_with_full_rank(tiny_data):
    pca = fit_pca(tiny_data.train, k=4)
    codes = pca.encode(tiny_data.val)
    assert codes.shape == (tiny_data.n_val, 4)
    assert pca.reconstruct(tiny_data.val).shape == tiny_data.val.shape
    rng = np.random.default_rng(0)
    low_rank = (rng.random((50, 3)) @ rng.random((3, 3 * 4 * 4))).reshape(50, 3, 4, 4).astype(np.float32) / 3
    exact = fit_pca(low_rank, k=3)
    np.testing.assert_allclose(exact.reconstruct(low_rank), np.clip(low_rank, 0, 1), atol=1e-5)
    with pytest.raises(ValueError, match="at least 2"):
        fit_pca(low_rank[:1], k=2)


def test_evaluate_reports_both_models(tiny_data, tiny_config):
    torch.manual_seed(0)
    ev = evaluate(ConvVAE(tiny_config), tiny_data)
    d = ev.to_dict()
    for key in ("psnr", "ssim", "pca_psnr", "pca_ssim", "latent_dim", "n_val_patches"):
        assert key in d
    assert d["latent_dim"] == 4 and d["n_val_patches"] == tiny_data.n_val
    assert ev.pca_psnr > ev.psnr  # an untrained VAE loses to PCA: the comparison can fail
    assert len(ev.psnr_per_patch) == tiny_data.n_val


def test_evaluate_in_chunks_reports_progress_and_scores_every_patch(tiny_data, tiny_config):
    torch.manual_seed(0)
    model = ConvVAE(tiny_config)
    calls: list[tuple[int, int]] = []
    chunked = evaluate(model, tiny_data, chunk=7, on_progress=lambda done, total: calls.append((done, total)))
    whole = evaluate(model, tiny_data, chunk=10_000)
    n = tiny_data.n_val
    assert calls[-1] == (n, n) and len(calls) == -(-n // 7) and [c[0] for c in calls] == sorted(c[0] for c in calls)
    np.testing.assert_allclose(chunked.psnr_per_patch, whole.psnr_per_patch, rtol=1e-5)
    assert chunked.ssim == pytest.approx(whole.ssim) and chunked.pca_psnr == pytest.approx(whole.pca_psnr)


def test_comparison_columns_order_captions_and_stacking():
    rng = np.random.default_rng(0)
    n, p = 5, 4
    patches = [rng.integers(0, 256, (n, p, p, 3), dtype=np.uint8) for _ in range(3)]
    scores = np.array([20.0, 31.5, 18.25, 25.0, 22.0])
    c = Comparison(*patches, vae_psnr=scores, vae_ssim=scores, pca_psnr=scores, pca_ssim=scores, pca_k=2)
    stacks, captions = comparison_columns(c, "worst", scale=2)
    assert captions == ["18.2 dB", "20.0 dB", "22.0 dB", "25.0 dB", "31.5 dB"]
    first = stacks[0]  # patch 2: original, VAE, PCA one under the other, each 2x, 2 px apart
    assert first.shape == (3 * 2 * p + 2 * 2, 2 * p, 3)
    assert np.array_equal(first[: 2 * p : 2, ::2], c.originals[2])
    assert np.array_equal(first[2 * p + 2 : 4 * p + 2 : 2, ::2], c.vae[2])
    assert np.array_equal(first[-2 * p :: 2, ::2], c.pca[2])
    assert comparison_columns(c, "best")[1][0] == "31.5 dB"
    assert comparison_columns(c, "cut")[1] == [f"{v:.1f} dB" for v in scores]
    with pytest.raises(ValueError):
        comparison_columns(c, "random")
