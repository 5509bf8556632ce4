"""The RepRFN family: config, fold (exact, and failing when broken), receptive radius and
tiling, .keras round trip, and train -> fold -> int8 -> eval -> upscale through the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
from PIL import Image
from typer.testing import CliRunner

from keras_sr import archs, blocks
from keras_sr.archs import reprfn
from keras_sr.blocks import SmallConvBranch
from keras_sr.cli import app
from keras_sr.config import RepRFNConfig, config_from_dict, load_config, preset_config
from keras_sr.errors import UserError
from keras_sr.int8 import SAMPLES_DIR
from keras_sr.runs import _preclip, load_plain, max_abs_diff
from keras_sr.tiling import tiled_bands

runner = CliRunner()
TOL = 1e-3  # on the 0..255 output scale, before clip
SIZE = (13, 11)
CONFIGS = [RepRFNConfig(scale=2, num_blocks=1, channels=4, esa_channels=2, colors=1),
           RepRFNConfig(scale=3, num_blocks=2, channels=6, esa_channels=3, colors=3)]


def _random_reprfn(config: RepRFNConfig, seed: int = 0):
    """A training-time RepRFN with every weight random: kernels N(0, 1/fan_in) (O(0.1-1) here),
    biases and the edge branches' scales N(0, 1).

    Each RepBlock's branches are then scaled so their sum has unit gain (largest L1 norm of an
    output's folded kernel; linear in the scaled weights), which with the identity keeps the
    features in the pixel range and float32 errors far below the tolerance. ESA's first conv
    is divided by 100 so that its sigmoid mask is not saturated at 0 or 1 but varies.
    """
    model = reprfn.build(config)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        for weight in layer.weights:
            shape = weight.shape
            fan_in = int(np.prod(shape[:-1])) if len(shape) == 4 else 1
            weight.assign(rng.normal(0.0, fan_in ** -0.5, shape).astype(np.float32))
        if isinstance(layer, reprfn.RepBlock):
            kernel, _ = layer.rep_params()
            gain = float(np.abs(kernel.numpy() - _identity(kernel.shape)).sum(axis=(0, 1, 2)).max())
            for weight in layer.weights:
                if weight.name.split("/")[-1].startswith(("kernel:", "kernel1", "bias:", "bias1", "scale")):
                    weight.assign(weight / gain)
        if layer.name.endswith("_esa_conv1"):
            layer.set_weights([w / 100 for w in layer.get_weights()])
    return model


def _identity(shape) -> np.ndarray:
    """The identity as a 3x3 kernel (3, 3, C, C)."""
    kernel = np.zeros(shape, np.float32)
    kernel[1, 1] = np.eye(shape[2])
    return kernel


def _image(rng, config: RepRFNConfig, size=SIZE) -> np.ndarray:
    return rng.uniform(0, 255, (1, *size, config.colors)).astype(np.float32)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_fold_is_exact_borders_included(config, rng):
    model = _random_reprfn(config)
    trained = model.get_weights()
    plain = reprfn.fold(model, config)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), trained))  # a new model
    x = _image(rng, config)
    y_train, y_plain = _preclip(model)(x).numpy(), _preclip(plain)(x).numpy()
    assert y_train.shape == (1, SIZE[0] * config.scale, SIZE[1] * config.scale, config.colors)
    nearest = np.repeat(np.repeat(x, config.scale, axis=1), config.scale, axis=2)
    assert 20 < np.abs(y_train - nearest).max() < 2000  # the body does something, in range
    np.testing.assert_allclose(y_plain, y_train, rtol=0, atol=TOL)
    assert reprfn.plain_config(plain) == config
    collapsed = reprfn.build(config, collapsed=True)
    collapsed.set_weights(model.get_weights())
    assert max_abs_diff(model, collapsed, SIZE, seed=2) <= TOL


def test_esa_mask_is_not_saturated(rng):
    """Guard for the test above: ESA's mask varies, so its weights are really checked."""
    config = CONFIGS[0]
    model = _random_reprfn(config)
    probe = keras.Model(model.input, model.get_layer("rfb0_esa_sigmoid").output)
    mask = probe(_image(rng, config)).numpy()
    assert 0.01 < mask.min() and mask.max() < 0.99 and mask.std() > 0.05


def _zero_pad(y, bias):
    return tf.pad(y, [[0, 0], [1, 1], [1, 1], [0, 0]])


def _drop_small_branches(monkeypatch):
    rep_params = SmallConvBranch.rep_params
    monkeypatch.setattr(SmallConvBranch, "rep_params",
                        lambda self: tuple(tf.zeros_like(t) for t in rep_params(self)))


def _transpose_small_branches(monkeypatch):
    rep_params = SmallConvBranch.rep_params

    def transposed(self):
        kernel, bias = rep_params(self)
        return tf.transpose(kernel, [1, 0, 2, 3]), bias  # 3x1 placed as 1x3, and back

    monkeypatch.setattr(SmallConvBranch, "rep_params", transposed)


def _drop_identity(monkeypatch):
    rep_params = reprfn.RepBlock.rep_params

    def without_identity(self):
        kernel, bias = rep_params(self)
        return kernel - _identity(kernel.shape), bias

    monkeypatch.setattr(reprfn.RepBlock, "rep_params", without_identity)


BREAKAGES = {
    # The 1x1-first branches padded with zeros instead of their bias: the expanded training
    # graph changes at the borders, the fold does not.
    "zero padding": lambda mp: mp.setattr(blocks, "pad_with_bias", _zero_pad),
    "3x1, 1x3, 1x1 dropped": _drop_small_branches,
    "3x1 and 1x3 swapped": _transpose_small_branches,
    "identity dropped": _drop_identity,
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_a_broken_fold_is_caught(breakage, monkeypatch):
    config = CONFIGS[0]
    model = _random_reprfn(config)  # expanded: the training graph runs the branches as written
    BREAKAGES[breakage](monkeypatch)
    assert max_abs_diff(model, reprfn.fold(model, config), SIZE) > 20 * TOL


def test_receptive_radius_is_exact(rng):
    """Changing the ring of pixels R away (Chebyshev distance, R = 3 + 9 B) changes the centre
    output pixel; changing the ring R + 1 away leaves it bit-identical. (Through ESA's max-pool
    a single pixel R away may or may not reach the centre, depending on the image; the ring does.
    Its change is small, since the last 5 pixels of the path are ESA's mask, but no rounding noise.)"""
    config = CONFIGS[0]
    radius = config.receptive_radius
    assert radius == 12
    plain = _preclip(reprfn.fold(_random_reprfn(config), config))
    centre, size = radius + 1, 2 * radius + 3
    x = _image(rng, config, (size, size))
    rows, cols = np.indices((size, size))
    distance = np.maximum(np.abs(rows - centre), np.abs(cols - centre))
    s = config.scale

    def change_at_centre(ring: int) -> float:
        changed = np.where((distance == ring)[None, :, :, None], 255.0 - x, x)
        diff = plain(changed).numpy() - plain(x).numpy()
        return float(np.abs(diff[0, centre * s:(centre + 1) * s, centre * s:(centre + 1) * s]).max())

    assert change_at_centre(radius) > 1e-6
    assert change_at_centre(radius + 1) == 0.0


def test_tiled_upscale_equals_the_whole_image(rng):
    """Tiles of 2R + 3 LR pixels (the halo R each side) stitch to the whole-image output."""
    config = CONFIGS[0]
    radius = config.receptive_radius
    plain = _preclip(reprfn.fold(_random_reprfn(config), config))
    lr = rng.uniform(0, 255, (47, 41, config.colors)).astype(np.float32)
    whole = plain(lr[None]).numpy()[0]
    tile = (2 * radius + 3, 2 * radius + 5)
    tiled = np.empty_like(whole)
    s = config.scale
    for y0, y1, band in tiled_bands(lambda t: plain(t[None]).numpy()[0], lambda r0, r1: lr[r0:r1],
                                    *lr.shape[:2], s, radius, tile):
        tiled[y0 * s:y1 * s] = band
    np.testing.assert_allclose(tiled, whole, rtol=0, atol=TOL)


def test_names_and_configs():
    paper = preset_config("reprfn", 4, colors=3)
    assert paper == RepRFNConfig(scale=4, num_blocks=4, channels=48, esa_channels=16, colors=3)
    assert paper.literature_name == "RepRFN-B4C48-RGB" and paper.receptive_radius == 39
    small = preset_config("RepRFN-S", 2)
    assert small.name == "x2_reprfn_b2c32_y" and small.literature_name == "RepRFN-B2C32"
    assert preset_config("RepRFN-B4C48", 2).name == "x2_reprfn_b4c48_y"
    odd = preset_config("reprfn-b3c24e8", 3, colors=3)
    assert odd.name == "x3_reprfn_b3c24e8_rgb" and preset_config(odd.literature_name, 3, 3) == odd
    assert config_from_dict(paper.to_dict()) == paper and paper.to_dict()["family"] == "reprfn"
    for bad, message in [("reprfn-x", "not a RepRFN name"), ("RepRFN-B0C48", "num_blocks must be in"),
                         ("RepRFN-B14C48", "num_blocks must be in"),
                         ("RepRFN-B4C8E16", "esa_channels must be in 1..channels")]:
        with pytest.raises(UserError, match=message):
            preset_config(bad, 2)
    with pytest.raises(UserError, match="colors must be 1"):
        preset_config("reprfn", 2, colors=2)
    with pytest.raises(UserError, match="channels must be an integer"):
        config_from_dict({"family": "reprfn", "channels": "48"})
    with pytest.raises(UserError, match="unknown config field"):
        config_from_dict({"family": "reprfn", "act_type": "relu"})


def test_folded_keras_file_round_trip(tmp_path, rng):
    config = CONFIGS[1]
    plain = reprfn.fold(_random_reprfn(config), config)
    path = tmp_path / "plain.keras"
    plain.save(str(path))
    loaded = load_plain(path)
    assert archs.plain_config(loaded) == config and reprfn.is_plain(loaded)
    x = _image(rng, config)
    np.testing.assert_array_equal(loaded(x).numpy(), plain(x).numpy())
    clone = keras.layers.deserialize(keras.layers.serialize(reprfn.RepBlock(5, collapsed=True)))
    assert (clone.out_channels, clone.with_idt, clone.collapsed) == (5, True, True)


@pytest.mark.slow
def test_train_fold_int8_eval_upscale_end_to_end(tmp_path, rng):
    from keras_sr import flatbuf
    from keras_sr.export import gpu_compatibility

    run = tmp_path / "run"
    result = runner.invoke(app, ["train", "--data", str(SAMPLES_DIR), "--scale", "2", "--preset",
                                 "RepRFN-B1C4E2", "--steps", "4", "--batch", "2", "--patch", "16",
                                 "--ckpt-every", "2", "-o", str(run)])
    assert result.exit_code == 0, result.output
    config = load_config(run / "config.json")
    assert config == RepRFNConfig(scale=2, num_blocks=1, channels=4, esa_channels=2)
    folded = tmp_path / "plain.keras"
    result = runner.invoke(app, ["fold", str(run), "-o", str(folded), "--check-size", "17x19"])
    assert result.exit_code == 0, result.output
    assert float(result.output.split("before clip): ")[1].split()[0]) <= TOL
    tflite = tmp_path / "reprfn_int8.tflite"
    result = runner.invoke(app, ["tflite", str(folded), "-o", str(tflite), "--int8", "--calib-samples", "8"])
    assert result.exit_code == 0, result.output
    content = tflite.read_bytes()
    ops = flatbuf.content_op_names(content)
    assert set(ops) == reprfn.INT8_OPS, ops
    assert ops.count("MUL") == config.num_blocks and ops.count("ADD") == 2 * config.num_blocks + 2
    assert "not compatible" not in gpu_compatibility(content).lower()
    result = runner.invoke(app, ["eval", str(tflite), "--data", str(SAMPLES_DIR), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    assert report["datasets"][0]["mean"]["model"]["psnr"] > 15
    image = tmp_path / "in.png"
    Image.fromarray(rng.integers(0, 256, (31, 29, 3), dtype=np.uint8)).save(image)
    result = runner.invoke(app, ["upscale", str(image), "-o", str(tmp_path / "up.png"), "--model", str(tflite),
                                 "--tile", str(2 * config.receptive_radius + 3)])
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "up.png").size == (58, 62)


def test_qat_is_refused_for_reprfn(tmp_path):
    from keras_sr.runs import save_run

    config = CONFIGS[0]
    save_run(_random_reprfn(config), config, tmp_path / "run")
    result = runner.invoke(app, ["tflite", str(tmp_path / "run"), "-o", str(tmp_path / "x.tflite"),
                                 "--int8", "--qat-steps", "10"])
    assert result.exit_code == 2 and "not implemented for reprfn" in result.output, result.output
    assert not (tmp_path / "x.tflite").exists()
