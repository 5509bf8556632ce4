"""Run super-resolution models: one interface for .tflite files, folded .keras files and run dirs.

:func:`load_sr_model` returns an :class:`SRModel`: call it with an HxWxC uint8 LR image (pixels
0..255, C = ``colors``) and get the (H*scale)x(W*scale)xC uint8 output, rounded and clipped, for
the whole image at once (tiling for large images lives in :mod:`keras_sr.tiling`).

TFLite files run on LiteRT (``ai-edge-litert``), or on ``tflite-runtime`` when it is the only
runtime installed; they carry their own description in a ``keras_sr`` metadata entry
(:mod:`keras_sr.metadata`), read from the flatbuffer without TensorFlow. Keras models run on
TensorFlow, which is imported only when one is loaded.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any, Callable

import numpy as np

from keras_sr.errors import UserError, first_line
from keras_sr.imresize import round_pixels

from keras_sr.metadata import read_metadata, sr_metadata  # noqa: F401 (read_metadata: also imported from here)


class SRModel:
    """A super-resolution model with a uniform call: HxWxC uint8 in, (sH)x(sW)xC uint8 out.

    Attributes:
        scale: upscaling factor.
        colors: 1 (Y channel) or 3 (RGB).
        receptive_radius: receptive-field radius in LR pixels (one per 3x3 convolution).
        kind: what runs, e.g. "int8 tflite", "float32 tflite", "float keras".
        runtime: the runtime's name and version, e.g. "ai-edge-litert 2.3.0".
        input_size: the fixed (H, W) input the model was exported for, or None if dynamic.
        metadata: the model's description (the ``keras_sr`` metadata for .tflite files).
    """

    scale: int
    colors: int
    receptive_radius: int
    kind: str
    runtime: str
    input_size: tuple[int, int] | None = None
    metadata: dict[str, Any]

    def __call__(self, lr: np.ndarray) -> np.ndarray:
        lr = self._check(lr)
        return self._run(lr)

    def _run(self, lr: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _check(self, lr: np.ndarray) -> np.ndarray:
        if lr.ndim != 3 or lr.shape[2] != self.colors:
            raise UserError(f"this model takes {self.colors}-channel images "
                            f"({'Y' if self.colors == 1 else 'RGB'}), got an array of shape {lr.shape}")
        if lr.shape[0] < 1 or lr.shape[1] < 1:
            raise UserError(f"empty image {lr.shape[:2]}")
        if lr.dtype != np.uint8:
            raise ValueError(f"expected uint8 pixels, got {lr.dtype}")
        return lr

    def describe(self) -> str:
        return f"{self.kind}, x{self.scale}, {'Y' if self.colors == 1 else 'RGB'}, runtime {self.runtime}"


class TFLiteSRModel(SRModel):
    """A .tflite SR model on the LiteRT interpreter (CPU, XNNPACK)."""

    def __init__(self, content: bytes, metadata: dict[str, Any], num_threads: int | None = None,
                 source: str = "model"):
        from keras_sr.limits import check_threads

        check_threads(num_threads)
        from keras_sr.flatbuf import check_tflite

        check_tflite(content, source)
        interpreter_class, self.runtime = tflite_interpreter()
        try:
            self._interpreter = interpreter_class(model_content=content, num_threads=num_threads)
            self._interpreter.allocate_tensors()
        except Exception as exc:  # the interpreter raises ValueError/RuntimeError for bad models
            raise UserError(f"{source}: cannot load TFLite model ({first_line(exc)})") from None
        self.metadata = metadata
        self.scale = int(metadata["scale"])
        self.colors = int(metadata["colors"])
        self.receptive_radius = int(metadata["receptive_radius"])
        self.kind = f"{metadata.get('quantization', 'float32')} tflite"
        (self._input,) = self._interpreter.get_input_details()
        (self._output,) = self._interpreter.get_output_details()
        signature = self._input.get("shape_signature", self._input["shape"])
        if signature[1] > 0 and signature[2] > 0:
            self.input_size = (int(signature[1]), int(signature[2]))
        if int(self._input["shape"][-1]) != self.colors:
            raise UserError(f"{source}: input has {self._input['shape'][-1]} channels but its "
                            f"metadata says {self.colors}")
        self._shape: tuple[int, ...] | None = tuple(int(v) for v in self._input["shape"])
        self._source = source
        self._check_graph(source)

    def _check_graph(self, source: str) -> None:
        """Run the graph once on a small input and check that it does what the metadata says:
        (h, w, colors) uint8-range pixels in, (scale h, scale w, colors) out."""
        size = self.input_size or (2 * self.receptive_radius + 3,) * 2
        try:
            out = self._run(np.zeros((*size, self.colors), np.uint8))
        except Exception as exc:  # noqa: BLE001 (a damaged graph fails in the runtime in many ways)
            raise UserError(f"{source}: the model does not run ({first_line(exc)})") from None
        expected = (size[0] * self.scale, size[1] * self.scale, self.colors)
        if out.shape != expected:
            raise UserError(f"{source}: its metadata says x{self.scale} with {self.colors} colors, "
                            f"but the graph turns {size[0]}x{size[1]} into "
                            f"{'x'.join(map(str, out.shape))}")

    def _run(self, lr: np.ndarray) -> np.ndarray:
        shape = (1, *lr.shape)
        try:
            if shape != self._shape:
                # Also works for a model exported with a fixed --input-size: the CPU runtime
                # can resize any of these all-convolutional graphs.
                self._shape = None  # until the resize has worked
                self._interpreter.resize_tensor_input(self._input["index"], list(shape), strict=False)
                self._interpreter.allocate_tensors()
                self._shape = shape
            self._interpreter.set_tensor(self._input["index"], _quantize(lr[None], self._input))
            self._interpreter.invoke()
        except (RuntimeError, ValueError) as exc:  # a damaged graph that the load-time probe passed
            raise UserError(f"{self._source}: the model fails on a {lr.shape[0]}x{lr.shape[1]} "
                            f"input ({first_line(exc)})") from None
        out = self._interpreter.get_tensor(self._output["index"])[0]
        return _dequantize(out, self._output)


class KerasSRModel(SRModel):
    """A tf-keras SR model (plain or training-time), float32 on TensorFlow."""

    def __init__(self, model, config, kind: str):
        import tensorflow as tf

        self.model = model
        self.config = config
        self.scale, self.colors = config.scale, config.colors
        self.receptive_radius = config.receptive_radius
        self.kind = kind
        self.runtime = f"tensorflow {tf.__version__}"
        self.metadata = sr_metadata(config, "float32")
        # One traced graph for every image size (eager calls are several times slower).
        self._predict: Callable = tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec([1, None, None, config.colors], tf.float32)])

    def _run(self, lr: np.ndarray) -> np.ndarray:
        out = self._predict(lr[None].astype(np.float32)).numpy()[0]
        return round_pixels(out)


def load_sr_model(path: Path | str, num_threads: int | None = None) -> SRModel:
    """Load a run directory (folded in memory), a folded ``.keras`` file, a ``.tflite`` file,
    or a bundled model by name (``x2``, ``x4``, ``x2-rgb``, ...; :mod:`keras_sr.bundled`).

    ``num_threads`` applies to TFLite files (None: the runtime's default).
    """
    from keras_sr.bundled import resolve_model
    from keras_sr.limits import MAX_MODEL_BYTES, check_regular_file

    path = resolve_model(path)
    if path.is_dir():
        return load_keras_sr_model(path)
    if path.suffix == ".keras":
        check_regular_file(path, MAX_MODEL_BYTES, "a model file")
        return load_keras_sr_model(path)
    if path.suffix != ".tflite":
        raise UserError(f"{path}: expected a .tflite file, a folded .keras file or a run directory")
    content = _read_bytes(path)
    return TFLiteSRModel(content, read_metadata(content, source=str(path)), num_threads, str(path))


def load_keras_sr_model(path: Path, training_time: bool = False) -> KerasSRModel:
    """The plain model of a run dir or ``.keras`` file; with ``training_time=True`` (run dirs
    only) the training-time network with its branches expanded, as it runs during training."""
    from keras_sr import archs
    from keras_sr.config import CONFIG_FILE, load_config
    from keras_sr.runs import load_plain, load_run, plain_file_config

    path = Path(path)
    if training_time:
        model, config = load_run(path)
        return KerasSRModel(model, config, "training-time keras")
    plain = load_plain(path)
    if path.is_dir():
        config = load_config(path / CONFIG_FILE)
    else:
        config = inferred = archs.plain_config(plain)
        stored = plain_file_config(path)
        if stored is not None:
            # The stored config has what the layers cannot say (with_idt, ...); a file whose
            # layers contradict it was edited or damaged.
            if [(c.family, c.scale, c.colors, c.receptive_radius) for c in (stored, inferred)] != \
                    [(inferred.family, inferred.scale, inferred.colors, inferred.receptive_radius)] * 2:
                raise UserError(f"{path}: its stored config ({stored.name}) does not match its "
                                f"layers ({inferred.name})")
            config = stored
    return KerasSRModel(plain, config, "float keras")


def tflite_interpreter() -> tuple[type, str]:
    """The TFLite interpreter class and the runtime's name: LiteRT, else tflite-runtime."""
    errors = []
    for module, dist in (("ai_edge_litert.interpreter", "ai-edge-litert"),
                         ("tflite_runtime.interpreter", "tflite-runtime")):
        try:
            interpreter = importlib.import_module(module).Interpreter
        except Exception as exc:  # tflite-runtime 2.14 raises SystemError under numpy 2
            errors.append(f"{dist}: {first_line(exc)}")
            continue
        return interpreter, f"{dist} {package_version(dist)}"
    raise UserError("no TFLite runtime could be imported (" + "; ".join(errors) + "); "
                    "install ai-edge-litert")


def runtime_name() -> str:
    """e.g. "ai-edge-litert 2.3.0", or "none (...)" when no TFLite runtime imports."""
    try:
        return tflite_interpreter()[1]
    except UserError as exc:
        return f"none ({exc})"


def _quantize(x: np.ndarray, detail: dict) -> np.ndarray:
    dtype = detail["dtype"]
    if np.issubdtype(dtype, np.floating):
        return x.astype(dtype)
    scale, zero = detail["quantization"]
    if (scale, zero) in ((1.0, 0), (0.0, 0)) and dtype == np.uint8:
        return x  # pixel units: the exported int8 models take uint8 pixels as they are
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale + zero), info.min, info.max).astype(dtype)


def _dequantize(y: np.ndarray, detail: dict) -> np.ndarray:
    if np.issubdtype(y.dtype, np.floating):
        return round_pixels(y)
    scale, zero = detail["quantization"]
    if (scale, zero) in ((1.0, 0), (0.0, 0)) and y.dtype == np.uint8:
        return y
    return round_pixels((y.astype(np.float32) - zero) * scale)


def _read_bytes(path: Path) -> bytes:
    """The bytes of a model file: a regular file of at most :data:`keras_sr.limits.MAX_MODEL_BYTES`."""
    from keras_sr.limits import MAX_MODEL_BYTES, check_regular_file

    check_regular_file(path, MAX_MODEL_BYTES, "a model file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None


def package_version(dist: str, missing: str = "(unknown version)") -> str:
    """The installed version of distribution ``dist``, or ``missing``."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return missing

