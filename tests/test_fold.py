"""The fold is exact: per branch, per block, and for the whole network, borders included."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from keras_sr import ModelConfig, build_model, fold
from keras_sr import blocks
from keras_sr.blocks import ECB, Conv1x1Conv3x3Branch, Conv3x3Branch, EdgeBranch
from keras_sr.folding import infer_config
from keras_sr.runs import max_abs_diff
from tests.conftest import randomize_ecb_model

TOL = 1e-3  # on the 0..255 output scale, before clip
SIZE = (13, 17)


def _as_conv(layer, x):
    kernel, bias = layer.rep_params()
    return (tf.nn.conv2d(x, kernel, 1, "SAME") + bias).numpy()


def _randomize_layer(layer, rng):
    for weight in layer.weights:
        weight.assign(rng.normal(0.0, 1.0, weight.shape).astype(np.float32))


def _branches():
    return [Conv3x3Branch(5), Conv1x1Conv3x3Branch(5, 2.0), *(EdgeBranch(5, k) for k in
                                                              ("sobel_x", "sobel_y", "laplacian"))]


@pytest.mark.parametrize("index", range(5))
def test_each_branch_equals_its_3x3_conv(index, rng):
    branch = _branches()[index]
    x = rng.uniform(0, 1, (2, *SIZE, 4)).astype(np.float32)
    branch(x)  # build
    _randomize_layer(branch, rng)
    expected = branch(x).numpy()
    assert np.abs(_as_conv(branch, x) - expected).max() < 1e-4


def test_zero_padding_instead_of_bias_padding_breaks_the_fold(rng, monkeypatch):
    """The checks above must catch a 1x1 output padded with zeros: it differs at the borders."""
    zero_pad = lambda y, bias: tf.pad(y, [[0, 0], [1, 1], [1, 1], [0, 0]])
    monkeypatch.setattr(blocks, "pad_with_bias", zero_pad)
    for branch in _branches()[1:]:
        x = rng.uniform(0, 1, (1, *SIZE, 4)).astype(np.float32)
        branch(x)
        _randomize_layer(branch, rng)
        error = np.abs(_as_conv(branch, x) - branch(x).numpy())
        assert error[:, 1:-1, 1:-1].max() < 1e-4  # the interior still agrees...
        assert error.max() > 1e-2  # ...the border does not


@pytest.mark.parametrize("cin,cout,with_idt", [(3, 6, False), (6, 6, False), (6, 6, True)])
def test_ecb_collapsed_equals_expanded(cin, cout, with_idt, rng):
    ecb = ECB(cout, with_idt=with_idt)
    x = rng.uniform(0, 1, (1, *SIZE, cin)).astype(np.float32)
    ecb(x)
    _randomize_layer(ecb, rng)
    expanded = ecb(x).numpy()
    ecb.collapsed = True
    assert np.abs(ecb(x).numpy() - expanded).max() < 1e-4
    assert np.abs(_as_conv(ecb, x) - expanded).max() < 1e-4
    if with_idt:  # the identity really is in there
        ecb.use_idt = False
        assert np.abs(_as_conv(ecb, x) - expanded).max() > 1e-2


@pytest.mark.parametrize("act_type", ["relu", "prelu", "none"])
@pytest.mark.parametrize("colors", [1, 3])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_whole_model_equals_fold(scale, colors, act_type):
    config = ModelConfig(scale=scale, num_blocks=2, channels=6, colors=colors,
                         act_type=act_type, with_idt=(scale == 3))
    model = build_model(config)
    randomize_ecb_model(model, seed=scale * 10 + colors)
    plain = fold(model)
    assert max_abs_diff(model, plain, SIZE, seed=1) <= TOL
    collapsed = build_model(config, collapsed=True)
    collapsed.set_weights(model.get_weights())
    assert max_abs_diff(model, collapsed, SIZE, seed=2) <= TOL


def test_randomized_model_is_not_trivial():
    """Guard for the test above: the residual alone, or the body alone, is far from the model."""
    config = ModelConfig(scale=2, num_blocks=1, channels=6, colors=3)
    model = build_model(config)
    randomize_ecb_model(model)
    plain = fold(model)
    weights = plain.get_weights()
    plain.get_layer("conv_2").set_weights([np.zeros_like(weights[-2]), np.zeros_like(weights[-1])])
    assert max_abs_diff(model, plain, SIZE) > 1.0


@pytest.mark.parametrize("colors", [1, 3])
def test_residual_gives_each_subpixel_its_own_color(colors, rng):
    """With a zero body the network is nearest-neighbour upscaling, color by color."""
    config = ModelConfig(scale=3, num_blocks=1, channels=4, colors=colors)
    model = build_model(config)
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    x = rng.uniform(0, 255, (1, 5, 7, colors)).astype(np.float32)
    nearest = np.repeat(np.repeat(x, 3, axis=1), 3, axis=2)
    np.testing.assert_allclose(model(x).numpy(), nearest, atol=1e-4)
    np.testing.assert_allclose(fold(model)(x).numpy(), nearest, atol=1e-4)


@pytest.mark.parametrize("act_type,extra", [("relu", set()), ("prelu", {"PReLU"}), ("none", set())])
def test_folded_graph_has_only_allowed_layers(act_type, extra):
    model = build_model(ModelConfig(scale=2, num_blocks=2, channels=4, colors=3, act_type=act_type))
    plain = fold(model)
    kinds = {type(layer).__name__ for layer in plain.layers}
    assert kinds == {"InputLayer", "Conv2D", "DepthToSpace", "ClipPixels"} | extra
    for layer in plain.layers:
        if type(layer).__name__ == "Conv2D":
            assert layer.kernel_size == (3, 3)
            assert layer.activation.__name__ in {"relu", "linear"}


def test_fold_does_not_touch_the_trained_model():
    model = build_model(ModelConfig(scale=2, num_blocks=1, channels=4, act_type="prelu"))
    randomize_ecb_model(model)
    before = [w.copy() for w in model.get_weights()]
    plain = fold(model)
    plain.set_weights([w + 1 for w in plain.get_weights()])
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)


def test_infer_config_reads_the_architecture_back():
    config = ModelConfig(scale=4, num_blocks=3, channels=5, colors=3, act_type="prelu")
    assert infer_config(build_model(config)) == config


@pytest.mark.parametrize("colors,act_type,scale", [(1, "relu", 2), (3, "prelu", 3), (3, "relu", 4)])
def test_deploy_form_is_the_same_function(colors, act_type, scale):
    """The residual as a 1x1 repeat conv + ADD computes what the pass-through channels do,
    borders included, with features only as wide as ``channels``; the trained and folded
    models are left as they were."""
    from keras_sr.folding import deploy

    config = ModelConfig(scale=scale, num_blocks=3, channels=5, colors=colors, act_type=act_type)
    model = build_model(config)
    randomize_ecb_model(model)
    plain = fold(model)
    before = [w.copy() for w in plain.get_weights()]
    network = deploy(plain, infer_config(model))
    assert max_abs_diff(model, network, SIZE) <= TOL
    assert [network.get_layer(f"conv_{i}").filters for i in range(5)] == [5] * 4 + [colors * scale ** 2]
    assert {type(layer).__name__ for layer in network.layers} >= {"Add"}
    for old, new in zip(before, plain.get_weights()):
        np.testing.assert_array_equal(old, new)


def test_deploy_form_refuses_a_network_that_is_not_folded_residual():
    """A plain network whose features read the pass-through channels (not what the fold
    writes) would lose that path in the deploy form: refused, not silently changed."""
    from keras_sr.folding import deploy

    config = ModelConfig(scale=2, num_blocks=1, channels=4, colors=1)
    model = build_model(config)
    randomize_ecb_model(model)
    plain = fold(model)
    kernel, bias = plain.get_layer("conv_1").get_weights()
    kernel[0, 0, 4, 0] = 0.5  # x into feature 0
    plain.get_layer("conv_1").set_weights([kernel, bias])
    with pytest.raises(ValueError, match="does not carry the residual"):
        deploy(plain, config)


LADDER = [(preset, act, idt) for preset in ("m4c8", "m4c16", "m4c32", "m10c32", "m16c64")
          for act in ("relu", "prelu") for idt in (False, True)]


@pytest.mark.parametrize("preset,act_type,with_idt", LADDER)
def test_ecbsr_ladder_folds_and_deploys_exactly(preset, act_type, with_idt):
    """The ECBSR presets of the paper's ladder, each activation, with and without the identity
    branch, through the registry (as every command goes): fold and deploy are exact."""
    from keras_sr import archs

    config = ModelConfig.preset(preset, scale=2, act_type=act_type, with_idt=with_idt)
    family = archs.family(config)
    model = family.build(config)
    randomize_ecb_model(model, seed=len(preset))
    plain = family.fold(model, config)
    network = family.deploy(plain, config)
    assert max_abs_diff(model, plain, (11, 9), seed=3) <= TOL
    assert max_abs_diff(model, network, (11, 9), seed=4) <= TOL
    assert archs.plain_config(plain) == dataclasses.replace(config, with_idt=False)


@pytest.mark.slow
@pytest.mark.parametrize("preset,act_type", [("m4c8", "prelu"), ("m16c64", "relu")])
def test_ecbsr_ladder_ends_export_to_int8_and_run(preset, act_type, tmp_path):
    from keras_sr import archs
    from keras_sr.export import export_tflite, model_ops
    from keras_sr.runs import save_run
    from keras_sr.runtime import load_sr_model

    config = ModelConfig.preset(preset, scale=2, act_type=act_type, with_idt=True)
    model = archs.family(config).build(config)
    save_run(model, config, tmp_path / "run")
    report = export_tflite(tmp_path / "run", tmp_path / "m.tflite", "int8", calib_samples=8, report=False)
    assert set(report.ops) <= archs.family(config).INT8_OPS
    assert model_ops((tmp_path / "m.tflite").read_bytes()).count("CONV_2D") == config.num_convs + 1
    out = load_sr_model(tmp_path / "m.tflite")(np.zeros((9, 11, 1), np.uint8))
    assert out.shape == (18, 22, 1)
