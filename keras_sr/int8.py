"""The int8 measures: what makes a full-integer file as close to the float network as it gets.

* Calibration (:func:`calibration_patches`): LR patches made like the training data (HR crop ->
  MATLAB bicubic downscale -> Y rounded to uint8, or RGB), the first one holding a 0 and a 255
  so the calibrated input range is exactly 0..255 (the uint8 input scale is then 1).
* Pixel units (:func:`pin_pixel_units`, ECBSR; :func:`pin_io`, every family): the uint8 input and
  output, and the int8 tensors from the residual's ADD to the output, in whole pixels (scale 1),
  so the int8 saturation is the clip (:func:`keras_sr.flatbuf.drop_saturated_clip` then removes
  the clip ops) and the output is the residual plus one rounding of the correction.
* Kernel rounding (:func:`with_kernels_rounded_for`): each convolution's int8 kernel rounded for
  the inputs it sees on the calibration patches rather than to nearest, before the converter
  (which then keeps it).
* Searched ranges (:func:`searched_ranges`): each int8 tensor between two convolutions narrowed
  from its calibrated min/max to the fraction that brings the output nearest the float one.
* The measure of what int8 loses (:func:`quantization_report`): PSNR-Y against the float model
  and against HR on whole calibration images.

Quantization-aware fine-tuning, the measure beyond these, is :mod:`keras_sr.qat`;
:mod:`keras_sr.export` calls these in order and writes the file.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from keras_sr import flatbuf
from keras_sr.config import Config
from keras_sr.errors import UserError

CALIB_PATCH = 64  # LR pixels, as the training patches
CALIB_SAMPLES = 100
REPORT_MAX_IMAGES = 20
SAMPLES_DIR = Path(__file__).parent / "samples"


@dataclasses.dataclass
class QuantReport:
    """Mean PSNR-Y (dB) over the calibration images, each used as HR with its LR made by
    bicubic downscaling; the ``*_hr`` fields shave ``scale`` pixels like the benchmarks."""

    images: int
    tflite_vs_float: float
    float_vs_hr: float
    tflite_vs_hr: float


def calibration_images(calib_dir: Path | None) -> tuple[list[np.ndarray], str]:
    """HR images (HxWx3 uint8 RGB) for calibration; the bundled samples without ``calib_dir``."""
    from keras_sr.data import model_input, read_image
    from keras_sr.images import list_inputs

    source = Path(calib_dir) if calib_dir is not None else SAMPLES_DIR
    if not source.is_dir():
        raise UserError(f"{source}: calibration folder does not exist")
    images = [model_input(read_image(path), 3) for path in list_inputs([source])]
    label = f"{source} ({len(images)} images)"
    return images, label if calib_dir is not None else f"bundled samples {label}"


def lr_input(hr: np.ndarray, config: Config) -> tuple[np.ndarray, np.ndarray]:
    """(cropped HR RGB, LR model input HxWxC uint8), made like the training data."""
    from keras_sr.data import model_input
    from keras_sr.imresize import bicubic_downscale

    hr, lr = bicubic_downscale(hr, config.scale)
    return hr, model_input(lr, config.colors)


def calibration_patches(images: list[np.ndarray], config: Config, samples: int = CALIB_SAMPLES,
                        patch: int = CALIB_PATCH, seed: int = 0) -> list[np.ndarray]:
    """``samples`` LR patches (uint8, patch x patch x colors or smaller for small images) from
    random HR crops, taken round-robin over ``images``.

    The first patch gets one 0 and one 255 pixel so the calibrated input range is exactly
    0..255, which makes the uint8 input scale 1 (pixel units).
    """
    if samples < 1:
        raise UserError("calib_samples must be at least 1", params=("calib_samples",))
    if not images:
        raise UserError("no calibration images")
    rng = np.random.default_rng(seed)
    hr_patch = patch * config.scale
    patches = []
    for i in range(samples):
        hr = images[i % len(images)]
        h, w = min(hr_patch, hr.shape[0]), min(hr_patch, hr.shape[1])
        if h < config.scale or w < config.scale:
            raise UserError(f"calibration image {hr.shape[1]}x{hr.shape[0]} is smaller than the scale")
        y, x = rng.integers(0, hr.shape[0] - h + 1), rng.integers(0, hr.shape[1] - w + 1)
        patches.append(lr_input(hr[y:y + h, x:x + w], config)[1])
    patches[0] = patches[0].copy()
    patches[0].flat[0], patches[0].flat[-1] = 0, 255
    return patches


def quantization_report(float_model, content: bytes, images: list[np.ndarray],
                        config: Config) -> QuantReport:
    """PSNR on Y (the benchmark protocol of :mod:`keras_sr.metrics`) of the converted model
    against the float plain model, and of both against HR (shave = scale), on whole
    calibration images (at most :data:`REPORT_MAX_IMAGES`)."""
    from keras_sr.metrics import psnr_y, to_y
    from keras_sr.metadata import read_metadata

    from keras_sr.runtime import TFLiteSRModel

    tflite = TFLiteSRModel(content, read_metadata(content))
    to_float, float_hr, tflite_hr = [], [], []
    s = config.scale
    for image in images[:REPORT_MAX_IMAGES]:
        hr, lr = lr_input(image, config)
        ref, out, target = to_y(float_model(lr)), to_y(tflite(lr)), to_y(hr)
        to_float.append(psnr_y(out, ref, 0))
        float_hr.append(psnr_y(ref, target, s))
        tflite_hr.append(psnr_y(out, target, s))
    return QuantReport(len(to_float), float(np.mean(to_float)), float(np.mean(float_hr)),
                       float(np.mean(tflite_hr)))


def pin_io(content: bytes) -> bytes:
    """The uint8 input and output in pixel units (scale 1, zero point 0): only the outer
    QUANTIZE ops read them, and those requantize between any two scales, so nothing changes
    but the file's stated units, which the runtime and the app then read as pixels."""
    model = flatbuf.read(content)
    _pin_io_tensors(model.subgraphs[0])
    return flatbuf.write(model)


def _pin_io_tensors(graph) -> None:
    for index in (*graph.inputs, *graph.outputs):
        flatbuf.set_pixel_units(graph.tensors[index], zero_point=0)


def pin_pixel_units(content: bytes) -> bytes:
    """Pin the pixel tensors of an int8 file to pixel units.

    The uint8 input and output get scale 1, zero point 0 (pixels as they are): only the outer
    QUANTIZE ops see them and those requantize between any two scales, so this changes nothing.
    The int8 tensors from the ADD of the residual to the output QUANTIZE (depth to space, the
    clip) get scale 1, zero point -128, i.e. exactly 0..255 in whole pixels, and the clip's
    bounds are set to exactly 0 and 255. So does the residual's repeat(x), which then holds x
    exactly. The correction F_L that the ADD sums with it gets scale 1, zero point 0: signed
    whole pixels, -128..127. The int8 output is then x + round(F_L), saturated to 0..255: one
    rounding to whole pixels, and the saturation is the clip (so the clip ops change nothing and
    :func:`keras_sr.flatbuf.drop_saturated_clip` removes them).

    Calibration would give these tensors ranges like -91..291 (step 1.5) and the rounding of
    F_L would add to the final one; in pixel units a correction beyond +-128 saturates instead,
    which measured on BSD200 (25 images, x2 Y) costs nothing: int8 33.033 dB pinned, 32.989
    calibrated, float 33.060. (The same pinning of the last conv's output, before the residual
    became an ADD, took Set5 from 36.86 to 36.91 dB at commit 24c8169.)
    """
    model = flatbuf.read(content)
    graph = model.subgraphs[0]
    _pin_io_tensors(graph)
    producer = {out: op for op in graph.operators for out in op.outputs}
    names = dict(zip(map(id, graph.operators), flatbuf.op_names(model)))
    chain = _pixel_chain(graph, producer, names)
    for op in chain:
        for index in op.inputs[1:] if names[id(op)] in flatbuf.CLIP_OPS else ():
            tensor = graph.tensors[index]
            buffer = model.buffers[tensor.buffer]
            if buffer.data is not None and len(buffer.data):
                # A bound of the clip, 0 or 255, stored at the calibrated scale (255 may have
                # become 254.7): restore it exactly, in pixel units.
                q = tensor.quantization
                values = (np.asarray(buffer.data).view(np.int8).astype(np.float64)
                          - q.zeroPoint[0]) * q.scale[0]
                buffer.data = np.where(values > 127.5, 127, -128).astype(np.int8).view(np.uint8)
                flatbuf.set_pixel_units(tensor, zero_point=-128)
        for index in op.outputs:
            flatbuf.set_pixel_units(graph.tensors[index], zero_point=-128)
    add = chain[0]
    if names[id(add)] == "ADD":
        for index in add.inputs:
            # repeat(x), the 1x1 conv: 0..255 as x; the correction F_L, a 3x3 conv: signed.
            source = producer.get(index)
            repeat = source is not None and graph.tensors[source.inputs[1]].shape[1] == 1
            flatbuf.set_pixel_units(graph.tensors[index], zero_point=-128 if repeat else 0)
    return flatbuf.write(model)


def _pixel_chain(graph, producer: dict, names: dict) -> list:
    """The ops from the one that makes the output pixels (the ADD of the residual, or a last
    CONV_2D) to the one before the output QUANTIZE, walking back from the graph output through
    DEPTH_TO_SPACE and the clip ops."""
    (tensor,) = graph.outputs
    chain = []
    while tensor in producer:
        op = producer[tensor]
        name = names[id(op)]
        if name == "QUANTIZE" and not chain:
            tensor = op.inputs[0]
            continue
        if name not in ("DEPTH_TO_SPACE", "CONV_2D", "ADD", *flatbuf.CLIP_OPS):
            raise RuntimeError(f"unexpected {name} before the int8 output")
        chain.append(op)
        if name in ("CONV_2D", "ADD"):
            return chain[::-1]
        tensor = op.inputs[0]
    raise RuntimeError("no CONV_2D or ADD makes the int8 output")


def fit_patch(patch: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Mirror-pad (or crop) an HxWxC patch to ``size`` (real content, realistic statistics)."""
    h, w = size
    while patch.shape[0] < h or patch.shape[1] < w:
        patch = np.pad(patch, ((0, max(0, min(h - patch.shape[0], patch.shape[0]))),
                               (0, max(0, min(w - patch.shape[1], patch.shape[1]))), (0, 0)),
                       mode="symmetric")
    return patch[:h, :w]


def round_for_inputs(kernel: np.ndarray, gram: np.ndarray, max_moves: int | None = None) -> np.ndarray:
    """``kernel`` (kh, kw, in, out) on the converter's int8 grid, each output channel's rounding
    chosen to make the error of its output small on the inputs ``gram`` describes:
    ``gram`` (K, K), K = kh * kw * in, the uncentred second moments of the input patches
    (:func:`input_grams`). With r the rounding error in steps, the output's mean squared error
    is step^2 * r' G r; starting from round to nearest, taps are moved to their other
    neighbour on the grid, greedily, while that lowers it (AdaRound's objective, solved
    greedily). Taps at +-127 steps are left alone, so the scale does not change, and the
    converter, finding the kernel on its grid, keeps it.

    Rounding to nearest leaves each tap's error in +-half a step, and on images, which are
    locally near constant, those errors mostly add up: into the gain on the local mean. On the
    trained eSR-TM_K7_C4 x2 filter (7x7 from pixels) that gain error was 1.9 of the values'
    2.1 pixels RMS int8 error, and this rounding took the int8 loss from 0.36 to 0.15 dB on the
    validation images (``python -m tools.int8_rounding``; keeping each tap sum alone gave 0.15 too).
    """
    kernel = np.asarray(kernel, np.float64)
    cout = kernel.shape[-1]
    step = np.abs(kernel).max(axis=(0, 1, 2)) / 127.0
    step = np.where(step > 0, step, 1.0)
    units = (kernel / step).reshape(-1, cout)
    rounded = np.round(units)
    gram = np.asarray(gram, np.float64)
    diagonal = np.diag(gram)
    for o in range(cout):
        r = rounded[:, o] - units[:, o]
        movable = np.abs(rounded[:, o]) < 127
        gr = gram @ r
        for _ in range(max_moves or 4 * len(r)):
            move = np.where(r > 0, -1.0, 1.0)
            gain = 2 * move * gr + diagonal  # the change of r' G r when tap i moves by move_i
            gain[~movable] = np.inf
            i = int(np.argmin(gain))
            if gain[i] >= -1e-12 * max(diagonal.max(), 1e-30):
                break
            r[i] += move[i]
            gr += move[i] * gram[:, i]
        rounded[:, o] = units[:, o] + r
    return (np.round(rounded).reshape(kernel.shape) * step).astype(np.float32)


def input_grams(network, patches: list[np.ndarray]) -> dict[str, np.ndarray]:
    """For each Conv2D of ``network`` by name, the (K, K) uncentred second moments of its
    k x k x in input patches (SAME padding) over the calibration ``patches``, per pixel."""
    import tensorflow as tf
    import tf_keras as keras

    convs = [layer for layer in network.layers if type(layer) is keras.layers.Conv2D]
    probe = keras.Model(network.input, [layer.input for layer in convs])
    grams = {layer.name: 0.0 for layer in convs}
    count = 0
    for patch in patches:
        inputs = probe(patch[None].astype(np.float32), training=False)
        inputs = inputs if isinstance(inputs, list) else [inputs]
        for layer, x in zip(convs, inputs):
            kh, kw = layer.kernel_size
            cols = tf.image.extract_patches(x, [1, kh, kw, 1], [1, 1, 1, 1], [1, 1, 1, 1], "SAME")
            # extract_patches orders each patch (kh, kw, in), as the kernel's first three axes.
            cols = tf.reshape(cols, (-1, cols.shape[-1])).numpy().astype(np.float64)
            grams[layer.name] = grams[layer.name] + cols.T @ cols
        count += int(np.prod(patch.shape[:2]))
    return {name: gram / count for name, gram in grams.items()}


def with_kernels_rounded_for(network, patches: list[np.ndarray]):
    """A copy of the deploy network ``network`` whose Conv2D kernels are on the int8 grid,
    rounded for their inputs on the calibration ``patches`` (:func:`round_for_inputs`); biases
    unchanged (the int8 bias has 32 bits)."""
    import tf_keras as keras

    grams = input_grams(network, patches)
    copy = keras.models.clone_model(network)
    copy.set_weights(network.get_weights())
    for layer in copy.layers:
        if layer.name in grams:
            kernel, *rest = layer.get_weights()
            layer.set_weights([round_for_inputs(kernel, grams[layer.name]), *rest])
    return copy


RANGE_FRACTIONS = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)  # of the calibrated range, tried per tensor
RANGE_SEARCH_PATCHES = 16


def searched_ranges(content: bytes, network, config: Config, patches: list[np.ndarray],
                    fractions: tuple[float, ...] = RANGE_FRACTIONS) -> tuple[bytes, dict[str, float]]:
    """``content`` with the range of each group of int8 activation tensors
    (:func:`keras_sr.flatbuf.range_groups`: for ECBSR the hidden features) narrowed to the
    fraction of its calibrated min/max range that makes the int8 output nearest the float ``network``'s (mean squared
    error on the first :data:`RANGE_SEARCH_PATCHES` calibration ``patches``), tensor by tensor
    in graph order, each given the choices before it. Min/max calibration sets a tensor's step
    by its rarest largest value; a narrower range rounds the common values finer and saturates
    the rare ones. Also returns the chosen fraction per group, by its first tensor's name."""
    from keras_sr.metadata import add_metadata, read_metadata, sr_metadata
    from keras_sr.runtime import TFLiteSRModel

    samples = patches[:RANGE_SEARCH_PATCHES]
    references = [network(p[None].astype(np.float32), training=False).numpy()[0] for p in samples]
    metadata = read_metadata(add_metadata(content, sr_metadata(config, "int8")))

    def error(candidate: bytes) -> float:
        model = TFLiteSRModel(candidate, metadata)
        return float(np.mean([np.mean((model(p).astype(np.float64) - ref) ** 2)
                              for p, ref in zip(samples, references)]))

    model = flatbuf.read(content)
    chosen: dict[str, float] = {}
    best = error(content)
    for group in flatbuf.range_groups(model):
        name = model.subgraphs[0].tensors[group[0]].name
        name = name.decode() if isinstance(name, bytes) else str(name)
        choice = 1.0
        for fraction in fractions:
            if fraction == 1.0:
                continue
            trial = flatbuf.read(flatbuf.write(model))
            flatbuf.narrow_range(trial, group, fraction)
            trial_error = error(flatbuf.write(trial))
            if trial_error < best:
                best, choice = trial_error, fraction
        if choice != 1.0:
            flatbuf.narrow_range(model, group, choice)
        chosen[name] = choice
    return flatbuf.write(model), chosen
