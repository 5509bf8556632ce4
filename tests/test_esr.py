"""The eSR family (edge-SR: MAX, TM, TR, CNN) and the family registry: config, fold, int8, end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf
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
    """An eSR network with every weight at O(0.1): the keys' softmax is far from uniform and
    far from one-hot, so a wrong logit scale or channel split shows. eSR-CNN's kernels and
    biases get +-0.5: its tanh layers are then neither linear nor saturated."""
    model = esr.build(config)
    spread = 0.5 if config.mode == "cnn" else 0.3
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        layer.set_weights([rng.uniform(-spread, spread, w.shape).astype(np.float32)
                           for w in layer.get_weights()])
    return model


CNN = ESRConfig.parse("eSR-CNN_s3_C3_D2_S5")
MODES = [ESRConfig(scale=2, mode="max", kernel_size=3, channels=4),
         ESRConfig(scale=3, mode="tm", kernel_size=5, channels=3),
         ESRConfig(scale=4, mode="tr", kernel_size=7, channels=2),
         CNN]


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


@pytest.mark.parametrize("config", MODES, ids=lambda c: c.literature_name)
def test_deploy_splits_the_parts_exactly(config):
    """The .tflite form: one convolution per part (values, queries, keys), same function."""
    plain = esr.fold(_random_esr(config), config)
    network = esr.deploy(plain, config)
    assert max_abs_diff(plain, network, (11, 13)) <= 1e-3
    filters = [layer.name for layer in network.layers if layer.name.startswith("filter")]
    assert filters == (["filter"] if config.mode == "max" else
                       [f"filter_{name}" for name in esr.PART_NAMES[config.mode]])


@pytest.mark.slow
def test_int8_gives_the_keys_their_own_scale(tmp_path, monkeypatch):
    """TM's keys (logits a few units wide) and values (hundreds of pixels) in one int8 tensor
    share one scale and the keys round to a few levels; split, int8 stays near the float."""
    from keras_sr.export import export_tflite

    config = ESRConfig(scale=2, mode="tm", kernel_size=5, channels=4)
    save_run(_random_esr(config), config, tmp_path / "run")
    split = export_tflite(tmp_path / "run", tmp_path / "split.tflite", "int8", calib_samples=16).quant
    monkeypatch.setattr(esr, "deploy", lambda plain, config: plain)  # one filter, one tensor
    shared = export_tflite(tmp_path / "run", tmp_path / "shared.tflite", "int8", calib_samples=16).quant
    assert split.tflite_vs_float > 35 and split.tflite_vs_float > shared.tflite_vs_float + 5, (split, shared)


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
@pytest.mark.parametrize("name", ["eSR-MAX_K5_C3", "eSR-TM_K3_C2", "eSR-TR_K3_C2", "eSR-CNN_C2_D2_S3"])
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
    assert ("TANH" in ops) == (config.mode == "cnn")
    result = runner.invoke(app, ["eval", str(tflite), "--data", str(data), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    assert report["datasets"][0]["mean"]["model"]["psnr"] > 5
    image = tmp_path / "in.png"
    Image.fromarray(rng.integers(0, 256, (15, 21, 3), dtype=np.uint8)).save(image)
    tile = max(8, 2 * config.receptive_radius + 1)
    result = runner.invoke(app, ["upscale", str(image), "-o", str(tmp_path / "up.png"), "--model", str(tflite),
                                 "--tile", str(tile)])
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "up.png").size == (42, 30)


# eSR-CNN: the paper's small CNN (5x5 to D, tanh, 3x3 to S, tanh, 3x3 to values and keys).


def _paper_cnn(model, x: np.ndarray) -> np.ndarray:
    """The reference's edgeSR_CNN.forward (models.py) on pixels 0..1, with ``model``'s weights:
    conv + bias, tanh, conv + bias, tanh, conv, pixel shuffle, sum(value * softmax(key * key))."""
    import tensorflow as tf

    def conv(h, layer):
        kernel, *bias = layer.get_weights()
        h = tf.nn.conv2d(h, kernel, 1, "SAME")
        return tf.tanh(h + bias[0]) if bias else h

    h = conv(conv(conv(x, model.get_layer("conv_d")), model.get_layer("conv_s")), model.get_layer("filter"))
    h = tf.nn.depth_to_space(h, CNN.scale)
    value, key = h[..., :CNN.channels], h[..., CNN.channels:]
    return tf.reduce_sum(value * tf.nn.softmax(key * key, axis=-1), axis=-1, keepdims=True).numpy()


def test_cnn_is_the_papers_network_times_255(rng):
    model = _random_esr(CNN)
    x = rng.uniform(0, 255, (1, 11, 13, 1)).astype(np.float32)
    np.testing.assert_allclose(_preclip(model)(x).numpy(), 255 * _paper_cnn(model, x / 255),
                               rtol=0, atol=1e-3)


@pytest.mark.parametrize("dropped", ["input 1/255 in conv_d", "value 255 in filter"])
def test_a_cnn_fold_without_either_pixel_scale_is_caught(dropped):
    """Each of the fold's two factors shows on these weights (see the module docstring)."""
    model = _random_esr(CNN)
    plain = esr.fold(model, CNN)
    if dropped.startswith("input"):
        kernel, bias = plain.get_layer("conv_d").get_weights()
        plain.get_layer("conv_d").set_weights([kernel / esr.PIXEL_UNIT, bias])
    else:
        (kernel,) = plain.get_layer("filter").get_weights()
        values = np.arange(kernel.shape[-1]) % (2 * CNN.channels) < CNN.channels
        plain.get_layer("filter").set_weights([np.where(values, kernel * esr.PIXEL_UNIT, kernel)])
    assert max_abs_diff(model, plain, (11, 13)) > 1.0


def test_cnn_initialization_is_the_papers():
    """models.py: Xavier normal, then the centre tap of input channel 0 set to 1 in every
    filter of all three convolutions; biases (conv_d, conv_s only) PyTorch's default,
    uniform in +-1 / sqrt(fan_in)."""
    config = ESRConfig.parse("eSR-CNN_s2_C4_D3_S9")
    model = esr.build(config)
    for name, fan_in in [("conv_d", 25), ("conv_s", 9 * 3), ("filter", None)]:
        kernel, *bias = model.get_layer(name).get_weights()
        k = kernel.shape[0] // 2
        np.testing.assert_array_equal(kernel[k, k, 0], 1.0)
        others = kernel.copy()
        others[k, k, 0] = 0.0  # the other taps, other input channels' centres included: Xavier
        glorot_std = (2 / (kernel.shape[0] ** 2 * sum(kernel.shape[2:]))) ** 0.5
        assert not np.any(others == 1.0) and 0.7 * glorot_std < np.std(others) < 1.3 * glorot_std
        if fan_in is None:
            assert not bias
        else:
            assert np.all(np.abs(bias[0]) <= fan_in ** -0.5) and np.std(bias[0]) > 0


def test_cnn_receptive_radius_is_exact(rng):
    """A change of one LR pixel reaches exactly the output pixels of LR rows and columns within
    receptive_radius of it: tiles overlapping by it are enough, and no more is needed."""
    plain = _preclip(esr.fold(_random_esr(CNN), CNN))
    x = rng.uniform(0, 255, (1, 21, 21, 1)).astype(np.float32)
    bumped = x.copy()
    bumped[0, 10, 10, 0] += 100
    changed = np.abs(plain(bumped).numpy() - plain(x).numpy())[0, ..., 0] > 1e-3
    rows, cols = np.nonzero(changed)
    r = CNN.receptive_radius
    assert r == 4
    assert (rows.min() // CNN.scale, rows.max() // CNN.scale) == (10 - r, 10 + r)
    assert (cols.min() // CNN.scale, cols.max() // CNN.scale) == (10 - r, 10 + r)


def test_cnn_tiled_upscale_equals_the_whole_image(tmp_path, rng):
    from keras_sr.runtime import load_sr_model
    from keras_sr.tiling import run_tiled

    save_run(_random_esr(CNN), CNN, tmp_path / "run")
    model = load_sr_model(tmp_path / "run")
    assert model.receptive_radius == CNN.receptive_radius
    lr = rng.integers(0, 256, (23, 29, 1), dtype=np.uint8)
    whole = model(lr)
    for tile in (2 * CNN.receptive_radius + 1, 12, 17):
        np.testing.assert_array_equal(run_tiled(model, lr, tile), whole)


def test_cnn_names_and_configs(tmp_path):
    config = ESRConfig.parse("eSR-CNN_C4_D3_S9", scale=3)
    assert config == ESRConfig(scale=3, mode="cnn", kernel_size=9, channels=4, d_channels=3, s_channels=9)
    assert config.literature_name == "eSR-CNN_s3_C4_D3_S9" and config.name == "x3_esr_cnn_c4d3s9_y"
    assert ESRConfig.parse(config.literature_name) == config == ESRConfig.parse("esr-cnn_S9_D3_s3_C4")
    assert config_from_dict(config.to_dict()) == config and config.receptive_radius == 4
    # MAX, TM and TR configs keep their keys: files written before eSR-CNN read and write the same.
    for old in MODES[:3]:
        assert set(old.to_dict()) == {"family", "scale", "mode", "kernel_size", "channels", "colors"}
        assert config_from_dict(json.loads(json.dumps(old.to_dict()))) == old
    save_run(_random_esr(CNN), CNN, tmp_path / "run")
    assert load_config(tmp_path / "run" / "config.json") == CNN
    path = tmp_path / "plain.keras"
    load_plain(tmp_path / "run").save(str(path))
    assert archs.plain_config(load_plain(path)) == CNN
    for bad, message in [("eSR-CNN_C4_D3", "needs CN, DN and SN"),
                         ("eSR-CNN_K7_C4_D3_S9", "fields sN, CN, DN, SN"),
                         ("eSR-MAX_K7_C4_D3", "fields sN, KN, CN"),
                         ("eSR-CNN_C4_D0_S9", "d_channels must be in 1..64"),
                         ("eSR-CNN_C4_D3_S65", "s_channels must be in 1..64"),
                         ("eSR-CNN_s4_C4_D3_S9", "x4 name")]:
        with pytest.raises(UserError, match=message):
            preset_config(bad, 2)
    for fields, message in [({"mode": "cnn", "d_channels": 3, "s_channels": 9}, "kernel_size is its 9x9"),
                            ({"mode": "tm", "d_channels": 3}, "belong to eSR-CNN"),
                            ({**config.to_dict(), "d_channels": True}, "d_channels must be an integer")]:
        with pytest.raises(UserError, match=message):
            config_from_dict({"family": "esr", **fields})


@pytest.mark.parametrize("config", MODES, ids=lambda c: c.literature_name)
def test_int8_training_forward_is_the_deploy_network_written_out(config, rng):
    """Quantization-aware fine-tuning trains a copy of the deploy network op by op: with no
    rounding it must compute exactly what the network does, and with rounding something else."""
    network = esr.deploy(esr.fold(_random_esr(config), config), config)
    x = tf.constant(rng.uniform(0, 255, (1, 9, 11, 1)), tf.float32)
    written_out = esr._int8_steps(network, config, x, lambda name, tensor: tensor, weights=False)
    np.testing.assert_allclose(np.clip(written_out.numpy(), 0, 255), network(x).numpy(), atol=1e-3)
    forward, variables, _ = esr.int8_training_forward(network, config, [x.numpy()[0].astype(np.uint8)])
    assert {v.name.split("/")[0] for v in variables} == {layer.name for layer in network.layers
                                                          if layer.trainable_weights}
    assert 0 < np.abs(forward(x).numpy() - network(x).numpy()).max() < 64


@pytest.mark.slow
def test_qat_runs_for_esr_and_the_simulation_follows_the_file(tmp_path):
    """``--qat-steps`` on an eSR run: the fine-tuned int8 file is made and scored; and the
    simulated int8 forward is nearer the int8 file than the float network is."""
    from keras_sr.export import convert, export_tflite
    from keras_sr.int8 import calibration_images, calibration_patches
    from keras_sr.metadata import add_metadata, read_metadata, sr_metadata
    from keras_sr.runtime import TFLiteSRModel

    config = ESRConfig(scale=2, mode="tm", kernel_size=5, channels=4)
    model = _random_esr(config)
    save_run(model, config, tmp_path / "run")
    report = export_tflite(tmp_path / "run", tmp_path / "qat.tflite", "int8", calib_samples=16, qat_steps=20)
    assert report.qat is not None and report.qat.steps == 20 and (tmp_path / "qat.tflite").is_file()
    assert report.qat.ranges == "searched"  # eSR does not learn its ranges, and says so
    with pytest.raises(UserError, match="learned int8 ranges are not implemented for esr"):
        export_tflite(tmp_path / "run", tmp_path / "lsq.tflite", "int8", qat_steps=2, qat_ranges="learned")
    assert not (tmp_path / "lsq.tflite").exists()

    network = esr.deploy(esr.fold(model, config), config)
    patches = calibration_patches(calibration_images(None)[0], config, 16)
    forward, *_ = esr.int8_training_forward(network, config, patches)
    content = add_metadata(convert(network, config, "int8", None, patches, "nearest", "calibrated"),
                           sr_metadata(config, "int8"))
    int8 = TFLiteSRModel(content, read_metadata(content))(patches[2]).astype(float)
    x = tf.constant(patches[2][None], tf.float32)
    sim_error = np.abs(np.round(forward(x).numpy()[0]) - int8).mean()
    float_error = np.abs(np.round(network(x).numpy()[0]) - int8).mean()
    assert sim_error < 0.7 * float_error, (sim_error, float_error)
