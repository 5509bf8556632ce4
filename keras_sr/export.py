"""Export a plain network to TFLite (float32, float16 weights, or full-integer int8): the
orchestration, in order.

1. The family's deploy form of the network (``archs.family(config).deploy``; for ECBSR 3x3 convs
   over the features only, the residual as a fixed 1x1 conv of the input and one ADD, depth to
   space and clip).
2. The converter, with int8 calibration patches from :mod:`keras_sr.int8`; int8 files take and
   return uint8 pixels and use only TFLITE_BUILTINS_INT8 ops.
3. The family's int8 measures (``pin_int8``, from :mod:`keras_sr.int8`: pixel units), then the
   clip ops that int8 saturation makes identities removed
   (:func:`keras_sr.flatbuf.drop_saturated_clip`).
4. The ``keras_sr`` metadata entry (:mod:`keras_sr.metadata`): scale, colors, input range and
   dtype, quantization, receptive radius, the config and the package version, so that a model
   file is all that ``upscale`` and the Android app need.
5. Optionally quantization-aware fine-tuning (:mod:`keras_sr.qat`), with the hidden tensors'
   int8 steps learned (where the family ``LEARNS_RANGES``) and written into the file in place of
   the searched ones; kept only if it scores higher.
6. The checks: the op list against the family's allow-list, the GPU-delegate analyzer's
   verdict, and the int8 loss against the float model; then the file, written atomically.
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
from keras_sr.int8 import (CALIB_SAMPLES, REPORT_MAX_IMAGES, QuantReport, calibration_images,
                           calibration_patches, fit_patch, quantization_report,
                           searched_ranges, with_kernels_rounded_for)
from keras_sr.metadata import add_metadata, sr_metadata  # noqa: F401 (also imported from here)
from keras_sr.runtime import KerasSRModel, load_keras_sr_model

QUANTIZATIONS = ("int8", "fp16", "float32")
QAT_RANGES = ("learned", "searched")  # of the fine-tuned file's hidden tensors, see export_tflite

# Ops the deploy network may convert to; anything else (CONCATENATION, TILE, MUL, ...) means the
# graph was not fully folded or a float fallback crept in. The int8 clip is gone (see above).
ALLOWED_OPS = {
    "int8": {"QUANTIZE", "CONV_2D", "PRELU", "ADD", "DEPTH_TO_SPACE"},
    "fp16": {"DEQUANTIZE", "CONV_2D", "PRELU", "ADD", "DEPTH_TO_SPACE", "MINIMUM", "MAXIMUM", "RELU"},
    "float32": {"CONV_2D", "PRELU", "ADD", "DEPTH_TO_SPACE", "MINIMUM", "MAXIMUM", "RELU"},
}


@dataclasses.dataclass
class QATReport:
    """Quantization-aware fine-tuning: its steps and the int8 PSNR-Y against HR on the images
    it is judged on (``judged_on``: the calibration images, or held-out ones) without and with
    it; the fine-tuned file is kept only if it scores higher."""

    steps: int
    post_training_vs_hr: float
    finetuned_vs_hr: float
    ranges: str = "searched"
    judged_on: str = "the calibration images"

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
                  on_phase: Callable[[str], None] | None = None,
                  qat_ranges: str | None = None, qat_val_dir: Path | None = None) -> ExportReport:
    """Convert a run dir or folded .keras model to ``output`` (.tflite), with metadata; check
    its op list and GPU-delegate compatibility, and measure the loss against the float model.

    int8 with ``qat_steps`` > 0 also fine-tunes the plain network with int8 rounding simulated
    (:mod:`keras_sr.qat`) on the calibration images, and keeps that file if it scores higher on
    them; ``qat_progress(step, loss)`` follows the fine-tuning, ``on_phase(label)`` the steps
    before and after it (calibration, conversion, the quality report). ``qat_ranges``: the
    fine-tuned file's hidden int8 ranges, ``"learned"`` with the weights (the default where the
    family ``LEARNS_RANGES``) or ``"searched"`` after them as in post-training int8.
    ``qat_val_dir``: held-out HR images that decide whether the fine-tuned file is kept (default:
    the calibration images, which it was tuned on).
    """
    from keras_sr import archs

    if quantization not in QUANTIZATIONS:
        raise UserError(f"quantization must be one of {QUANTIZATIONS}, got {quantization!r}")
    if qat_steps < 0 or (qat_steps and quantization != "int8"):
        raise UserError("qat_steps needs quantization int8 and a count of at least 0",
                        params=("qat_steps", "quantization int8"))
    output = Path(output)
    if output.suffix != ".tflite":
        raise UserError(f"{output}: the output must end in .tflite")
    if not output.parent.is_dir():
        raise UserError(f"{output.parent}: output folder does not exist")
    float_model = load_keras_sr_model(model_path)
    config = float_model.config
    family = archs.family(config)
    if qat_steps and not family.SUPPORTS_QAT:
        raise UserError(f"qat_steps: quantization-aware fine-tuning is not implemented for "
                        f"{config.family}", params=("qat_steps",))
    for name, value in (("qat_ranges", qat_ranges), ("qat_val_dir", qat_val_dir)):
        if value is not None and not qat_steps:
            raise UserError(f"{name} needs qat_steps", params=(name, "qat_steps"))
    qat_ranges = qat_ranges or ("learned" if family.LEARNS_RANGES else "searched")
    if qat_ranges not in QAT_RANGES:
        raise UserError(f"qat_ranges must be 'learned' or 'searched', got {qat_ranges!r}",
                        params=("qat_ranges",))
    if qat_ranges == "learned" and not family.LEARNS_RANGES:
        raise UserError(f"qat_ranges learned: learned int8 ranges are not implemented for "
                        f"{config.family} (use searched)", params=("qat_ranges",))
    if input_size is not None and min(input_size) <= 2 * config.receptive_radius:
        # upscale tiles a fixed-size model with windows of that size and a halo of the
        # receptive radius on each side: a window must be wider than both halos.
        raise UserError(f"input_size {input_size[0]}x{input_size[1]}: each side must be larger "
                        f"than {2 * config.receptive_radius} (twice the receptive radius), so that "
                        f"upscale can tile images with it", params=("input_size",))
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
        judge = calibration_images(qat_val_dir) if qat_val_dir is not None else None
        content, quant, qat = _finetuned_if_better(float_model, network, content, quant, images,
                                                   patches, input_size, qat_steps, qat_progress,
                                                   qat_ranges, judge)
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
                         progress: Callable[[int, float], None] | None, ranges: str,
                         judge: tuple[list[np.ndarray], str] | None = None,
                         ) -> tuple[bytes, QuantReport, QATReport]:
    """The int8 file after quantization-aware fine-tuning (of ``network``, the deploy network)
    if that scores higher against HR than post-training ``content`` on the ``judge`` images
    (held-out ones, with their source's name; default: the calibration images ``images``);
    else ``content`` itself. (Fine-tuning on a few images can also lose: for the bundled x4 Y
    model, 2000 steps scored no higher on T91, as ``tools/package_pretrained.sh`` prints.)
    ``ranges`` (:data:`QAT_RANGES`): the hidden tensors' steps learned with the weights (and
    the kernels then rounded to nearest, as the fine-tuning simulated them: rounding them for
    their inputs instead undoes part of it, 36.144 vs 36.181 dB on T91 for the bundled x2 Y
    model), or searched after them."""
    from keras_sr.qat import finetune_for_int8

    config = float_model.config
    learn = ranges == "learned"
    tuned, learned = finetune_for_int8(network, config, images, patches, steps,
                                       progress=progress, learn_ranges=learn)
    if learn:  # as the fine-tuning simulated: kernels rounded to nearest, the learned steps
        tuned_content = with_learned_ranges(convert(tuned, config, "int8", input_size, patches,
                                                    rounding="nearest", ranges="calibrated"), learned)
    else:
        tuned_content = convert(tuned, config, "int8", input_size, patches)
    tuned_content = add_metadata(tuned_content, sr_metadata(config, "int8", steps))
    tuned_quant = quantization_report(float_model, tuned_content, images, config)
    if judge is None:
        qat = QATReport(steps, quant.tflite_vs_hr, tuned_quant.tflite_vs_hr, ranges)
    else:
        held_out, source = judge
        before, after = (quantization_report(float_model, c, held_out, config).tflite_vs_hr
                         for c in (content, tuned_content))
        qat = QATReport(steps, before, after, ranges, source)
    return (tuned_content, tuned_quant, qat) if qat.kept else (content, quant, qat)


def with_learned_ranges(content: bytes, learned: list[tuple[float, int]]) -> bytes:
    """``content`` with each range group's step and zero point (:func:`flatbuf.range_groups`, in
    graph order) set to the ``learned`` ones (:func:`keras_sr.qat.finetune_for_int8`)."""
    model = flatbuf.read(content)
    groups = flatbuf.range_groups(model)
    if len(groups) != len(learned):
        raise RuntimeError(f"the int8 file has {len(groups)} range groups, the fine-tuning "
                           f"learned {len(learned)} ranges")
    for group, (scale, zero_point) in zip(groups, learned):
        flatbuf.set_quantization(model, group, scale, zero_point)
    return flatbuf.write(model)


ROUNDING = "inputs"  # how int8 rounds the kernels: "nearest" or "inputs", see convert()
RANGES = "searched"  # the int8 ranges between convolutions: "calibrated" or "searched", see convert()


def convert(network, config: Config, quantization: str, input_size: tuple[int, int] | None = None,
            patches: list[np.ndarray] | None = None, rounding: str | None = None,
            ranges: str | None = None) -> bytes:
    """TFLite flatbuffer of the deploy keras model ``network`` (:func:`keras_sr.folding.deploy`).
    ``patches``: int8 calibration LR patches (uint8 HxWxC); with a fixed ``input_size`` each is
    padded or cropped to it. ``rounding`` (default :data:`ROUNDING`) is how int8 rounds the
    kernels: ``"nearest"`` (the converter's own) or ``"inputs"`` (for the inputs the patches give
    each convolution, :func:`keras_sr.int8.with_kernels_rounded_for`). ``ranges`` (default
    :data:`RANGES`): ``"searched"`` narrows the calibrated range of each int8 tensor between two
    convolutions where that brings the output nearer the float network's on the patches
    (:func:`keras_sr.int8.searched_ranges`); ``"calibrated"`` keeps the converter's min/max."""
    import tensorflow as tf

    rounding = ROUNDING if rounding is None else rounding
    if rounding not in ("nearest", "inputs"):
        raise ValueError(f"rounding must be 'nearest' or 'inputs', not {rounding!r}")
    if quantization == "int8" and rounding == "inputs":
        network = with_kernels_rounded_for(network, patches)

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
        samples = [fit_patch(p, input_size) if input_size else p for p in patches]

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
        if (RANGES if ranges is None else ranges) == "searched":
            content, _ = searched_ranges(content, network, config, patches)
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


