"""Tiny SR models for the export, upscale and bench tests (a few channels, CPU, seconds)."""

from __future__ import annotations

from pathlib import Path

from keras_sr import ModelConfig, build_model, save_run
from tests.conftest import randomize_ecb_model

TINY = {"num_blocks": 1, "channels": 4}


def make_run(run_dir: Path, seed: int = 0, **fields) -> Path:
    """A run directory of a tiny ECBSR with O(1) random branch weights (x2, Y, ReLU by default)."""
    config = ModelConfig(**{"scale": 2, "colors": 1, "act_type": "relu", **TINY, **fields})
    model = build_model(config)
    randomize_ecb_model(model, seed)
    save_run(model, config, run_dir)
    return run_dir


def export(run_dir: Path, output: Path, quantization: str = "int8", **kwargs):
    """Export with the bundled samples as calibration (few patches: these are tests)."""
    from keras_sr.export import export_tflite

    kwargs.setdefault("calib_samples", 16)
    return export_tflite(run_dir, output, quantization, **kwargs)
