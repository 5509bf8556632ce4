"""Shared test helpers. Tests are CPU-only and small (few channels, odd sizes like 13x17)."""

from __future__ import annotations

import numpy as np
import pytest


def randomize_ecb_model(model, seed: int = 0) -> None:
    """Give every ECB branch O(1) parameters, then rescale each block to unit gain.

    The edge branches' default scale and bias (~1e-3) would make them invisible in any
    equivalence check; here they get N(0, 1) scales and biases, like every other bias, and
    PReLU slopes are randomized. Each block's output-stage parameters are then divided by the
    block's gain (the largest L1 norm of a folded output kernel), which is linear in them, so
    activations stay in the 0..255 range and float32 keeps a 1e-3 tolerance meaningful.
    """
    from keras_sr.blocks import ECB

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.name.startswith("act_") and layer.weights:
            layer.set_weights([rng.uniform(-0.5, 1.0, w.shape).astype(np.float32)
                               for w in layer.get_weights()])
        if not isinstance(layer, ECB):
            continue
        for weight in layer.weights:
            name = weight.name.split("/")[-1]
            if name.startswith(("scale", "bias")):
                weight.assign(rng.normal(0.0, 1.0, weight.shape).astype(np.float32))
        kernel, _ = layer.rep_params()
        gain = float(np.abs(kernel.numpy()).sum(axis=(0, 1, 2)).max())
        for branch in layer.branches:
            for weight in branch.weights:
                name = weight.name.split("/")[-1]
                if name.startswith(("kernel:", "kernel1", "bias:", "bias1", "scale")):
                    weight.assign(weight / gain)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
