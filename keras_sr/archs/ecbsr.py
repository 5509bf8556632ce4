"""ECBSR (Zhang et al., ACM MM 2021) behind the family contract of :mod:`keras_sr.archs`.

The network, its fold and its deploy form live in :mod:`keras_sr.models` and
:mod:`keras_sr.folding`, where the algebra is written out; this module adapts them.
"""

from __future__ import annotations

from keras_sr.config import ModelConfig

# Full-int8 ops: the convs, PReLU, the residual's ADD, depth-to-space, and the uint8<->int8
# QUANTIZE at each end (the clip is dropped: the int8 saturation is the clip).
INT8_OPS = frozenset({"QUANTIZE", "CONV_2D", "PRELU", "ADD", "DEPTH_TO_SPACE"})
SUPPORTS_QAT = True


def build(config: ModelConfig, collapsed: bool = False):
    from keras_sr.models import build_model

    return build_model(config, collapsed=collapsed)


def fold(model, config: ModelConfig):
    from keras_sr.folding import fold as fold_ecbsr

    return fold_ecbsr(model)


def deploy(plain, config: ModelConfig):
    from keras_sr.folding import deploy as deploy_ecbsr

    return deploy_ecbsr(plain, config)


def is_plain(plain) -> bool:
    return any(layer.name == "conv_0" for layer in plain.layers)


def plain_config(plain) -> ModelConfig:
    from keras_sr.runtime import plain_config as ecbsr_plain_config

    return ecbsr_plain_config(plain)


def pin_int8(content: bytes) -> bytes:
    from keras_sr.export import _pixel_units

    return _pixel_units(content)
