r"""Fold a trained ECBSR network into the plain network that ships to the phone.

The fold turns trained layers into kernels, nothing else: it reads the training-time model by
layer name (``ecb_i``, ``act_i``, ``depth_to_space``) and writes a NEW plain model
(:func:`keras_sr.models.build_plain_model`); the input model is never modified.

The algebra (cross-correlation, NHWC, kernels K[i, j, in, out], ``*`` = 3x3 conv with zero
padding, ``x`` the block input, all branches linear):

1. 3x3 branch:            y = K * x + b.
   A 3x1, 1x3 or 1x1 branch (RepRFN's RepBlock) is the 3x3 branch of its kernel zero-padded
   to 3x3 around the centre: SAME padding pads a side of 3 by one pixel and a side of 1 by none.
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

What the .tflite files hold (:func:`deploy`, :func:`keras_sr.models.build_deploy_model`) is
the same function with the residual as one ADD instead of pass-through channels:
    out = clip(d2s(F_L + conv1x1(x, R))),
where F_L is the last conv over the features only, i.e. every kernel restricted to its
feature channels (the pass-through blocks are the identity, and no feature reads x after layer
0, so nothing is lost). Measured with ``sr-tool bench --profile`` (keras_sr.profile), LiteRT's
int8 XNNPACK kernels run a 17-channel 3x3 conv (16 features + x) about 2x slower than a
16-channel one at the same size, so dropping the pass-through roughly halves the time of
every hidden layer. In int8, R * x is exact (x is a whole pixel, the 1x1 weight 1.0 is exact),
and the export puts F_L in signed pixel units (scale 1, -128..127) and the sum in pixel units
(0..255), so the int8 output is x + round(F_L), saturated: one rounding, as with the
pass-through, and x never widens a hidden layer's int8 range.
"""

from __future__ import annotations

import numpy as np
import tf_keras as keras

from keras_sr.blocks import ECB, DepthToSpace
from keras_sr.config import ModelConfig
from keras_sr.errors import UserError
from keras_sr.models import build_deploy_model, build_plain_model


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


def fold(model: keras.Model, config: ModelConfig | None = None) -> keras.Model:
    """Return a new plain model computing the same function as the training-time ``model`` of
    ``config`` (a run's config.json; None: read back from the layers, :func:`infer_config`, for
    a model built elsewhere). A model whose layers do not match ``config`` is refused."""
    if config is None:
        config = infer_config(model)
    elif (len(_ecb_layers(model)) != config.num_convs or int(model.input_shape[-1]) != config.colors
          or _layer(model, "depth_to_space", DepthToSpace).block_size != config.scale):
        raise UserError(f"model {model.name!r} is not the network of {config.name}")
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


def repeat_kernel(colors: int, times: int) -> np.ndarray:
    """The global residual as a 1x1 kernel (1, 1, colors, colors * times): repeat(I, times),
    input channel c to every output channel k with k % colors == c."""
    kernel = np.zeros((1, 1, colors, colors * times), np.float32)
    for c in range(colors):
        kernel[0, 0, c, c::colors] = 1.0
    return kernel


def deploy(plain: keras.Model, config: ModelConfig) -> keras.Model:
    """A new deploy model (:func:`keras_sr.models.build_deploy_model`) computing the same
    function as the plain model ``plain`` of ``config``: each kernel restricted to the feature
    channels, the residual as a fixed 1x1 repeat(I, scale^2) convolution and an ADD."""
    colors, features, last = config.colors, config.channels, config.num_convs - 1
    model = build_deploy_model(config)
    repeat = repeat_kernel(colors, config.scale ** 2)
    for i in range(config.num_convs):
        kernel, bias = plain.get_layer(f"conv_{i}").get_weights()
        inputs = slice(None) if i == 0 else slice(0, features)
        outputs = slice(None) if i == last else slice(0, features)
        if i > 0:  # what x contributes: nothing to the features, then the repeat at the end
            expected = np.zeros((3, 3, colors, kernel.shape[3] - (0 if i == last else features)))
            expected[1:2, 1:2] = repeat if i == last else np.eye(colors)
            if not np.array_equal(kernel[:, :, features:, outputs if i == last else slice(features, None)],
                                  expected) or (i < last and np.any(kernel[:, :, features:, :features])):
                raise ValueError(f"conv_{i} of {plain.name!r} does not carry the residual as a "
                                 f"folded keras_sr network does")
        model.get_layer(f"conv_{i}").set_weights([kernel[:, :, inputs, outputs], bias[outputs]])
        if config.act_type == "prelu" and i < last:
            (alpha,) = plain.get_layer(f"act_{i}").get_weights()
            model.get_layer(f"act_{i}").set_weights([alpha[..., :features]])
    model.get_layer("residual").set_weights([repeat])
    return model


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
