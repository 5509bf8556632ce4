r"""eSR, the edge-SR networks (Michelini, Lu, Jiang, "Edge-SR: Super-Resolution for the Masses",
WACV 2022; code github.com/pnavarre/eSR), behind the family contract of :mod:`keras_sr.archs`.

One k x k convolution ``filter`` (no bias) maps the Y image to s^2 * P * C channels;
depth-to-space gives each output pixel P * C values, and the head reduces them to one pixel:

* MAX (P = 1): the maximum of the C values;
* TM (P = 2), template matching: values v and keys k, out = sum_c v_c softmax_c(k);
* TR (P = 3), transformer: values, queries q and keys, out = sum_c v_c softmax_c(q * k).

The paper's networks run on pixels 0..1; keras_sr runs on 0..255. The function is kept by
scaling the softmax logits: the training head computes softmax(k / 255) and softmax((q / 255)
* (k / 255)), so a network here is the paper's network times 255. The fold moves those 1/255
factors into the filter's key and query kernels (exact: the filter is linear and has no bias),
so the deploy head is a plain softmax. Initialization as the paper: Xavier-normal kernels with
the centre tap of every filter set to 1 (each output starts as the nearest input pixel).

Where this departs from the paper: the output is clipped to [0, 255] (as every keras_sr
network), so the int8 file needs no other output range.

int8: MAX is REDUCE_MAX over the channel axis (``MAX_AS = "reduce"``), or, with ``"chain"``,
C - 1 MAXIMUM ops over channel slices; :func:`keras_sr.archs.esr` documents the measured choice
in the README (see "eSR in int8"). TM and TR use SOFTMAX, MUL and SUM.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras as keras

from keras_sr.blocks import ClipPixels, DepthToSpace
from keras_sr.config import ESR_PARTS, ESRConfig

INT8_OPS = frozenset({"QUANTIZE", "CONV_2D", "DEPTH_TO_SPACE", "REDUCE_MAX", "MAXIMUM", "MINIMUM", "RELU",
                      "STRIDED_SLICE", "SOFTMAX", "MUL", "SUM"})
SUPPORTS_QAT = False
PIXEL_UNIT = 1.0 / 255.0  # the paper's pixel in keras_sr's units
_PACKAGE = "keras_sr"


@keras.utils.register_keras_serializable(package=_PACKAGE)
class ESRHead(keras.layers.Layer):
    """(N, H, W, P * C) -> (N, H, W, 1): max, template matching or transformer over C.

    ``logit_scale`` multiplies each key (and query) before the softmax: 1/255 in the training
    network, 1 in the folded one (where the filter carries it).
    """

    def __init__(self, mode: str, channels: int, logit_scale: float = 1.0, max_as: str = "reduce",
                 **kwargs):
        super().__init__(**kwargs)
        self.mode, self.channels, self.logit_scale, self.max_as = mode, channels, logit_scale, max_as

    def call(self, x: tf.Tensor) -> tf.Tensor:
        c = self.channels
        if self.mode == "max":
            if self.max_as == "chain":
                out = x[..., :1]
                for i in range(1, c):
                    out = tf.maximum(out, x[..., i:i + 1])
                return out
            return tf.reduce_max(x, axis=-1, keepdims=True)
        values = x[..., :c]
        if self.mode == "tm":
            logits = x[..., c:2 * c] * self.logit_scale if self.logit_scale != 1.0 else x[..., c:2 * c]
        else:
            query, key = x[..., c:2 * c], x[..., 2 * c:3 * c]
            if self.logit_scale != 1.0:
                query, key = query * self.logit_scale, key * self.logit_scale
            logits = query * key
        return tf.reduce_sum(values * tf.nn.softmax(logits, axis=-1), axis=-1, keepdims=True)

    def get_config(self) -> dict:
        return {**super().get_config(), "mode": self.mode, "channels": self.channels,
                "logit_scale": self.logit_scale, "max_as": self.max_as}


class _CentreTapOne(keras.initializers.Initializer):
    """Xavier normal with the centre tap of every filter set to 1 (the paper's init)."""

    def __call__(self, shape, dtype=None, **kwargs):
        kernel = keras.initializers.GlorotNormal(seed=int(np.random.randint(2**31)))(shape, dtype)
        k = shape[0] // 2
        centre = np.zeros(shape, np.float32)
        centre[k, k] = 1.0
        mask = np.ones(shape, np.float32)
        mask[k, k] = 0.0
        return kernel * mask + centre


def _network(config: ESRConfig, logit_scale: float, max_as: str = "reduce",
             initializer="glorot_normal") -> keras.Model:
    lr = keras.Input((None, None, 1), name="lr")
    width = config.scale ** 2 * ESR_PARTS[config.mode] * config.channels
    h = keras.layers.Conv2D(width, config.kernel_size, padding="same", use_bias=False,
                            kernel_initializer=initializer, name="filter")(lr)
    h = DepthToSpace(config.scale, name="depth_to_space")(h)
    h = ESRHead(config.mode, config.channels, logit_scale, max_as, name="esr_head")(h)
    out = ClipPixels(name="clip")(h)
    return keras.Model(lr, out, name=f"esr_{config.name}")


def build(config: ESRConfig, collapsed: bool = False) -> keras.Model:
    """The training-time network (``collapsed`` has no meaning here: there are no branches)."""
    return _network(config, PIXEL_UNIT, initializer=_CentreTapOne())


def fold(model: keras.Model, config: ESRConfig, max_as: str = "reduce") -> keras.Model:
    """A new network with the head's 1/255 logit scale moved into the filter's key and query
    kernels: output channel (dy * s + dx) * P * C + j of the filter feeds head channel j, and
    j >= C are keys (TM) or queries and keys (TR)."""
    plain = _network(config, 1.0, max_as)
    (kernel,) = model.get_layer("filter").get_weights()
    group = ESR_PARTS[config.mode] * config.channels
    scale = np.where(np.arange(kernel.shape[-1]) % group >= config.channels, PIXEL_UNIT, 1.0)
    plain.get_layer("filter").set_weights([(kernel * scale).astype(np.float32)])
    return plain


def deploy(plain: keras.Model, config: ESRConfig) -> keras.Model:
    return plain


def is_plain(plain) -> bool:
    return any(isinstance(layer, ESRHead) for layer in plain.layers)


def plain_config(plain) -> ESRConfig:
    head = plain.get_layer("esr_head")
    conv = plain.get_layer("filter")
    return ESRConfig(scale=plain.get_layer("depth_to_space").block_size, mode=head.mode,
                     kernel_size=int(conv.kernel_size[0]), channels=head.channels)


def pin_int8(content: bytes) -> bytes:
    """The uint8 input and output in pixel units (scale 1, zero point 0): only the outer
    QUANTIZE ops read them, and those requantize between any two scales, so nothing changes
    but the file's stated units, which the runtime and the app then read as pixels."""
    from keras_sr import flatbuf

    model = flatbuf.read(content)
    graph = model.subgraphs[0]
    for index in (*graph.inputs, *graph.outputs):
        quant = graph.tensors[index].quantization
        if quant is not None:
            quant.scale, quant.zeroPoint = [1.0], [0]
    return flatbuf.write(model)
