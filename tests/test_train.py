"""Training: collapsed vs expanded, run directories, exact resume after SIGKILL, --init, NaN,
and the CLI's error paths (one line, exit code 2)."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from typer.testing import CliRunner

from keras_sr.cli import app
from keras_sr.config import ModelConfig
from keras_sr.data import PatchSampler
from keras_sr.errors import UserError
from keras_sr.models import build_model
from keras_sr.runs import load_run, save_run
from keras_sr.train import TrainOptions, fourier_loss, init_from_run, l1_loss, train
from tests.conftest import randomize_ecb_model

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
TINY = ModelConfig(scale=2, num_blocks=1, channels=4)


@pytest.fixture
def images(tmp_path, rng):
    d = tmp_path / "hr"
    d.mkdir()
    for i, (h, w) in enumerate([(40, 44), (37, 50), (48, 33)]):
        smooth = np.cumsum(rng.integers(-12, 13, (h, w, 3)), axis=1) + 128
        Image.fromarray(np.clip(smooth, 0, 255).astype(np.uint8)).save(d / f"{i}.png")
    return d


def _steps(run_dir: Path) -> list[int]:
    with (run_dir / "log.csv").open() as f:
        return [int(row["step"]) for row in csv.DictReader(f)]


def _losses(run_dir: Path) -> np.ndarray:
    with (run_dir / "log.csv").open() as f:
        return np.array([float(row["loss"]) for row in csv.DictReader(f)])


def _one_line_error(result, message: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], result.output
    assert result.output.rstrip().endswith(lines[0])


@pytest.mark.parametrize("fft_weight", [0.0, 0.5])
def test_collapsed_and_expanded_give_the_same_loss_and_gradients(rng, fft_weight):
    config = ModelConfig(scale=3, num_blocks=1, channels=4, act_type="prelu", with_idt=True)
    expanded = build_model(config, collapsed=False)
    randomize_ecb_model(expanded)
    collapsed = build_model(config, collapsed=True)
    collapsed.set_weights(expanded.get_weights())
    lr = tf.constant(rng.uniform(0, 255, (2, 13, 17, 1)), tf.float32)
    hr = tf.constant(rng.uniform(0, 255, (2, 39, 51, 1)), tf.float32)

    def loss_and_grads(model):
        with tf.GradientTape() as tape:
            sr = model(lr, training=True)
            loss = l1_loss(sr, hr) + fft_weight * fourier_loss(sr, hr)
        return loss, tape.gradient(loss, model.trainable_variables)

    loss_e, grads_e = loss_and_grads(expanded)
    loss_c, grads_c = loss_and_grads(collapsed)
    np.testing.assert_allclose(loss_c.numpy(), loss_e.numpy(), rtol=1e-5)
    # One scale for all: the edge branches' bias0 has a true gradient of 0 (their filters sum
    # to 0), which the expanded form computes as rounding noise.
    scale = max(float(np.abs(g.numpy()).max()) for g in grads_e)
    for ge, gc in zip(grads_e, grads_c):
        np.testing.assert_allclose(gc.numpy() / scale, ge.numpy() / scale, atol=1e-4)


def test_fourier_loss_is_zero_for_equal_images_and_positive_otherwise(rng):
    x = tf.constant(rng.uniform(0, 255, (2, 8, 10, 1)), tf.float32)
    assert float(fourier_loss(x, x)) == 0.0
    assert float(fourier_loss(x, x + 1.0)) > 0.0


@pytest.mark.slow
@pytest.mark.parametrize("colors", [1, 3])
def test_validate_gives_the_psnr_of_sr_tool_eval(rng, colors):
    from keras_sr.data import make_pair, model_input
    from keras_sr.evaluate import model_scores
    from keras_sr.imresize import bicubic_downscale, round_pixels
    from keras_sr.train import validate

    config = ModelConfig(scale=2, num_blocks=1, channels=4, colors=colors)
    model = build_model(config)
    randomize_ecb_model(model)
    rgb = rng.integers(0, 256, (36, 42, 3), dtype=np.uint8)
    gray = rng.integers(0, 256, (40, 38), dtype=np.uint8)
    for image in (rgb, gray):
        hr, lr = bicubic_downscale(image, 2)
        x = tf.constant(model_input(lr, colors)[None], tf.float32)
        sr = round_pixels(model(x, training=False).numpy()[0])
        psnr = validate(model, [make_pair("image", image, 2, colors)], 2)
        # The float32 Y target differs from eval's float64 Y in the last bits only.
        assert psnr == pytest.approx(model_scores(sr, hr, 2)[0], abs=1e-6), image.ndim


def test_train_writes_a_usable_run_dir(tmp_path, images):
    options = TrainOptions(data=(str(images),), steps=6, batch=2, patch=8, ckpt_every=3,
                           val=(str(images),), fft_weight=0.1)
    result = train(TINY, options, tmp_path / "run")
    run = tmp_path / "run"
    assert (result.first_step, result.last_step) == (0, 6)
    assert _steps(run) == [1, 2, 3, 4, 5, 6]
    with (run / "val.csv").open() as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == [3, 6]
    assert result.val_psnr is not None and 5 < result.val_psnr < 60
    # Validation during training measures what sr-tool eval measures.
    from keras_sr.evaluate import evaluate

    report = evaluate(str(run), [images])
    assert report.datasets[0].mean("model")[0] == pytest.approx(result.val_psnr, abs=1e-6)
    model, config = load_run(run)
    assert config == TINY
    with Image.open(run / "curves.png") as im:
        assert im.size[0] > 100
    assert any((run / "tb").iterdir())
    assert tf.train.latest_checkpoint(str(run / "ckpt")).endswith("ckpt-6")
    # Another fresh run into the same folder is refused; --resume past the end does nothing.
    with pytest.raises(UserError, match="already holds a run"):
        train(TINY, options, run)
    again = train(None, None, run, resume=True)
    assert again.first_step == again.last_step == 6


@pytest.mark.slow
def test_resume_ignores_a_checkpoint_write_that_never_completed(tmp_path, images):
    run = tmp_path / "run"
    options = TrainOptions(data=(str(images),), steps=6, batch=2, patch=8, ckpt_every=3)
    train(TINY, options, run)
    # What a SIGKILL inside the next save leaves: log rows past the checkpoint, shard files
    # and a temporary folder that the 'checkpoint' index does not name yet.
    with (run / "log.csv").open("a") as f:
        f.write("7,1.0,0.0005\n8,1.0,0.0005\n")
    (run / "ckpt" / "ckpt-9.index").write_bytes(b"partial")
    (run / "ckpt" / "ckpt-9_temp").mkdir()
    result = train(None, None, run, resume=True, steps=9)
    assert result.first_step == 6 and result.last_step == 9
    assert _steps(run) == list(range(1, 10))
    assert tf.train.latest_checkpoint(str(run / "ckpt")).endswith("ckpt-9")


def _train_cmd(run_dir: Path, data: Path, steps: int) -> list[str]:
    return [sys.executable, "-m", "keras_sr.cli", "train", "--data", str(data), "--scale", "2",
            "--preset", "m4c8", "--steps", str(steps), "--batch", "4", "--patch", "12",
            "--ckpt-every", "10", "--seed", "3", "-o", str(run_dir)]


@pytest.mark.slow
def test_resume_after_sigkill_repeats_and_loses_no_step(tmp_path, images):
    steps = 60
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    straight = tmp_path / "straight"
    subprocess.run(_train_cmd(straight, images, steps), check=True, env=env, cwd=ROOT,
                   capture_output=True, timeout=120)

    killed = tmp_path / "killed"
    proc = subprocess.Popen(_train_cmd(killed, images, steps), env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if (killed / "log.csv").is_file() and len(_steps(killed)) >= 20:
            break
        time.sleep(0.02)
    time.sleep(0.013)  # land at an arbitrary point, possibly inside a checkpoint write
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    assert _steps(killed)[-1] < steps  # it was stopped mid-way

    resumed = subprocess.run(_train_cmd(killed, images, steps) + ["--resume"], env=env,
                             cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stderr
    assert _steps(killed) == list(range(1, steps + 1))
    assert _steps(straight) == list(range(1, steps + 1))
    # Same batches, same optimizer state: the same losses as the uninterrupted run.
    np.testing.assert_allclose(_losses(killed), _losses(straight), rtol=1e-3)
    a, _ = load_run(killed)
    b, _ = load_run(straight)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-3, atol=1e-4)


def test_init_copies_all_but_the_tail_from_another_scale(tmp_path):
    x2 = build_model(ModelConfig(scale=2, num_blocks=1, channels=4, act_type="prelu"))
    randomize_ecb_model(x2)
    save_run(x2, ModelConfig(scale=2, num_blocks=1, channels=4, act_type="prelu"), tmp_path / "x2")
    config4 = ModelConfig(scale=4, num_blocks=1, channels=4, act_type="prelu")
    x4 = build_model(config4)
    copied, fresh = init_from_run(x4, config4, tmp_path / "x2")
    assert copied == ["ecb_0", "act_0", "ecb_1", "act_1"]
    assert fresh == ["ecb_2"]
    for name in copied:
        for a, b in zip(x4.get_layer(name).get_weights(), x2.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)
    wider = ModelConfig(scale=4, num_blocks=1, channels=8, act_type="prelu")
    with pytest.raises(UserError, match=r"another architecture \(channels 4 vs 8\)"):
        init_from_run(build_model(wider), wider, tmp_path / "x2")


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, images, monkeypatch):
    original = PatchSampler.batch_for_step

    def poisoned(self, step):
        lr, hr = original(self, step)
        return tf.where(step >= 4, lr * np.nan, lr), hr

    monkeypatch.setattr(PatchSampler, "batch_for_step", poisoned)
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", "--data", str(images), "--preset", "m4c8", "--steps", "10",
                                 "--batch", "2", "--patch", "8", "--ckpt-every", "2", "-o", str(run)])
    _one_line_error(result, "loss became nan at step 5")
    assert "ckpt-4) is kept" in result.output
    assert tf.train.latest_checkpoint(str(run / "ckpt")).endswith("ckpt-4")
    assert _steps(run) == [1, 2, 3, 4]
    load_run(run)  # the run dir holds the last good weights


@pytest.mark.parametrize("make_args,message", [
    (lambda d, t: ["--data", str(t / "missing")], "no such data folder"),
    (lambda d, t: ["--data", str(_mkdir(t / "empty"))], "no images"),
    (lambda d, t: ["--data", str(_with_file(t / "txt", "a.txt"))], "no images"),
    (lambda d, t: ["--data", str(_with_file(t / "junk", "a.png"))], "no usable image"),
    (lambda d, t: ["--data", str(d), "--patch", "64"], "smaller than a 128x128 HR patch"),
    (lambda d, t: ["--data", str(d), "--scale", "5"], "scale must be one of"),
    (lambda d, t: [], "give at least one --data"),
    (lambda d, t: ["--data", str(d), "--schedule", "linear"], "schedule must be one of"),
])
def test_train_command_bad_input(tmp_path, images, make_args, message):
    args = ["train", *make_args(images, tmp_path), "--steps", "2", "-o", str(tmp_path / "run")]
    _one_line_error(runner.invoke(app, args), message)


def test_train_command_refuses_init_of_another_architecture(tmp_path, images):
    config = ModelConfig(scale=2, num_blocks=1, channels=4)
    save_run(build_model(config), config, tmp_path / "x2")
    result = runner.invoke(app, ["train", "--data", str(images), "--preset", "m4c8", "--scale", "4",
                                 "--init", str(tmp_path / "x2"), "--patch", "8", "--steps", "2",
                                 "-o", str(tmp_path / "run")])
    _one_line_error(result, "another architecture (num_blocks 1 vs 4; channels 4 vs 8)")


def test_resume_without_a_run_is_a_user_error(tmp_path):
    result = runner.invoke(app, ["train", "--resume", "-o", str(tmp_path)])
    _one_line_error(result, "nothing to resume")


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def _with_file(path: Path, name: str) -> Path:
    path.mkdir()
    (path / name).write_text("not an image")
    return path


def test_train_command_refuses_zero_steps(tmp_path, images):
    result = runner.invoke(app, ["train", "--data", str(images), "--steps", "0",
                                 "-o", str(tmp_path / "run")])
    _one_line_error(result, "steps must be >= 1")
    assert not (tmp_path / "run").exists()
