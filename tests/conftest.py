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


# --- two test processes (pytest-xdist, ``-n 2`` in pytest.ini) --------------------------------
# The browser tier spends most of its time waiting on a server and Chromium, so it runs in one
# process while the other works through the unit and app tiers. Tests that fit a real UMAP share
# a process, since umap-learn's numba code (about a minute to compile) lives per process; every other
# file stays in one process, so its module fixtures are built once.
UMAP_FILES = {
    "tests/app/test_latent_pages.py",
    "tests/app/test_first_hour.py",
    "tests/unit/test_projection.py",
    "tests/unit/test_umap_runs.py",
}


def _group(nodeid: str) -> str:
    path = nodeid.split("::")[0]
    return "e2e" if _tier(nodeid) == "e2e" else "umap" if path in UMAP_FILES else path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: _group(item.nodeid) != "e2e")  # the longest group starts first (a stable sort)


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """xdist's load-by-scope scheduler with the groups above as scopes, in collection order.

    (Its own ``--dist loadgroup`` reads ``xdist_group`` marks by renaming test ids, which
    pytest 9.2 no longer allows; a scheduler's scope is the documented way to group.)
    """
    from xdist.scheduler import LoadScopeScheduling

    class ByGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _group(nodeid)

    config.option.loadscopereorder = False
    return ByGroup(config, log)


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
