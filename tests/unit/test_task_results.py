"""The one result shape of every VAE-vs-classic task: verdicts in plain words whichever side wins, a CSV table."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from vae_core.tasks.results import MethodResult, Metric, TaskResult


def _result(vae_psnr: float, ssim: float = 0.5) -> TaskResult:
    return TaskResult(
        task="denoise",
        metrics=[Metric("PSNR", True, 2, " dB"), Metric("SSIM", True, 3), Metric("bits per pixel", False, 2)],
        methods=[
            MethodResult("VAE", True, {"PSNR": vae_psnr, "SSIM": ssim, "bits per pixel": 0.5}, np.zeros((4, 4, 3))),
            MethodResult("Median", False, {"PSNR": 24.0, "SSIM": 0.6, "bits per pixel": 0.7}),
            MethodResult("Non-local means", False, {"PSNR": 26.0, "SSIM": 0.7, "bits per pixel": 0.4}),
        ],
    )


def test_the_verdict_says_when_the_vae_loses_and_by_how_much():
    r = _result(24.8)
    assert r.best_classic().name == "Non-local means"
    assert r.vae_margin() == pytest.approx(-1.2)
    assert r.verdict() == "The VAE loses to Non-local means, the best classic method here, by 1.20 dB PSNR."


def test_the_verdict_says_when_the_vae_wins_and_ties():
    assert _result(27.5).verdict() == "The VAE beats Non-local means, the best classic method here, by 1.50 dB PSNR."
    assert "are level on PSNR" in _result(26.001).verdict()


def test_lower_is_better_metrics_pick_the_smallest():
    r = _result(25.0)
    assert r.best_classic("bits per pixel").name == "Non-local means"
    assert r.vae_margin("bits per pixel") == pytest.approx(-0.1)  # 0.5 bpp vs 0.4: the VAE is worse
    with pytest.raises(ValueError, match="not measured"):
        r.metric("LPIPS")


def test_the_table_round_trips_through_csv():
    rows = list(csv.DictReader(io.StringIO(_result(25.0).to_csv())))
    assert [row["method"] for row in rows] == ["VAE", "Median", "Non-local means"]
    assert rows[0]["kind"] == "VAE" and float(rows[2]["PSNR"]) == 26.0


def test_a_score_not_measured_is_nan_in_the_table_and_empty_in_the_csv():
    psnr = Metric("PSNR", True, 2, unit="dB")
    methods = [MethodResult("VAE", True, {"PSNR": None}), MethodResult("Median", False, {})]
    r = TaskResult(task="denoise", metrics=[psnr], methods=methods)
    assert all(np.isnan(row["PSNR"]) for row in r.rows())  # NaN, which a table shows as a dash, never "None"
    assert [row["PSNR"] for row in csv.DictReader(io.StringIO(r.to_csv()))] == ["", ""]


def test_a_vae_score_that_could_not_be_measured_is_said_so():
    seam = Metric("seam ratio", False, 2, best_at=1.0)
    methods = [
        MethodResult("VAE", True, {"seam ratio": float("nan")}),
        MethodResult("Biharmonic", False, {"seam ratio": 0.9}),
    ]
    r = TaskResult(task="inpaint", metrics=[seam], methods=methods)
    assert r.vae_margin() is None
    assert r.verdict() == "The VAE's seam ratio could not be measured for this inpaint."


def test_a_caption_names_the_method_and_every_score():
    r = _result(24.8)
    assert r.caption(r.vae) == "VAE · 24.80 dB · SSIM 0.500 · bits per pixel 0.50"


def test_a_metric_with_a_best_value_prefers_the_closest_and_says_both_values():
    seam = Metric("seam ratio", False, 2, best_at=1.0)
    r = TaskResult(
        task="large texture",
        metrics=[seam],
        methods=[
            MethodResult("VAE", True, {"seam ratio": 0.9}),
            MethodResult("Repeat", False, {"seam ratio": 3.0}),
            MethodResult("Blend", False, {"seam ratio": 1.2}),
        ],
    )
    assert r.best_classic().name == "Blend"  # 1.2 is closer to 1 than 3.0, though larger than 0.9
    assert r.vae_margin() == pytest.approx(0.1)
    assert r.verdict() == (
        "The VAE beats Blend, the best classic method here, on seam ratio: 0.90 against 1.20 (1 is best)."
    )
    r.methods[0].metrics["seam ratio"] = 0.5
    assert r.verdict().startswith("The VAE loses to Blend")
