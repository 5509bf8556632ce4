r"""Fold a trained ECBSR network into the plain network that ships to the phone.

The fold turns trained layers into kernels, nothing else: it reads the training-time model by
layer name (``ecb_i``, ``act_i``, ``depth_to_space``) and writes a NEW plain model
(:func:`keras_sr.models.build_plain_model`); the input model is never modified.

The algebra (cross-correlation, NHWC, kernels K[i, j, in, out], ``*`` = 3x3 conv with zero
padding, ``x`` the block input, all branches linear):

1. 3x3 branch:            y = K * x + b.
2. 1x1 then 3x3 branch:   z = W x + c (1x1, W[in, mid]); y = K * pad_c(z) + b.
   The 1x1 output is padded with its bias c (``pad_with_bias``), which is what the 1x1 of a
   zero-padded x gives, so y = K' * x + b' with
       K'[i, j, in, o] = sum_m W[in, m] K[i, j, m, o],
       b'[o]          = b[o] + sum_{i, j, m} c[m] K[i, j, m, o].
   With zero padding of z instead, the borders would not fold (a test checks this).
3. 1x1 then fixed edge filter D (Sobel-x, Sobel-y, Laplacian) with per-channel scale s and
   bias t, depthwise:      y[o] = s[o] D * pad_c(z)[o] + t[o], z = W x + c (W[in, out]), so
       K'[i, j, in, o] = s[o] D[i, j] W[in, o],
       b'[o]          = t[o] + s[o] c[o] sum_{i, j} D[i, j].
4. Identity (with_idt, in == out): K'[1, 1, c, c] += 1.
   Sum over branches ("add" -> one conv over the summed kernels): K = sum K', b = sum b'.

Global residual (the patent's "repeat" operator): the training network computes
    out = clip(d2s(F(x) + repeat(x, s^2)))
with repeat(x, n)[..., k] = x[..., k % C] (the order of TF's depth_to_space). It folds into
the convolutions by carrying x through every layer as ``colors`` extra pass-through channels:
    layer 0:      [F_0 | x]  from x         with kernel [K_0 | I]       (I = identity at centre),
    layer l:      [F_l | x]  from [F | x]   with kernel [[K_l, 0], [0, I]], bias [b_l, 0],
    last layer:   F_L + repeat(x) from [F | x] with kernel [[K_L], [R]], R = repeat(I, s^2):
                  R[1, 1, c, k] = 1 where k % C == c.
The activation leaves the pass-through channels unchanged because x >= 0 (pixels 0..255):
ReLU is the identity there, and PReLU gets slope 1 on those channels. The folded graph is
then only Conv2D (+ activation), depth-to-space and clip.

The pass-through channels may carry a_l * x instead of x, for any a_l > 0 per layer: the
identity entry of layer l becomes a_l / a_{l-1} (a_{-1} = 1) and R becomes R / a_L. The function
is unchanged (a_l x >= 0 still passes the activation), but for int8 it matters: each layer's
activations share one quantization range, and a pass-through x spanning 0..255 would widen it
beyond the features'. Likewise the last layer may read k copies of a_{L-1} x, each with
R / (k a_{L-1}): with per-channel weight quantization, a large residual weight would set the
step of every learned weight of its output channel. :func:`scale_passthrough` rewrites a plain
model this way; the int8 export picks a_l = (largest feature activation of layer l) / 255 on
the calibration data, and the smallest k that brings the residual weight down to the largest
learned weight of the last layer.
"""

from __future__ import annotations

import numpy as np
import tf_keras as keras

from keras_sr.blocks import ECB, DepthToSpace
from keras_sr.config import ModelConfig
from keras_sr.errors import UserError
from keras_sr.models import build_plain_model


def infer_config(model: keras.Model) -> ModelConfig:
    """Read the architecture back from a training-time model's layers."""
    ecbs = _ecb_layers(model)
    acts = {type(layer).__name__ for layer in model.layers if layer.name.startswith("act_")}
    act_type = {"ReLU": "relu", "PReLU": "prelu"}.get(acts.pop(), "none") if acts else "none"
    return ModelConfig(
        scale=_layer(model, "depth_to_space", DepthToSpace).block_size,
        num_blocks=len(ecbs) - 2,
        channels=ecbs[0].out_channels,
        colors=int(model.input_shape[-1]),
        act_type=act_type,
        with_idt=any(e.with_idt for e in ecbs),
        depth_multiplier=ecbs[0].depth_multiplier,
    )


def fold(model: keras.Model) -> keras.Model:
    """Return a new plain model computing the same function as the training-time ``model``."""
    config = infer_config(model)
    plain = build_plain_model(config)
    colors, ch, s2 = config.colors, config.channels, config.scale ** 2
    last = config.num_convs - 1
    for i, ecb in enumerate(_ecb_layers(model)):
        k, b = (np.asarray(t, dtype=np.float64) for t in ecb.rep_params())
        cin = colors if i == 0 else ch + colors
        cout = colors * s2 if i == last else ch + colors
        kernel = np.zeros((3, 3, cin, cout))
        bias = np.zeros(cout)
        kernel[:, :, : k.shape[2], : k.shape[3]] = k  # F from F (or from x at layer 0)
        bias[: k.shape[3]] = b
        if i == last:
            # The residual: input channel c goes to every output channel k with k % C == c.
            for c in range(colors):
                kernel[1, 1, ch + c, c::colors] = 1.0
        else:
            # Pass x through: it is the input (layer 0) or the last `colors` channels.
            offset = 0 if i == 0 else ch
            for c in range(colors):
                kernel[1, 1, offset + c, ch + c] = 1.0
        plain.get_layer(f"conv_{i}").set_weights([kernel.astype(np.float32), bias.astype(np.float32)])
        if config.act_type == "prelu" and i != last:
            (alpha,) = model.get_layer(f"act_{i}").get_weights()
            passthrough = np.ones(alpha.shape[:-1] + (colors,), np.float32)
            plain.get_layer(f"act_{i}").set_weights([np.concatenate([alpha, passthrough], -1)])
    return plain


def scale_passthrough(plain: keras.Model, config: ModelConfig, alphas: list[float],
                      copies: int = 1) -> keras.Model:
    """A new plain model whose pass-through channels after conv layer l carry ``alphas[l] * x``
    (one factor per layer but the last), and whose last hidden layer carries ``copies`` copies
    of it, each read by the last conv with 1/copies of the residual weight; same function, see
    the module docstring. ``plain`` must be a plain model of ``config`` with one copy."""
    last = config.num_convs - 1
    features, colors = config.channels, config.colors
    if len(alphas) != last or min(alphas) <= 0 or copies < 1:
        raise ValueError(f"need {last} positive factors and copies >= 1, got {alphas}, {copies}")
    scaled = build_plain_model(config, residual_copies=copies)
    previous = 1.0
    for i in range(config.num_convs):
        kernel, bias = plain.get_layer(f"conv_{i}").get_weights()
        if i < last:
            offset = 0 if i == 0 else features
            for c in range(colors):
                kernel[1, 1, offset + c, features + c] = alphas[i] / previous
            previous = alphas[i]
        else:
            kernel[:, :, features:, :] /= previous * copies
        if i == last - 1:  # duplicate the pass-through outputs
            kernel = np.concatenate([kernel] + [kernel[..., features:]] * (copies - 1), axis=-1)
            bias = np.concatenate([bias] + [bias[features:]] * (copies - 1))
        if i == last:  # read each copy
            kernel = np.concatenate([kernel[:, :, :features]] + [kernel[:, :, features:]] * copies, axis=2)
        scaled.get_layer(f"conv_{i}").set_weights([kernel, bias])
        if config.act_type == "prelu" and i < last:
            (alpha,) = plain.get_layer(f"act_{i}").get_weights()
            if i == last - 1:
                alpha = np.concatenate([alpha] + [alpha[..., features:]] * (copies - 1), axis=-1)
            scaled.get_layer(f"act_{i}").set_weights([alpha])
    return scaled


def _ecb_layers(model: keras.Model) -> list[ECB]:
    ecbs = []
    while True:
        try:
            ecbs.append(_layer(model, f"ecb_{len(ecbs)}", ECB))
        except UserError:
            break
    if len(ecbs) < 2:
        raise UserError(f"model {model.name!r} is not a training-time ECBSR network (no ECB layers)")
    return ecbs


def _layer(model: keras.Model, name: str, kind: type) -> keras.layers.Layer:
    try:
        layer = model.get_layer(name)
    except ValueError:
        raise UserError(f"model {model.name!r} has no layer {name!r}") from None
    if not isinstance(layer, kind):
        raise UserError(f"layer {name!r} of {model.name!r} is not a {kind.__name__}")
    return layer
