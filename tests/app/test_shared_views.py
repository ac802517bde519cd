"""Views of identical content are computed once and shared; different content never is."""

from __future__ import annotations

import copy
import uuid

import torch
from testkit import ok

from pages.shared import session

RECON = "pages/reconstructions.py"


def test_identical_model_and_patches_share_one_computation(seeded_app, monkeypatch):
    import vae_core.explore.metrics

    calls = []
    real = vae_core.explore.metrics.compare

    def counting(model, patches, train, **kwargs):
        calls.append(model)
        return real(model, patches, train, **kwargs)

    monkeypatch.setattr(vae_core.explore.metrics, "compare", counting)
    # A model no other test has: same shape as the tiny one, its own weights.
    model = copy.deepcopy(seeded_app.session_state[session.MODEL])
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.001 * torch.randn_like(p))
    seeded_app.session_state[session.MODEL] = model
    seeded_app.run()
    at = seeded_app.switch_page(RECON).run()
    ok(at, "first visit")
    assert len(calls) == 1

    # Another session's copy: other objects and version tokens, the same bytes -> the same grid, not recomputed.
    at.session_state[session.MODEL] = copy.deepcopy(model)
    at.session_state[session.MODEL_VERSION] = uuid.uuid4().hex
    at.session_state[session.DATASET] = copy.deepcopy(at.session_state[session.DATASET])
    at.session_state[session.DATASET_VERSION] = uuid.uuid4().hex
    at.run()
    ok(at, "identical copy")
    assert len(calls) == 1

    # One weight different: computed again, for this content only.
    changed = copy.deepcopy(model)
    with torch.no_grad():
        next(changed.parameters()).mul_(1.01)
    at.session_state[session.MODEL] = changed
    at.session_state[session.MODEL_VERSION] = uuid.uuid4().hex
    at.run()
    ok(at, "changed weights")
    assert len(calls) == 2 and calls[-1] is not calls[0]
