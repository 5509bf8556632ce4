"""Searched int8 ranges (keras_sr.int8.searched_ranges): the tensors between convolutions,
narrowed with their readers' biases requantized, never further from the float network."""

from __future__ import annotations

import numpy as np
import pytest

from keras_sr import flatbuf
from keras_sr.export import convert
from keras_sr.folding import deploy
from keras_sr.int8 import calibration_images, calibration_patches, searched_ranges
from keras_sr.metadata import add_metadata, read_metadata, sr_metadata
from keras_sr.runtime import TFLiteSRModel, load_sr_model
from tests.sr_models import make_run


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(deploy network, config, calibration patches, calibrated int8 file) of a tiny random run
    whose features are worth tens of pixels (as in test_qat) and whose biases are O(10)."""
    model = load_sr_model(make_run(tmp_path_factory.mktemp("ranges") / "run", channels=6, num_blocks=2))
    config = model.config
    last = model.model.get_layer(f"conv_{config.num_convs - 1}")
    kernel, bias = last.get_weights()
    kernel[:, :, :config.channels] *= 30.0
    last.set_weights([kernel, bias])
    network = deploy(model.model, config)
    rng = np.random.default_rng(0)
    for i in range(config.num_convs - 1):  # biases that matter, so that a wrong bias scale shows
        conv = network.get_layer(f"conv_{i}")
        kernel, bias = conv.get_weights()
        conv.set_weights([kernel, rng.uniform(-10, 20, bias.shape).astype(np.float32)])
    patches = calibration_patches(calibration_images(None)[0], config, 8)
    content = convert(network, config, "int8", None, patches, ranges="calibrated")
    return network, config, patches, add_metadata(content, sr_metadata(config, "int8"))


def _error(content: bytes, network, patches) -> float:
    """Mean squared difference of the int8 file's output from the float network's."""
    model = TFLiteSRModel(content, read_metadata(content))
    return float(np.mean([np.mean((model(p).astype(float) - network(p[None].astype(np.float32)).numpy()[0]) ** 2)
                          for p in patches]))


def _name(tensor) -> str:
    return tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name)


def test_the_tensors_between_convolutions_are_the_hidden_features(tiny):
    _, config, _, content = tiny
    model = flatbuf.read(content)
    groups = flatbuf.range_groups(model)
    assert all(len(group) == 1 for group in groups)
    names = [_name(model.subgraphs[0].tensors[group[0]]) for group in groups]
    assert len(names) == config.num_convs - 1  # not the last conv's (the ADD reads it)
    assert all(f"/conv_{i}/" in name for i, name in enumerate(names)), names


def test_narrowing_a_range_requantizes_the_readers_biases(tiny):
    network, _, patches, content = tiny
    calibrated = _error(content, network, patches)
    narrowed, scale_only = flatbuf.read(content), flatbuf.read(content)
    hidden = [group[0] for group in flatbuf.range_groups(narrowed)]
    for index in hidden:
        flatbuf.narrow_range(narrowed, [index], 0.9)
        q = scale_only.subgraphs[0].tensors[index].quantization
        q.scale = np.asarray(q.scale, np.float32) * np.float32(0.9)
    graph = narrowed.subgraphs[0]
    for op in graph.operators:
        if len(op.inputs) >= 3 and op.inputs[0] in hidden:
            input_scale = graph.tensors[op.inputs[0]].quantization.scale[0]
            np.testing.assert_allclose(graph.tensors[op.inputs[2]].quantization.scale,
                                       graph.tensors[op.inputs[1]].quantization.scale * input_scale, rtol=1e-6)
    good = _error(flatbuf.write(narrowed), network, patches)
    try:
        broken = _error(flatbuf.write(scale_only), network, patches)
    except (RuntimeError, ValueError):  # the runtime may refuse a bias scale that does not match
        broken = np.inf
    assert good < 2 * calibrated + 1.0 and broken > 4 * good, (calibrated, good, broken)


def test_searched_ranges_are_no_further_from_the_float_network(tiny):
    network, config, patches, content = tiny
    searched, chosen = searched_ranges(content, network, config, patches)
    model = flatbuf.read(content)
    assert list(chosen) == [_name(model.subgraphs[0].tensors[g[0]]) for g in flatbuf.range_groups(model)]
    assert set(chosen.values()) <= {1.0, 0.9, 0.8, 0.7, 0.6, 0.5}
    assert _error(searched, network, patches) <= _error(content, network, patches)
    assert flatbuf.content_op_names(searched) == flatbuf.content_op_names(content)


def test_a_group_follows_scale_keeping_ops_and_stops_at_fixed_scales():
    """eSR-TM: each filter part's conv output and its depth-to-space output change together
    (DEPTH_TO_SPACE keeps the scale); the MUL and SUM outputs are groups; the SOFTMAX output
    (fixed 1/256) and the pixel-unit input and output are in none."""
    from keras_sr.archs import esr
    from keras_sr.config import ESRConfig

    config = ESRConfig(scale=2, mode="tm", kernel_size=3, channels=2)
    network = esr.deploy(esr.fold(esr.build(config), config), config)
    patches = calibration_patches(calibration_images(None)[0], config, 4)
    model = flatbuf.read(convert(network, config, "int8", None, patches, ranges="calibrated"))
    graph = model.subgraphs[0]
    groups = [[_name(graph.tensors[i]).split(";")[0].split("/", 1)[1] for i in g]
              for g in flatbuf.range_groups(model)]
    assert sorted(map(sorted, groups)) == sorted([
        ["depth_to_space_keys/DepthToSpace", "filter_keys/Conv2D1"],
        ["depth_to_space_values/DepthToSpace", "filter_values/Conv2D1"],
        ["esr_head/mul"], ["esr_head/Sum"]]), groups
