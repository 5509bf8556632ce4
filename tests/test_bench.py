"""``sr-tool bench``: every form of a run on one input, the table and the ratios, error paths."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from keras_sr.bench import bench
from keras_sr.cli import app
from tests.sr_models import export, make_run

runner = CliRunner()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("bench") / "run")


@pytest.mark.slow
def test_bench_compares_all_forms_of_a_run(run_dir):
    results = bench([run_dir], (12, 16), runs=2, warmup=1)
    assert [r.name for r in results] == ["int8 tflite", "float32 tflite", "float keras (plain)",
                                         "training-time keras"]
    assert [r.kind for r in results] == ["int8 tflite", "float32 tflite", "float keras",
                                         "training-time keras"]
    for r in results:
        assert 0 < r.min_ms <= r.median_ms <= r.max_ms
        assert r.output_mpix_per_s > 0
    assert results[0].runtime.startswith("ai-edge-litert")
    assert results[3].runtime.startswith("tensorflow")


@pytest.mark.slow
def test_bench_command_prints_table_ratios_and_runtime(run_dir, tmp_path):
    model = tmp_path / "m.tflite"
    export(run_dir, model, "int8", report=False)
    result = runner.invoke(app, ["bench", str(model), str(run_dir), "--no-compare", "--size", "10x14",
                                 "--runs", "2", "--warmup", "0", "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert "TFLite runtime: ai-edge-litert" in result.output
    assert "m.tflite" in result.output and "1.00x" in result.output and "median" in result.output


@pytest.mark.parametrize("args,message", [
    (["--runs", "0"], "--runs must be >= 1"),
    (["--size", "0x5"], "size must be positive"),
    (["--threads", "0"], "--threads must be in 1.."),
])
def test_bench_command_errors(run_dir, args, message):
    result = runner.invoke(app, ["bench", str(run_dir), "--no-compare", "--size", "8x8", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_bench_refuses_models_that_cannot_share_an_input(run_dir, tmp_path):
    other = make_run(tmp_path / "x3", scale=3)
    result = runner.invoke(app, ["bench", str(run_dir), str(other), "--no-compare", "--size", "8x8",
                                 "--runs", "1"])
    assert result.exit_code == 2 and "cannot share an input" in result.output, result.output


def test_bench_compare_needs_a_convertible_model(tmp_path):
    model = tmp_path / "m.tflite"
    model.write_bytes(b"x")
    result = runner.invoke(app, ["bench", str(model), "--compare"])
    assert result.exit_code == 2 and "--compare needs a run directory" in result.output, result.output
