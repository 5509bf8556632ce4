"""The eSR family (edge-SR: MAX, TM, TR) and the family registry: config, fold, int8, end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from keras_sr import archs
from keras_sr.archs import esr
from keras_sr.cli import app
from keras_sr.config import ESRConfig, ModelConfig, config_from_dict, load_config, preset_config
from keras_sr.errors import UserError
from keras_sr.runs import _preclip, load_plain, load_run, max_abs_diff, save_run

runner = CliRunner()


def _random_esr(config: ESRConfig, seed: int = 0):
    """An eSR network with every filter tap at O(0.1): the keys' softmax is far from uniform
    and far from one-hot, so a wrong logit scale or channel split shows."""
    model = esr.build(config)
    (kernel,) = model.get_layer("filter").get_weights()
    rng = np.random.default_rng(seed)
    model.get_layer("filter").set_weights([rng.uniform(-0.3, 0.3, kernel.shape).astype(np.float32)])
    return model


MODES = [ESRConfig(scale=2, mode="max", kernel_size=3, channels=4),
         ESRConfig(scale=3, mode="tm", kernel_size=5, channels=3),
         ESRConfig(scale=4, mode="tr", kernel_size=7, channels=2)]


@pytest.mark.parametrize("config", MODES, ids=lambda c: c.literature_name)
def test_fold_is_exact_borders_included(config, rng):
    model = _random_esr(config)
    plain = esr.fold(model, config)
    x = rng.uniform(0, 255, (1, 11, 13, 1)).astype(np.float32)
    y_train, y_plain = _preclip(model)(x).numpy(), _preclip(plain)(x).numpy()
    assert y_train.shape == (1, 11 * config.scale, 13 * config.scale, 1)
    assert np.abs(y_train).max() > 20
    np.testing.assert_allclose(y_plain, y_train, rtol=0, atol=1e-3)
    assert esr.plain_config(plain) == config


@pytest.mark.parametrize("config", MODES[1:], ids=lambda c: c.literature_name)
def test_a_fold_without_the_logit_scale_is_caught(config, monkeypatch):
    model = _random_esr(config)
    monkeypatch.setattr(esr, "PIXEL_UNIT", 1.0)  # the keys would stay 255x too large
    assert max_abs_diff(model, esr.fold(model, config), (11, 13)) > 1.0


def test_max_forms_agree():
    config = MODES[0]
    model = _random_esr(config)
    assert max_abs_diff(esr.fold(model, config, "reduce"), esr.fold(model, config, "chain"), (9, 7)) == 0


def test_paper_initialization_starts_near_the_nearest_pixel(rng):
    """Every filter's centre tap is 1: an untrained eSR-MAX is at least the nearest pixel."""
    config = ESRConfig(scale=2, mode="max", kernel_size=7, channels=4)
    kernel = esr.build(config).get_layer("filter").get_weights()[0]
    np.testing.assert_array_equal(kernel[3, 3], np.ones_like(kernel[3, 3]))
    glorot_std = (2 / (49 + 49 * kernel.shape[-1])) ** 0.5  # the other taps: Xavier normal
    assert 0.7 * glorot_std < np.std(np.delete(kernel.reshape(49, -1), 24, axis=0)) < 1.3 * glorot_std


def test_names_and_configs():
    config = ESRConfig.parse("eSR-TM_K7_C4", scale=3)
    assert config == ESRConfig(scale=3, mode="tm", kernel_size=7, channels=4)
    assert config.literature_name == "eSR-TM_s3_K7_C4" and config.receptive_radius == 3
    assert ESRConfig.parse("esr-max_s2_K5_C2") == ESRConfig(2, "max", 5, 2)
    assert preset_config("m4c16", 2) == ModelConfig.preset("m4c16", scale=2)
    assert config_from_dict(config.to_dict()) == config
    # An old config.json, without "family", is ECBSR; a new ECBSR one says nothing more.
    assert config_from_dict({"scale": 2, "num_blocks": 4, "channels": 16}).family == "ecbsr"
    assert "family" not in ModelConfig().to_dict()
    for bad, message in [("eSR-MAX_K7", "needs KN and CN"), ("eSR-MAX_K8_C4", "odd"),
                         ("eSR-ABC_K7_C4", "mode must be"), ("eSR-MAX_s4_K7_C4", "x4 name")]:
        with pytest.raises(UserError, match=message):
            preset_config(bad, 2)
    with pytest.raises(UserError, match="unknown model family"):
        config_from_dict({"family": "edsr"})
    with pytest.raises(UserError, match="Y-only"):
        preset_config("eSR-MAX_K7_C4", 2, colors=3)


def test_registry_finds_each_family_from_a_plain_model(tmp_path):
    config = MODES[1]
    save_run(_random_esr(config), config, tmp_path / "run")
    assert load_config(tmp_path / "run" / "config.json") == config
    plain = load_plain(tmp_path / "run")
    assert archs.plain_config(plain) == config
    path = tmp_path / "plain.keras"
    plain.save(str(path))
    assert archs.plain_config(load_plain(path)) == config
    from keras_sr.models import build_plain_model

    ecbsr = ModelConfig(scale=2, num_blocks=1, channels=4)
    assert archs.plain_config(build_plain_model(ecbsr)) == ecbsr


@pytest.mark.slow
@pytest.mark.parametrize("name", ["eSR-MAX_K5_C3", "eSR-TM_K3_C2", "eSR-TR_K3_C2"])
def test_train_fold_int8_eval_upscale_end_to_end(tmp_path, rng, name):
    from keras_sr import flatbuf

    data = tmp_path / "data"
    data.mkdir()
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (40, 36, 3), dtype=np.uint8)).save(data / f"{i}.png")
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", "--data", str(data), "--scale", "2", "--preset", name,
                                 "--steps", "6", "--batch", "2", "--patch", "12", "--ckpt-every", "3",
                                 "-o", str(run)])
    assert result.exit_code == 0, result.output
    config = load_config(run / "config.json")
    assert config.literature_name == ESRConfig.parse(name, 2).literature_name
    model, _ = load_run(run)
    folded = tmp_path / "plain.keras"
    result = runner.invoke(app, ["fold", str(run), "-o", str(folded), "--check-size", "17x19"])
    assert result.exit_code == 0, result.output
    assert float(result.output.split("before clip): ")[1].split()[0]) <= 1e-3
    tflite = tmp_path / "esr_int8.tflite"
    result = runner.invoke(app, ["tflite", str(folded), "-o", str(tflite), "--int8", "--calib-samples", "8"])
    assert result.exit_code == 0, result.output
    ops = flatbuf.content_op_names(tflite.read_bytes())
    assert set(ops) <= esr.INT8_OPS and "CONV_2D" in ops, ops
    assert ("REDUCE_MAX" in ops) == (config.mode == "max") and ("SOFTMAX" in ops) == (config.mode != "max")
    result = runner.invoke(app, ["eval", str(tflite), "--data", str(data), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    assert report["datasets"][0]["mean"]["model"]["psnr"] > 5
    image = tmp_path / "in.png"
    Image.fromarray(rng.integers(0, 256, (15, 21, 3), dtype=np.uint8)).save(image)
    result = runner.invoke(app, ["upscale", str(image), "-o", str(tmp_path / "up.png"), "--model", str(tflite),
                                 "--tile", "8"])
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "up.png").size == (42, 30)


def test_qat_is_refused_for_esr(tmp_path):
    config = MODES[0]
    save_run(_random_esr(config), config, tmp_path / "run")
    result = runner.invoke(app, ["tflite", str(tmp_path / "run"), "-o", str(tmp_path / "x.tflite"),
                                 "--int8", "--qat-steps", "10"])
    assert result.exit_code == 2 and "ECBSR only" in result.output, result.output
    assert not (tmp_path / "x.tflite").exists()
