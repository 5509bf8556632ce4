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


def _tiny_family_configs():
    from keras_sr.config import preset_config

    return [TINY, preset_config("eSR-TM_K3_C2", scale=2), preset_config("RepRFN-B1C16", scale=2)]


@pytest.mark.parametrize("config", _tiny_family_configs(), ids=lambda c: c.family)
def test_mixed_precision_computes_in_bfloat16_and_keeps_float32_weights_and_pixels(rng, config):
    import tf_keras as keras

    from keras_sr import archs
    from keras_sr.train import precision_policy

    with precision_policy("mixed_bfloat16"):
        mixed = archs.family(config).build(config, collapsed=True)
    assert keras.mixed_precision.global_policy().name == "float32"  # restored
    exact = archs.family(config).build(config, collapsed=True)
    assert {w.dtype for w in mixed.weights} == {tf.float32}
    # O(1) weights everywhere (not the near-zero initial edge scales), the same in both.
    weights = [rng.normal(0.0, 1.0, w.shape).astype(np.float32) / max(1, np.prod(w.shape[:-1])) ** 0.5
               for w in exact.get_weights()]
    exact.set_weights(weights)
    mixed.set_weights(weights)
    assert any(layer.compute_dtype == "bfloat16" for layer in mixed.layers)
    x = tf.constant(rng.uniform(0, 255, (1, 12, 14, config.colors)), tf.float32)
    out, ref = mixed(x).numpy(), exact(x).numpy()
    assert out.dtype == np.float32 and out.shape == ref.shape
    diff = np.abs(out - ref)
    # bfloat16 keeps 8 significant bits: close to float32, but not equal to it.
    assert 0 < diff.mean() < 0.02 * max(1.0, np.abs(ref).mean()), (diff.mean(), np.abs(ref).mean())


def test_mixed_precision_run_validates_and_saves_in_float32_and_resume_can_switch(tmp_path, images):
    import json

    from keras_sr.evaluate import evaluate

    options = TrainOptions(data=(str(images),), steps=4, batch=2, patch=8, ckpt_every=2,
                           val=(str(images),), precision="mixed_bfloat16")
    run = tmp_path / "run"
    result = train(TINY, options, run)
    assert json.loads((run / "train.json").read_text())["precision"] == "mixed_bfloat16"
    # Validation scored the float32 network, as sr-tool eval does with the saved weights.
    report = evaluate(str(run), [images])
    assert report.datasets[0].mean("model")[0] == pytest.approx(result.val_psnr, abs=1e-6)
    again = train(None, None, run, resume=True, steps=6, precision="float32")
    assert (again.first_step, again.last_step) == (4, 6)
    assert json.loads((run / "train.json").read_text())["precision"] == "float32"
    assert _steps(run) == [1, 2, 3, 4, 5, 6]


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
    (lambda d, t: ["--data", str(d), "--precision", "float16"], "precision must be one of"),
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


def _tiny_options(images: Path, **fields) -> TrainOptions:
    return TrainOptions(**{"data": (str(images),), "steps": 6, "batch": 2, "patch": 8,
                           "ckpt_every": 3, **fields})


def test_train_refuses_a_non_empty_folder_that_is_not_a_run(tmp_path, images):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "holiday.jpg").write_bytes(b"the user's file")
    result = runner.invoke(app, ["train", "--data", str(images), "-o", str(folder), "--steps", "2"])
    _one_line_error(result, "folder exists and is not empty (and is not a run)")
    assert [p.name for p in folder.iterdir()] == ["holiday.jpg"]


@pytest.mark.slow
def test_resume_falls_back_to_the_newest_intact_checkpoint_and_keeps_the_damaged_one(tmp_path, images):
    run = tmp_path / "run"
    train(TINY, _tiny_options(images), run)
    data = run / "ckpt" / "ckpt-6.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:10])  # truncated, as by a full disk
    damaged = data.read_bytes()
    result = train(None, None, run, resume=True, steps=9)
    assert (result.first_step, result.last_step) == (3, 9)
    assert any("ckpt-6 is damaged" in note for note in result.notes), result.notes
    kept = run / "ckpt" / "ckpt-6.data-00000-of-00001.damaged"
    assert kept.read_bytes() == damaged  # never deleted, never overwritten by the new ckpt-6
    assert tf.train.latest_checkpoint(str(run / "ckpt")).endswith("ckpt-9")
    assert _steps(run) == list(range(1, 10))


@pytest.mark.slow
def test_resume_survives_a_damaged_checkpoint_index(tmp_path, images):
    """The 'checkpoint' index file damaged: the checkpoints are found on disk, not lost (an
    earlier version started over from step 0 and deleted them)."""
    run = tmp_path / "run"
    train(TINY, _tiny_options(images), run)
    (run / "ckpt" / "checkpoint").write_text("garbage {{{")
    result = train(None, None, run, resume=True, steps=9)
    assert (result.first_step, result.last_step) == (6, 9)


@pytest.mark.slow
def test_resume_with_every_checkpoint_damaged_stops_and_changes_nothing(tmp_path, images):
    run = tmp_path / "run"
    train(TINY, _tiny_options(images), run)
    for index in (run / "ckpt").glob("*.index"):
        index.write_bytes(b"\x00" * 7)
    before = {p.name: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    result = runner.invoke(app, ["train", "-o", str(run), "--resume", "--steps", "9"])
    _one_line_error(result, "no checkpoint reads back")
    assert {p.name: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


@pytest.mark.slow
def test_sigterm_writes_a_checkpoint_and_removes_temp_files(tmp_path, images):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    run = tmp_path / "run"
    cmd = _train_cmd(run, images, 100_000)
    cmd[cmd.index("--ckpt-every") + 1] = "37"
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (run / "ckpt" / "ckpt-37.index").is_file():
        time.sleep(0.05)
    time.sleep(1.0)  # on, past the first checkpoint
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert stderr.rstrip().endswith("interrupted"), stderr
    step = int(tf.train.latest_checkpoint(str(run / "ckpt")).rsplit("-", 1)[1])
    # Nothing trained is lost: the last checkpoint is the last logged step (written on the
    # signal, unless it landed on a checkpoint step).
    assert step > 37 and step == _steps(run)[-1], (step, stderr)
    assert f"checkpoint written at step {step}" in stderr or step % 37 == 0
    assert not [p for p in run.rglob(".*") if p.is_file()]  # no temporary file left


@pytest.mark.slow
def test_a_model_below_bicubic_gets_a_warning(tmp_path, images):
    result = runner.invoke(app, ["train", "--data", str(images), "--val", str(images), "-o",
                                 str(tmp_path / "run"), "--steps", "2", "--preset", "m4c8",
                                 "--patch", "8", "--batch", "2"])
    assert result.exit_code == 0, result.output
    assert "warning: the validation PSNR" in result.output and "below bicubic" in result.output


@pytest.mark.parametrize("field,value,message", [
    ("scale", "2", 'scale must be an integer, got "2" (str)'),
    ("with_idt", "false", 'with_idt must be true or false, got "false" (str)'),
    ("with_idt", 1, "with_idt must be true or false, got 1 (int)"),
    ("channels", 16.0, "channels must be an integer, got 16.0 (float)"),
    ("num_blocks", 10_000, "num_blocks must be in 0..64"),
])
def test_config_values_are_type_checked(tmp_path, field, value, message):
    import json

    from keras_sr.config import CONFIG_FILE

    run = tmp_path / "run"
    run.mkdir()
    (run / CONFIG_FILE).write_text(json.dumps({**ModelConfig().to_dict(), field: value}))
    result = runner.invoke(app, ["eval", str(run), "--data", str(tmp_path)])
    _one_line_error(result, message)
    assert str(run / CONFIG_FILE) in result.output


def test_a_full_disk_is_one_line_and_keeps_the_last_checkpoint(tmp_path, images, monkeypatch):
    """The free space is checked before each checkpoint (h5py can crash the process when the
    disk fills during a write): here the disk 'fills' after the first checkpoint."""
    import shutil

    import keras_sr.train

    real = shutil.disk_usage
    calls = []

    def filling(path):
        calls.append(path)
        usage = real(path)
        return usage._replace(free=usage.free if len(calls) == 1 else 1000)

    monkeypatch.setattr(keras_sr.train.shutil, "disk_usage", filling)
    result = runner.invoke(app, ["train", "--data", str(images), "-o", str(tmp_path / "run"), "--steps", "6",
                                 "--ckpt-every", "3", "--preset", "m4c8", "--patch", "8", "--batch", "2"])
    _one_line_error(result, "not enough free disk space for the checkpoint at step 6")
    assert "the last good checkpoint" in result.output and "ckpt-3) is kept" in result.output
    assert tf.train.latest_checkpoint(str(tmp_path / "run" / "ckpt")).endswith("ckpt-3")


@pytest.mark.slow
def test_a_failed_command_leaves_the_run_folder_as_it_found_it(tmp_path, images, monkeypatch):
    """--resume with a damaged log changes nothing (train.json included), and a fresh run that
    fails before its first checkpoint leaves no folder behind, so a retry is not refused."""
    run = tmp_path / "run"
    train(TINY, _tiny_options(images), run)
    (run / "log.csv").write_text("step,loss,lr\nnot-a-step,1,1\n")
    before = {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()}
    result = runner.invoke(app, ["train", "-o", str(run), "--resume", "--steps", "9"])
    _one_line_error(result, "log.csv: damaged log")
    assert {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()} == before

    import keras_sr.train

    def broken(*args, **kwargs):
        raise UserError("the data pipeline failed")

    monkeypatch.setattr(keras_sr.train.RunLog, "flush", broken)  # fails at the first checkpoint
    fresh = tmp_path / "fresh"
    with pytest.raises(UserError, match="the data pipeline failed"):
        train(TINY, _tiny_options(images), fresh)
    assert not fresh.exists()
    monkeypatch.undo()
    assert train(TINY, _tiny_options(images), fresh).last_step == 6  # the retry is not refused


def test_resume_reads_data_folders_relative_to_the_run_dir(tmp_path, images):
    """A run kept in the repository names its data relative to itself, not by a machine path."""
    import json
    import shutil

    run = tmp_path / "runs" / "run"
    train(TINY, _tiny_options(images), run)
    options = json.loads((run / "train.json").read_text())
    options["data"] = ["../../hr"]
    (run / "train.json").write_text(json.dumps(options))
    moved = tmp_path / "elsewhere" / "kept" / "run"
    shutil.copytree(images, tmp_path / "elsewhere" / "hr")
    shutil.copytree(run, moved)
    result = train(None, None, moved, resume=True, steps=9)
    assert (result.first_step, result.last_step) == (6, 9)
    assert json.loads((moved / "train.json").read_text())["data"] == ["../../hr"]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_two_workers_over_loopback_train_in_sync(tmp_path, images):
    """MultiWorkerMirroredStrategy from TF_CONFIG: two worker processes on this machine, each
    drawing its own patches; the all-reduced loss each prints is the same, the chief alone
    writes the run dir (which then resumes on one machine), the other leaves nothing behind."""
    import json as json_module
    import tempfile

    ports = [_free_port(), _free_port()]
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    run_dir = tmp_path / "run"
    scratch_before = set(Path(tempfile.gettempdir()).glob("keras_sr_worker*"))
    procs = []
    for index in range(2):
        env = {**os.environ, "TF_CONFIG": json_module.dumps({"cluster": cluster,
                                                              "task": {"type": "worker", "index": index}}),
               "CUDA_VISIBLE_DEVICES": ""}
        procs.append(subprocess.Popen(_train_cmd(run_dir, images, 6), cwd=ROOT, env=env, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    outputs = [proc.communicate(timeout=400)[0] for proc in procs]
    for proc, output in zip(procs, outputs):
        assert proc.returncode == 0, output[-2000:]
    losses = [line.split("loss ")[1].split(",")[0] for out in outputs
              for line in out.splitlines() if line.startswith("trained steps")]
    assert len(losses) == 2 and losses[0] == losses[1], outputs
    assert "worker 1: synchronous with the chief" in outputs[1]
    assert _steps(run_dir) == list(range(1, 7))
    assert set(Path(tempfile.gettempdir()).glob("keras_sr_worker*")) == scratch_before
    # A single-machine run of the same options draws other patches: another loss.
    solo = subprocess.run(_train_cmd(tmp_path / "solo", images, 6), cwd=ROOT, text=True,
                          capture_output=True, env={**os.environ, "TF_CONFIG": ""})
    solo_loss = [line.split("loss ")[1].split(",")[0] for line in solo.stdout.splitlines()
                 if line.startswith("trained steps")]
    assert solo_loss and solo_loss[0] != losses[0]
    resumed = subprocess.run(_train_cmd(run_dir, images, 8)[:-2] + ["-o", str(run_dir), "--resume"],
                             cwd=ROOT, text=True, capture_output=True, env={**os.environ, "TF_CONFIG": ""})
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert _steps(run_dir) == list(range(1, 9))
