"""Network builders: the training-time ECBSR network and the plain network it folds into.

Both take and return NHWC float32 pixels in 0..255: input (N, h, w, colors), output
(N, h * scale, w * scale, colors), clipped to [0, 255]. Layers have stable names
(``ecb_i``, ``act_i``, ``conv_i``) that the fold uses to map weights.
"""

from __future__ import annotations

import tf_keras as keras

from keras_sr.blocks import ECB, ClipPixels, DepthToSpace, RepeatChannels
from keras_sr.config import ModelConfig


def _activation(act_type: str, name: str) -> keras.layers.Layer | None:
    if act_type == "relu":
        return keras.layers.ReLU(name=name)
    if act_type == "prelu":
        # One slope per channel, as the ECBSR reference (nn.PReLU(num_parameters=C)).
        return keras.layers.PReLU(shared_axes=[1, 2], alpha_initializer=keras.initializers.Constant(0.25),
                                  name=name)
    return None


def build_model(config: ModelConfig, collapsed: bool = False) -> keras.Model:
    """The training-time network: ECB(colors -> C), ``num_blocks`` x ECB(C -> C), then
    ECB(C -> colors * scale^2) without activation, plus the input repeated scale^2 times,
    depth-to-space and clip.

    ``collapsed=True`` runs each ECB as one 3x3 convolution built from its branch weights
    (same weights, same function, much faster to train).
    """
    s2 = config.scale ** 2
    widths = [config.channels] * (config.num_blocks + 1) + [config.colors * s2]
    lr = keras.Input((None, None, config.colors), name="lr")
    h = lr
    for i, width in enumerate(widths):
        h = ECB(width, config.depth_multiplier, config.with_idt, collapsed, name=f"ecb_{i}")(h)
        act = _activation(config.act_type, f"act_{i}") if i < len(widths) - 1 else None
        if act is not None:
            h = act(h)
    # The residual and the pixel layers run in float32 under a mixed-precision policy too (see
    # keras_sr.train.PRECISIONS): bfloat16 would round output pixels above 128 to whole levels.
    residual = RepeatChannels(s2, name="residual", dtype="float32")(lr)
    h = keras.layers.Add(name="add_residual", dtype="float32")([h, residual])
    h = DepthToSpace(config.scale, name="depth_to_space", dtype="float32")(h)
    out = ClipPixels(name="clip", dtype="float32")(h)
    return keras.Model(lr, out, name=f"ecbsr_{config.name}")


def build_plain_model(config: ModelConfig) -> keras.Model:
    """The folded network: ``num_convs`` 3x3 convolutions with their activation, then
    depth-to-space and clip. Nothing else.

    Hidden layers are ``channels + colors`` wide: the last ``colors`` channels carry the input
    through unchanged (identity kernels), and the last convolution adds it to every sub-pixel,
    which is the global residual folded in (see :mod:`keras_sr.folding`).
    """
    width = config.channels + config.colors
    lr = keras.Input((None, None, config.colors), name="lr")
    h = lr
    for i in range(config.num_convs):
        last = i == config.num_convs - 1
        filters = config.colors * config.scale ** 2 if last else width
        fused = "relu" if config.act_type == "relu" and not last else None
        h = keras.layers.Conv2D(filters, 3, padding="same", activation=fused, name=f"conv_{i}")(h)
        if config.act_type == "prelu" and not last:
            h = _activation("prelu", f"act_{i}")(h)
    h = DepthToSpace(config.scale, name="depth_to_space", dtype="float32")(h)
    out = ClipPixels(name="clip", dtype="float32")(h)
    return keras.Model(lr, out, name=f"plain_{config.name}")


def build_deploy_model(config: ModelConfig) -> keras.Model:
    """The network the .tflite files hold: the folded network with the residual as one ADD.

    ``num_convs`` 3x3 convolutions ``channels`` wide (the last one ``colors * scale^2``) with
    their activation compute the correction F(x); a fixed 1x1 convolution ``residual`` (kernel
    repeat(I, scale^2), no bias) makes repeat(x), the ADD ``add_residual`` sums them, then
    depth-to-space and clip. Same function as :func:`build_plain_model`'s, but no layer carries
    the input along: 16 channels instead of 17 run about twice as fast in int8 on XNNPACK,
    and the int8 file keeps x exact (see :func:`keras_sr.folding.deploy`).
    """
    lr = keras.Input((None, None, config.colors), name="lr")
    h = lr
    for i in range(config.num_convs):
        last = i == config.num_convs - 1
        filters = config.colors * config.scale ** 2 if last else config.channels
        fused = "relu" if config.act_type == "relu" and not last else None
        h = keras.layers.Conv2D(filters, 3, padding="same", activation=fused, name=f"conv_{i}")(h)
        if config.act_type == "prelu" and not last:
            h = _activation("prelu", f"act_{i}")(h)
    residual = keras.layers.Conv2D(config.colors * config.scale ** 2, 1, use_bias=False,
                                   trainable=False, name="residual")(lr)
    h = keras.layers.Add(name="add_residual")([h, residual])
    h = DepthToSpace(config.scale, name="depth_to_space")(h)
    out = ClipPixels(name="clip")(h)
    return keras.Model(lr, out, name=f"deploy_{config.name}")
