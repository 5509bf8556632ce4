"""Layers of the training-time network: the ECB and its branches, and the pixel layers.

Every branch is linear and implements the fold contract ``rep_params() -> (kernel, bias)``:
a 3x3 kernel of shape (3, 3, in, out) and a bias of shape (out,) such that ``conv2d(x, kernel,
padding="SAME") + bias`` equals the branch's output everywhere, borders included. The algebra
is written out in :mod:`keras_sr.folding`. ``ECB(collapsed=True)`` runs one convolution with the
summed kernel (computed differentiably from the branch weights), which is what makes training
fast; ``collapsed=False`` runs the five branches as written. Both use the same weights.

Tensors are NHWC float32; pixels are 0..255.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras as keras

from keras_sr.kernels import EDGE_FILTERS

_PACKAGE = "keras_sr"


def pad_with_bias(y: tf.Tensor, bias: tf.Tensor) -> tf.Tensor:
    """Pad H and W of ``y`` by one pixel filled with ``bias`` (per channel), not with zeros.

    The output of a 1x1 convolution of a zero-padded input is its bias, so this padding makes
    the 1x1-then-3x3 branches exactly equal to one 3x3 convolution of the zero-padded input.
    """
    return tf.pad(y - bias, [[0, 0], [1, 1], [1, 1], [0, 0]]) + bias


def _small_normal() -> keras.initializers.Initializer:
    return keras.initializers.RandomNormal(stddev=1e-3, seed=int(np.random.randint(2**31)))


def _conv(x: tf.Tensor, kernel: tf.Tensor, padding: str = "SAME") -> tf.Tensor:
    return tf.nn.conv2d(x, kernel, strides=1, padding=padding)


class _Branch(keras.layers.Layer):
    """Base of the ECB branches: ``out_channels`` outputs with a 3x3 receptive field."""

    def __init__(self, out_channels: int, **kwargs):
        super().__init__(**kwargs)
        self.out_channels = out_channels

    def rep_params(self) -> tuple[tf.Tensor, tf.Tensor]:
        """The equivalent 3x3 kernel (3, 3, in, out) and bias (out,)."""
        raise NotImplementedError

    def get_config(self) -> dict:
        return {**super().get_config(), "out_channels": self.out_channels}


class SmallConvBranch(_Branch):
    """A ``kh x kw`` convolution with each side 1 or 3 (RepRFN's 3x1, 1x3 and 1x1 branches).

    SAME padding pads a side of 3 by one pixel and a side of 1 by none, so the kernel
    zero-padded to 3x3 around its centre is the same convolution, borders included.
    """

    def __init__(self, out_channels: int, kernel_size: tuple[int, int], **kwargs):
        super().__init__(out_channels, **kwargs)
        if len(kernel_size) != 2 or not set(kernel_size) <= {1, 3}:
            raise ValueError(f"kernel_size must be two sides of 1 or 3, got {kernel_size}")
        self.kernel_size = tuple(kernel_size)

    def build(self, input_shape) -> None:
        cin = int(input_shape[-1])
        self.kernel = self.add_weight("kernel", (*self.kernel_size, cin, self.out_channels),
                                      initializer="glorot_uniform")
        self.bias = self.add_weight("bias", (self.out_channels,), initializer="zeros")
        super().build(input_shape)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return _conv(x, self.kernel) + self.bias

    def rep_params(self) -> tuple[tf.Tensor, tf.Tensor]:
        pad_h, pad_w = ((3 - side) // 2 for side in self.kernel_size)
        kernel = tf.pad(self.kernel, [[pad_h, pad_h], [pad_w, pad_w], [0, 0], [0, 0]])
        return kernel, tf.convert_to_tensor(self.bias)

    def get_config(self) -> dict:
        return {**super().get_config(), "kernel_size": self.kernel_size}


class Conv3x3Branch(SmallConvBranch):
    """Branch 1: a plain 3x3 convolution."""

    def __init__(self, out_channels: int, **kwargs):
        kwargs.pop("kernel_size", None)  # always 3x3 (written by get_config)
        super().__init__(out_channels, (3, 3), **kwargs)


class Conv1x1Conv3x3Branch(_Branch):
    """Branch 2: 1x1 convolution to ``int(out * depth_multiplier)`` channels, then 3x3."""

    def __init__(self, out_channels: int, depth_multiplier: float = 2.0, **kwargs):
        super().__init__(out_channels, **kwargs)
        self.depth_multiplier = depth_multiplier
        self.mid_channels = int(out_channels * depth_multiplier)

    def build(self, input_shape) -> None:
        cin = int(input_shape[-1])
        mid = self.mid_channels
        self.kernel0 = self.add_weight("kernel0", (1, 1, cin, mid), initializer="glorot_uniform")
        self.bias0 = self.add_weight("bias0", (mid,), initializer="zeros")
        self.kernel1 = self.add_weight("kernel1", (3, 3, mid, self.out_channels),
                                       initializer="glorot_uniform")
        self.bias1 = self.add_weight("bias1", (self.out_channels,), initializer="zeros")
        super().build(input_shape)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        y0 = pad_with_bias(_conv(x, self.kernel0) + self.bias0, self.bias0)
        return _conv(y0, self.kernel1, padding="VALID") + self.bias1

    def rep_params(self) -> tuple[tf.Tensor, tf.Tensor]:
        kernel = tf.einsum("cm,ijmo->ijco", self.kernel0[0, 0], self.kernel1)
        bias = self.bias1 + tf.einsum("m,ijmo->o", self.bias0, self.kernel1)
        return kernel, bias

    def get_config(self) -> dict:
        return {**super().get_config(), "depth_multiplier": self.depth_multiplier}


class EdgeBranch(_Branch):
    """Branches 3-5: 1x1 convolution, then a fixed edge filter per channel with a learnable
    per-channel scale and bias. ``kind`` names a filter in :data:`keras_sr.kernels.EDGE_FILTERS`.
    """

    def __init__(self, out_channels: int, kind: str, **kwargs):
        super().__init__(out_channels, **kwargs)
        if kind not in EDGE_FILTERS:
            raise ValueError(f"unknown edge filter {kind!r}")
        self.kind = kind
        self.mask = tf.constant(EDGE_FILTERS[kind])

    def build(self, input_shape) -> None:
        cin, cout = int(input_shape[-1]), self.out_channels
        self.kernel0 = self.add_weight("kernel0", (1, 1, cin, cout), initializer="glorot_uniform")
        self.bias0 = self.add_weight("bias0", (cout,), initializer="zeros")
        # Small random scale and bias, as the ECBSR reference (randn * 1e-3).
        self.scale = self.add_weight("scale", (cout,), initializer=_small_normal())
        self.bias = self.add_weight("bias", (cout,), initializer=_small_normal())
        super().build(input_shape)

    def _filter(self) -> tf.Tensor:
        """Per-channel scaled filter, shape (3, 3, out)."""
        return tf.cast(self.mask, self.scale.dtype)[:, :, None] * self.scale

    def call(self, x: tf.Tensor) -> tf.Tensor:
        y0 = pad_with_bias(_conv(x, self.kernel0) + self.bias0, self.bias0)
        depthwise = self._filter()[:, :, :, None]
        return tf.nn.depthwise_conv2d(y0, depthwise, [1, 1, 1, 1], "VALID") + self.bias

    def rep_params(self) -> tuple[tf.Tensor, tf.Tensor]:
        filt = self._filter()
        kernel = tf.einsum("co,ijo->ijco", self.kernel0[0, 0], filt)
        bias = self.bias + self.bias0 * tf.reduce_sum(filt, axis=[0, 1])
        return kernel, bias

    def get_config(self) -> dict:
        return {**super().get_config(), "kind": self.kind}


@keras.utils.register_keras_serializable(package=_PACKAGE)
class ECB(keras.layers.Layer):
    """Edge-oriented Convolution Block: the sum of five parallel linear branches (3x3;
    1x1-3x3; 1x1-Sobel-x; 1x1-Sobel-y; 1x1-Laplacian) plus an optional identity, with no
    activation (the network applies it after the block).

    ``collapsed=True`` computes the same function as one 3x3 convolution whose kernel is built
    from the branch weights at every call (differentiable), instead of running the branches.
    """

    def __init__(self, out_channels: int, depth_multiplier: float = 2.0,
                 with_idt: bool = False, collapsed: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.out_channels = out_channels
        self.depth_multiplier = depth_multiplier
        self.with_idt = with_idt
        self.collapsed = collapsed
        self.branches = [
            Conv3x3Branch(out_channels, name="conv3x3"),
            Conv1x1Conv3x3Branch(out_channels, depth_multiplier, name="conv1x1_3x3"),
            *(EdgeBranch(out_channels, kind, name=f"conv1x1_{kind}") for kind in EDGE_FILTERS),
        ]

    def build(self, input_shape) -> None:
        self.in_channels = int(input_shape[-1])
        self.use_idt = self.with_idt and self.in_channels == self.out_channels
        for branch in self.branches:
            branch.build(input_shape)
        super().build(input_shape)

    def rep_params(self) -> tuple[tf.Tensor, tf.Tensor]:
        """The block as one 3x3 kernel (3, 3, in, out) and bias (out,)."""
        params = [branch.rep_params() for branch in self.branches]
        kernel = tf.add_n([k for k, _ in params])
        bias = tf.add_n([b for _, b in params])
        if self.use_idt:
            identity = np.zeros((3, 3, self.in_channels, self.out_channels), np.float32)
            identity[1, 1] = np.eye(self.in_channels, dtype=np.float32)
            kernel = kernel + tf.cast(identity, kernel.dtype)
        return kernel, bias

    def call(self, x: tf.Tensor) -> tf.Tensor:
        if self.collapsed:
            kernel, bias = self.rep_params()
            return _conv(x, kernel) + bias
        out = tf.add_n([branch(x) for branch in self.branches])
        return out + x if self.use_idt else out

    def get_config(self) -> dict:
        return {**super().get_config(), "out_channels": self.out_channels,
                "depth_multiplier": self.depth_multiplier, "with_idt": self.with_idt,
                "collapsed": self.collapsed}


@keras.utils.register_keras_serializable(package=_PACKAGE)
class RepeatChannels(keras.layers.Layer):
    """The global residual's "repeat": (N, H, W, C) -> (N, H, W, C * times), tiled so that
    channel k holds input channel k % C, which is the order TF's depth_to_space expects
    ((dy * s + dx) * C + c), so every sub-pixel gets its own color's input."""

    def __init__(self, times: int, **kwargs):
        super().__init__(**kwargs)
        self.times = times

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return tf.tile(x, [1, 1, 1, self.times])

    def get_config(self) -> dict:
        return {**super().get_config(), "times": self.times}


@keras.utils.register_keras_serializable(package=_PACKAGE)
class DepthToSpace(keras.layers.Layer):
    """Sub-pixel shuffle: (N, H, W, C * s^2) -> (N, H * s, W * s, C), as tf.nn.depth_to_space."""

    def __init__(self, block_size: int, **kwargs):
        super().__init__(**kwargs)
        self.block_size = block_size

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return tf.nn.depth_to_space(x, self.block_size)

    def get_config(self) -> dict:
        return {**super().get_config(), "block_size": self.block_size}


@keras.utils.register_keras_serializable(package=_PACKAGE)
class ClipPixels(keras.layers.Layer):
    """Clip to the pixel range [0, 255], so the int8 output needs no other range."""

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return tf.clip_by_value(x, 0.0, 255.0)
