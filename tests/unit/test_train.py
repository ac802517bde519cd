"""fit(): learning, budgets, callbacks, reproducibility, NaN handling, resume."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from testkit import in_new_thread, weights

from vae_core.model.checkpoint import from_bytes, to_bytes
from vae_core.model.vae import ConvVAE
from vae_core.training.fit import fit, validate


def test_seeded_steps_lower_the_loss(tiny_data, tiny_config, tiny_train):
    torch.manual_seed(0)
    model = ConvVAE(tiny_config)
    cfg = replace(tiny_train, max_steps=40, pca_init=False, lr=3e-3)
    val = torch.from_numpy(tiny_data.val)
    before = validate(model, val, cfg.beta).loss
    result = fit(model, tiny_data, cfg)
    after = validate(model, val, cfg.beta).loss
    assert result.steps_this_run == 40
    assert np.isfinite(result.state.history.loss).all()
    assert after < 0.8 * before


def test_same_seed_same_weights(tiny_data, tiny_config, tiny_train):
    runs = []
    for _ in range(2):
        torch.manual_seed(1)
        model = ConvVAE(tiny_config)
        fit(model, tiny_data, tiny_train)
        runs.append(weights(model))
    assert torch.equal(runs[0], runs[1])
    torch.manual_seed(1)
    other = ConvVAE(tiny_config)
    fit(other, tiny_data, replace(tiny_train, seed=5))
    assert not torch.equal(runs[0], weights(other))


def test_time_budget_and_should_stop(tiny_data, tiny_config, tiny_train):
    model = ConvVAE(tiny_config)
    r = fit(model, tiny_data, replace(tiny_train, seconds=0.3, max_steps=None))
    assert r.stop_reason == "time"
    assert r.seconds_this_run >= 0.3  # it did not stop early (how long it overran is a speed, not behaviour)
    calls = []
    r = fit(
        model, tiny_data, replace(tiny_train, max_steps=100), should_stop=lambda: len(calls) >= 3, on_step=calls.append
    )
    assert r.stop_reason == "stopped"
    assert r.steps_this_run == 3
    assert [c.step for c in calls] == [r.state.step - 2, r.state.step - 1, r.state.step]
    assert all(0 <= c.progress <= 1 for c in calls)


def test_on_step_reports_validation_and_history(tiny_data, tiny_config, tiny_train):
    infos = []
    r = fit(ConvVAE(tiny_config), tiny_data, replace(tiny_train, max_steps=4, val_every_s=0.0), on_step=infos.append)
    assert len(infos) == 4
    assert all(i.val is not None and np.isfinite(i.val.psnr) for i in infos)
    h = r.state.history
    assert len(h.loss) == 4 and len(h.val_psnr) >= 4
    assert h.summary()["steps"] == 4


def test_non_finite_loss_stops_and_keeps_last_good_weights(tiny_data, tiny_config, tiny_train, monkeypatch):
    model = ConvVAE(tiny_config)
    real_forward = ConvVAE.forward
    seen = {"n": 0}
    snapshot = {}

    def flaky(self, x, generator=None):
        seen["n"] += 1
        out = real_forward(self, x, generator)
        if seen["n"] == 3:
            snapshot["w"] = weights(self).clone()
            out.recon_raw = out.recon_raw * float("nan")
        return out

    monkeypatch.setattr(ConvVAE, "forward", flaky)
    r = fit(model, tiny_data, replace(tiny_train, max_steps=10, ema_decay=0.0))  # the weights, not their average
    assert r.stop_reason == "non-finite"
    assert "NaN" in r.message and "last good" in r.message
    assert r.steps_this_run == 2
    w = weights(model)
    assert torch.isfinite(w).all()
    assert torch.equal(w, snapshot["w"])


def test_exploding_weights_are_rolled_back(tiny_data, tiny_config, tiny_train):
    model = ConvVAE(tiny_config)
    with torch.no_grad():
        model.from_latent.weight.fill_(float("inf"))  # every forward now gives NaN
    r = fit(model, tiny_data, tiny_train)
    assert r.stop_reason == "non-finite"


def test_resume_through_checkpoint_is_exact(tiny_data, tiny_config, tiny_train):
    torch.manual_seed(3)
    a = ConvVAE(tiny_config)
    ra = fit(a, tiny_data, tiny_train)
    blob = to_bytes(a, train_config=tiny_train, state=ra.state)
    ra2 = fit(a, tiny_data, tiny_train, state=ra.state)  # in-memory continuation

    ck = from_bytes(blob)
    assert ck.state is not None and ck.state.step == 5 and ck.state.optimizer is not None
    rb2 = fit(ck.model, tiny_data, tiny_train, state=ck.state)
    assert rb2.state.step == ra2.state.step == 10
    assert torch.equal(weights(a), weights(ck.model))
    assert len(rb2.state.history.loss) == 10


@pytest.mark.parametrize(
    ("corrupt", "match"),
    [
        (lambda t: t[:, :1].clone(), "of shape"),  # a moment of the wrong shape
        (lambda t: torch.full_like(t, float("nan")), "non-finite"),
    ],
)
def test_a_saved_optimiser_state_that_does_not_fit_is_refused_in_words(
    tiny_data, tiny_config, tiny_train, corrupt, match
):
    torch.manual_seed(3)
    model = ConvVAE(tiny_config)
    state = fit(model, tiny_data, tiny_train).state
    key = next(k for k, v in state.optimizer["state"].items() if v["exp_avg"].ndim == 4)
    state.optimizer["state"][key]["exp_avg"] = corrupt(state.optimizer["state"][key]["exp_avg"])
    before = weights(model)
    with pytest.raises(ValueError, match=f"{match}.*Start a new run instead of resuming"):
        fit(model, tiny_data, tiny_train, state=state)
    assert torch.equal(weights(model), before)  # refused before the first step


def test_patch_shape_mismatch_is_explained(tiny_data, tiny_config, tiny_train):
    model = ConvVAE(replace(tiny_config, image_size=64))
    with pytest.raises(ValueError, match="patch_size=64"):
        fit(model, tiny_data, tiny_train)


def test_unknown_device_is_explained(tiny_data, tiny_config, tiny_train):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="CUDA is not available"):
        fit(ConvVAE(tiny_config), tiny_data, replace(tiny_train, device="cuda"))


def test_fit_uses_the_cpu_thread_rule(tiny_data, tiny_config, tiny_train):
    """fit applies vae_core.training.threads.cpu_threads: config.threads when set, else torch's default.

    Runs in fresh threads (with OpenMP each thread keeps its own count) and puts the process
    value back afterwards, so other tests keep torch's default.
    """
    import torch

    default = in_new_thread(torch.get_num_threads)
    wanted = 2 if default == 1 else 1

    def train_and_count(threads):
        seen = []
        model = ConvVAE(tiny_config)
        cfg = replace(tiny_train, max_steps=2, threads=threads)
        fit(model, tiny_data, cfg, on_step=lambda _info: seen.append(torch.get_num_threads()))
        return seen

    try:
        assert in_new_thread(lambda: train_and_count(wanted)) == [wanted, wanted]
        in_new_thread(lambda: torch.set_num_threads(default))
        assert in_new_thread(lambda: train_and_count(None)) == [default, default]  # left alone
    finally:
        in_new_thread(lambda: torch.set_num_threads(default))


def test_validation_during_training_samples_every_image_not_the_first(tiny_data, tiny_config, tiny_train, monkeypatch):
    """Validation patches are ordered by image: a subset must be spread over all of them (a prefix saw only one)."""
    import vae_core.training.fit as fit_module

    seen = []
    real = fit_module.validate

    def spy(model, val_u8, beta, batch_size=256, **kwargs):
        seen.append(val_u8.cpu().numpy())
        return real(model, val_u8, beta, batch_size, **kwargs)

    monkeypatch.setattr(fit_module, "validate", spy)
    per_image = np.bincount(tiny_data.val_image_ids)
    assert len(per_image) == 4 and (per_image >= 3).all()  # 3 patches from the front would all be image 0's
    fit(ConvVAE(tiny_config), tiny_data, replace(tiny_train, max_steps=2, val_max_patches=4))
    rows = {bytes(p.tobytes()): i for i, p in zip(tiny_data.val_image_ids, tiny_data.val, strict=True)}
    images = {rows[bytes(p.tobytes())] for p in seen[-1]}
    assert len(seen[-1]) == 4 and len(images) >= 3  # spread: a prefix of 4 would hold 2 images at most


def _average(trajectory: list[torch.Tensor], decay: float) -> torch.Tensor:
    avg = trajectory[0].clone()
    for w in trajectory[1:]:
        avg += (1 - decay) * (w - avg)
    return avg


def test_the_model_shown_and_kept_is_the_running_average_of_the_weights(tiny_data, tiny_config, tiny_train):
    """The trained weights follow the same path with or without the average (it does not steer training);
    every step's callback, its validation and the model at the end see the average."""
    seen: dict[str, list[torch.Tensor]] = {"raw": [], "shown": []}
    val_psnr: list[float] = []
    val = torch.from_numpy(tiny_data.val)
    train = replace(tiny_train, max_steps=6, pca_init=False, lr=3e-3)
    for key, decay in (("raw", 0.0), ("shown", 0.5)):
        torch.manual_seed(4)
        model = ConvVAE(tiny_config)
        seen[key].append(weights(model).clone())

        def on_step(info, model=model, key=key):
            seen[key].append(weights(model).clone())
            if key == "shown":
                assert info.val is not None and info.val.psnr == pytest.approx(validate(model, val, 1.0).psnr)
                val_psnr.append(info.val.psnr)

        fit(model, tiny_data, replace(train, ema_decay=decay, val_every_s=0.0 if decay else 1e9), on_step=on_step)
        end = weights(model)
    raw, shown = seen["raw"], seen["shown"]
    assert len(raw) == len(shown) == 7 and len(val_psnr) == 6
    for t in range(1, 7):
        assert torch.allclose(shown[t], _average(raw[: t + 1], 0.5), atol=1e-6)
        assert not torch.allclose(shown[t], raw[t], atol=1e-6)  # the average is not the weights themselves
    assert torch.allclose(end, _average(raw, 0.5), atol=1e-6)  # kept: the average, not the last weights


def test_a_run_stopped_by_a_non_finite_loss_keeps_the_average_of_its_good_steps(
    tiny_data, tiny_config, tiny_train, monkeypatch
):
    real_forward = ConvVAE.forward
    calls = {"n": 0}
    trajectory: list[torch.Tensor] = []

    def flaky(self, x, generator=None):
        calls["n"] += 1
        trajectory.append(weights(self).clone())  # the weights each step starts from
        out = real_forward(self, x, generator)
        if calls["n"] == 4:
            out.recon_raw = out.recon_raw * float("nan")
        return out

    monkeypatch.setattr(ConvVAE, "forward", flaky)
    torch.manual_seed(5)
    model = ConvVAE(tiny_config)
    r = fit(model, tiny_data, replace(tiny_train, max_steps=10, pca_init=False, lr=3e-3, ema_decay=0.6))
    assert r.stop_reason == "non-finite" and r.steps_this_run == 3
    assert torch.allclose(weights(model), _average(trajectory, 0.6), atol=1e-6)


def test_training_computes_in_bf16_only_where_the_cpu_does_it_natively(tiny_data, tiny_config, tiny_train, monkeypatch):
    from vae_core.model import precision

    cpu = torch.device("cpu")
    monkeypatch.delenv("TEXTURE_VAE_BF16", raising=False)
    for probe in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        monkeypatch.setattr(torch.cpu, probe, lambda: False)
    assert not precision.use_bf16(cpu)  # an AVX2-only CPU emulates bf16 (10x slower): float32
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert precision.use_bf16(cpu) and not precision.use_bf16(cpu, wanted=False)  # TrainConfig.amp=False wins

    def dtypes_seen(amp: bool) -> set:
        model = ConvVAE(tiny_config)
        seen: list = []
        model.encoder[0].register_forward_hook(lambda m, i, o: seen.append(o.dtype))
        fit(model, tiny_data, replace(tiny_train, max_steps=2, amp=amp))
        assert all(p.dtype == torch.float32 for p in model.parameters())  # weights and optimiser stay float32
        return set(seen)

    assert torch.bfloat16 in dtypes_seen(True)  # training steps (validation runs in float32)
    assert dtypes_seen(False) == {torch.float32}
    monkeypatch.setenv("TEXTURE_VAE_BF16", "0")  # the override, for A/B runs
    assert dtypes_seen(True) == {torch.float32}


def test_adam_uses_the_configured_second_moment_decay(tiny_data, tiny_config, tiny_train):
    for beta2 in (0.99, 0.999):
        state = fit(ConvVAE(tiny_config), tiny_data, replace(tiny_train, max_steps=1, adam_beta2=beta2)).state
        assert {tuple(g["betas"]) for g in state.optimizer["param_groups"]} == {(0.9, beta2)}


def test_random_grey_turns_about_that_share_of_a_colour_batch_grey_and_nothing_else():
    from vae_core.training.fit import random_grey

    x = torch.rand(2000, 3, 4, 4)
    out = random_grey(x, 0.3, torch.Generator().manual_seed(0))
    grey = (out.amax(1) - out.amin(1)).flatten(1).amax(1) < 1e-7
    assert 0.25 < grey.float().mean() < 0.35
    assert torch.allclose(out[grey][:, 0], x[grey].mean(1))  # each channel is the patch's own mean
    assert torch.equal(out[~grey], x[~grey])  # the others are untouched, and x itself too
    assert not ((x.amax(1) - x.amin(1)).flatten(1).amax(1) < 1e-7).any()
    one = torch.rand(8, 1, 4, 4)
    assert random_grey(one, 1.0, torch.Generator()) is one  # a grey model's batches are grey already
    assert random_grey(x, 0.0, torch.Generator()) is x


def test_the_presets_turn_a_third_of_each_batch_grey():
    from vae_core.config import APP_TRAIN, PRESETS, TrainConfig

    assert APP_TRAIN.grey_fraction == 0.3 and all(p.train.grey_fraction == 0.3 for p in PRESETS.values())
    assert TrainConfig().grey_fraction == 0.0  # the convolutional model's recipe is unchanged
    assert TrainConfig.from_dict({"grey_fraction": 0.5}).grey_fraction == 0.5
