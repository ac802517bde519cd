"""Memory budgets (vae_core.data.budget and its callers): uploads, sessions, patches, the server guard."""

from __future__ import annotations

import gc
import io
import time
import tomllib
import weakref
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from vae_core.config import DEFAULT_LIMITS, LOCAL_LIMITS, MB, PatchConfig, ServerBudgets
from vae_core.data.budget import (
    GarbageCollector,
    PixelBudget,
    keep_within_budget,
    memory_ceiling_bytes,
    process_memory_bytes,
    server_full_message,
    session_memory,
)
from vae_core.data.images import LoadReport, TextureImage
from vae_core.data.loaders import load_files, load_path, load_zip
from vae_core.data.patches import make_patches


def flat_png(side: int, mode: str = "RGB") -> bytes:
    """A one-colour PNG: a few hundred bytes on disk, ``side * side * C`` bytes once decoded."""
    buf = io.BytesIO()
    Image.new(mode, (side, side), 90).save(buf, format="PNG")
    return buf.getvalue()


def make_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture
def decoded_sizes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The (width, height) of every image whose pixels Pillow actually decodes."""
    seen: list[tuple[int, int]] = []
    original = ImageFile.ImageFile.load

    def load(self):
        seen.append(self.size)
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    return seen


def session_limits(upload: int | None = None, session: int | None = None):
    return replace(DEFAULT_LIMITS, max_upload_pixel_bytes=upload, max_session_pixel_bytes=session)


def test_upload_over_the_session_budget_keeps_what_fits_and_names_the_rest(decoded_sizes):
    # The session may hold 310,000 bytes of pixels and already holds 50,000; a, b and c decode to
    # 120,000, 121,203 and 122,412 bytes (200, 201 and 202 px RGB), d to 12,288.
    files = [("a.png", flat_png(200)), ("b.png", flat_png(201)), ("c.png", flat_png(202)), ("d.png", flat_png(64))]
    report = load_files(files, limits=session_limits(session=310_000), held_bytes=50_000)
    assert [im.name for im in report.images] == ["a.png", "b.png", "d.png"]  # a smaller later image still fits
    assert [r.name for r in report.rejected] == ["c.png"]
    reason = report.rejected[0].reason
    assert "'c.png'" in reason and "122,412 bytes" in reason and "202x202 colour" in reason
    assert "this session's image budget of 310,000 bytes" in reason
    assert report.note == (
        "Kept 3 images (253,491 bytes); skipped 1: this session's image budget of 310,000 bytes is full. "
        "Remove some images on the Data page, or use smaller ones."
    )
    assert (202, 202) not in decoded_sizes and (201, 201) in decoded_sizes  # c.png was never decoded


def test_the_per_upload_budget_names_itself():
    files = [(f"{k}.png", flat_png(100)) for k in "abc"]  # 30,000 bytes each
    report = load_files(files, limits=session_limits(upload=65_000, session=10**9))
    assert len(report.images) == 2 and [r.name for r in report.rejected] == ["c.png"]
    assert "budget of 65,000 bytes per upload" in report.rejected[0].reason
    assert "Upload the rest separately" in report.note


def test_a_zip_bomb_of_flat_images_decodes_nothing_beyond_the_budget(decoded_sizes):
    members = {f"big/{k}.png": flat_png(1500 + k) for k in range(4)}  # 6.75 MB each decoded, ~10 KB zipped
    members["small/x.png"] = flat_png(64)
    data = make_zip(members)
    assert len(data) < 100_000
    report = load_zip(data, "bomb.zip", limits=session_limits(session=8 * MB))
    assert [im.name for im in report.images] == ["big/0.png", "small/x.png"]
    assert sorted(r.name for r in report.rejected) == ["big/1.png", "big/2.png", "big/3.png"]
    assert all("image budget of 8.0 MB" in r.reason for r in report.rejected)
    assert {s for s in decoded_sizes if s[0] >= 1500} == {(1500, 1500)}  # the others were never decoded
    assert sum(im.pixels.nbytes for im in report.images) <= 8 * MB


def test_a_full_session_skips_zip_members_without_reading_them(monkeypatch):
    data = make_zip({"a.png": flat_png(64), "b.png": flat_png(64)})
    opened: list[str] = []
    original = zipfile.ZipFile.open

    def spy(self, info, *args, **kwargs):
        opened.append(getattr(info, "filename", info))
        return original(self, info, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    report = load_zip(data, limits=session_limits(session=100_000), held_bytes=100_000)
    assert report.images == [] and opened == []
    assert all("is full" in r.reason for r in report.rejected) and report.note.startswith("Kept 0 images")


def test_grey_images_count_one_channel_and_forced_channels_count_three():
    grey = [("g.png", flat_png(100, mode="L"))]  # 10,000 bytes as grey, 30,000 as RGB
    assert len(load_files(grey, limits=session_limits(session=10_000)).images) == 1
    assert load_files(grey, channels=3, limits=session_limits(session=10_000)).rejected


def test_files_on_disk_have_no_memory_budget(tmp_path):
    (tmp_path / "a.png").write_bytes(flat_png(200))
    assert LOCAL_LIMITS.max_session_pixel_bytes is None and LOCAL_LIMITS.max_upload_pixel_bytes is None
    assert len(load_path(tmp_path).images) == 1
    tight = session_limits(session=1000)
    report = load_path(tmp_path, limits=tight)
    assert report.images == [] and "a.png" in report.rejected[0].reason


def test_keep_within_budget_trims_images_decoded_elsewhere():
    pixels = np.zeros((100, 100, 3), np.uint8)
    images = [TextureImage(f"s{k}.png", "s", pixels) for k in range(3)]
    out = keep_within_budget(LoadReport(images=images), session_limits(session=70_000), held=0)
    assert [im.name for im in out.images] == ["s0.png", "s1.png"] and [r.name for r in out.rejected] == ["s2.png"]
    assert out.note.startswith("Kept 2 images (60,000 bytes); skipped 1")


def test_pixel_budget_without_limits_never_refuses():
    budget = PixelBudget(LOCAL_LIMITS)
    assert budget.check("x.png", 10_000, 10_000, 3) == 300_000_000 and budget.summary() is None


# --- patches ------------------------------------------------------------------------------------


def test_patch_budget_gives_every_image_fewer_patches_evenly():
    rng = np.random.default_rng(0)
    images = [TextureImage(f"{k}.png", str(k), rng.integers(0, 256, (160, 160, 3), np.uint8)) for k in range(3)]
    config = PatchConfig(patch_size=32, patches_per_image=200, seed=1)
    full = make_patches(images, config)
    assert full.note is None and full.n_train == 600
    budget = 200 * 3 * 32 * 32  # room for 200 patches of 3 KB
    capped = make_patches(images, replace(config, max_bytes=budget))
    assert capped.train.nbytes + capped.val.nbytes <= budget
    per_image = np.bincount(capped.train_image_ids).tolist()
    assert len(set(per_image)) == 1 and 40 <= per_image[0] < 200  # the same, smaller count from every image
    assert capped.note and "200 training patches" in capped.note and f"gives {per_image[0]} instead" in capped.note
    with pytest.raises(ValueError, match="max_bytes=3000"):
        make_patches(images, replace(config, max_bytes=3000))  # not even one patch per image


# --- the server guard and what a session holds -------------------------------------------------


def test_server_full_message_says_try_again_above_the_ceiling():
    assert server_full_message(used=900 * MB, ceiling=1000 * MB) is None
    message = server_full_message(used=1000 * MB, ceiling=1000 * MB)
    assert "server is full" in message and "1.0 GB" in message and "try again in a minute" in message


def test_ceiling_comes_from_the_environment_or_the_machine(monkeypatch):
    monkeypatch.setenv("TEXTURE_VAE_MEMORY_CEILING_MB", "1234")
    assert memory_ceiling_bytes() == 1234 * MB
    monkeypatch.delenv("TEXTURE_VAE_MEMORY_CEILING_MB")
    ceiling = memory_ceiling_bytes()
    assert ceiling is None or ceiling > 100 * MB  # 85% of this machine
    used = process_memory_bytes()
    assert used is None or 10 * MB < used < 100_000 * MB
    monkeypatch.setenv("TEXTURE_VAE_MEMORY_CEILING_MB", "1")  # this test process is far above 1 MB
    assert "server is full" in server_full_message()


def test_budgets_from_environment_and_bad_values_name_the_variable():
    budgets = ServerBudgets.from_env({"TEXTURE_VAE_SESSION_IMAGE_MB": "0.5", "TEXTURE_VAE_SESSION_PATCH_MB": " 50 "})
    assert budgets.session_image_bytes == 500_000 and budgets.session_patch_bytes == 50 * MB
    assert budgets.upload_image_bytes == ServerBudgets().upload_image_bytes
    assert budgets.patch_config(PatchConfig()).max_bytes == 50 * MB
    assert budgets.patch_config(PatchConfig(max_bytes=MB)).max_bytes == MB  # a tighter cap stays
    limits = budgets.image_limits()
    assert limits.max_session_pixel_bytes == 500_000 and limits.max_pixels == DEFAULT_LIMITS.max_pixels
    for bad in ("lots", "-5", "0", "nan", "inf"):
        with pytest.raises(ValueError, match="TEXTURE_VAE_UPLOAD_IMAGE_MB"):
            ServerBudgets.from_env({"TEXTURE_VAE_UPLOAD_IMAGE_MB": bad})


def test_session_memory_adds_up_images_patches_model_and_optimiser(tiny_data, tiny_config):
    import torch

    from vae_core.model.history import TrainState
    from vae_core.model.vae import ConvVAE

    model = ConvVAE(tiny_config)
    weights = sum(p.numel() * 4 for p in model.parameters())
    state = TrainState(optimizer={"state": {0: {"exp_avg": torch.zeros(1000)}}, "param_groups": []})
    images = [TextureImage("a.png", "a", np.zeros((10, 20, 3), np.uint8))]
    used = session_memory(images, tiny_data, model, state)
    assert used.images == 600
    assert used.patches >= tiny_data.train.nbytes + tiny_data.val.nbytes
    assert used.model == weights + 4000
    assert used.total == used.images + used.patches + used.model
    assert used.describe().startswith(f"{used.total / 1e6:.1f} MB (images 0.0 MB, patches")
    assert session_memory().total == 0


class _Cycle:
    """An object that refers to itself: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


def test_garbage_collector_frees_cyclic_garbage_on_its_schedule():
    gc.disable()  # only the collector under test may free the cycle
    try:
        obj = _Cycle()
        ref = weakref.ref(obj)
        del obj
        assert ref() is not None  # unreachable, but a cycle: still held
        collector = GarbageCollector(every_s=0.05).start()
        deadline = time.monotonic() + 10
        while (ref() is not None or collector.runs == 0) and time.monotonic() < deadline:
            time.sleep(0.02)
        collector.close()
    finally:
        gc.enable()
    assert ref() is None
    assert collector.runs >= 1
    with pytest.raises(ValueError):
        GarbageCollector(every_s=0)


def test_server_collects_once_a_minute_not_after_every_script_run():
    """Streamlit's post-run collection cost ~0.25 s per run (README, Reliability): it stays off, app.py collects."""
    root = Path(__file__).resolve().parents[2]
    config = tomllib.loads((root / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False
    assert "GarbageCollector(" in (root / "app.py").read_text()
