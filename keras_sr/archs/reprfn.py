r"""RepRFN (Deng, Yuan, Deng, Lu, "Reparameterized Residual Feature Network for Lightweight
Image Super-Resolution", CVPR workshops 2023; code github.com/laonafahaodange/RepRFN,
models/RepRFN.py) behind the family contract of :mod:`keras_sr.archs`.

The network, as the reference code (NHWC pixels 0..255 in and out, C = ``channels``):

* ``head``: 3x3 conv, colors -> C (the shallow features F0);
* ``num_blocks`` RepRFBs ``rfb{i}``: three RepBlocks ``rfb{i}_rep{j}``, each followed by
  LeakyReLU(0.05); a 3x3 conv ``rfb{i}_conv`` with LeakyReLU(0.05); the block's residual (its
  input added); then ESA ``rfb{i}_esa_*``;
* ``body_conv``: 3x3 conv, then the long residual F0 added (``add_long``);
* ``upsample``: 3x3 conv to colors * s^2; as every keras_sr network, the input repeated s^2
  times in depth-to-space order is added (``add_residual``), then depth-to-space and a clip
  to [0, 255].

A RepBlock (:class:`RepBlock`) is the ECB of :mod:`keras_sr.blocks` (3x3; 1x1 -> 3x3 through
2C channels; 1x1 -> Sobel-x, -Sobel-y, -Laplacian; identity) plus 3x1, 1x3 and 1x1 convs,
the branch set of the reference's ``RepBlock``; all nine are summed, then LeakyReLU(0.05).

ESA (enhanced spatial attention, from RLFN) with its conv group reduced to one conv, as the
reference: c1 = conv1(x) (1x1, C -> f); c3 = conv3(maxpool7(conv2(c1))) (3x3, 7x7, 3x3, f -> f);
m = sigmoid(conv4(c3 + conv_f(c1))) (1x1 f -> f, 1x1 f -> C); out = x * m. f = ``esa_channels``,
16 as the paper.

Where this departs from the paper:

* ESA is translation-equivariant. The paper's conv2 has stride 2 (no padding), its max-pool
  7x7 stride 3, and c3 is resized back to x's size bilinearly, so each output pixel depends on
  the image's size and on where a tile starts: tiled upscaling (:mod:`keras_sr.tiling`) would
  not equal the whole image. Here every op has stride 1 and SAME padding (the max-pool's
  ignores the padding) and there is no resize; the receptive radius is then finite and exact,
  9 per RepRFB (four 3x3 convs; ESA's 3x3, 7x7 pool, 3x3), 3 for the head, ``body_conv`` and
  ``upsample`` (:attr:`keras_sr.config.RepRFNConfig.receptive_radius`), and tiles stitch to
  exactly the whole-image result.
* The global residual and the clip (keras_sr's output contract); pixels are 0..255, not 0..1.
* The 1x1 -> 3x3 branch has biases (zero at start; the reference's has none). They fold into
  the block's bias through the bias padding and add nothing the other biases could not.
* Initialization: a RepBlock's learned branches start at 1/sqrt(5) of their Glorot scale
  (:meth:`RepBlock.build`). With the reference's (each branch at full scale) the features
  double at every RepBlock, and 97% of the untrained paper-size network's outputs on a
  sample image fall outside 0..255, where the clip passes no gradient; with this one 22%, as
  an untrained ECBSR M4C16.

The fold (:func:`fold`, a NEW model; the trained one is not modified) turns each RepBlock into
one 3x3 conv by the branch algebra written in :mod:`keras_sr.folding` (the ECB's branches and
identity, with bias padding for the 1x1-first branches, plus the 3x1/1x3/1x1 kernels
zero-padded to 3x3). The RepBlock's identity is its only residual around a conv with no
activation between, so it is the only one that folds into a kernel. The plain network is what
the .tflite files hold (``deploy`` returns it); for ``num_blocks`` B its elementwise ops are:

* B ADDs, each RepRFB's residual: its conv is followed by LeakyReLU, so the sum is not linear
  in the conv's input;
* B ADDs in ESA, c3 + conv_f(c1): two convs of different tensors (the max-pool between them);
* B MULs, ESA's x * m: a product of two functions of x, not a conv;
* ``add_long``, body_conv(.) + F0: F0 is not body_conv's input but the head's output, 4 + 9B
  convs back;
* ``add_residual``, upsample(.) + repeat(x): a fixed 1x1 conv ``residual`` (repeat(I, s^2), see
  :func:`keras_sr.folding.repeat_kernel`) of the input, added as ECBSR's deploy network does;
  carrying x to the end in extra channels would have to pass it through every ESA's MUL.

int8 (:data:`INT8_OPS`): QUANTIZE at each end, CONV_2D, LEAKY_RELU, ADD, MUL, LOGISTIC,
MAX_POOL_2D and DEPTH_TO_SPACE, all builtin; :func:`pin_int8` sets pixel units.
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

from keras_sr.blocks import (ECB, ClipPixels, Conv1x1Conv3x3Branch, DepthToSpace, EdgeBranch,
                             RepeatChannels, SmallConvBranch)
from keras_sr.config import RepRFNConfig
from keras_sr.errors import UserError

INT8_OPS = frozenset({"QUANTIZE", "CONV_2D", "LEAKY_RELU", "ADD", "MUL", "LOGISTIC", "MAX_POOL_2D",
                      "DEPTH_TO_SPACE"})
SUPPORTS_QAT = False
LEARNS_RANGES = False
NEGATIVE_SLOPE = 0.05  # the reference's LeakyReLU
REP_BLOCKS_PER_RFB = 3
ESA_POOL = 7
_PACKAGE = "keras_sr"


@keras.utils.register_keras_serializable(package=_PACKAGE)
class RepBlock(ECB):
    """RepRFN's RepBlock, C -> C: the ECB's branches with the identity on (3x3; 1x1 -> 3x3 through
    ``depth_multiplier`` * C channels; 1x1 -> Sobel-x, Sobel-y, Laplacian) plus a 3x1, a 1x3 and a
    1x1 conv, summed; no activation (the network applies LeakyReLU after it). Every branch
    has the ``rep_params()`` fold contract, so ``rep_params()`` is the block as one 3x3 conv and
    ``collapsed=True`` trains it as one.
    """

    def __init__(self, out_channels: int, depth_multiplier: float = 2.0, with_idt: bool = True,
                 collapsed: bool = False, **kwargs):
        super().__init__(out_channels, depth_multiplier, with_idt, collapsed, **kwargs)
        self.branches.extend(SmallConvBranch(out_channels, size, name=f"conv{size[0]}x{size[1]}")
                             for size in ((3, 1), (1, 3), (1, 1)))

    def build(self, input_shape) -> None:
        super().build(input_shape)
        # The learned branches (all but the edge ones, whose scales start at ~1e-3) start at
        # 1/sqrt(n) of their Glorot scale: their sum then has one Glorot conv's variance, so the
        # identity plus it, through LeakyReLU, keeps the features' scale at the start.
        kernels = [branch.kernel1 if isinstance(branch, Conv1x1Conv3x3Branch) else branch.kernel
                   for branch in self.branches if not isinstance(branch, EdgeBranch)]
        for kernel in kernels:
            kernel.assign(kernel / len(kernels) ** 0.5)


def _conv(filters: int, size: int, name: str) -> keras.layers.Conv2D:
    return keras.layers.Conv2D(filters, size, padding="same", name=name)


def _act(name: str) -> keras.layers.LeakyReLU:
    return keras.layers.LeakyReLU(NEGATIVE_SLOPE, name=name)


def _esa(x: tf.Tensor, channels: int, f: int, prefix: str) -> tf.Tensor:
    """Translation-equivariant ESA (see the module docstring): x times a sigmoid mask."""
    c1 = _conv(f, 1, f"{prefix}_conv1")(x)
    c3 = _conv(f, 3, f"{prefix}_conv2")(c1)
    c3 = keras.layers.MaxPooling2D(ESA_POOL, strides=1, padding="same", name=f"{prefix}_pool")(c3)
    c3 = _conv(f, 3, f"{prefix}_conv3")(c3)
    cf = _conv(f, 1, f"{prefix}_conv_f")(c1)
    mask = _conv(channels, 1, f"{prefix}_conv4")(keras.layers.Add(name=f"{prefix}_add")([c3, cf]))
    mask = keras.layers.Activation("sigmoid", name=f"{prefix}_sigmoid")(mask)
    return keras.layers.Multiply(name=f"{prefix}_mul")([x, mask])


def _network(config: RepRFNConfig, rep_block, residual: keras.layers.Layer, name: str) -> keras.Model:
    """The RepRFN graph with ``rep_block(name)`` as each RepBlock and ``residual`` making
    repeat(x) for the global residual."""
    c = config.channels
    lr = keras.Input((None, None, config.colors), name="lr")
    shallow = _conv(c, 3, "head")(lr)
    h = shallow
    for i in range(config.num_blocks):
        block_input = h
        for j in range(REP_BLOCKS_PER_RFB):
            h = _act(f"rfb{i}_act{j}")(rep_block(f"rfb{i}_rep{j}")(h))
        h = _act(f"rfb{i}_act")(_conv(c, 3, f"rfb{i}_conv")(h))
        h = keras.layers.Add(name=f"rfb{i}_add")([block_input, h])
        h = _esa(h, c, config.esa_channels, f"rfb{i}_esa")
    h = keras.layers.Add(name="add_long")([_conv(c, 3, "body_conv")(h), shallow])
    h = _conv(config.colors * config.scale ** 2, 3, "upsample")(h)
    # The residual and the pixel layers run in float32 under a mixed-precision policy too (see
    # keras_sr.train.PRECISIONS): bfloat16 would round output pixels above 128 to whole levels.
    h = keras.layers.Add(name="add_residual", dtype="float32")([h, residual(lr)])
    h = DepthToSpace(config.scale, name="depth_to_space", dtype="float32")(h)
    out = ClipPixels(name="clip", dtype="float32")(h)
    return keras.Model(lr, out, name=name)


def build(config: RepRFNConfig, collapsed: bool = False) -> keras.Model:
    """The training-time network; ``collapsed=True`` runs each RepBlock as one 3x3 conv built
    from its branch weights (same weights, same function, faster to train)."""
    return _network(config, lambda name: RepBlock(config.channels, collapsed=collapsed, name=name),
                    RepeatChannels(config.scale ** 2, name="residual", dtype="float32"),
                    f"reprfn_{config.name}")


def build_plain(config: RepRFNConfig) -> keras.Model:
    """The folded network: each RepBlock a 3x3 conv, the global residual a fixed 1x1 conv."""
    residual = keras.layers.Conv2D(config.colors * config.scale ** 2, 1, use_bias=False,
                                   trainable=False, name="residual")
    return _network(config, lambda name: _conv(config.channels, 3, name), residual,
                    f"plain_reprfn_{config.name}")


def fold(model: keras.Model, config: RepRFNConfig) -> keras.Model:
    """A NEW plain network with the function of the training-time ``model``, weights mapped by
    layer name: each RepBlock's ``rep_params()``, every other layer's weights as they are, the
    residual's repeat(I, s^2) kernel."""
    from keras_sr.folding import repeat_kernel

    plain = build_plain(config)
    for layer in plain.layers:
        if not layer.weights:
            continue
        if layer.name == "residual":
            layer.set_weights([repeat_kernel(config.colors, config.scale ** 2)])
            continue
        try:
            source = model.get_layer(layer.name)
        except ValueError:
            raise UserError(f"model {model.name!r} has no layer {layer.name!r}: not a training-time "
                            f"{config.literature_name}") from None
        if isinstance(source, RepBlock):
            layer.set_weights([t.numpy() for t in source.rep_params()])
        else:
            layer.set_weights(source.get_weights())
    return plain


def deploy(plain: keras.Model, config: RepRFNConfig) -> keras.Model:
    return plain


def is_plain(plain) -> bool:
    """A RepRFN graph (its long residual ``add_long``) without RepBlocks."""
    names = {layer.name for layer in plain.layers}
    return "add_long" in names and not any(isinstance(layer, RepBlock) for layer in plain.layers)


def plain_config(plain) -> RepRFNConfig:
    """Read the config back from a plain network's layers (``head``, ``rfb{i}_esa_conv1``,
    ``depth_to_space``)."""
    try:
        head, esa = plain.get_layer("head"), plain.get_layer("rfb0_esa_conv1")
        scale = plain.get_layer("depth_to_space").block_size
    except ValueError:
        raise UserError(f"model {plain.name!r} is not a plain RepRFN network "
                        f"(head, rfb0_esa_conv1, depth_to_space)") from None
    names = {layer.name for layer in plain.layers}
    blocks = sum(f"rfb{i}_esa_mul" in names for i in range(len(names)))
    return RepRFNConfig(scale=scale, num_blocks=blocks, channels=head.filters,
                        esa_channels=esa.filters, colors=int(plain.input_shape[-1]))


def pin_int8(content: bytes) -> bytes:
    """Pixel units, ECBSR's measure (:func:`keras_sr.int8.pin_pixel_units`): the graph ends as
    ECBSR's deploy graph does (a 3x3 conv and the 1x1 repeat conv into the ADD, depth to space,
    the clip), so the output is repeat(x) plus one rounding of the correction, and the clip ops
    become identities that the export removes."""
    from keras_sr.int8 import pin_pixel_units

    return pin_pixel_units(content)
