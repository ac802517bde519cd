"""Background CPU priority (vae_core.training.threads.background_priority): one thread at a time."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from vae_core.training.threads import BACKGROUND_NICE, ENV_BACKGROUND_NICE, LOWEST_NICE, background_priority

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")


def _in_thread(**kwargs) -> tuple[bool, int, int]:
    """(returned, the new thread's nice, the caller's nice) after ``background_priority(**kwargs)`` in a new thread."""
    out = {}

    def run() -> None:
        out["ok"] = background_priority(**kwargs)
        out["nice"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    t = threading.Thread(target=run)
    t.start()
    t.join()
    return out["ok"], out["nice"], os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_background_and_lowest_priority_touch_only_the_calling_thread(monkeypatch):
    monkeypatch.delenv(ENV_BACKGROUND_NICE, raising=False)
    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    if base > 0:
        pytest.skip("the test process already runs below normal priority")
    assert _in_thread() == (True, min(19, base + BACKGROUND_NICE), base)
    assert _in_thread(lowest=True) == (True, min(19, base + LOWEST_NICE), base)


def test_the_environment_can_keep_background_work_at_normal_priority(monkeypatch):
    monkeypatch.setenv(ENV_BACKGROUND_NICE, "0")
    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert _in_thread() == (False, base, base)
    assert _in_thread(lowest=True) == (False, base, base)
