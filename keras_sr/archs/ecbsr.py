"""ECBSR (Zhang et al., ACM MM 2021) behind the family contract of :mod:`keras_sr.archs`.

The network, its fold and its deploy form live in :mod:`keras_sr.models` and
:mod:`keras_sr.folding`, where the algebra is written out; this module adapts them.
"""

from __future__ import annotations

from keras_sr.config import ModelConfig
from keras_sr.errors import UserError

# Full-int8 ops: the convs, PReLU, the residual's ADD, depth-to-space, and the uint8<->int8
# QUANTIZE at each end (the clip is dropped: the int8 saturation is the clip).
INT8_OPS = frozenset({"QUANTIZE", "CONV_2D", "PRELU", "ADD", "DEPTH_TO_SPACE"})
SUPPORTS_QAT = True
LEARNS_RANGES = True  # learned int8 steps of the hidden tensors (LSQ, keras_sr.qat)


def build(config: ModelConfig, collapsed: bool = False):
    from keras_sr.models import build_model

    return build_model(config, collapsed=collapsed)


def fold(model, config: ModelConfig):
    from keras_sr.folding import fold as fold_ecbsr

    return fold_ecbsr(model, config)


def deploy(plain, config: ModelConfig):
    from keras_sr.folding import deploy as deploy_ecbsr

    return deploy_ecbsr(plain, config)


def int8_training_forward(network, config: ModelConfig, patches, learn_ranges: bool = False):
    from keras_sr.qat import int8_training_forward as ecbsr_forward

    return ecbsr_forward(network, config, patches, learn_ranges)


def is_plain(plain) -> bool:
    return any(layer.name == "conv_0" for layer in plain.layers)


def plain_config(plain) -> ModelConfig:
    """Read a :class:`ModelConfig` back from a plain model's layers (``conv_i``, ``act_i``,
    ``depth_to_space``). Training-only fields (with_idt, depth_multiplier) keep their defaults."""
    from keras_sr.blocks import DepthToSpace

    convs = []
    while True:
        try:
            convs.append(plain.get_layer(f"conv_{len(convs)}"))
        except ValueError:
            break
    try:
        d2s = plain.get_layer("depth_to_space")
    except ValueError:
        d2s = None
    if len(convs) < 2 or not isinstance(d2s, DepthToSpace):
        raise UserError(f"model {plain.name!r} is not a plain keras_sr network (conv_i, depth_to_space)")
    colors = int(plain.input_shape[-1])
    has_prelu = any(layer.name.startswith("act_") for layer in plain.layers)
    fused = convs[0].get_config().get("activation")
    act_type = "prelu" if has_prelu else ("relu" if fused == "relu" else "none")
    return ModelConfig(scale=d2s.block_size, num_blocks=len(convs) - 2,
                       channels=convs[0].filters - colors, colors=colors, act_type=act_type)


def pin_int8(content: bytes) -> bytes:
    from keras_sr.int8 import pin_pixel_units

    return pin_pixel_units(content)
