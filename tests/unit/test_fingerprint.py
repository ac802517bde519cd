"""Content digests: equal bytes give equal digests; any change to a weight, a pixel or a label changes them."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import torch

from vae_core.explore.fingerprint import data_digest
from vae_core.model.fingerprint import model_fingerprint as model_digest
from vae_core.model.vae import ConvVAE


def test_model_digest_follows_the_bytes_not_the_object(tiny_config):
    torch.manual_seed(0)
    model = ConvVAE(tiny_config)
    same = copy.deepcopy(model).to(memory_format=torch.channels_last)  # another object, another layout
    assert model_digest(model) == model_digest(same)
    with torch.no_grad():
        weight = next(same.parameters())
        weight[(0,) * weight.dim()] += 1e-6
    assert model_digest(model) != model_digest(same)
    other_config = ConvVAE(replace(tiny_config, latent_dim=5))
    assert model_digest(other_config) != model_digest(model)


def test_data_digest_covers_pixels_labels_and_names(tiny_data):
    base = data_digest(tiny_data)
    assert data_digest(replace(tiny_data, train=tiny_data.train.copy())) == base
    pixels = tiny_data.val.copy()
    pixels[0, 0, 0, 0] ^= 1
    assert data_digest(replace(tiny_data, val=pixels)) != base
    labels = tiny_data.train_labels.copy()
    labels[0] = (labels[0] + 1) % len(tiny_data.label_names)
    assert data_digest(replace(tiny_data, train_labels=labels)) != base
    assert data_digest(replace(tiny_data, image_names=[*tiny_data.image_names[:-1], "x.png"])) != base
    assert data_digest(replace(tiny_data, train=np.ascontiguousarray(tiny_data.train[::-1]))) != base
