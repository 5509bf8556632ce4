r"""eSR, the edge-SR networks (Michelini, Lu, Jiang, "Edge-SR: Super-Resolution for the Masses",
WACV 2022; code github.com/pnavarre/eSR), behind the family contract of :mod:`keras_sr.archs`.

One k x k convolution ``filter`` (no bias) maps the Y image to s^2 * P * C channels;
depth-to-space gives each output pixel P * C values, and the head reduces them to one pixel:

* MAX (P = 1): the maximum of the C values;
* TM (P = 2), template matching: values v and keys k, out = sum_c v_c softmax_c(k);
* TR (P = 3), transformer: values, queries q and keys, out = sum_c v_c softmax_c(q * k).

eSR-CNN (P = 2) puts the paper's small CNN in place of the one convolution (reference
``models.py``, ``edgeSR_CNN``): ``conv_d`` 5x5, 1 -> D, bias, tanh; ``conv_s`` 3x3, D -> S, bias,
tanh; ``filter`` 3x3, S -> s^2 * 2 * C, no bias; then depth-to-space and values weighted by the
softmax of the key squared: out = sum_c v_c softmax_c(k * k). (The reference's D = 0 branch
builds a convolution from 0 channels and cannot run; no D0 model was released: D >= 1 here.)

The paper's networks run on pixels 0..1; keras_sr runs on 0..255: a network here is the paper's
network times 255. For MAX, TM and TR the filter is linear and has no bias, so its outputs are
255 times the paper's and only the softmax logits need scaling: the training head computes
softmax(k / 255) and softmax((q / 255) * (k / 255)). The fold moves those 1/255 factors into the
filter's key and query kernels, so the deploy head is a plain softmax.

eSR-CNN's tanh is not homogeneous, so its hidden layers must see the paper's values. With the
paper's x = X / 255 and its h1 = tanh(W1 * x + b1), h2 = tanh(W2 * h1 + b2), (v, k) = W3 * h2,

    255 * sum_c v_c softmax_c(k_c^2) = sum_c (255 v_c) softmax_c(k_c^2),
    W1 * x + b1 = (W1 / 255) * X + b1.

The training network is therefore the paper's between a 1/255 input scale (``to_paper_pixels``)
and a 255 output scale (``to_pixels``): the paper's parameters, initialization and training
dynamics. The fold moves the 1/255 into ``conv_d``'s kernel (exact: zero padding stays zero) and
the 255 into ``filter``'s value kernels; b1, W2, b2 and the key kernels are unchanged, and the
head's logits are the paper's. No bias scales by 255 (that rule, :mod:`keras_sr.importing`,
needs a network positively homogeneous in its input, which tanh is not).

Initialization as the paper: Xavier-normal kernels (Keras's truncated form, same variance) with
the centre tap of input channel 0 set to 1 in every filter (each output starts as the nearest
input pixel); eSR-CNN's biases as PyTorch's default, uniform in +-1 / sqrt(fan_in).

Where this departs from the paper: the output is clipped to [0, 255] (as every keras_sr
network), so the int8 file needs no other output range.

int8: MAX is REDUCE_MAX over the channel axis (``MAX_AS = "reduce"``), or, with ``"chain"``,
C - 1 MAXIMUM ops over channel slices; :func:`keras_sr.archs.esr` documents the measured choice
in the README (see "eSR in int8"). TM and TR use SOFTMAX, MUL and SUM; eSR-CNN also TANH.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras as keras

from keras_sr.blocks import ClipPixels, DepthToSpace
from keras_sr.config import ESR_CNN_KERNELS, ESR_CNN_WINDOW, ESR_PARTS, ESRConfig
from keras_sr.errors import UserError

INT8_OPS = frozenset({"QUANTIZE", "CONV_2D", "DEPTH_TO_SPACE", "REDUCE_MAX", "MAXIMUM", "MINIMUM", "RELU",
                      "STRIDED_SLICE", "SOFTMAX", "MUL", "SUM", "TANH"})
SUPPORTS_QAT = True
LEARNS_RANGES = False
PIXEL_UNIT = 1.0 / 255.0  # the paper's pixel in keras_sr's units
_PACKAGE = "keras_sr"


@keras.utils.register_keras_serializable(package=_PACKAGE)
class ESRHead(keras.layers.Layer):
    """(N, H, W, P * C) -> (N, H, W, 1): max, template matching, transformer or eSR-CNN's
    softmax of the key squared, over C.

    ``logit_scale`` multiplies each key (and query) before the softmax: 1/255 in the training
    network of MAX, TM and TR, 1 in the folded one (where the filter carries it) and in eSR-CNN.
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
        elif self.mode == "cnn":
            key = x[..., c:2 * c]
            logits = key * key
        else:
            query, key = x[..., c:2 * c], x[..., 2 * c:3 * c]
            if self.logit_scale != 1.0:
                query, key = query * self.logit_scale, key * self.logit_scale
            logits = query * key
        return tf.reduce_sum(values * tf.nn.softmax(logits, axis=-1), axis=-1, keepdims=True)

    def get_config(self) -> dict:
        return {**super().get_config(), "mode": self.mode, "channels": self.channels,
                "logit_scale": self.logit_scale, "max_as": self.max_as}


@keras.utils.register_keras_serializable(package=_PACKAGE)
class ESRSplitHead(keras.layers.Layer):
    """The deploy head of TM, TR and eSR-CNN (:func:`deploy`): [values, keys] or [values,
    queries, keys], each (N, H, W, C) from its own convolution, -> (N, H, W, 1)."""

    def __init__(self, mode: str, **kwargs):
        super().__init__(**kwargs)
        self.mode = mode

    def call(self, parts: list) -> tf.Tensor:
        values, *rest = parts
        logits = {"tm": lambda: rest[0], "tr": lambda: rest[0] * rest[1],
                  "cnn": lambda: rest[0] * rest[0]}[self.mode]()
        return tf.reduce_sum(values * tf.nn.softmax(logits, axis=-1), axis=-1, keepdims=True)

    def get_config(self) -> dict:
        return {**super().get_config(), "mode": self.mode}


# The parts of the filter's output per sub-pixel, in order (values first).
PART_NAMES = {"tm": ("values", "keys"), "tr": ("values", "queries", "keys"), "cnn": ("values", "keys")}


def _seed() -> int:
    """A seed from NumPy's generator, so that ``keras.utils.set_random_seed`` fixes the init."""
    return int(np.random.randint(2**31))


class _CentreTapOne(keras.initializers.Initializer):
    """Xavier normal with the centre tap of input channel 0 set to 1 in every filter (the
    paper's init; the one filter of MAX, TM and TR has that one input channel)."""

    def __call__(self, shape, dtype=None, **kwargs):
        kernel = keras.initializers.GlorotNormal(seed=_seed())(shape, dtype)
        k = shape[0] // 2
        centre = np.zeros(shape, np.float32)
        centre[k, k, 0] = 1.0
        mask = np.ones(shape, np.float32)
        mask[k, k, 0] = 0.0
        return kernel * mask + centre


def _torch_default_bias(fan_in: int) -> keras.initializers.Initializer:
    """PyTorch's default Conv2d bias (the reference leaves it): uniform in +-1 / sqrt(fan_in)."""
    bound = 1.0 / np.sqrt(fan_in)
    return keras.initializers.RandomUniform(-bound, bound, seed=_seed())


def _cnn_features(x: tf.Tensor, config: ESRConfig, training: bool) -> tf.Tensor:
    """eSR-CNN's two tanh layers, 1 -> D -> S channels, on the paper's pixels 0..1."""
    k_d, k_s, _ = ESR_CNN_KERNELS
    fan_ins = {"conv_d": k_d * k_d, "conv_s": k_s * k_s * config.d_channels}
    for name, channels, k in (("conv_d", config.d_channels, k_d), ("conv_s", config.s_channels, k_s)):
        x = keras.layers.Conv2D(
            channels, k, padding="same", activation="tanh", name=name,
            kernel_initializer=_CentreTapOne() if training else "glorot_normal",
            bias_initializer=_torch_default_bias(fan_ins[name]) if training else "zeros")(x)
    return x


def _network(config: ESRConfig, training: bool, max_as: str = "reduce") -> keras.Model:
    """The training network (``training``: the paper's init, and the pixel-unit scales that the
    fold moves into kernels) or the plain one (its weights come from :func:`fold`)."""
    lr = keras.Input((None, None, 1), name="lr")
    cnn = config.mode == "cnn"
    h = lr
    if cnn:
        if training:
            h = keras.layers.Rescaling(PIXEL_UNIT, name="to_paper_pixels")(h)
        h = _cnn_features(h, config, training)
    width = config.scale ** 2 * ESR_PARTS[config.mode] * config.channels
    h = keras.layers.Conv2D(width, ESR_CNN_KERNELS[-1] if cnn else config.kernel_size, padding="same",
                            use_bias=False, name="filter",
                            kernel_initializer=_CentreTapOne() if training else "glorot_normal")(h)
    # The head and the pixel layers run in float32 under a mixed-precision policy too (see
    # keras_sr.train.PRECISIONS): bfloat16 would round output pixels above 128 to whole levels.
    h = DepthToSpace(config.scale, name="depth_to_space", dtype="float32")(h)
    logit_scale = PIXEL_UNIT if training and not cnn else 1.0
    h = ESRHead(config.mode, config.channels, logit_scale, max_as, name="esr_head", dtype="float32")(h)
    if cnn and training:
        h = keras.layers.Rescaling(1.0 / PIXEL_UNIT, name="to_pixels", dtype="float32")(h)
    out = ClipPixels(name="clip", dtype="float32")(h)
    return keras.Model(lr, out, name=f"esr_{config.name}")


def build(config: ESRConfig, collapsed: bool = False) -> keras.Model:
    """The training-time network (``collapsed`` has no meaning here: there are no branches)."""
    return _network(config, training=True)


def fold(model: keras.Model, config: ESRConfig, max_as: str = "reduce") -> keras.Model:
    """A new plain network with the training network's pixel-unit scales moved into kernels
    (see the module docstring). Output channel (dy * s + dx) * P * C + j of the filter feeds
    head channel j: j < C are values, the others keys (TM, CNN) or queries and keys (TR)."""
    plain = _network(config, training=False, max_as=max_as)
    (kernel,) = model.get_layer("filter").get_weights()
    is_value = np.arange(kernel.shape[-1]) % (ESR_PARTS[config.mode] * config.channels) < config.channels
    if config.mode == "cnn":
        d_kernel, d_bias = model.get_layer("conv_d").get_weights()
        plain.get_layer("conv_d").set_weights([(d_kernel * PIXEL_UNIT).astype(np.float32), d_bias])
        plain.get_layer("conv_s").set_weights(model.get_layer("conv_s").get_weights())
        scale = np.where(is_value, 1.0 / PIXEL_UNIT, 1.0)
    else:
        scale = np.where(is_value, 1.0, PIXEL_UNIT)
    plain.get_layer("filter").set_weights([(kernel * scale).astype(np.float32)])
    return plain


def deploy(plain: keras.Model, config: ESRConfig) -> keras.Model:
    """The network the .tflite files hold. MAX: the plain one. TM, TR and eSR-CNN: the filter
    split into one convolution per part (values, queries, keys), each with its own
    depth-to-space, so that int8 gives each part its own scale. In one tensor the keys (logits,
    a few units wide in TM and TR) would share the values' scale (hundreds of pixels wide) and
    round to a few levels: the trained eSR-TM_K7_C4 x2 run lost 10.0 dB in int8 that way
    (25.6 dB int8 vs float on T91), see the README's "eSR in int8"."""
    if config.mode == "max":
        return plain
    cnn = config.mode == "cnn"
    lr = keras.Input((None, None, 1), name="lr")
    h = _cnn_features(lr, config, training=False) if cnn else lr
    (kernel,) = plain.get_layer("filter").get_weights()
    names = PART_NAMES[config.mode]
    s2, c = config.scale ** 2, config.channels
    # Filter channel (dy * s + dx) * P * C + p * C + c -> part p's channel (dy * s + dx) * C + c.
    per_part = kernel.reshape(*kernel.shape[:3], s2, len(names), c)
    convs, parts = [], []
    for name in names:
        conv = keras.layers.Conv2D(s2 * c, kernel.shape[0], padding="same", use_bias=False,
                                   name=f"filter_{name}")
        convs.append(conv)
        parts.append(DepthToSpace(config.scale, name=f"depth_to_space_{name}")(conv(h)))
    out = ClipPixels(name="clip")(ESRSplitHead(config.mode, name="esr_head")(parts))
    model = keras.Model(lr, out, name=f"esr_{config.name}_deploy")
    for p, conv in enumerate(convs):
        conv.set_weights([np.ascontiguousarray(per_part[..., p, :]).reshape(*kernel.shape[:3], s2 * c)])
    if cnn:
        for name in ("conv_d", "conv_s"):
            model.get_layer(name).set_weights(plain.get_layer(name).get_weights())
    return model


# The int8 kernels' fixed output ranges (TFLite: SOFTMAX scale 1/256 from 0, TANH 1/128 around 0).
FIXED_RANGES = {"softmax": (0.0, 255.0 / 256.0), "conv_d_tanh": (-1.0, 127.0 / 128.0),
                "conv_s_tanh": (-1.0, 127.0 / 128.0)}


def _int8_steps(network, config: ESRConfig, lr, quantize, weights: bool):
    """The deploy ``network``'s function written out op by op as the int8 file runs it, with
    ``quantize(name, tensor)`` applied to every tensor the file holds in int8 and, with
    ``weights``, the kernels fake-quantized as int8 stores them."""
    from keras_sr.qat import quantize_kernel

    def conv(name, x):
        layer = network.get_layer(name)
        h = tf.nn.conv2d(x, quantize_kernel(layer.kernel) if weights else layer.kernel, 1, "SAME")
        return h + layer.bias if layer.use_bias else h

    h, s = lr, config.scale
    if config.mode == "cnn":
        for name in ("conv_d", "conv_s"):  # TANH is not fused: its input is an int8 tensor too
            h = quantize(f"{name}_tanh", tf.tanh(quantize(name, conv(name, h))))
    if config.mode == "max":  # the maximum keeps its input's scale
        return tf.reduce_max(tf.nn.depth_to_space(quantize("filter", conv("filter", h)), s), -1, keepdims=True)
    values, *rest = [tf.nn.depth_to_space(quantize(name, conv(f"filter_{name}", h)), s)
                     for name in PART_NAMES[config.mode]]
    logits = {"tm": lambda: rest[0], "tr": lambda: quantize("logits", rest[0] * rest[1]),
              "cnn": lambda: quantize("logits", rest[0] * rest[0])}[config.mode]()
    weighted = quantize("product", values * quantize("softmax", tf.nn.softmax(logits, axis=-1)))
    return quantize("sum", tf.reduce_sum(weighted, axis=-1, keepdims=True))


def int8_training_forward(network, config: ESRConfig, patches, learn_ranges: bool = False):
    """(forward, variables, ranges) for quantization-aware fine-tuning (:mod:`keras_sr.qat`):
    ``forward(lr)`` is the deploy ``network`` with the int8 file's roundings simulated, each
    tensor's range the min/max over the calibration ``patches`` (widened to 0, as the
    converter's), the SOFTMAX and TANH outputs at their fixed int8 ranges; the output is
    clipped, not rounded. ``variables``: every kernel and bias; ``ranges``: none learned
    (``LEARNS_RANGES`` is False)."""
    if learn_ranges:
        raise UserError("learned int8 ranges are not implemented for esr", params=("qat_ranges",))
    ranges: dict[str, tuple[float, float]] = {}

    def record(name, tensor):
        lo, hi = ranges.get(name, (0.0, 1e-3))
        ranges[name] = (min(lo, float(tf.reduce_min(tensor))), max(hi, float(tf.reduce_max(tensor))))
        return tensor

    for patch in patches:
        _int8_steps(network, config, tf.constant(patch[None], tf.float32), record, weights=False)

    def fake_quantize(name, tensor):
        lo, hi = FIXED_RANGES.get(name, ranges[name])
        return tf.quantization.fake_quant_with_min_max_args(tensor, lo, hi, num_bits=8)

    def forward(lr):
        return tf.clip_by_value(_int8_steps(network, config, lr, fake_quantize, weights=True), 0.0, 255.0)

    return forward, network.trainable_variables, []


def is_plain(plain) -> bool:
    return any(isinstance(layer, ESRHead) for layer in plain.layers)


def plain_config(plain) -> ESRConfig:
    head = plain.get_layer("esr_head")
    scale = plain.get_layer("depth_to_space").block_size
    if head.mode == "cnn":
        return ESRConfig(scale=scale, mode="cnn", kernel_size=ESR_CNN_WINDOW, channels=head.channels,
                         d_channels=plain.get_layer("conv_d").filters,
                         s_channels=plain.get_layer("conv_s").filters)
    return ESRConfig(scale=scale, mode=head.mode, kernel_size=int(plain.get_layer("filter").kernel_size[0]),
                     channels=head.channels)


def pin_int8(content: bytes) -> bytes:
    """The uint8 input and output in pixel units (:func:`keras_sr.int8.pin_io`); the head's
    tensors keep their calibrated ranges (there is no residual to pin)."""
    from keras_sr.int8 import pin_io

    return pin_io(content)
