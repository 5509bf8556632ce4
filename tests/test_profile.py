"""Per-op profile (cut-down copies of a graph), MAC counts, ``bench --profile`` and the
side-by-side bench of any .tflite files (tools/bench_peers.py)."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from keras_sr import flatbuf
from keras_sr.cli import app
from keras_sr.export import convert, model_ops
from keras_sr.profile import interpreter, profile_ops
from tests.sr_models import export, make_run

runner = CliRunner()
SIZE = (12, 18)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """(int8 file, float32 file without metadata) of a tiny x2 Y run: convs 1 -> 4 -> 4 -> 4."""
    from keras_sr.folding import deploy
    from keras_sr.runtime import load_sr_model

    folder = tmp_path_factory.mktemp("profile")
    run = make_run(folder / "run")
    int8 = folder / "m_int8.tflite"
    export(run, int8, "int8", report=False)
    plain = load_sr_model(run)
    bare = folder / "bare.tflite"
    bare.write_bytes(convert(deploy(plain.model, plain.config), plain.config, "float32"))
    return int8, bare


def _run(content: bytes, lr: np.ndarray) -> list[np.ndarray]:
    it = interpreter(content, lr.shape)
    it.set_tensor(it.get_input_details()[0]["index"], lr)
    it.invoke()
    return [it.get_tensor(d["index"]) for d in it.get_output_details()]


@pytest.mark.slow
def test_truncated_copies_keep_every_live_tensor(files, rng):
    content = files[0].read_bytes()
    names = model_ops(content)
    lr = rng.integers(0, 256, (1, *SIZE, 1), dtype=np.uint8)
    (full,) = _run(content, lr)
    (whole,) = _run(flatbuf.truncated(content, len(names)), lr)
    assert whole.dtype == np.uint8  # the last op's output: the graph output itself
    np.testing.assert_array_equal(whole, full)
    # Cut just before the ADD: both of its inputs (the correction and repeat(x)) are outputs,
    # so neither branch is dead code in the copy.
    add = names.index("ADD")
    outputs = _run(flatbuf.truncated(content, add), lr)
    assert sorted(o.shape[-1] for o in outputs) == [4, 4] and len(outputs) == 2
    with pytest.raises(ValueError):
        flatbuf.truncated(content, 0)


@pytest.mark.slow
def test_profile_times_every_op_and_counts_macs(files):
    content = files[0].read_bytes()
    result = profile_ops(content, SIZE, threads=1, runs=3, warmup=1)
    assert [op.name for op in result.ops] == model_ops(content)
    h, w = SIZE
    # 3x3 convs 1 -> 4, 4 -> 4, 4 -> 4 and the residual's 1x1 conv 1 -> 4, per LR pixel.
    assert result.macs == h * w * (9 * 4 + 9 * 16 + 9 * 16 + 4)
    assert sorted(op.macs for op in result.ops if op.macs) == sorted([h * w * m for m in (36, 144, 144, 4)])
    assert result.ops[-1].output_shape == (1, 2 * h, 2 * w, 1)
    assert result.total_ms > 0
    assert sum(op.ms for op in result.ops) == pytest.approx(result.total_ms, rel=1e-6)


@pytest.mark.slow
def test_bench_profile_command(files, tmp_path):
    int8, _ = files
    result = runner.invoke(app, ["bench", str(int8), "--profile", "--size", "12x18", "--runs", "2",
                                 "--warmup", "0", "--threads", "1"])
    assert result.exit_code == 0, result.output
    for text in ("QUANTIZE", "CONV_2D", "ADD", "DEPTH_TO_SPACE", "whole graph", "GMAC/s"):
        assert text in result.output
    result = runner.invoke(app, ["bench", str(tmp_path), "--profile"])
    assert result.exit_code == 2 and "--profile needs a .tflite file" in result.output, result.output


@pytest.mark.slow
def test_bench_peers_times_files_with_and_without_metadata(files, capsys):
    from keras_sr.profile import file_scale
    from tools.bench_peers import main

    int8, bare = files
    assert file_scale(bare.read_bytes(), str(bare)) == 2  # probed: no metadata
    assert main([str(int8), str(bare), "--output-size", "24x36", "--threads", "1,2", "--runs", "2",
                 "--warmup", "0"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()
            if line.startswith(("m_int8", "bare"))]
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("m_int8.tflite", "1", "12x18x1", "x2"), ("bare.tflite", "1", "12x18x1", "x2"),
        ("m_int8.tflite", "2", "12x18x1", "x2"), ("bare.tflite", "2", "12x18x1", "x2")]
    assert all(float(r[5]) > 0 for r in rows)
    assert main([str(int8), "--output-size", "25x36"]) == 2  # not a multiple of the scale


def test_peer_inputs_honour_their_quantization():
    from keras_sr.profile import pixels_for

    detail = {"shape": (1, 4, 5, 3), "dtype": np.uint8, "quantization": (0.976, 3)}
    values = pixels_for(detail).astype(float)
    pixels = np.random.default_rng(0).uniform(0, 255, (1, 4, 5, 3))
    np.testing.assert_array_equal(values, np.clip(np.round(pixels / 0.976 + 3), 0, 255))
