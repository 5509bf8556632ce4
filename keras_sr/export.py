"""Export a plain network to TFLite: float32, float16 weights, or full-integer int8.

The int8 model takes and returns uint8 pixels in pixel units (scale 1, zero point 0, so 0..255
in, 0..255 out) and uses only TFLITE_BUILTINS_INT8 ops: QUANTIZE at the ends, CONV_2D (ReLU
fused) or CONV_2D + PRELU, DEPTH_TO_SPACE, and the clip (MINIMUM + RELU). Calibration uses LR
patches made like the training data (HR crop -> MATLAB bicubic downscale -> Y rounded to uint8,
or RGB). Every file carries a ``keras_sr`` metadata entry (:data:`keras_sr.runtime.METADATA_NAME`)
with scale, colors, input range and dtype, quantization, receptive radius, the ModelConfig and
the package version, so that a model file is all that ``upscale`` and the Android app need.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math
from pathlib import Path
from typing import Callable

import numpy as np

from keras_sr import __version__
from keras_sr.config import ModelConfig
from keras_sr.errors import UserError
from keras_sr.files import atomic_path
from keras_sr.runtime import METADATA_NAME, KerasSRModel, TFLiteSRModel, load_keras_sr_model

QUANTIZATIONS = ("int8", "fp16", "float32")
CALIB_PATCH = 64  # LR pixels, as the training patches
CALIB_SAMPLES = 100
MAX_RESIDUAL_COPIES = 8
REPORT_MAX_IMAGES = 20
SAMPLES_DIR = Path(__file__).parent / "samples"

# Ops the plain network may convert to; anything else (ADD, CONCATENATION, TILE, ...) means the
# graph was not fully folded or a float fallback crept in.
ALLOWED_OPS = {
    "int8": {"QUANTIZE", "CONV_2D", "PRELU", "DEPTH_TO_SPACE", "MINIMUM", "MAXIMUM", "RELU"},
    "fp16": {"DEQUANTIZE", "CONV_2D", "PRELU", "DEPTH_TO_SPACE", "MINIMUM", "MAXIMUM", "RELU"},
    "float32": {"CONV_2D", "PRELU", "DEPTH_TO_SPACE", "MINIMUM", "MAXIMUM", "RELU"},
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
                  qat_progress: Callable[[int, float], None] | None = None) -> ExportReport:
    """Convert a run dir or folded .keras model to ``output`` (.tflite), with metadata; check
    its op list and GPU-delegate compatibility, and measure the loss against the float model.

    int8 with ``qat_steps`` > 0 also fine-tunes the plain network with int8 rounding simulated
    (:mod:`keras_sr.qat`) on the calibration images, and keeps that file if it scores higher on
    them; ``qat_progress(step, loss)`` follows the fine-tuning.
    """
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
    images, calib_source = calibration_images(calib_dir)
    patches = calibration_patches(images, config, calib_samples) if quantization == "int8" else []
    plain = float_model.model
    if quantization == "int8":
        plain = balance_passthrough(plain, config, patches)
    content = convert(plain, config, quantization, input_size, patches, balance=False)
    content = add_metadata(content, sr_metadata(config, quantization))
    quant = (quantization_report(float_model, content, images, config)
             if report or qat_steps else None)
    qat = None
    if qat_steps:
        content, quant, qat = _finetuned_if_better(float_model, plain, content, quant, images,
                                                   patches, input_size, qat_steps, qat_progress)
    ops = model_ops(content)
    extra = sorted(set(ops) - ALLOWED_OPS[quantization])
    if extra:
        raise RuntimeError(f"the converted graph has unexpected ops {extra} (ops: {ops})")
    try:
        with atomic_path(output) as tmp:
            tmp.write_bytes(content)
    except OSError as exc:
        raise UserError(f"{output}: cannot write ({exc.strerror or exc})") from None
    return ExportReport(output, config.name, quantization, input_size, len(content), ops,
                        gpu_compatibility(content), calib_source, len(patches), quant, qat)


def _finetuned_if_better(float_model: KerasSRModel, balanced, content: bytes, quant: QuantReport,
                         images: list[np.ndarray], patches: list[np.ndarray],
                         input_size: tuple[int, int] | None, steps: int,
                         progress: Callable[[int, float], None] | None,
                         ) -> tuple[bytes, QuantReport, QATReport]:
    """The int8 file after quantization-aware fine-tuning (of ``balanced``, the plain network
    after :func:`balance_passthrough`) if that scores higher against HR on the calibration
    images than post-training ``content``; else ``content`` itself. (Fine-tuning
    on a few images can also lose: for the bundled x2 Y model, 2000 steps scored 0.05 dB lower
    on T91, as ``tools/package_pretrained.sh`` prints.)"""
    from keras_sr.qat import finetune_for_int8

    config = float_model.config
    tuned = finetune_for_int8(balanced, config, images, patches, steps, progress=progress)
    tuned_content = add_metadata(convert(tuned, config, "int8", input_size, patches, balance=False),
                                 sr_metadata(config, "int8", steps))
    tuned_quant = quantization_report(float_model, tuned_content, images, config)
    qat = QATReport(steps, quant.tflite_vs_hr, tuned_quant.tflite_vs_hr)
    return (tuned_content, tuned_quant, qat) if qat.kept else (content, quant, qat)


def convert(plain, config: ModelConfig, quantization: str, input_size: tuple[int, int] | None = None,
            patches: list[np.ndarray] | None = None, balance: bool = True) -> bytes:
    """TFLite flatbuffer of the plain keras model. ``patches``: int8 calibration LR patches
    (uint8 HxWxC); with a fixed ``input_size`` each is padded or cropped to it. With
    ``balance`` the int8 export first applies :func:`balance_passthrough` (pass False for a
    model that went through it already)."""
    import tensorflow as tf

    if quantization == "int8" and patches and balance:
        plain = balance_passthrough(plain, config, patches)
    shape = [1, *(input_size or (None, None)), config.colors]
    fn = tf.function(lambda lr: plain(lr, training=False),
                     input_signature=[tf.TensorSpec(shape, tf.float32, name="lr")])
    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], plain)
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
        content = _pixel_units(content)
    return content


def balance_passthrough(plain, config: ModelConfig, patches: list[np.ndarray]):
    """The plain model with its residual pass-through channels scaled, layer by layer, to the
    largest feature activation seen on the calibration ``patches``, and the last hidden layer
    carrying enough copies (at most :data:`MAX_RESIDUAL_COPIES`) that the residual weight is no
    larger than the last layer's learned weights (same function in float; see
    :func:`keras_sr.folding.scale_passthrough`). Without this, x (0..255) would set every hidden
    layer's int8 range and the residual weight the last layer's weight steps. Measured on the
    first bundled x2 Y model (commit 24c8169), Set5: int8 loss 0.169 dB with the scaling alone,
    0.110 dB with 4 copies.
    """
    import tf_keras as keras

    from keras_sr.folding import scale_passthrough

    names = [f"act_{i}" if config.act_type == "prelu" else f"conv_{i}"
             for i in range(config.num_convs - 1)]
    probe = keras.Model(plain.input, [plain.get_layer(name).output for name in names])
    peaks = np.zeros(len(names))
    for patch in patches:
        activations = probe(patch[None].astype(np.float32), training=False)
        features = [np.abs(a.numpy()[..., : config.channels]).max() for a in activations]
        peaks = np.maximum(peaks, features)
    alphas = [max(float(p), 1.0) / 255.0 for p in peaks]
    kernel, _ = plain.get_layer(f"conv_{config.num_convs - 1}").get_weights()
    learned = float(np.abs(kernel[:, :, : config.channels]).max())
    copies = min(MAX_RESIDUAL_COPIES, max(1, math.ceil(1.0 / alphas[-1] / max(learned, 1e-3))))
    return scale_passthrough(plain, config, alphas, copies)


def sr_metadata(config: ModelConfig, quantization: str, qat_steps: int = 0) -> dict:
    """The ``keras_sr`` metadata entry (read by :func:`keras_sr.runtime.read_metadata`); int8
    files also record their quantization-aware fine-tuning steps (0: post-training only)."""
    metadata = {"format": METADATA_NAME, "scale": config.scale, "colors": config.colors,
                "input_range": [0, 255], "input_dtype": "uint8" if quantization == "int8" else "float32",
                "quantization": quantization, "receptive_radius": config.receptive_radius,
                "config": config.to_dict(), "version": __version__}
    if quantization == "int8":
        metadata["qat_steps"] = qat_steps
    return metadata


def add_metadata(content: bytes, metadata: dict) -> bytes:
    """Append (or replace) the ``keras_sr`` entry of ``Model.metadata``: UTF-8 JSON in a buffer."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(content))
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(json.dumps(metadata, sort_keys=True).encode("utf-8"), np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = METADATA_NAME
    entry.buffer = len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or []) if _name(m.name) != METADATA_NAME] + [entry]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def model_ops(content: bytes) -> list[str]:
    """Builtin op names of the main subgraph, in execution order, read from the flatbuffer."""
    from tensorflow.lite.tools import flatbuffer_utils

    return _operator_names(flatbuffer_utils.read_model_from_bytearray(bytearray(content)))


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


def lr_input(hr: np.ndarray, config: ModelConfig) -> tuple[np.ndarray, np.ndarray]:
    """(cropped HR RGB, LR model input HxWxC uint8), made like the training data."""
    from keras_sr.data import model_input
    from keras_sr.imresize import bicubic_downscale

    hr, lr = bicubic_downscale(hr, config.scale)
    return hr, model_input(lr, config.colors)


def calibration_patches(images: list[np.ndarray], config: ModelConfig, samples: int = CALIB_SAMPLES,
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
                        config: ModelConfig) -> QuantReport:
    """PSNR on Y (the benchmark protocol of :mod:`keras_sr.metrics`) of the converted model
    against the float plain model, and of both against HR (shave = scale), on whole
    calibration images (at most :data:`REPORT_MAX_IMAGES`)."""
    from keras_sr.metrics import psnr_y, to_y
    from keras_sr.runtime import read_metadata

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
    The int8 tensors from the last CONV_2D to the output QUANTIZE (the conv's output, depth to
    space, the clip) get scale 1, zero point -128, i.e. exactly 0..255 in whole pixels, and the
    clip's bounds are set to exactly 0 and 255. Calibration would give them a range like -20..255
    (step 1.08), whose rounding adds to the final rounding to whole pixels; in pixel units the
    conv's own rounding is the final one and its int8 saturation is the clip to 0..255. Measured
    on the first bundled x2 Y model (commit 24c8169), Set5: int8 36.86 -> 36.91 dB (float 36.97).
    """
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(content))
    graph = model.subgraphs[0]
    for index in (*graph.inputs, *graph.outputs):
        _set_quantization(graph.tensors[index], zero_point=0)
    names = _operator_names(model)
    last_conv = max(i for i, name in enumerate(names) if name == "CONV_2D")
    for name, op in zip(names[last_conv:], graph.operators[last_conv:]):
        if name == "QUANTIZE":
            break
        for index in op.inputs[1:] if name != "CONV_2D" else ():
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
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _set_quantization(tensor, zero_point: int) -> None:
    if tensor.quantization is not None:
        tensor.quantization.scale, tensor.quantization.zeroPoint = [1.0], [zero_point]


def _operator_names(model) -> list[str]:
    """Builtin op names of the main subgraph's operators, in order (a flatbuffer ModelT)."""
    from tensorflow.lite.python import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    return [names.get(codes[op.opcodeIndex], f"CUSTOM_{codes[op.opcodeIndex]}")
            for op in model.subgraphs[0].operators]


def _fit(patch: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Mirror-pad (or crop) an HxWxC patch to ``size`` (real content, realistic statistics)."""
    h, w = size
    while patch.shape[0] < h or patch.shape[1] < w:
        patch = np.pad(patch, ((0, max(0, min(h - patch.shape[0], patch.shape[0]))),
                               (0, max(0, min(w - patch.shape[1], patch.shape[1]))), (0, 0)),
                       mode="symmetric")
    return patch[:h, :w]


def _name(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
