"""Run directories and ``sr-tool fold``, through typer's CliRunner, error paths included."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from keras_sr import ModelConfig, build_model, load_plain, load_run, save_run
from keras_sr.cli import app
from keras_sr.errors import UserError
from keras_sr.folding import deploy
from tests.conftest import randomize_ecb_model

runner = CliRunner()


@pytest.fixture
def run_dir(tmp_path):
    config = ModelConfig(scale=3, num_blocks=1, channels=4, colors=1, act_type="prelu")
    model = build_model(config)
    randomize_ecb_model(model)
    save_run(model, config, tmp_path / "run")
    return tmp_path / "run", model


def test_run_dir_round_trip(run_dir, rng):
    path, model = run_dir
    loaded, config = load_run(path)
    assert config == ModelConfig(scale=3, num_blocks=1, channels=4, colors=1, act_type="prelu")
    x = rng.uniform(0, 255, (1, 9, 11, 1)).astype(np.float32)
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())


def test_fold_command_writes_an_equivalent_plain_model(run_dir, tmp_path, rng):
    path, model = run_dir
    out = tmp_path / "plain.keras"
    result = runner.invoke(app, ["fold", str(path), "-o", str(out), "--check-size", "31x29"])
    assert result.exit_code == 0, result.output
    assert "max abs difference" in result.output
    diff = float(result.output.split("before clip): ")[1].split()[0])
    assert diff <= 1e-3
    plain = load_plain(out)
    x = rng.uniform(0, 255, (1, 9, 11, 1)).astype(np.float32)
    np.testing.assert_allclose(plain(x).numpy(), model(x).numpy(), atol=1e-3)
    assert list(tmp_path.glob(".*")) == []  # no temporary files left behind
    # Both parameter counts, each named: the .keras (residual as a channel) and the deploy graph.
    config = load_run(path)[1]
    deploy_params = deploy(plain, config).count_params()
    assert deploy_params != plain.count_params()
    assert (f"{plain.count_params():,} parameters in the .keras; {deploy_params:,} in the deploy "
            f"network of the .tflite files") in result.output


def test_a_folded_file_holds_its_config_and_older_files_still_load(tmp_path):
    """The .keras written by fold carries the run's config (with_idt, which its layers cannot
    show); a file without it (as written before) gets the config read from its layers; a file
    whose stored config contradicts its layers is refused."""
    import dataclasses
    import zipfile

    from keras_sr import archs
    from keras_sr.runs import PLAIN_CONFIG_ENTRY, fold_run
    from keras_sr.runtime import load_keras_sr_model

    config = ModelConfig(scale=2, num_blocks=1, channels=4, act_type="relu", with_idt=True,
                         depth_multiplier=1.5)
    model = build_model(config)
    randomize_ecb_model(model)
    save_run(model, config, tmp_path / "run")
    fold_run(tmp_path / "run", tmp_path / "new.keras")
    assert load_keras_sr_model(tmp_path / "new.keras").config == config
    plain = archs.family(config).fold(model, config)
    plain.save(str(tmp_path / "old.keras"))
    inferred = dataclasses.replace(config, with_idt=False, depth_multiplier=2.0)
    assert load_keras_sr_model(tmp_path / "old.keras").config == inferred
    with zipfile.ZipFile(tmp_path / "old.keras", "a") as archive:
        archive.writestr(PLAIN_CONFIG_ENTRY, json.dumps(dataclasses.replace(config, scale=3).to_dict()))
    with pytest.raises(UserError, match="does not match its layers"):
        load_keras_sr_model(tmp_path / "old.keras")


def test_fold_refuses_a_config_that_is_not_the_model():
    from keras_sr.folding import fold

    model = build_model(ModelConfig(scale=2, num_blocks=1, channels=4))
    with pytest.raises(UserError, match="is not the network of"):
        fold(model, ModelConfig(scale=2, num_blocks=2, channels=4))


@pytest.mark.parametrize("setup,message", [
    (lambda d: None, "not a run directory"),
    (lambda d: d.mkdir(), "config.json: no such file"),
    (lambda d: (d.mkdir(), (d / "config.json").write_text("{oops")), "not a valid config file"),
    (lambda d: (d.mkdir(), (d / "config.json").write_text('{"scale": 5}')), "scale must be one of"),
    (lambda d: (d.mkdir(), (d / "config.json").write_text('{"colour": 1}')), "unknown config field"),
    (lambda d: (d.mkdir(), (d / "config.json").write_text("{}")), "no model.weights.h5"),
    (lambda d: (d.mkdir(), (d / "config.json").write_text("{}"),
                (d / "model.weights.h5").write_bytes(b"junk")), "cannot load weights"),
])
def test_fold_command_rejects_bad_run_dirs(tmp_path, setup, message):
    bad = tmp_path / "bad"
    setup(bad)
    result = runner.invoke(app, ["fold", str(bad), "-o", str(tmp_path / "p.keras")])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "p.keras").exists()


def test_fold_command_rejects_weights_of_another_architecture(run_dir, tmp_path):
    path, _ = run_dir
    (path / "config.json").write_text(json.dumps({"scale": 3, "num_blocks": 2, "channels": 4}))
    result = runner.invoke(app, ["fold", str(path), "-o", str(tmp_path / "p.keras")])
    assert result.exit_code == 2 and "cannot load weights" in result.output


@pytest.mark.parametrize("args,message", [
    (["-o", "plain.h5"], "must end in .keras"),
    (["-o", "missing/dir/p.keras"], "output folder does not exist"),
    (["-o", "p.keras", "--check-size", "big"], "size must look like HxW"),
])
def test_fold_command_rejects_bad_options(run_dir, tmp_path, monkeypatch, args, message):
    path, _ = run_dir
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["fold", str(path), *args])
    assert result.exit_code == 2 and message in result.output


def test_load_plain_rejects_other_files(tmp_path):
    (tmp_path / "x.keras").write_bytes(b"not a zip")
    with pytest.raises(UserError, match="cannot load model"):
        load_plain(tmp_path / "x.keras")
    with pytest.raises(UserError, match="no such file"):
        load_plain(tmp_path / "none.keras")


def test_presets_and_config_errors():
    assert ModelConfig.preset("m4c16", scale=4).channels == 16
    assert ModelConfig.preset("M10C32").num_blocks == 10
    with pytest.raises(UserError, match="unknown preset"):
        ModelConfig.preset("m3c3")
    with pytest.raises(UserError, match="act_type"):
        ModelConfig(act_type="gelu")


def test_version_and_help_do_not_need_tensorflow():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and "sr-tool 0.1.0" in result.output
    import subprocess, sys
    code = "import sys, keras_sr; import keras_sr.cli; assert 'tensorflow' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
