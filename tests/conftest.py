"""Shared fixtures: a tiny model config and a tiny patch dataset, both fast on a CPU (built with ``testkit``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# Background work (UMAP, slider strips) runs niced in a server; on a CI or development machine
# shared with other jobs that could starve it for minutes, so the tests keep normal priority.
os.environ.setdefault("TEXTURE_VAE_BACKGROUND_NICE", "0")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def tiny_data():
    """~100 training patches of 32 px from a few procedural textures (seeded)."""
    from testkit import tiny_images

    from vae_core.config import PatchConfig
    from vae_core.data.patches import make_patches

    return make_patches(tiny_images(), PatchConfig(patch_size=32, patches_per_image=32, seed=0))


@pytest.fixture
def tiny_config():
    from testkit import tiny_model_config

    return tiny_model_config()


@pytest.fixture
def tiny_train():
    from vae_core.config import TrainConfig

    return TrainConfig(seconds=None, max_steps=5, batch_size=16, val_every_s=1e9, kl_warmup_steps=2, warmup_steps=1)


# --- the time and count of each tier (unit, app, e2e), printed at the end of every run --------

_TIERS: dict[str, dict[str, float]] = {}


def _tier(nodeid: str) -> str:
    parts = nodeid.split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "tests" else parts[0]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    tier = _TIERS.setdefault(_tier(report.nodeid), {"seconds": 0.0, "passed": 0, "failed": 0, "skipped": 0})
    tier["seconds"] += report.duration  # set-up, call and tear-down: a fixture's work counts too
    if report.when == "call" or (report.when == "setup" and not report.passed):
        tier[report.outcome] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _TIERS:
        return
    terminalreporter.section("time per tier")
    for name, t in sorted(_TIERS.items()):
        counts = f"{t['passed']} passed, {t['failed']} failed, {t['skipped']} skipped"
        terminalreporter.write_line(f"{name:>5}: {counts} in {t['seconds']:.1f} s")
