"""Latency of SR models on one input: median, min and max over timed runs after warm-up.

A run directory can be benchmarked in all its forms in one go, on the same input: the int8
TFLite and float32 TFLite (both converted in memory, on the same LiteRT runtime), the plain
float keras model and the training-time network (tf-keras, ECB branches expanded).
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from keras_sr.errors import UserError
from keras_sr.metadata import read_metadata
from keras_sr.runtime import SRModel, TFLiteSRModel, load_keras_sr_model, load_sr_model

DEFAULT_SIZE = (540, 960)
DEFAULT_RUNS = 10
DEFAULT_WARMUP = 2
BENCH_CALIB_SAMPLES = 32  # in-memory int8 conversion: latency does not depend on calibration quality


@dataclasses.dataclass
class BenchResult:
    name: str
    kind: str
    runtime: str
    median_ms: float
    min_ms: float
    max_ms: float
    output_mpix_per_s: float


def time_model(model: SRModel, lr: np.ndarray, runs: int = DEFAULT_RUNS, warmup: int = DEFAULT_WARMUP,
               name: str = "") -> BenchResult:
    """Time ``model(lr)`` (whole image): ``warmup`` untimed calls, then ``runs`` timed ones."""
    if runs < 1 or warmup < 0:
        raise UserError("runs must be >= 1 and warmup >= 0", params=("runs", "warmup"))
    for _ in range(warmup):
        model(lr)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        model(lr)
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    out_pixels = lr.shape[0] * lr.shape[1] * model.scale ** 2
    return BenchResult(name or model.kind, model.kind, model.runtime, median * 1e3, min(times) * 1e3,
                       max(times) * 1e3, out_pixels / median / 1e6)


def model_forms(path: Path, threads: int | None = None, compare: bool | None = None
                ) -> list[tuple[str, Callable[[], SRModel]]]:
    """(label, loader) for each form to benchmark. ``compare`` (default: on for run dirs and
    .keras files) adds the int8 and float32 TFLite conversions and, for run dirs, the
    training-time network."""
    from keras_sr.bundled import resolve_model

    path = resolve_model(path)
    keras_like = path.is_dir() or path.suffix == ".keras"
    if compare is None:
        compare = keras_like
    if not compare:
        return [(path.name, lambda: load_sr_model(path, threads))]
    if not keras_like:
        raise UserError(f"{path}: compare needs a run directory or a .keras file (it converts it)",
                        params=("compare",))

    def converted(quantization: str) -> Callable[[], SRModel]:
        def load() -> SRModel:
            from keras_sr.export import convert
            from keras_sr.int8 import calibration_images, calibration_patches
            from keras_sr.metadata import add_metadata, sr_metadata
            from keras_sr import archs

            plain = load_keras_sr_model(path)
            patches = []
            if quantization == "int8":
                patches = calibration_patches(calibration_images(None)[0], plain.config, BENCH_CALIB_SAMPLES)
            network = archs.family(plain.config).deploy(plain.model, plain.config)
            content = add_metadata(convert(network, plain.config, quantization, None, patches),
                                   sr_metadata(plain.config, quantization))
            return TFLiteSRModel(content, read_metadata(content), threads, f"{path} ({quantization})")
        return load

    forms = [("int8 tflite", converted("int8")), ("float32 tflite", converted("float32")),
             ("float keras (plain)", lambda: load_keras_sr_model(path))]
    if path.is_dir():
        forms.append(("training-time keras", lambda: load_keras_sr_model(path, training_time=True)))
    return forms


def bench(paths: list[Path], size: tuple[int, int] = DEFAULT_SIZE, threads: int | None = None,
          runs: int = DEFAULT_RUNS, warmup: int = DEFAULT_WARMUP, compare: bool | None = None,
          on_result: Callable[[BenchResult], None] | None = None) -> list[BenchResult]:
    """Benchmark every form of every model in ``paths`` on the same random LR image of ``size``."""
    from keras_sr.limits import MAX_BENCH_PIXELS

    _check_threads(threads)
    if size[0] * size[1] > MAX_BENCH_PIXELS:
        raise UserError(f"size {size[0]}x{size[1]}: bench runs the whole image at once, "
                        f"at most {MAX_BENCH_PIXELS:,} pixels", params=("size",))
    forms = [form for path in paths for form in model_forms(path, threads, compare)]
    return bench_forms(forms, size, threads, runs, warmup, on_result)


def bench_forms(forms: list[tuple[str, Callable[[], SRModel]]], size: tuple[int, int] = DEFAULT_SIZE,
                threads: int | None = None, runs: int = DEFAULT_RUNS, warmup: int = DEFAULT_WARMUP,
                on_result: Callable[[BenchResult], None] | None = None) -> list[BenchResult]:
    """Time each (label, loader) form, loaded one at a time, on the same random uint8 LR image
    of ``size`` (H, W); they must share scale and colors. ``threads`` also sets TensorFlow's."""
    _check_threads(threads)
    if threads is not None:
        _tensorflow_threads(threads)
    results, lr = [], None
    colors = scale = None
    for label, load in forms:
        model = load()
        if colors is None:
            colors, scale = model.colors, model.scale
            lr = np.random.default_rng(0).integers(0, 256, (*size, colors), dtype=np.uint8)
        elif (model.colors, model.scale) != (colors, scale):
            raise UserError(f"{label}: x{model.scale} with {model.colors} colors; the first model is "
                            f"x{scale} with {colors} colors, so they cannot share an input")
        result = time_model(model, lr, runs, warmup, label)
        results.append(result)
        if on_result:
            on_result(result)
        del model
    return results


def _check_threads(threads: int | None) -> None:
    from keras_sr.limits import check_threads

    check_threads(threads)


def _tensorflow_threads(threads: int) -> None:
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow already initialized in this process (e.g. tests)
        pass
