"""TFLite export (int8, fp16, float32), its metadata, op list and dtypes, and the runtime."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from keras_sr import flatbuf
from keras_sr.cli import app
from keras_sr.errors import UserError
from keras_sr.export import convert, model_ops
from keras_sr.folding import deploy
from keras_sr.metadata import add_metadata, sr_metadata
from keras_sr.runtime import load_sr_model, read_metadata
from tests.sr_models import export, make_run

runner = CliRunner()
PRETRAINED = Path(__file__).parent.parent / "keras_sr" / "pretrained"
FORBIDDEN = {"CONCATENATION", "TILE", "DEQUANTIZE", "MUL", "SUB", "PAD", "CUSTOM"}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("export") / "run")


@pytest.fixture(scope="module")
def int8_file(run_dir):
    path = run_dir.parent / "model_int8.tflite"
    return path, export(run_dir, path, "int8")


def _io_tensors(content: bytes):
    graph = flatbuf.read(content).subgraphs[0]
    types = {v: k for k, v in vars(flatbuf.schema().TensorType).items() if not k.startswith("_")}
    return [(types[graph.tensors[i].type], graph.tensors[i]) for i in (*graph.inputs, *graph.outputs)]


@pytest.mark.slow
def test_int8_file_has_only_int8_builtin_ops_and_uint8_pixels(int8_file):
    path, report = int8_file
    content = path.read_bytes()
    ops = model_ops(content)
    assert ops == report.ops
    assert not set(ops) & FORBIDDEN, ops
    # Three 3x3 convs, the residual's 1x1 conv and its ADD; the clip was the ADD's saturation.
    assert sorted(ops) == sorted(["QUANTIZE", "CONV_2D", "CONV_2D", "CONV_2D", "CONV_2D", "ADD",
                                  "DEPTH_TO_SPACE", "QUANTIZE"]), ops
    assert ops[0] == "QUANTIZE" and ops[-2:] == ["DEPTH_TO_SPACE", "QUANTIZE"]
    for dtype, tensor in _io_tensors(content):
        assert dtype == "UINT8"
        # Pixel units: uint8 0..255 are the pixels themselves.
        assert list(tensor.quantization.scale) == [1.0] and list(tensor.quantization.zeroPoint) == [0]
        assert list(tensor.shapeSignature) == [1, -1, -1, 1]  # dynamic input


@pytest.mark.slow
def test_int8_metadata_round_trip_and_runtime(int8_file, run_dir, rng):
    path, report = int8_file
    meta = read_metadata(path.read_bytes())
    config = json.loads((run_dir / "config.json").read_text())
    assert meta == {"format": "keras_sr", "schema": 1, "scale": 2, "colors": 1, "input_range": [0, 255],
                    "input_dtype": "uint8", "quantization": "int8", "receptive_radius": 3,
                    "config": config, "version": meta["version"], "qat_steps": 0}
    model = load_sr_model(path)
    assert (model.scale, model.colors, model.receptive_radius, model.kind) == (2, 1, 3, "int8 tflite")
    assert model.runtime.startswith("ai-edge-litert")
    lr = rng.integers(0, 256, (13, 17, 1), dtype=np.uint8)
    out = model(lr)
    assert out.shape == (26, 34, 1) and out.dtype == np.uint8
    ref = load_sr_model(run_dir)(lr).astype(int)
    assert np.abs(out.astype(int) - ref).mean() < 3.0  # int8 tracks the float model
    assert report.quant.tflite_vs_float > 30.0
    assert "compatible with GPU delegate" in report.gpu_report


def _quantization(graph, index: int) -> tuple[list[float], list[int]]:
    q = graph.tensors[index].quantization
    return list(q.scale), list(q.zeroPoint)


def _ops(content: bytes, name: str) -> list:
    model = flatbuf.read(content)
    return [op for n, op in zip(flatbuf.op_names(model), model.subgraphs[0].operators) if n == name]


@pytest.fixture
def saturating(run_dir):
    """(deploy model, config, calibration patches) of the run with the first two sub-pixels'
    biases pushed to +400 and -400, far out of the pixel range."""
    from keras_sr.int8 import calibration_images, calibration_patches

    plain = load_sr_model(run_dir)
    config = plain.config
    network = deploy(plain.model, config)
    last = network.get_layer(f"conv_{config.num_convs - 1}")
    kernel, bias = last.get_weights()
    last.set_weights([kernel, bias + np.array([400.0, -400.0, 0.0, 0.0], np.float32)])
    return network, config, calibration_patches(calibration_images(None)[0], config, 8)


@pytest.mark.slow
def test_int8_output_is_in_pixel_units_and_clips(saturating, rng):
    """The ADD of the residual and what follows are whole pixels 0..255 (scale 1, zero point
    -128), repeat(x) holds x exactly, and the correction is signed whole pixels (scale 1, zero
    point 0): the int8 output is x + the correction, saturated to -128..127 and then to 0..255,
    even far out of range."""
    from keras_sr.runtime import TFLiteSRModel

    network, config, patches = saturating
    content = convert(network, config, "int8", patches=patches)
    model = flatbuf.read(content)
    graph = model.subgraphs[0]
    (add,) = _ops(content, "ADD")
    (d2s,) = _ops(content, "DEPTH_TO_SPACE")
    assert _quantization(graph, add.outputs[0]) == _quantization(graph, d2s.outputs[0]) == ([1.0], [-128])
    producers = {out: op for op in graph.operators for out in op.outputs}
    pins = sorted(_quantization(graph, i)[1][0] for i in add.inputs)
    assert [_quantization(graph, i)[0] for i in add.inputs] == [[1.0], [1.0]] and pins == [-128, 0]
    lr = rng.integers(0, 256, (13, 17, 1), dtype=np.uint8)
    content = add_metadata(content, sr_metadata(config, "int8"))
    out = TFLiteSRModel(content, read_metadata(content))(lr)[..., 0]
    x = lr[..., 0].astype(int)
    assert (out[0::2, 0::2] == np.minimum(x + 127, 255)).all()
    assert (out[0::2, 1::2] == np.maximum(x - 128, 0)).all()
    ref = np.clip(np.round(network(lr[None].astype(np.float32)).numpy()[0, ..., 0]), 0, 255)
    assert np.abs(out[1::2].astype(int) - ref[1::2]).mean() < 3.0
    # One rounding: the output is exactly x + the int8 correction (read from a cut-down copy
    # that ends at the conv feeding the ADD), saturated to 0..255.
    correction_conv = next(producers[i] for i in add.inputs
                           if graph.tensors[producers[i].inputs[1]].shape[1] == 3)
    cut = flatbuf.truncated(content, graph.operators.index(correction_conv) + 1)
    from keras_sr.profile import interpreter

    it = interpreter(cut, (1, *lr.shape))
    it.set_tensor(it.get_input_details()[0]["index"], lr[None])
    it.invoke()
    correction = it.get_tensor(correction_conv.outputs[0])[0].astype(int)  # scale 1, zero point 0
    expected = np.clip(lr.astype(int) + correction, 0, 255)  # repeat(x) + F, per sub-pixel
    import tensorflow as tf

    expected = tf.nn.depth_to_space(expected[None], config.scale).numpy()[0, ..., 0]
    np.testing.assert_array_equal(out, expected)


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["deploy", "plain"])
def test_dropping_the_clip_is_bit_identical(saturating, run_dir, monkeypatch, rng, layout):
    """The int8 clip ops after a pixel-unit output change no value: files exported with and
    without them agree bit for bit on saturating, noisy and real images, in the deploy layout
    and in the pass-through layout of the earlier bundled files."""
    from keras_sr.int8 import calibration_images

    network, config, patches = saturating
    if layout == "plain":
        network = load_sr_model(run_dir).model
    dropped = convert(network, config, "int8", patches=patches)
    monkeypatch.setattr(flatbuf, "drop_saturated_clip", lambda content: (content, []))
    kept = convert(network, config, "int8", patches=patches)
    assert {"MINIMUM", "RELU"} <= set(model_ops(kept)), model_ops(kept)
    last_conv = max(i for i, n in enumerate(model_ops(dropped)) if n in ("CONV_2D", "ADD"))
    assert not {"MINIMUM", "MAXIMUM", "RELU"} & set(model_ops(dropped)[last_conv:])
    kept, dropped = (add_metadata(c, sr_metadata(config, "int8")) for c in (kept, dropped))
    from keras_sr.runtime import TFLiteSRModel

    a, b = (TFLiteSRModel(c, read_metadata(c)) for c in (kept, dropped))
    images = [np.zeros((9, 11, 1), np.uint8), np.full((9, 11, 1), 255, np.uint8),
              rng.integers(0, 256, (31, 23, 1), dtype=np.uint8),
              (rng.integers(0, 2, (17, 19, 1)) * 255).astype(np.uint8),
              calibration_images(None)[0][0][..., :1]]
    for image in images:
        np.testing.assert_array_equal(a(image), b(image))


@pytest.mark.slow
def test_drop_saturated_clip_keeps_a_clip_that_clips(saturating, monkeypatch):
    """Float files keep their clip ops, and so does an int8 file whose clip would change a
    value: a MINIMUM bound below 255, or a RELU whose zero lies inside the int8 range."""
    network, config, patches = saturating
    content = convert(network, config, "float32")
    assert {"MINIMUM", "RELU"} <= set(model_ops(content)) or "MAXIMUM" in model_ops(content)
    assert flatbuf.drop_saturated_clip(content) == (content, [])
    monkeypatch.setattr(flatbuf, "drop_saturated_clip", lambda content: (content, []))
    kept = convert(network, config, "int8", patches=patches)
    monkeypatch.undo()
    assert flatbuf.drop_saturated_clip(kept)[1] == ["MINIMUM", "RELU"]

    def edited(name: str, edit) -> bytes:
        model = flatbuf.read(kept)
        (op,) = [op for n, op in zip(flatbuf.op_names(model), model.subgraphs[0].operators) if n == name]
        edit(model, op)
        return flatbuf.write(model)

    def lower_bound(model, op):  # MINIMUM(x, 250): clips 251..255
        tensor = model.subgraphs[0].tensors[op.inputs[1]]
        model.buffers[tensor.buffer].data = np.array([122], np.int8).view(np.uint8)

    def shift_zero(model, op):  # RELU at zero point -100: clips -128..-101
        for index in (op.inputs[0], op.outputs[0]):
            model.subgraphs[0].tensors[index].quantization.zeroPoint = [-100]

    assert flatbuf.drop_saturated_clip(edited("MINIMUM", lower_bound))[1] == ["RELU"]
    # (The MINIMUM before it stays too: its output's zero point no longer matches its input's.)
    assert flatbuf.drop_saturated_clip(edited("RELU", shift_zero))[1] == []


@pytest.mark.slow
@pytest.mark.parametrize("quantization,size", [("float32", None), ("fp16", (24, 20))])
def test_float_exports(run_dir, tmp_path, rng, quantization, size):
    path = tmp_path / f"m_{quantization}.tflite"
    report = export(run_dir, path, quantization, input_size=size)
    content = path.read_bytes()
    assert not set(model_ops(content)) & (FORBIDDEN - {"DEQUANTIZE"})
    (in_type, tensor), (out_type, _) = _io_tensors(content)
    assert in_type == out_type == "FLOAT32"
    shape = tensor.shapeSignature if tensor.shapeSignature is not None else tensor.shape
    assert list(shape) == [1, *(size or (-1, -1)), 1]
    assert read_metadata(content)["quantization"] == quantization
    model = load_sr_model(path)
    assert model.input_size == size
    lr = rng.integers(0, 256, (*(size or (11, 9)), 1), dtype=np.uint8)
    diff = np.abs(model(lr).astype(int) - load_sr_model(run_dir)(lr).astype(int))
    assert diff.max() <= (1 if quantization == "float32" else 2)
    assert report.quant.tflite_vs_float > 40.0


@pytest.mark.slow
def test_prelu_int8_converts_to_prelu_ops(tmp_path):
    run = make_run(tmp_path / "prelu", act_type="prelu", colors=3)
    report = export(run, tmp_path / "p.tflite", "int8")
    assert report.ops.count("PRELU") == 2 and not set(report.ops) & FORBIDDEN
    assert read_metadata((tmp_path / "p.tflite").read_bytes())["colors"] == 3


@pytest.mark.slow
def test_metadata_is_required(run_dir, tmp_path):
    plain = load_sr_model(run_dir)
    bare = convert(deploy(plain.model, plain.config), plain.config, "float32")
    with pytest.raises(UserError, match="not a keras_sr super-resolution model"):
        read_metadata(bare)
    with pytest.raises(UserError, match="not a TFLite model"):
        read_metadata(b"\x00" * 64)
    tagged = add_metadata(add_metadata(bare, {"format": "other"}), sr_metadata(plain.config, "float32"))
    assert read_metadata(tagged)["scale"] == 2  # replaced, not duplicated


def test_runtime_falls_back_to_tflite_runtime(monkeypatch):
    import importlib
    import types

    from keras_sr import runtime

    real = importlib.import_module

    def fake_import(name):
        if name == "ai_edge_litert.interpreter":
            raise SystemError("simulated")
        if name == "tflite_runtime.interpreter":
            return types.SimpleNamespace(Interpreter=object)
        return real(name)

    monkeypatch.setattr(runtime.importlib, "import_module", fake_import)
    assert runtime.tflite_interpreter()[1].startswith("tflite-runtime")


@pytest.mark.slow
def test_tflite_command(run_dir, tmp_path):
    out = tmp_path / "m.tflite"
    result = runner.invoke(app, ["tflite", str(run_dir), "-o", str(out), "--int8", "--calib-samples", "8"])
    assert result.exit_code == 0, result.output
    assert "ops: QUANTIZE CONV_2D" in result.output and "int8 vs float plain" in result.output
    assert "GPU delegate" in result.output
    assert read_metadata(out.read_bytes())["input_dtype"] == "uint8"
    assert [p.name for p in tmp_path.iterdir()] == ["m.tflite"]


@pytest.mark.parametrize("args,message", [
    (["--int8", "--fp16"], "choose one of"),
    (["--input-size", "12"], "size must look like HxW"),
    (["-o", "x.onnx"], "must end in .tflite"),
    (["-o", "/nonexistent/dir/m.tflite"], "output folder does not exist"),
    (["--qat-steps", "5"], "--qat-steps needs --int8"),
    (["--int8", "--qat-steps", "-1"], "--qat-steps needs --int8"),
    (["--int8", "--qat-ranges", "learned"], "--qat-ranges needs --qat-steps"),
    (["--int8", "--qat-val", "."], "--qat-val needs --qat-steps"),
    (["--int8", "--qat-steps", "5", "--qat-ranges", "lsq"], "--qat-ranges must be 'learned' or 'searched'"),
])
def test_tflite_command_errors(run_dir, tmp_path, args, message):
    base = ["tflite", str(run_dir), "-o", str(tmp_path / "m.tflite")]
    result = runner.invoke(app, base + args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "m.tflite").exists()


def test_library_errors_name_parameters_and_the_cli_names_flags(run_dir, tmp_path):
    """The same mistake in each front end's words: the library's parameters, the CLI's flags."""
    from keras_sr.export import export_tflite

    with pytest.raises(UserError) as caught:
        export_tflite(run_dir, tmp_path / "m.tflite", "float32", qat_steps=5)
    assert str(caught.value) == "qat_steps needs quantization int8 and a count of at least 0"
    result = runner.invoke(app, ["tflite", str(run_dir), "-o", str(tmp_path / "m.tflite"),
                                 "--qat-steps", "5"])
    assert "error: --qat-steps needs --int8 and a count of at least 0" in result.output, result.output
    # Only the listed parameters are rewritten, and only as whole words.
    error = UserError("size 3x3: sizes and input_size differ", params=("size",))
    assert error.in_terms_of({"size": "--size"}) == "--size 3x3: sizes and input_size differ"


@pytest.mark.parametrize("path", sorted(PRETRAINED.glob("*_int8.tflite")), ids=lambda p: p.name)
def test_bundled_int8_files_run_the_deploy_graph_without_clip_ops(path):
    """What ships: 3x3 convs, the residual's 1x1 conv and ADD, depth to space, and nothing
    after the ADD but depth to space and the uint8 output (no MINIMUM, MAXIMUM or RELU), with
    the ADD in pixel units; the op-code table lists only what runs."""
    content = path.read_bytes()
    model = flatbuf.read(content)
    ops = flatbuf.op_names(model)
    assert ops[0] == "QUANTIZE" and ops[-3:] == ["ADD", "DEPTH_TO_SPACE", "QUANTIZE"], ops
    assert set(ops) == {"QUANTIZE", "CONV_2D", "ADD", "DEPTH_TO_SPACE"}, ops
    assert ops.count("CONV_2D") == read_metadata(content)["config"]["num_blocks"] + 3
    assert len(model.operatorCodes) == len(set(ops))
    graph = model.subgraphs[0]
    (add,) = _ops(content, "ADD")
    assert _quantization(graph, add.outputs[0]) == ([1.0], [-128])
    assert sorted(_quantization(graph, i) for i in add.inputs) == [([1.0], [-128]), ([1.0], [0])]


def test_metadata_schema_is_versioned():
    """New files say their schema; files without it (all before) read as version 1; a newer
    schema is refused in one line rather than misread."""
    from keras_sr.config import ModelConfig
    from keras_sr.metadata import SCHEMA_VERSION, SRMetadata

    written = sr_metadata(ModelConfig(), "int8")
    assert written["schema"] == SCHEMA_VERSION
    assert SRMetadata.from_dict(written) == SRMetadata(2, 1, 6, "int8", SCHEMA_VERSION)
    old = {k: v for k, v in written.items() if k != "schema"}
    assert SRMetadata.from_dict(old).schema == 1
    bundled = (PRETRAINED / "ecbsr_x2_m4c16_relu_y_int8.tflite").read_bytes()
    before = add_metadata(bundled, old)  # as every file written before the field existed
    assert "schema" not in read_metadata(before) and read_metadata(before)["scale"] == 2
    for schema, message in [(SCHEMA_VERSION + 1, "newer than this keras_sr reads"), ("1", "positive integer")]:
        with pytest.raises(ValueError, match=message):
            SRMetadata.from_dict({**written, "schema": schema})
    content = add_metadata(bundled, {**written, "schema": SCHEMA_VERSION + 1})
    with pytest.raises(UserError, match="invalid 'keras_sr' metadata .*upgrade keras-sr"):
        read_metadata(content)
