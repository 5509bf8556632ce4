"""Quantization-aware fine-tuning of a deploy network (:func:`keras_sr.folding.deploy`) before
its int8 export.

Post-training int8 rounds each conv's weights (per output channel, symmetric, 255 levels) and
each activation tensor (per tensor, 256 levels over the range calibration finds). The forward
pass here does the same roundings in float (fake quantization; gradients pass straight through
the rounding), with the ranges measured on the calibration patches as the converter will, so a
few thousand L1 steps let the weights settle where the rounding costs least. The result is a
float deploy network of the same shape, which the converter then calibrates and quantizes as
usual; the int8 file keeps the usual ops.

With learned ranges (``learn_ranges=True``, LSQ) each hidden tensor's int8 step is a variable
too, started at the calibrated one: in the forward pass ``s * (clip(round(x / s) + z) - z)``, whose
gradient with respect to ``s`` is the rounding error inside the range and the bound beyond it
(Esser et al., "Learned Step Size Quantization", 2020), so the fine-tuning trades the rounding
of the common values against the saturation of the rare ones on the loss itself. The export then
writes the learned steps into the int8 file (:func:`keras_sr.flatbuf.set_quantization`) in place
of the searched ones.

``python -m tools.int8_breakdown MODEL --data Set5 --calib T91`` prints what each rounding costs
and checks the simulation against the int8 file; on the bundled x2 Y model it reproduces the file
(see the README for its figures).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from keras_sr.config import ModelConfig
from keras_sr.errors import UserError

QAT_LR = 1e-5
QAT_BATCH = 16
QAT_PATCH = 64
# With learned ranges: Adam on the weights, and on the log of each learned step (scale-free).
# Chosen on the bundled x2 Y model, 2000 steps on T91, scored on the validation split of the
# training images (float 33.199 dB, post-training int8 33.170): weights at 1e-5 / 1e-4 / 3e-4
# gave 33.173 / 33.176 / 33.169 (steps at 3e-3; 1e-3 scored lower on T91).
LSQ_LR = 1e-4
RANGE_LR = 3e-3


class ActivationRange:
    """One int8 hidden tensor in the simulation: its step and zero point as the converter sets
    them from a calibrated ``(lo, hi)``; with ``learn`` the step is ``initial * exp(t)``, ``t`` a
    variable (:attr:`variable`) at 0."""

    def __init__(self, lo: float, hi: float, learn: bool = False):
        import tensorflow as tf

        self.lo, self.hi = lo, hi
        self.initial_scale = (hi - lo) / 255.0
        self.zero_point = int(np.clip(np.round(-128 - lo / self.initial_scale), -128, 127))
        self.variable = tf.Variable(0.0, name="log_step") if learn else None

    @property
    def scale(self) -> float:
        if self.variable is None:
            return self.initial_scale
        return float(self.initial_scale * np.exp(self.variable.numpy()))

    def __call__(self, h):
        import tensorflow as tf

        if self.variable is None:  # exactly the converter's nudged range
            return tf.quantization.fake_quant_with_min_max_args(h, self.lo, self.hi, num_bits=8)
        step = self.initial_scale * tf.exp(self.variable)
        v = h / step
        rounded = v + tf.stop_gradient(tf.round(v) - v)  # straight through the rounding
        return step * (tf.clip_by_value(rounded + self.zero_point, -128.0, 127.0) - self.zero_point)


def quantized_tensors(network, config: ModelConfig):
    """A model returning the hidden tensors int8 quantizes per tensor, in order: each conv's
    output (after its fused ReLU) and, with PReLU, each PReLU output. (The last conv's output and
    the residual sum are in pixel units, see :func:`keras_sr.int8.pin_pixel_units`.)"""
    import tf_keras as keras

    outputs = []
    for i in range(config.num_convs - 1):
        outputs.append(network.get_layer(f"conv_{i}").output)
        if config.act_type == "prelu":
            outputs.append(network.get_layer(f"act_{i}").output)
    return keras.Model(network.input, outputs)


def activation_ranges(network, config: ModelConfig, patches: Sequence[np.ndarray]) -> list[tuple[float, float]]:
    """(min, max) of each quantized hidden tensor over ``patches``, widened to include 0 (what
    the converter's min/max calibration finds)."""
    probe = quantized_tensors(network, config)
    lows = highs = None
    for patch in patches:
        values = probe(patch[None].astype(np.float32), training=False)
        values = values if isinstance(values, list) else [values]
        lo = np.array([float(v.numpy().min()) for v in values])
        hi = np.array([float(v.numpy().max()) for v in values])
        lows = lo if lows is None else np.minimum(lows, lo)
        highs = hi if highs is None else np.maximum(highs, hi)
    return [(min(float(lo), 0.0), max(float(hi), 1e-3)) for lo, hi in zip(lows, highs)]


def fake_int8_forward(network, config: ModelConfig,
                      ranges: Sequence[tuple[float, float] | ActivationRange],
                      weights: bool = True, activations: bool = True):
    """``lr (N,h,w,C float 0..255) -> sr`` (float, clipped, not rounded) with the int8 file's
    roundings simulated (of the ``weights``, of the ``activations``, or both); the variables
    are ``network``'s (and the learned ranges'), so it trains them. ``ranges``: per quantized
    tensor (:func:`quantized_tensors`), a calibrated ``(lo, hi)`` or an :class:`ActivationRange`."""
    import tensorflow as tf

    n = config.num_convs
    quantizers = [r if isinstance(r, ActivationRange) else ActivationRange(*r) for r in ranges]

    def quantize_activation(h, index):
        return quantizers[index](h) if activations else h

    def quantize_weights(kernel):
        return quantize_kernel(kernel) if weights else kernel

    residual = network.get_layer("residual")

    def forward(lr):
        h, index = lr, 0
        for i in range(n):
            conv = network.get_layer(f"conv_{i}")
            kernel = quantize_weights(conv.kernel)
            h = tf.nn.conv2d(h, kernel, 1, "SAME") + conv.bias
            if i == n - 1:
                break
            if config.act_type == "relu":
                h = tf.nn.relu(h)
            h, index = quantize_activation(h, index), index + 1
            if config.act_type == "prelu":
                h = network.get_layer(f"act_{i}")(h)
                h, index = quantize_activation(h, index), index + 1
        if activations:  # the correction in signed whole pixels
            h = tf.quantization.fake_quant_with_min_max_args(h, -128.0, 127.0, num_bits=8)
        h = tf.nn.depth_to_space(h + residual(lr), config.scale)
        return tf.clip_by_value(h, 0.0, 255.0)

    return forward


def learned_weights(network, config: ModelConfig) -> list:
    """The variables to fine-tune: every conv's kernel and bias and the PReLU slopes; the
    residual's fixed repeat kernel stays as it is."""
    variables = []
    for i in range(config.num_convs):
        conv = network.get_layer(f"conv_{i}")
        variables += [conv.kernel, conv.bias]
        if config.act_type == "prelu" and i < config.num_convs - 1:
            variables.append(network.get_layer(f"act_{i}").alpha)
    return variables


def quantize_kernel(kernel):
    """``kernel`` fake-quantized as int8 conv weights are: per output channel, symmetric, 255
    levels (gradients pass straight through)."""
    import tensorflow as tf

    bound = tf.maximum(tf.stop_gradient(tf.reduce_max(tf.abs(kernel), axis=[0, 1, 2])), 1e-8)
    return tf.quantization.fake_quant_with_min_max_vars_per_channel(
        kernel, -bound, bound, num_bits=8, narrow_range=True)


def int8_training_forward(network, config: ModelConfig, patches: Sequence[np.ndarray],
                          learn_ranges: bool = False):
    """ECBSR's side of the family contract: (forward, variables, ranges) for fine-tuning the
    deploy ``network`` with int8 simulated, the activation ranges measured on ``patches``;
    ``ranges``: the :class:`ActivationRange` of each hidden tensor in graph order, their steps
    learned with ``learn_ranges``."""
    ranges = [ActivationRange(lo, hi, learn_ranges)
              for lo, hi in activation_ranges(network, config, patches)]
    return fake_int8_forward(network, config, ranges), learned_weights(network, config), ranges


def finetune_for_int8(network, config, images: Sequence[np.ndarray],
                      patches: Sequence[np.ndarray], steps: int, learning_rate: float | None = None,
                      seed: int = 0, progress: Callable[[int, float], None] | None = None,
                      learn_ranges: bool = False):
    """``(tuned, ranges)``: a copy of the deploy ``network`` fine-tuned for ``steps`` L1 steps
    with int8 rounding simulated (the family's ``int8_training_forward``), on random patches of
    the HR ``images`` (their LR made like the training data) and with the activation ranges of
    the calibration ``patches``; with ``learn_ranges`` (families with ``LEARNS_RANGES``) the
    hidden tensors' steps are learned too and ``ranges`` is their ``(scale, zero_point)`` in
    graph order, else None. ``learning_rate``: of the weights (default :data:`LSQ_LR` with
    learned ranges, else :data:`QAT_LR`). ``progress(step, loss)`` is called after each step."""
    import tensorflow as tf
    import tf_keras as keras

    from keras_sr import archs
    from keras_sr.data import PatchSampler, make_pair

    if steps < 1:
        raise UserError("qat_steps must be at least 1", params=("qat_steps",))
    hr_patch = QAT_PATCH * config.scale
    pairs = [make_pair(f"image {i}", image, config.scale, config.colors)
             for i, image in enumerate(images) if min(image.shape[:2]) >= hr_patch]
    if not pairs:
        raise UserError(f"quantization-aware fine-tuning needs images of at least "
                        f"{hr_patch}x{hr_patch} pixels")
    tuned = keras.models.clone_model(network)
    tuned.set_weights(network.get_weights())
    family = archs.family(config)
    if learn_ranges and not family.LEARNS_RANGES:
        raise UserError(f"learned int8 ranges are not implemented for {config.family}",
                        params=("qat_ranges",))
    forward, variables, ranges = family.int8_training_forward(tuned, config, patches, learn_ranges)
    if learning_rate is None:
        learning_rate = LSQ_LR if learn_ranges else QAT_LR
    steps_of_ranges = [r.variable for r in ranges if r.variable is not None]
    optimizer = keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(learning_rate, steps))
    optimizer.build(variables)
    range_optimizer = keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(RANGE_LR, steps))
    if steps_of_ranges:
        range_optimizer.build(steps_of_ranges)

    @tf.function(autograph=False)
    def train_step(lr, hr):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.abs(forward(lr) - hr))
        gradients = tape.gradient(loss, variables + steps_of_ranges)
        optimizer.apply_gradients(zip(gradients[:len(variables)], variables))
        if steps_of_ranges:
            range_optimizer.apply_gradients(zip(gradients[len(variables):], steps_of_ranges))
        return loss

    sampler = PatchSampler(pairs, config.scale, QAT_PATCH, QAT_BATCH, seed)
    for step, (lr, hr) in enumerate(sampler.dataset(0, steps), start=1):
        loss = float(train_step(lr, hr))
        if not np.isfinite(loss):
            raise UserError(f"quantization-aware fine-tuning diverged at step {step}")
        if progress is not None:
            progress(step, loss)
    learned = [(r.scale, r.zero_point) for r in ranges] if learn_ranges else None
    return tuned, learned
