"""Export a plain network to TFLite: float32, float16 weights, or full-integer int8.

Every file holds the deploy form of the network (:func:`keras_sr.folding.deploy`): 3x3 convs
over the features only, the residual as a fixed 1x1 conv of the input and one ADD, depth to
space and clip. The int8 model takes and returns uint8 pixels in pixel units (scale 1, zero
point 0, so 0..255 in, 0..255 out) and uses only TFLITE_BUILTINS_INT8 ops: QUANTIZE at the
ends, CONV_2D (ReLU fused) or CONV_2D + PRELU, ADD and DEPTH_TO_SPACE. Its clip is the int8
saturation of the ADD, whose output is in pixel units, so the clip ops the converter emits are
identities and are removed (:func:`keras_sr.flatbuf.drop_saturated_clip`). Calibration uses LR
patches made like the training data (HR crop -> MATLAB bicubic downscale -> Y rounded to uint8,
or RGB). Every file carries a ``keras_sr`` metadata entry (:mod:`keras_sr.metadata`)
with scale, colors, input range and dtype, quantization, receptive radius, the ModelConfig and
the package version, so that a model file is all that ``upscale`` and the Android app need.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
from pathlib import Path
from typing import Callable

import numpy as np

from keras_sr import flatbuf
from keras_sr.config import Config
from keras_sr.errors import UserError
from keras_sr.files import atomic_path
from keras_sr.metadata import add_metadata, sr_metadata  # noqa: F401 (also imported from here)
from keras_sr.runtime import KerasSRModel, TFLiteSRModel, load_keras_sr_model

QUANTIZATIONS = ("int8", "fp16", "float32")
CALIB_PATCH = 64  # LR pixels, as the training patches
CALIB_SAMPLES = 100
REPORT_MAX_IMAGES = 20
SAMPLES_DIR = Path(__file__).parent / "samples"

# Ops the deploy network may convert to; anything else (CONCATENATION, TILE, MUL, ...) means the
# graph was not fully folded or a float fallback crept in. The int8 clip is gone (see above).
ALLOWED_OPS = {
    "int8": {"QUANTIZE", "CONV_2D", "PRELU", "ADD", "DEPTH_TO_SPACE"},
    "fp16": {"DEQUANTIZE", "CONV_2D", "PRELU", "ADD", "DEPTH_TO_SPACE", "MINIMUM", "MAXIMUM", "RELU"},
    "float32": {"CONV_2D", "PRELU", "ADD", "DEPTH_TO_SPACE", "MINIMUM", "MAXIMUM", "RELU"},
}


@dataclasses.dataclass
class QuantReport:
    """Mean PSNR-Y (dB) over the calibration images, each used as HR with its LR made by
    bicubic downscaling; the ``*_hr`` fields shave ``scale`` pixels like the benchmarks."""

    images: int
    tflite_vs_float: float
    float_vs_hr: float
    tflite_vs_hr: float


@dataclasses.dataclass
class QATReport:
    """Quantization-aware fine-tuning: its steps and the int8 PSNR-Y against HR on the
    calibration images without and with it; the fine-tuned file is kept only if it scores higher."""

    steps: int
    post_training_vs_hr: float
    finetuned_vs_hr: float

    @property
    def kept(self) -> bool:
        return self.finetuned_vs_hr > self.post_training_vs_hr


@dataclasses.dataclass
class ExportReport:
    output: Path
    name: str
    quantization: str
    input_size: tuple[int, int] | None
    size_bytes: int
    ops: list[str]
    gpu_report: str
    calib_source: str
    calib_samples: int
    quant: QuantReport | None
    qat: QATReport | None = None


def export_tflite(model_path: Path, output: Path, quantization: str = "float32",
                  calib_dir: Path | None = None, input_size: tuple[int, int] | None = None,
                  calib_samples: int = CALIB_SAMPLES, report: bool = True, qat_steps: int = 0,
                  qat_progress: Callable[[int, float], None] | None = None,
                  on_phase: Callable[[str], None] | None = None) -> ExportReport:
    """Convert a run dir or folded .keras model to ``output`` (.tflite), with metadata; check
    its op list and GPU-delegate compatibility, and measure the loss against the float model.

    int8 with ``qat_steps`` > 0 also fine-tunes the plain network with int8 rounding simulated
    (:mod:`keras_sr.qat`) on the calibration images, and keeps that file if it scores higher on
    them; ``qat_progress(step, loss)`` follows the fine-tuning, ``on_phase(label)`` the steps
    before and after it (calibration, conversion, the quality report).
    """
    from keras_sr import archs

    if quantization not in QUANTIZATIONS:
        raise UserError(f"quantization must be one of {QUANTIZATIONS}, got {quantization!r}")
    if qat_steps < 0 or (qat_steps and quantization != "int8"):
        raise UserError("--qat-steps needs --int8 and a count of at least 0")
    output = Path(output)
    if output.suffix != ".tflite":
        raise UserError(f"{output}: the output must end in .tflite")
    if not output.parent.is_dir():
        raise UserError(f"{output.parent}: output folder does not exist")
    float_model = load_keras_sr_model(model_path)
    config = float_model.config
    family = archs.family(config)
    if qat_steps and not family.SUPPORTS_QAT:
        raise UserError(f"--qat-steps: quantization-aware fine-tuning is implemented for ECBSR only, "
                        f"not {config.family}")
    if input_size is not None and min(input_size) <= 2 * config.receptive_radius:
        # upscale tiles a fixed-size model with windows of that size and a halo of the
        # receptive radius on each side: a window must be wider than both halos.
        raise UserError(f"--input-size {input_size[0]}x{input_size[1]}: each side must be larger "
                        f"than {2 * config.receptive_radius} (twice the receptive radius), so that "
                        f"upscale can tile images with it")
    phase = on_phase or (lambda label: None)
    phase("reading the calibration images")
    images, calib_source = calibration_images(calib_dir)
    patches = calibration_patches(images, config, calib_samples) if quantization == "int8" else []
    network = family.deploy(float_model.model, config)
    phase(f"converting to {quantization}" + (f", calibrating on {len(patches)} patches" if patches else ""))
    content = convert(network, config, quantization, input_size, patches)
    content = add_metadata(content, sr_metadata(config, quantization))
    if report or qat_steps:
        phase(f"measuring the {quantization} file on {min(len(images), REPORT_MAX_IMAGES)} images")
    quant = (quantization_report(float_model, content, images, config)
             if report or qat_steps else None)
    qat = None
    if qat_steps:
        content, quant, qat = _finetuned_if_better(float_model, network, content, quant, images,
                                                   patches, input_size, qat_steps, qat_progress)
    phase("checking the op list and GPU-delegate compatibility")
    ops = model_ops(content)
    extra = sorted(set(ops) - allowed_ops(config, quantization))
    if extra:
        raise RuntimeError(f"the converted graph has unexpected ops {extra} (ops: {ops})")
    try:
        with atomic_path(output) as tmp:
            tmp.write_bytes(content)
    except OSError as exc:
        raise UserError(f"{output}: cannot write ({exc.strerror or exc})") from None
    return ExportReport(output, config.name, quantization, input_size, len(content), ops,
                        gpu_compatibility(content), calib_source, len(patches), quant, qat)


def _finetuned_if_better(float_model: KerasSRModel, network, content: bytes, quant: QuantReport,
                         images: list[np.ndarray], patches: list[np.ndarray],
                         input_size: tuple[int, int] | None, steps: int,
                         progress: Callable[[int, float], None] | None,
                         ) -> tuple[bytes, QuantReport, QATReport]:
    """The int8 file after quantization-aware fine-tuning (of ``network``, the deploy network)
    if that scores higher against HR on the calibration images than post-training ``content``;
    else ``content`` itself. (Fine-tuning on a few images can also lose: for the bundled x4 Y
    model, 2000 steps scored no higher on T91, as ``tools/package_pretrained.sh`` prints.)"""
    from keras_sr.qat import finetune_for_int8

    config = float_model.config
    tuned = finetune_for_int8(network, config, images, patches, steps, progress=progress)
    tuned_content = add_metadata(convert(tuned, config, "int8", input_size, patches),
                                 sr_metadata(config, "int8", steps))
    tuned_quant = quantization_report(float_model, tuned_content, images, config)
    qat = QATReport(steps, quant.tflite_vs_hr, tuned_quant.tflite_vs_hr)
    return (tuned_content, tuned_quant, qat) if qat.kept else (content, quant, qat)


def convert(network, config: Config, quantization: str, input_size: tuple[int, int] | None = None,
            patches: list[np.ndarray] | None = None) -> bytes:
    """TFLite flatbuffer of the deploy keras model ``network`` (:func:`keras_sr.folding.deploy`).
    ``patches``: int8 calibration LR patches (uint8 HxWxC); with a fixed ``input_size`` each is
    padded or cropped to it."""
    import tensorflow as tf

    shape = [1, *(input_size or (None, None)), config.colors]
    fn = tf.function(lambda lr: network(lr, training=False),
                     input_signature=[tf.TensorSpec(shape, tf.float32, name="lr")])
    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], network)
    if quantization == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantization == "int8":
        if not patches:
            raise UserError("int8 export needs calibration patches")
        samples = [_fit(p, input_size) if input_size else p for p in patches]

        def representative():
            for sample in samples:
                yield [sample[None].astype(np.float32)]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
        converter.inference_output_type = tf.uint8
    content = converter.convert()
    if quantization == "int8":
        from keras_sr import archs

        content, _ = flatbuf.drop_saturated_clip(archs.family(config).pin_int8(content))
    return content


def allowed_ops(config, quantization: str) -> frozenset:
    """The builtin ops a ``quantization`` file of ``config``'s family may hold."""
    from keras_sr import archs

    if quantization == "int8":
        return archs.family(config).INT8_OPS
    return ALLOWED_OPS[quantization] | (set() if config.family == "ecbsr" else
                                        archs.family(config).INT8_OPS - {"QUANTIZE"})


def model_ops(content: bytes) -> list[str]:
    """Builtin op names of the main subgraph, in execution order, read from the flatbuffer."""
    return flatbuf.content_op_names(content)


def gpu_compatibility(content: bytes) -> str:
    """TF's model analyzer verdict on GPU-delegate compatibility (its GPU lines)."""
    import tensorflow as tf

    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        tf.lite.experimental.Analyzer.analyze(model_content=content, gpu_compatibility=True)
    lines = [line.strip() for line in text.getvalue().splitlines() if "GPU" in line]
    return "\n".join(lines) or "the analyzer printed no GPU verdict"


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
        raise UserError("--calib-samples must be at least 1")
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


def quantization_report(float_model: KerasSRModel, content: bytes, images: list[np.ndarray],
                        config: Config) -> QuantReport:
    """PSNR on Y (the benchmark protocol of :mod:`keras_sr.metrics`) of the converted model
    against the float plain model, and of both against HR (shave = scale), on whole
    calibration images (at most :data:`REPORT_MAX_IMAGES`)."""
    from keras_sr.metrics import psnr_y, to_y
    from keras_sr.metadata import read_metadata

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


def _pixel_units(content: bytes) -> bytes:
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
    for index in (*graph.inputs, *graph.outputs):
        _set_quantization(graph.tensors[index], zero_point=0)
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
                _set_quantization(tensor, zero_point=-128)
        for index in op.outputs:
            _set_quantization(graph.tensors[index], zero_point=-128)
    add = chain[0]
    if names[id(add)] == "ADD":
        for index in add.inputs:
            # repeat(x), the 1x1 conv: 0..255 as x; the correction F_L, a 3x3 conv: signed.
            source = producer.get(index)
            repeat = source is not None and graph.tensors[source.inputs[1]].shape[1] == 1
            _set_quantization(graph.tensors[index], zero_point=-128 if repeat else 0)
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


def _set_quantization(tensor, zero_point: int) -> None:
    if tensor.quantization is not None:
        tensor.quantization.scale, tensor.quantization.zeroPoint = [1.0], [zero_point]


def _fit(patch: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Mirror-pad (or crop) an HxWxC patch to ``size`` (real content, realistic statistics)."""
    h, w = size
    while patch.shape[0] < h or patch.shape[1] < w:
        patch = np.pad(patch, ((0, max(0, min(h - patch.shape[0], patch.shape[0]))),
                               (0, max(0, min(w - patch.shape[1], patch.shape[1]))), (0, 0)),
                       mode="symmetric")
    return patch[:h, :w]
