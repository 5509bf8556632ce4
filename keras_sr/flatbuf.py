"""TFLite flatbuffer helpers: op names, cut-down copies of a graph, and exact op removal.

Everything here reads and writes the flatbuffer with the schema that ships in LiteRT
(``ai_edge_litert.schema_py_generated``), so it works on the light install without TensorFlow;
TensorFlow's copy of the schema is used where LiteRT is absent. A model is edited as the
schema's object API (``ModelT``) and packed again; weights, quantization and metadata of what
is kept are copied as they are.

Graph terms: ops run in file order; ``subgraphs[0]`` is the main graph; each op has input and
output tensor indices (-1 for an absent optional input); a tensor with a non-empty buffer is a
constant (weights, biases, the clip's bounds).
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Element-wise clip ops that the int8 export may leave after the last convolution.
CLIP_OPS = ("MINIMUM", "MAXIMUM", "RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1")
INT8_MIN, INT8_MAX = -128, 127


def schema() -> Any:
    """The generated TFLite schema module (LiteRT's, else TensorFlow's)."""
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError:  # TensorFlow-only installs
        from tensorflow.lite.python import schema_py_generated
    return schema_py_generated


def read(content: bytes) -> Any:
    """The ``ModelT`` of a .tflite flatbuffer."""
    return schema().ModelT.InitFromPackedBuf(bytearray(content), 0)


def write(model: Any) -> bytes:
    """Pack a ``ModelT`` into .tflite bytes (with the TFL3 file identifier)."""
    import flatbuffers

    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def op_names(model: Any) -> list[str]:
    """Builtin op names of the main subgraph's operators, in execution order."""
    names = {v: k for k, v in vars(schema().BuiltinOperator).items() if not k.startswith("_")}
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    return [names.get(codes[op.opcodeIndex], f"CUSTOM_{codes[op.opcodeIndex]}")
            for op in model.subgraphs[0].operators]


def content_op_names(content: bytes) -> list[str]:
    """:func:`op_names` of .tflite bytes."""
    return op_names(read(content))


def constant(model: Any, index: int) -> np.ndarray | None:
    """The raw bytes (uint8) of tensor ``index``'s buffer, or None for a runtime tensor."""
    if index < 0:
        return None
    buffer = model.buffers[model.subgraphs[0].tensors[index].buffer]
    data = getattr(buffer, "data", None)
    return None if data is None or not len(data) else np.asarray(data, np.uint8)


def set_pixel_units(tensor: Any, zero_point: int) -> None:
    """Give a quantized tensor scale 1 (one level = one pixel) and ``zero_point``; a float
    tensor (no quantization) is left alone."""
    if tensor.quantization is not None:
        tensor.quantization.scale, tensor.quantization.zeroPoint = [1.0], [zero_point]


def truncated(content: bytes, num_ops: int) -> bytes:
    """A copy of the model that runs only its first ``num_ops`` ops (int8 tensors out of an
    int8 file: a copy for timing, not for use). Its outputs are every tensor those ops make
    that a dropped op or the graph output reads, and the last op's outputs, so no kept op is
    dead code that a runtime could skip."""
    model = read(content)
    graph = model.subgraphs[0]
    if not 1 <= num_ops <= len(graph.operators):
        raise ValueError(f"num_ops must be in 1..{len(graph.operators)}, got {num_ops}")
    kept, dropped = graph.operators[:num_ops], graph.operators[num_ops:]
    read_later = {i for op in dropped for i in op.inputs} | set(graph.outputs)
    made = [i for op in kept for i in op.outputs]
    outputs = [i for i in made if i in read_later or i in kept[-1].outputs]
    graph.operators = kept
    graph.outputs = list(dict.fromkeys(outputs))
    model.signatureDefs = []  # their output names would point at dropped tensors
    return write(model)


def drop_saturated_clip(content: bytes) -> tuple[bytes, list[str]]:
    """Remove the clip ops after the last CONV_2D that change no int8 value; return the new
    bytes and the names of the removed ops (in order).

    An int8 export in pixel units (:func:`keras_sr.int8.pin_pixel_units`) gives the last conv's
    output scale 1, zero point -128, so its int8 range -128..127 is exactly 0..255 pixels and
    its saturation already is the clip. The MINIMUM(x, 255) and RELU (or MAXIMUM(x, 0)) that
    follow are then identities on every int8 value. An op is removed only when that holds by
    construction: its data input and output have the same scale and zero point, and each bound
    it applies lies at or beyond the int8 range (MINIMUM against a constant 127, MAXIMUM
    against -128, a RELU whose zero is -128). Its consumers then read its input instead.
    Ops that would clip anything are kept, so this is a no-op on float files and on int8
    files not in pixel units.
    """
    model = read(content)
    graph = model.subgraphs[0]
    names = op_names(model)
    convs = [i for i, name in enumerate(names) if name == "CONV_2D"]
    if not convs:
        return content, []
    removed: list[str] = []
    keep = []
    for i, (name, op) in enumerate(zip(names, graph.operators)):
        if i > convs[-1] and name in CLIP_OPS and _is_identity_clip(model, name, op):
            _rewire(graph, old=op.outputs[0], new=op.inputs[0])
            removed.append(name)
        else:
            keep.append(op)
    if not removed:
        return content, []
    graph.operators = keep
    _prune_operator_codes(model)
    return write(model), removed


def _is_identity_clip(model: Any, name: str, op: Any) -> bool:
    """Whether the clip op ``op`` leaves every int8 value of its data input unchanged."""
    graph = model.subgraphs[0]
    data, out = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    if data.type != schema().TensorType.INT8 or out.type != data.type:
        return False
    q_in, q_out = _quant(data), _quant(out)
    if q_in is None or q_in != q_out:
        return False
    _, zero = q_in
    if name == "RELU":
        return zero <= INT8_MIN  # real 0 lies at or below the lowest code
    if name in ("MINIMUM", "MAXIMUM") and len(op.inputs) == 2:
        bound = constant(model, op.inputs[1])
        if bound is None or _quant(graph.tensors[op.inputs[1]]) != q_in:
            return False
        values = bound.view(np.int8)
        return bool(np.all(values >= INT8_MAX) if name == "MINIMUM" else np.all(values <= INT8_MIN))
    return False


def _quant(tensor: Any) -> tuple[float, int] | None:
    q = tensor.quantization
    if q is None or q.scale is None or len(q.scale) != 1 or len(q.zeroPoint) != 1:
        return None
    return float(q.scale[0]), int(q.zeroPoint[0])


def _rewire(graph: Any, old: int, new: int) -> None:
    """Make every reader of tensor ``old`` (ops and graph outputs) read tensor ``new``; the
    graph's output keeps its name by giving ``new`` the name of ``old``."""
    for op in graph.operators:
        op.inputs = [new if i == old else i for i in op.inputs]
    if old in list(graph.outputs):
        graph.outputs = [new if i == old else i for i in graph.outputs]
        graph.tensors[new].name = graph.tensors[old].name


def _prune_operator_codes(model: Any) -> None:
    """Drop the operator codes no op uses any more (so op-code tables list what runs)."""
    used = sorted({op.opcodeIndex for graph in model.subgraphs for op in graph.operators})
    new_index = {old: new for new, old in enumerate(used)}
    model.operatorCodes = [model.operatorCodes[i] for i in used]
    for graph in model.subgraphs:
        for op in graph.operators:
            op.opcodeIndex = new_index[op.opcodeIndex]


# Bytes per element and the integer range of the tensor types an SR graph uses.
_ITEM_SIZE = {"FLOAT32": 4, "FLOAT16": 2, "INT32": 4, "UINT8": 1, "INT64": 8, "INT8": 1, "INT16": 2,
              "BOOL": 1}
_INT_RANGE = {"UINT8": (0, 255), "INT8": (-128, 127), "INT16": (-32768, 32767),
              "INT32": (-2**31, 2**31 - 1), "INT64": (-2**63, 2**63 - 1)}
MAX_DIM = 1 << 24  # larger than any dimension a phone SR graph has, small enough to allocate


def check_tflite(content: bytes, source: str = "model") -> None:
    """:func:`check_model`, as the one-line UserError a user's damaged file deserves."""
    from keras_sr.errors import UserError

    try:
        check_model(content)
    except ValueError as exc:
        raise UserError(f"{source}: damaged TFLite model ({exc})") from None


def check_model(content: bytes) -> None:
    """Raise ValueError, with what is wrong, for a flatbuffer that LiteRT could crash on.

    LiteRT's own verifier checks the flatbuffer's layout, not its values: a single flipped bit
    that makes a zero point -256 passes it and crashes the int8 kernels (found by
    tests/test_fuzz.py). Checked here: op codes, tensor and buffer indices in range; constant
    buffers of the size their shape and type need; quantization scales finite and positive,
    zero points within the type's range, one per channel or one per tensor.
    """
    try:
        model = read(content)
    except Exception as exc:  # noqa: BLE001 (the object API fails in many ways on damage)
        raise ValueError(f"unreadable flatbuffer ({type(exc).__name__})") from None
    types = {v: k for k, v in vars(schema().TensorType).items() if not k.startswith("_")}
    buffers = model.buffers or []
    codes = model.operatorCodes or []
    for g, graph in enumerate(model.subgraphs or []):
        tensors = graph.tensors or []
        for index in [*(graph.inputs if graph.inputs is not None else ()),
                      *(graph.outputs if graph.outputs is not None else ())]:
            if not 0 <= index < len(tensors):
                raise ValueError(f"subgraph {g}: input/output tensor {index} does not exist")
        for i, op in enumerate(graph.operators or []):
            if not 0 <= op.opcodeIndex < len(codes):
                raise ValueError(f"op {i}: op code {op.opcodeIndex} does not exist")
            for index in [*(op.inputs if op.inputs is not None else ()),
                          *(op.outputs if op.outputs is not None else ())]:
                if not -1 <= index < len(tensors):
                    raise ValueError(f"op {i}: tensor {index} does not exist")
        for t, tensor in enumerate(tensors):
            _check_tensor(t, tensor, types.get(tensor.type, f"type {tensor.type}"), buffers)


def _check_tensor(t: int, tensor: Any, kind: str, buffers: list) -> None:
    shape = [int(v) for v in (tensor.shape if tensor.shape is not None else ())]
    if any(not -1 <= d <= MAX_DIM for d in shape):
        raise ValueError(f"tensor {t}: shape {shape} out of range")
    if not 0 <= tensor.buffer < max(len(buffers), 1):
        raise ValueError(f"tensor {t}: buffer {tensor.buffer} does not exist")
    data = getattr(buffers[tensor.buffer], "data", None) if buffers else None
    if data is not None and len(data) and kind in _ITEM_SIZE:
        if min(shape, default=1) < 0 or len(data) != int(np.prod(shape)) * _ITEM_SIZE[kind]:
            raise ValueError(f"tensor {t}: {len(data)} bytes of data for shape {shape} {kind}")
    q = tensor.quantization
    if q is None or q.scale is None or not len(q.scale):
        return
    scales = np.asarray(q.scale, np.float64)
    zeros = np.asarray(q.zeroPoint if q.zeroPoint is not None else [0] * len(scales), np.int64)
    if not np.all(np.isfinite(scales)) or np.any(scales <= 0):
        raise ValueError(f"tensor {t}: quantization scale {scales.tolist()} not finite and positive")
    low, high = _INT_RANGE.get(kind, (-2**63, 2**63 - 1))
    if len(zeros) != len(scales) or np.any(zeros < low) or np.any(zeros > high):
        raise ValueError(f"tensor {t}: zero point {zeros.tolist()} outside {kind}")
    if len(scales) > 1:
        axis = int(q.quantizedDimension)
        if not 0 <= axis < len(shape) or shape[axis] != len(scales):
            raise ValueError(f"tensor {t}: {len(scales)} scales for shape {shape} axis {axis}")



# int8 ops whose output keeps its input's scale (TFLite requires it), and ops that read an
# input of any scale (they requantize, or, CONV_2D, scale their bias with it).
SCALE_KEEPING_OPS = ("DEPTH_TO_SPACE", "SPACE_TO_DEPTH", "MAX_POOL_2D", "REDUCE_MAX", "RESHAPE",
                     "STRIDED_SLICE")
ANY_SCALE_READERS = ("CONV_2D", "ADD", "MUL", "SUM", "SOFTMAX", "LOGISTIC", "TANH", "RELU",
                     "LEAKY_RELU", "PRELU", "QUANTIZE")
FREE_SCALE_MAKERS = ("CONV_2D", "ADD", "MUL", "SUM", "LEAKY_RELU", "PRELU")


def range_groups(model: Any) -> list[list[int]]:
    """The int8 activation tensors whose range can change, as groups that change together: a
    tensor made by an op free to choose its output scale (a convolution, ADD, MUL, ...), with
    the tensors that scale-keeping ops (depth-to-space, max pooling, ...) make from it, when
    every reader of the group reads any scale (:data:`ANY_SCALE_READERS`; a CONV_2D reader's
    int32 bias is requantized, :func:`narrow_range`). Tensors in pixel units (scale 1, the
    pinned input, output and residual chain) and the graph output are left out. In graph order."""
    graph = model.subgraphs[0]
    names = op_names(model)
    readers: dict[int, list[tuple[str, Any, int]]] = {}
    for op, name in zip(graph.operators, names):
        for position, index in enumerate(op.inputs):
            readers.setdefault(index, []).append((name, op, position))
    outputs = set(graph.outputs)
    groups = []
    for op, name in zip(graph.operators, names):
        if name not in FREE_SCALE_MAKERS:
            continue
        group, frontier, ok = [], [op.outputs[0]], True
        while frontier and ok:
            index = frontier.pop()
            quant = _quant(graph.tensors[index])
            if index in outputs or quant is None or quant[0] == 1.0 or not readers.get(index):
                ok = False
                break
            group.append(index)
            for reader, reader_op, position in readers[index]:
                if reader in SCALE_KEEPING_OPS and position == 0:
                    frontier.append(reader_op.outputs[0])
                elif reader not in ANY_SCALE_READERS or (reader == "CONV_2D" and position != 0):
                    ok = False
        if ok:
            groups.append(group)
    return groups


def narrow_range(model: Any, group: list[int], fraction: float) -> None:
    """Scale the range of each int8 tensor in ``group`` (:func:`range_groups`) by ``fraction``
    (scale times ``fraction``, the same zero point: a ReLU output's 0..hi becomes
    0..fraction * hi; values beyond it saturate), and requantize the int32 bias of every
    CONV_2D reading one of them, whose scale is the input's scale times the weights' (TFLite
    checks that)."""
    graph = model.subgraphs[0]
    convs = [op for op, name in zip(graph.operators, op_names(model)) if name == "CONV_2D"]
    for index in group:
        tensor = graph.tensors[index]
        tensor.quantization.scale = np.asarray(tensor.quantization.scale, np.float32) * np.float32(fraction)
        input_scale = np.float64(tensor.quantization.scale[0])
        for op in convs:
            if op.inputs[0] != index or len(op.inputs) < 3 or op.inputs[2] < 0:
                continue
            weights, bias = graph.tensors[op.inputs[1]], graph.tensors[op.inputs[2]]
            buffer = model.buffers[bias.buffer]
            values = np.asarray(buffer.data, np.uint8).view(np.int32).astype(np.float64) / fraction
            buffer.data = np.clip(np.round(values), -2**31, 2**31 - 1).astype(np.int32).view(np.uint8)
            bias.quantization.scale = (np.asarray(weights.quantization.scale, np.float64)
                                       * input_scale).astype(np.float32)


def set_quantization(model: Any, group: list[int], scale: float, zero_point: int) -> None:
    """Give each int8 tensor in ``group`` (:func:`range_groups`) the step ``scale`` and
    ``zero_point`` (a learned range, :mod:`keras_sr.qat`), requantizing the int32 bias of every
    CONV_2D reading one of them as :func:`narrow_range` does."""
    graph = model.subgraphs[0]
    current = float(np.asarray(graph.tensors[group[0]].quantization.scale, np.float64)[0])
    narrow_range(model, group, scale / current)
    for index in group:
        graph.tensors[index].quantization.zeroPoint = np.asarray([zero_point], np.int64)
