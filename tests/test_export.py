"""TFLite export (int8, fp16, float32), its metadata, op list and dtypes, and the runtime."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from keras_sr.cli import app
from keras_sr.errors import UserError
from keras_sr.export import add_metadata, convert, model_ops, sr_metadata
from keras_sr.runtime import load_sr_model, read_metadata
from tests.sr_models import export, make_run

runner = CliRunner()
FORBIDDEN = {"ADD", "CONCATENATION", "TILE", "DEQUANTIZE", "MUL", "SUB", "PAD", "CUSTOM"}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("export") / "run")


@pytest.fixture(scope="module")
def int8_file(run_dir):
    path = run_dir.parent / "model_int8.tflite"
    return path, export(run_dir, path, "int8")


def _io_tensors(content: bytes):
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(content))
    graph = model.subgraphs[0]
    types = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
    return [(types[graph.tensors[i].type], graph.tensors[i]) for i in (*graph.inputs, *graph.outputs)]


@pytest.mark.slow
def test_int8_file_has_only_int8_builtin_ops_and_uint8_pixels(int8_file):
    path, report = int8_file
    content = path.read_bytes()
    ops = model_ops(content)
    assert ops == report.ops
    assert not set(ops) & FORBIDDEN, ops
    assert set(ops) <= {"QUANTIZE", "CONV_2D", "DEPTH_TO_SPACE", "MINIMUM", "MAXIMUM", "RELU"}, ops
    assert ops[0] == "QUANTIZE" and ops[-1] == "QUANTIZE" and ops.count("CONV_2D") == 3
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
    assert meta == {"format": "keras_sr", "scale": 2, "colors": 1, "input_range": [0, 255],
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


def _tensor_quantization(content: bytes) -> dict[str, tuple[list[float], list[int]]]:
    from tensorflow.lite.tools import flatbuffer_utils

    graph = flatbuffer_utils.read_model_from_bytearray(bytearray(content)).subgraphs[0]
    return {t.name.decode(): (list(t.quantization.scale), list(t.quantization.zeroPoint))
            for t in graph.tensors
            if t.quantization is not None and t.quantization.scale is not None
            and len(t.quantization.scale) == 1}  # per-tensor: activations, not weights


@pytest.mark.slow
def test_int8_output_is_in_pixel_units_and_clips(run_dir, rng):
    """From the last conv on, int8 tensors are whole pixels 0..255 (scale 1, zero point -128):
    the conv's rounding is the final one and its saturation the clip, even far out of range."""
    from keras_sr.export import calibration_images, calibration_patches
    from keras_sr.runtime import TFLiteSRModel

    plain = load_sr_model(run_dir)
    config = plain.config
    last = plain.model.get_layer(f"conv_{config.num_convs - 1}")
    kernel, bias = last.get_weights()
    last.set_weights([kernel, bias + np.array([400.0, -400.0, 0.0, 0.0], np.float32)])
    patches = calibration_patches(calibration_images(None)[0], config, 8)
    content = convert(plain.model, config, "int8", patches=patches)
    pinned = {name: q for name, q in _tensor_quantization(content).items()
              if any(key in name for key in ("conv_2/BiasAdd", "DepthToSpace", "Minimum"))}
    assert len(pinned) >= 3 and all(q == ([1.0], [-128]) for q in pinned.values()), pinned
    lr = rng.integers(0, 256, (13, 17, 1), dtype=np.uint8)
    content = add_metadata(content, sr_metadata(config, "int8"))
    out = TFLiteSRModel(content, read_metadata(content))(lr)[..., 0]
    assert (out[0::2, 0::2] == 255).all() and (out[0::2, 1::2] == 0).all()
    ref = plain(lr)[..., 0].astype(int)
    assert np.abs(out[1::2].astype(int) - ref[1::2]).mean() < 3.0


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
    bare = convert(plain.model, plain.config, "float32")
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
])
def test_tflite_command_errors(run_dir, tmp_path, args, message):
    base = ["tflite", str(run_dir), "-o", str(tmp_path / "m.tflite")]
    result = runner.invoke(app, base + args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "m.tflite").exists()
