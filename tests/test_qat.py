"""Quantization-aware fine-tuning: the simulated int8 forward matches the int8 file, the
fine-tuning learns without touching the fixed residual, and the CLI runs it."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from keras_sr.cli import app
from keras_sr import flatbuf
from keras_sr.export import convert, with_learned_ranges
from keras_sr.int8 import calibration_images, calibration_patches
from keras_sr.metadata import add_metadata, sr_metadata
from keras_sr.folding import deploy
from keras_sr.qat import (ActivationRange, activation_ranges, fake_int8_forward, finetune_for_int8,
                          learned_weights)
from keras_sr.runtime import TFLiteSRModel, load_sr_model, read_metadata
from tests.sr_models import make_run

runner = CliRunner()


@pytest.fixture(scope="module", params=["relu", "prelu"])
def network(request, tmp_path_factory):
    """(deploy model, config, calibration patches, HR images) of a tiny random run."""
    run = make_run(tmp_path_factory.mktemp("qat") / "run", act_type=request.param, channels=6)
    model = load_sr_model(run)
    # Make the learned features worth tens of pixels in the output (at unit block gain they
    # are worth about one, and int8 would round them away to exactly the float result).
    last = model.model.get_layer(f"conv_{model.config.num_convs - 1}")
    kernel, bias = last.get_weights()
    kernel[:, :, : model.config.channels] *= 30.0
    last.set_weights([kernel, bias])
    images = calibration_images(None)[0]
    patches = calibration_patches(images, model.config, 8)
    return deploy(model.model, model.config), model.config, patches, images


def _simulate(plain, config, patches, lr):
    import tensorflow as tf

    forward = fake_int8_forward(plain, config, activation_ranges(plain, config, patches))
    out = forward(tf.constant(lr[None].astype(np.float32))).numpy()[0]
    return np.round(out).astype(int)


@pytest.mark.slow
def test_simulated_int8_matches_the_int8_file(network, rng):
    plain, config, patches, _ = network
    content = convert(plain, config, "int8", patches=patches, rounding="nearest",
                      ranges="calibrated")  # as the simulation assumes
    content = add_metadata(content, sr_metadata(config, "int8"))
    lr = patches[3]
    int8 = TFLiteSRModel(content, read_metadata(content))(lr).astype(int)
    simulated = _simulate(plain, config, patches, lr)
    float_out = np.round(plain(lr[None].astype(np.float32)).numpy()[0]).astype(int)
    sim_error, float_error = np.abs(simulated - int8).mean(), np.abs(float_out - int8).mean()
    # The simulation follows the int8 roundings (ties and accumulation order aside), much
    # closer than the float model does.
    assert sim_error < 0.1 and sim_error < 0.5 * float_error, (sim_error, float_error)


@pytest.mark.slow
def test_finetuning_learns_and_keeps_the_residual(network):
    plain, config, patches, images = network
    variables = learned_weights(plain, config)
    before = [v.numpy() for v in variables]
    residual = plain.get_layer("residual").get_weights()[0]
    tuned, ranges = finetune_for_int8(plain, config, images, patches, steps=30, learning_rate=1e-3)
    assert ranges is None
    for original, variable in zip(before, variables):
        np.testing.assert_array_equal(original, variable.numpy())  # the input is not modified
    for original, new in zip(before, learned_weights(tuned, config)):
        assert np.abs(new.numpy() - original).max() > 1e-4  # learned
    np.testing.assert_array_equal(tuned.get_layer("residual").get_weights()[0], residual)


@pytest.mark.slow
def test_tflite_command_with_qat(tmp_path):
    run = make_run(tmp_path / "run", channels=6)
    out = tmp_path / "m.tflite"
    result = runner.invoke(app, ["tflite", str(run), "-o", str(out), "--int8",
                                 "--calib-samples", "8", "--qat-steps", "5"])
    assert result.exit_code == 0, result.output
    assert "quantization-aware fine-tuning: 5 steps on bundled samples" in result.output
    assert "ranges learned: int8 vs HR on the calibration images" in result.output
    kept = result.output.count(", kept") == 1
    assert read_metadata(out.read_bytes())["qat_steps"] == (5 if kept else 0)


@pytest.mark.slow
def test_finetuning_that_scores_lower_is_not_kept(tmp_path, monkeypatch):
    """A fine-tuned network that loses on the calibration images never replaces the
    post-training file (here: one whose learned weights were wrecked)."""
    import keras_sr.qat
    from keras_sr.export import export_tflite

    real = keras_sr.qat.finetune_for_int8

    def wrecked(plain, config, *args, **kwargs):
        tuned, ranges = real(plain, config, *args, **kwargs)
        for variable in learned_weights(tuned, config):
            variable.assign(variable + 0.5)
        return tuned, ranges

    run = make_run(tmp_path / "run", channels=6)
    plain_file = export_tflite(run, tmp_path / "ptq.tflite", "int8", calib_samples=8)
    monkeypatch.setattr(keras_sr.qat, "finetune_for_int8", wrecked)
    report = export_tflite(run, tmp_path / "qat.tflite", "int8", calib_samples=8, qat_steps=3)
    assert not report.qat.kept and report.qat.finetuned_vs_hr < report.qat.post_training_vs_hr
    assert report.qat.post_training_vs_hr == pytest.approx(plain_file.quant.tflite_vs_hr)
    assert (tmp_path / "qat.tflite").read_bytes() == (tmp_path / "ptq.tflite").read_bytes()


@pytest.mark.slow
def test_int8_breakdown_tool(tmp_path, capsys):
    from keras_sr.int8 import SAMPLES_DIR
    from tools.int8_breakdown import main

    run = make_run(tmp_path / "run", channels=6)
    assert main([str(run), "--data", str(SAMPLES_DIR), "--calib-samples", "8"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("  ")]
    psnr = {" ".join(row[:-2]): float(row[-2]) for row in rows}
    assert list(psnr) == ["float plain", "int8 weights only (simulated)",
                          "int8 activations only (simulated)", "int8 both (simulated)",
                          "int8 file, as simulated", "int8 file, as exported"]
    assert abs(psnr["int8 both (simulated)"] - psnr["int8 file, as simulated"]) < 0.05


def test_learned_step_has_the_lsq_gradient():
    """d q / d step: the rounding error round(x/s) - x/s inside the range, the bound beyond it
    (127 - z above, -128 - z below), and the straight-through 1 for the input inside it."""
    import tensorflow as tf

    quantizer = ActivationRange(-2.0, 8.0, learn=True)  # step 10/255, zero point -77
    s, z = quantizer.initial_scale, quantizer.zero_point
    assert z == -77
    x = tf.constant([0.3, 1.234, 5.55, -1.0, 9.0, -3.0])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        q = quantizer(x)
        total = tf.reduce_sum(q)
    d_log_step = float(tape.gradient(total, quantizer.variable))  # d/dt of s * exp(t) at t = 0
    v = x.numpy() / s
    inside = np.round(v) - v
    expected = np.where(v + z > 127, 127 - z, np.where(v + z < -128, -128 - z, inside))
    assert d_log_step == pytest.approx(float(np.sum(expected)) * s, rel=1e-4)
    np.testing.assert_allclose(tape.gradient(total, x).numpy(), [1, 1, 1, 1, 0, 0])
    np.testing.assert_allclose(q.numpy()[:4], np.round(v[:4]) * s, atol=1e-5)
    assert q.numpy()[4] == pytest.approx((127 - z) * s) and q.numpy()[5] == pytest.approx((-128 - z) * s)


@pytest.mark.slow
def test_learned_ranges_move_and_the_int8_file_carries_them(network):
    """Fine-tuning with learned ranges changes the hidden tensors' steps, the exported int8 file
    holds exactly those steps, and it computes what the simulation with them computes."""
    import tensorflow as tf

    plain, config, patches, images = network
    calibrated = activation_ranges(plain, config, patches)
    tuned, learned = finetune_for_int8(plain, config, images, patches, steps=40,
                                       learning_rate=1e-3, learn_ranges=True)
    assert len(learned) == len(calibrated)
    moved = [abs(np.log(scale / (hi - lo) * 255)) for (scale, _), (lo, hi) in zip(learned, calibrated)]
    assert max(moved) > 1e-3, moved
    content = with_learned_ranges(convert(tuned, config, "int8", patches=patches, rounding="nearest",
                                          ranges="calibrated"), learned)
    model = flatbuf.read(content)
    for group, (scale, zero_point) in zip(flatbuf.range_groups(model), learned):
        for index in group:
            q = model.subgraphs[0].tensors[index].quantization
            assert q.scale[0] == pytest.approx(scale, rel=1e-6) and q.zeroPoint[0] == zero_point
    content = add_metadata(content, sr_metadata(config, "int8"))
    ranges = []
    for (lo, hi), (scale, _) in zip(calibrated, learned):
        r = ActivationRange(lo, hi, learn=True)
        r.variable.assign(np.log(scale / r.initial_scale))
        ranges.append(r)
    lr = patches[3]
    forward = fake_int8_forward(tuned, config, ranges)
    simulated = np.round(forward(tf.constant(lr[None].astype(np.float32))).numpy()[0]).astype(int)
    int8 = TFLiteSRModel(content, read_metadata(content))(lr).astype(int)
    float_out = np.round(tuned(lr[None].astype(np.float32)).numpy()[0]).astype(int)
    sim_error, float_error = np.abs(simulated - int8).mean(), np.abs(float_out - int8).mean()
    assert sim_error < 0.1 and sim_error < 0.5 * float_error, (sim_error, float_error)


@pytest.mark.slow
def test_held_out_images_decide_what_is_kept(tmp_path):
    """With --qat-val the keep test scores both files on those images, not on the tuning ones."""
    from PIL import Image

    from keras_sr.export import export_tflite
    from keras_sr.int8 import SAMPLES_DIR, calibration_images as read_images
    from keras_sr.int8 import quantization_report

    held_out = tmp_path / "held_out"
    held_out.mkdir()
    first = sorted(p for p in SAMPLES_DIR.iterdir() if p.suffix == ".png")[0]
    Image.open(first).save(held_out / "only.png")
    run = make_run(tmp_path / "run", channels=6)
    report = export_tflite(run, tmp_path / "m.tflite", "int8", calib_samples=8, qat_steps=5,
                           qat_val_dir=held_out)
    assert report.qat.judged_on.startswith(str(held_out))
    post = export_tflite(run, tmp_path / "ptq.tflite", "int8", calib_samples=8)
    from keras_sr.runtime import load_keras_sr_model

    model = load_keras_sr_model(run)
    images = read_images(held_out)[0]
    expected = quantization_report(model, (tmp_path / "ptq.tflite").read_bytes(), images, model.config)
    assert report.qat.post_training_vs_hr == pytest.approx(expected.tflite_vs_hr)
    assert report.qat.post_training_vs_hr != pytest.approx(post.quant.tflite_vs_hr)
