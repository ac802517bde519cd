"""Helpers the test tiers share: small textures, PNG bytes, weights, AppTest checks, a free port.

One home (imported as ``testkit``: pytest puts ``tests/`` on the path for its root conftest)
so that no test module keeps its own copy. Fixtures built on these live in the conftests.
"""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

KINDS = ("stripes", "dots", "marble", "checks")


def tiny_images(kinds: tuple[str, ...] = KINDS, size: int = 96, seed: int = 1, name: str = "{kind}.png") -> list:
    """One procedural texture per kind (``TextureImage``, labelled by kind), ``size`` pixels square."""
    from vae_core.data.images import TextureImage
    from vae_core.data.samples import procedural_texture

    return [
        TextureImage(name=name.format(kind=k), label=k, pixels=procedural_texture(k, size=size, seed=seed))
        for k in kinds
    ]


def tiny_model_config() -> Any:
    """A ``ModelConfig`` that trains a few steps in well under a second: 32 px, 4 latent dims, width 8."""
    from vae_core.config import ModelConfig

    return ModelConfig(image_size=32, channels=3, latent_dim=4, width=8, res_blocks=1)


def png_bytes(side: int = 64, seed: int = 0, width: int | None = None) -> bytes:
    """A random RGB PNG, ``side`` pixels high and ``width`` (default ``side``) wide."""
    pixels = np.random.default_rng(seed).integers(0, 256, (side, width or side, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def weights(model: Any) -> Any:
    """Every parameter of a torch model, flattened into one tensor (to compare two models)."""
    import torch

    return torch.cat([p.detach().flatten() for p in model.parameters()])


def in_new_thread(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` in a fresh thread and return its result (torch keeps some settings per thread)."""
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(fn()))
    thread.start()
    thread.join()
    return out[0]


def wait_for(predicate: Callable[[], bool], timeout: float) -> None:
    """Wait until ``predicate()`` is true, polling every 20 ms on an Event (not sleeping blindly);
    AssertionError after ``timeout`` seconds."""
    done = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        done.wait(0.02)
    raise AssertionError("condition not reached in time")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- AppTest -----------------------------------------------------------------------------------

TEXT_KINDS = ("markdown", "info", "warning", "error", "success", "caption")


def texts(at: Any) -> str:
    """Everything an AppTest run wrote as text (markdown, alerts, captions), one element per line."""
    return "\n".join(str(e.value) for kind in TEXT_KINDS for e in getattr(at, kind))


def ok(at: Any, where: str = "") -> None:
    """No exception, and no use of app.py's last-resort "Something went wrong" message."""
    assert not at.exception, f"{where}: {[e.value for e in at.exception]}"
    assert not [e.value for e in at.error if "Something went wrong" in e.value], where
