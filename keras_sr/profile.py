"""Where the time of a .tflite goes: per-op latency from cut-down copies of the graph, and
multiply-accumulates (MACs) counted from its convolution weights.

LiteRT's Python interpreter exposes no op profiler, and with XNNPACK the whole graph runs as one
delegate node. So :func:`profile_ops` times prefixes of the graph instead: copy ``k`` runs the
first ``k`` ops (:func:`keras_sr.flatbuf.truncated`); the time of op ``k`` is the median of
copy ``k`` minus the median of copy ``k - 1``. All copies are loaded at once and timed
interleaved (copy 1, 2, ..., N, then again), so load on a shared machine spreads evenly over
them. A marginal time can come out slightly negative when an op costs less than the noise.

Any .tflite works (ours or another project's); its input is random pixels, quantized as its
input tensor says (:func:`pixels_for`).
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from keras_sr import flatbuf
from keras_sr.errors import UserError, first_line

CONV_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "FULLY_CONNECTED")


@dataclasses.dataclass
class OpProfile:
    """One op of the graph: its output shape (NHWC), MACs, and its marginal time in ms."""

    index: int
    name: str
    output_shape: tuple[int, ...]
    macs: int
    ms: float

    @property
    def gmacs_per_s(self) -> float | None:
        return self.macs / self.ms / 1e6 if self.macs and self.ms > 0 else None


@dataclasses.dataclass
class GraphProfile:
    """Per-op times of one graph on one input, and the whole graph's median time."""

    ops: list[OpProfile]
    total_ms: float
    input_shape: tuple[int, ...]
    threads: int | None

    @property
    def macs(self) -> int:
        return sum(op.macs for op in self.ops)


def interpreter(content: bytes, input_shape: Sequence[int] | None = None, threads: int | None = None,
                source: str = "model", delegates: bool = True):
    """A LiteRT interpreter for ``content``, its single input resized to ``input_shape`` (NHWC)
    if given, tensors allocated. ``delegates=False``: builtin kernels only (no XNNPACK), whose
    intermediate tensors report their real shapes."""
    import importlib

    from keras_sr.runtime import tflite_interpreter

    flatbuf.check_tflite(content, source)
    interpreter_class, _ = tflite_interpreter()
    options = {}
    if not delegates:
        resolver = importlib.import_module(interpreter_class.__module__).OpResolverType
        options["experimental_op_resolver_type"] = resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    try:
        it = interpreter_class(model_content=content, num_threads=threads, **options)
        if input_shape is not None:
            it.resize_tensor_input(it.get_input_details()[0]["index"], list(input_shape), strict=False)
        it.allocate_tensors()
    except Exception as exc:  # the interpreter raises ValueError/RuntimeError for bad models
        raise UserError(f"{source}: cannot run at input {list(input_shape or [])} ({first_line(exc)})") from None
    return it


def input_shape(content: bytes, size: tuple[int, int], source: str = "model") -> tuple[int, ...]:
    """The NHWC input shape of ``content`` at ``size`` (H, W) pixels: batch 1, its channels."""
    it = interpreter(content, None, 1, source, delegates=False)
    details = it.get_input_details()
    if len(details) != 1 or len(details[0]["shape"]) != 4:
        raise UserError(f"{source}: expected one NHWC image input, got {len(details)} input(s)")
    return (1, *size, int(details[0]["shape"][-1]))


def profile_tflite(path, size: tuple[int, int], threads: int | None = None, runs: int = 10,
                   warmup: int = 2, progress: Callable[[int, int], None] | None = None) -> GraphProfile:
    """:func:`profile_ops` of a .tflite file."""
    from keras_sr.runtime import _read_bytes

    path = Path(path)
    if path.suffix != ".tflite" or not path.is_file():
        raise UserError(f"{path}: profile needs a .tflite file", params=("profile",))
    return profile_ops(_read_bytes(path), size, threads, runs, warmup, str(path), progress)


def conv_macs(content: bytes, it) -> list[int]:
    """MACs of each op of the main graph at the interpreter's current (allocated) shapes:
    output elements x kernel taps x input channels per group for convolutions, 0 otherwise."""
    model = flatbuf.read(content)
    graph = model.subgraphs[0]
    shapes = {d["index"]: tuple(int(v) for v in d["shape"]) for d in it.get_tensor_details()}
    macs = []
    for name, op in zip(flatbuf.op_names(model), graph.operators):
        if name not in CONV_OPS:
            macs.append(0)
            continue
        weights = tuple(int(v) for v in graph.tensors[op.inputs[1]].shape)
        out = shapes.get(op.outputs[0], ())
        if name == "TRANSPOSE_CONV":  # inputs: output shape, weights, data
            weights = tuple(int(v) for v in graph.tensors[op.inputs[1]].shape)
            data = shapes.get(op.inputs[2], ())
            macs.append(int(np.prod(data)) * int(np.prod(weights[:3])))
        elif name == "DEPTHWISE_CONV_2D":  # weights 1 x kh x kw x out
            macs.append(int(np.prod(out)) * weights[1] * weights[2])
        else:  # CONV_2D weights out x kh x kw x in; FULLY_CONNECTED out x in
            macs.append(int(np.prod(out)) * int(np.prod(weights[1:])))
    return macs


def time_interleaved(runners: Sequence[Callable[[], None]], runs: int, warmup: int) -> list[list[float]]:
    """Call each runner ``warmup`` times, then ``runs`` rounds of one call each, in order;
    the seconds of every timed call, per runner."""
    if runs < 1 or warmup < 0:
        raise UserError("runs must be >= 1 and warmup >= 0", params=("runs", "warmup"))
    for _ in range(warmup):
        for run in runners:
            run()
    times: list[list[float]] = [[] for _ in runners]
    for _ in range(runs):
        for i, run in enumerate(runners):
            start = time.perf_counter()
            run()
            times[i].append(time.perf_counter() - start)
    return times


def invoker(it, data: np.ndarray) -> Callable[[], None]:
    """A call that sets the input and runs the interpreter (what one inference costs)."""
    index = it.get_input_details()[0]["index"]

    def run() -> None:
        it.set_tensor(index, data)
        it.invoke()

    return run


def profile_ops(content: bytes, size: tuple[int, int], threads: int | None = None, runs: int = 10,
                warmup: int = 2, source: str = "model",
                progress: Callable[[int, int], None] | None = None) -> GraphProfile:
    """Per-op time of ``content`` on an input of ``size`` (H, W) LR pixels, from cut-down copies.

    ``progress(done, total)`` follows the timed rounds.
    """
    from keras_sr.limits import MAX_BENCH_PIXELS, check_threads

    check_threads(threads)
    if size[0] * size[1] > MAX_BENCH_PIXELS:
        raise UserError(f"size {size[0]}x{size[1]}: at most {MAX_BENCH_PIXELS:,} pixels", params=("size",))
    shape = input_shape(content, size, source)
    builtin = interpreter(content, shape, threads, source, delegates=False)
    data = pixels_for(builtin.get_input_details()[0])
    names = flatbuf.content_op_names(content)
    macs = conv_macs(content, builtin)
    shapes = {d["index"]: tuple(int(v) for v in d["shape"]) for d in builtin.get_tensor_details()}
    del builtin
    graph = flatbuf.read(content).subgraphs[0]
    prefixes = [interpreter(flatbuf.truncated(content, k), shape, threads, source)
                for k in range(1, len(names) + 1)]
    runners = [invoker(it, data) for it in prefixes]
    rounds = []
    for done in range(runs):
        rounds.append(time_interleaved(runners, 1, warmup if done == 0 else 0))
        if progress:
            progress(done + 1, runs)
    medians = [statistics.median(r[i][0] for r in rounds) * 1e3 for i in range(len(runners))]
    ops = []
    for k, name in enumerate(names):
        before = medians[k - 1] if k else 0.0
        out = shapes.get(graph.operators[k].outputs[0], ())
        ops.append(OpProfile(k, name, out, macs[k], medians[k] - before))
    return GraphProfile(ops, medians[-1], shape, threads)


# --- side by side: any SR .tflite files at one output size ------------------------------------

@dataclasses.dataclass
class _Entry:
    name: str
    content: bytes
    scale: int
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    macs: int
    note: str = ""


def file_scale(content: bytes, source: str) -> int:
    """The upscaling factor: from the ``keras_sr`` metadata, else output/input height of a run
    at the file's own input shape (or 24x24 where that is dynamic)."""
    from keras_sr.metadata import read_metadata

    try:
        return int(read_metadata(content, source)["scale"])
    except UserError:
        pass
    it = interpreter(content, None, 1, source, delegates=False)
    shape = [int(v) for v in it.get_input_details()[0]["shape_signature"]]
    if min(shape[1:3]) < 1:
        it = interpreter(content, (1, 24, 24, shape[3]), 1, source, delegates=False)
    detail = it.get_input_details()[0]
    it.set_tensor(detail["index"], pixels_for(detail))
    it.invoke()
    out = it.get_output_details()[0]["shape"]
    return int(out[1]) // int(detail["shape"][1])


def pixels_for(detail: dict, seed: int = 0) -> np.ndarray:
    """Random pixels 0..255 in the input's dtype, quantized with its scale and zero point."""
    rng = np.random.default_rng(seed)
    pixels = rng.uniform(0, 255, tuple(detail["shape"]))
    dtype = detail["dtype"]
    scale, zero = detail["quantization"]
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        values = pixels / scale + zero if scale else pixels
        return np.clip(np.round(values), info.min, info.max).astype(dtype)
    return pixels.astype(dtype)


def _prepare(path: Path, output_size: tuple[int, int]) -> _Entry:
    from keras_sr.runtime import _read_bytes

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    content = _read_bytes(path)
    scale = file_scale(content, str(path))
    oh, ow = output_size
    if oh % scale or ow % scale:
        raise UserError(f"{path}: output {oh}x{ow} is not a multiple of its scale x{scale}")
    channels = int(interpreter(content, None, 1, str(path), delegates=False).get_input_details()[0]["shape"][3])
    shape, note = (1, oh // scale, ow // scale, channels), ""
    try:
        it = interpreter(content, shape, 1, str(path), delegates=False)
    except UserError:
        it = interpreter(content, None, 1, str(path), delegates=False)
        shape = tuple(int(v) for v in it.get_input_details()[0]["shape"])
        note = "fixed input shape"
    out = tuple(int(v) for v in it.get_output_details()[0]["shape"])
    return _Entry(path.name, content, scale, shape, out, sum(conv_macs(content, it)), note)


@dataclasses.dataclass
class SideBySide:
    """One file at one thread count: its input shape (NHWC), scale, MACs per output pixel and
    median latency; ``note`` says when it could not run at the requested size."""

    name: str
    threads: int
    input_shape: tuple[int, ...]
    scale: int
    macs_per_output_pixel: float
    ms: float
    output_mpix_per_s: float
    gmacs_per_s: float
    note: str


def side_by_side(paths: Sequence, output_size: tuple[int, int], threads: Sequence[int] = (1, 2),
                 runs: int = 10, warmup: int = 2) -> list[SideBySide]:
    """Time super-resolution .tflite files (ours or other projects') at equal output sizes,
    in one process, interleaved, for each thread count.

    Any single-input NHWC image model works; its scale comes from our metadata when present,
    else from a probe run. Each file gets random pixels quantized with its own input scale and
    zero point (some published files expect raw pixels at a scale other than 1). A file whose
    fixed input shape the runtime cannot resize runs at its own size and says so.
    """
    from keras_sr.limits import check_threads

    if not threads:
        raise UserError("give at least one thread count")
    for count in threads:
        check_threads(count)
    entries = [_prepare(path, output_size) for path in paths]
    rows = []
    for count in threads:
        models = [interpreter(e.content, e.input_shape, count, e.name) for e in entries]
        runners = [invoker(it, pixels_for(it.get_input_details()[0])) for it in models]
        for entry, samples in zip(entries, time_interleaved(runners, runs, warmup)):
            ms = statistics.median(samples) * 1e3
            pixels = entry.output_shape[1] * entry.output_shape[2]
            rows.append(SideBySide(entry.name, count, entry.input_shape, entry.scale,
                                   entry.macs / pixels, ms, pixels / ms / 1e3, entry.macs / ms / 1e6,
                                   entry.note))
    return rows
