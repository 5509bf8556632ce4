"""Everyday use: bundled models by name, ``sr-tool models``, batch controls of ``upscale``,
quiet output, and the light install (the .tflite commands run without TensorFlow)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from keras_sr.bundled import bundled_files, resolve_model
from keras_sr.cli import app
from keras_sr.errors import UserError

runner = CliRunner()
ROOT = Path(__file__).parent.parent
PRETRAINED = ROOT / "keras_sr" / "pretrained"
# Run the CLI in a fresh interpreter where TensorFlow and tf-keras cannot be imported, as on
# the light install (`pip install keras-sr` without the train extra).
NO_TENSORFLOW = ("import sys\n"
                 "for name in ('tensorflow', 'tf_keras', 'keras'):\n"
                 "    sys.modules[name] = None\n"
                 "from keras_sr.cli import app\n"
                 "app()\n")


def _cli(*args, no_tensorflow: bool = False) -> subprocess.CompletedProcess:
    command = ["-c", NO_TENSORFLOW] if no_tensorflow else ["-m", "keras_sr.cli"]
    return subprocess.run([sys.executable, *command, *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)


@pytest.fixture
def images(tmp_path, rng):
    """A folder of three small RGB images, one more in a subfolder, and a damaged one."""
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    for name in ("a.png", "b.png", "sub/c.png"):
        Image.fromarray(rng.integers(0, 256, (14, 11, 3), dtype=np.uint8)).save(folder / name)
    (folder / "bad.png").write_bytes(b"not an image")
    return folder


def test_bundled_models_have_short_and_full_names():
    names = {f.names for f in bundled_files()}
    assert {("x2", "ecbsr_x2_m4c16_relu_y"), ("x3", "ecbsr_x3_m4c16_relu_y"),
            ("x4", "ecbsr_x4_m4c16_relu_y"), ("x2-rgb", "ecbsr_x2_m4c16_relu_rgb"),
            ("x2-quality", "ecbsr_x2_m10c32_relu_y")} <= names
    assert resolve_model("x2-Quality") == PRETRAINED / "ecbsr_x2_m10c32_relu_y_int8.tflite"
    assert resolve_model("x4") == PRETRAINED / "ecbsr_x4_m4c16_relu_y_int8.tflite"
    assert resolve_model("X2-RGB") == PRETRAINED / "ecbsr_x2_m4c16_relu_rgb_int8.tflite"
    assert resolve_model("ecbsr_x3_m4c16_relu_y").name == "ecbsr_x3_m4c16_relu_y_int8.tflite"
    assert resolve_model(None) == resolve_model("x2")
    with pytest.raises(UserError, match=r"x9: no such file, folder or bundled model "
                                        r"\(bundled: x2, x2-quality, x3"):
        resolve_model("x9")


def test_an_existing_path_wins_over_a_bundled_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("x4").mkdir()
    assert resolve_model("x4") == Path("x4")
    with pytest.raises(UserError, match="no such file"):  # a path with folders is never a name
        resolve_model("sub/x4")


def test_models_command_lists_names_and_recorded_quality():
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line.split() for line in result.output.splitlines() if line.strip()}
    for name in ("x2", "x3", "x4", "x2-rgb"):
        assert name in lines, result.output
    metadata = next(f.metadata for f in bundled_files() if f.short_name == "x2")
    psnr = metadata["quality"]["psnr"]
    assert lines["x2"][4:9:2] == [f"{psnr[s]:.2f}" for s in ("Set5", "Set14", "B100")]
    assert "PSNR: int8 PSNR-Y" in result.output


def test_upscale_scale_picks_the_bundled_model_and_model_takes_names(images, tmp_path):
    result = runner.invoke(app, ["upscale", str(images / "a.png"), "-o", str(tmp_path / "a4.png"),
                                 "--scale", "4"])
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "a4.png").size == (44, 56)
    result = runner.invoke(app, ["upscale", str(images / "a.png"), "-o", str(tmp_path / "a3.png"),
                                 "--model", "x3"])
    assert result.exit_code == 0 and Image.open(tmp_path / "a3.png").size == (33, 42)
    result = runner.invoke(app, ["upscale", str(images / "a.png"), "-o", str(tmp_path / "a.png"),
                                 "--model", "x3", "--scale", "4"])
    assert result.exit_code == 2 and "scale mismatch" in result.output


def test_a_bad_file_is_reported_and_the_batch_goes_on(images, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["upscale", str(images), "-o", str(out)])
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "bad.png" in errors[0], result.output
    assert "2 upscaled, 0 skipped, 1 failed" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png"]  # not recursive: no c


def test_fail_fast_stops_at_the_first_bad_file(images, tmp_path):
    (images / "0bad.png").write_bytes(b"damaged")  # sorts first
    out = tmp_path / "out"
    result = runner.invoke(app, ["upscale", str(images), "-o", str(out), "--fail-fast"])
    assert result.exit_code == 2 and "0bad.png" in result.output, result.output
    assert list(out.iterdir()) == []


def test_existing_outputs_are_never_overwritten_without_overwrite(images, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"the user's own file")
    args = ["upscale", str(images / "a.png"), str(images / "b.png"), "-o", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "a.png: already exists" in result.output, result.output
    assert (out / "a.png").read_bytes() == b"the user's own file" and (out / "b.png").is_file()
    result = runner.invoke(app, [*args, "--skip-existing"])
    assert result.exit_code == 0 and "skipped" in result.output, result.output
    assert (out / "a.png").read_bytes() == b"the user's own file"
    result = runner.invoke(app, [*args, "--overwrite"])
    assert result.exit_code == 0, result.output
    assert Image.open(out / "a.png").size == (22, 28)
    single = tmp_path / "one.png"
    single.write_bytes(b"mine")
    result = runner.invoke(app, ["upscale", str(images / "a.png"), "-o", str(single)])
    assert result.exit_code == 2 and single.read_bytes() == b"mine"


def test_recursive_format_and_quality(images, tmp_path):
    (images / "bad.png").unlink()
    sizes = {}
    for quality in (20, 95):
        out = tmp_path / f"q{quality}"
        result = runner.invoke(app, ["upscale", str(images), "-o", str(out), "--recursive",
                                     "--format", "jpg", "--quality", str(quality)])
        assert result.exit_code == 0, result.output
        files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.jpg"))
        assert files == ["a.jpg", "b.jpg", "sub/c.jpg"]
        assert Image.open(out / "sub" / "c.jpg").format == "JPEG"
        sizes[quality] = sum(p.stat().st_size for p in out.rglob("*.jpg"))
    assert sizes[20] < sizes[95]


@pytest.mark.parametrize("args,message", [
    (["--format", "jpg"], "--format is for folder output"),
    (["--quality", "0"], "--quality must be in 1..100"),
    (["--skip-existing", "--overwrite"], "choose one of --skip-existing and --overwrite"),
])
def test_batch_option_errors(images, tmp_path, args, message):
    result = runner.invoke(app, ["upscale", str(images / "a.png"), "-o", str(tmp_path / "o.png"), *args])
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "o.png").exists()


@pytest.mark.slow
def test_output_is_quiet_unless_verbose(images, tmp_path):
    result = _cli("upscale", images / "a.png", "-o", tmp_path / "a.png")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == ["model: int8 tflite, x2, Y, runtime ai-edge-litert "
                                          + result.stderr.split("ai-edge-litert ")[1].strip()]
    result = _cli("--verbose", "upscale", images / "a.png", "-o", tmp_path / "b.png")
    assert result.returncode == 0 and "XNNPACK" in result.stderr, result.stderr


@pytest.mark.slow
def test_an_error_after_tensorflow_loads_is_one_line(tmp_path):
    from tests.sr_models import make_run

    run = make_run(tmp_path / "run")
    result = _cli("tflite", run, "-o", tmp_path / "m.tflite", "--int8", "--calib", tmp_path / "nope")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"error: {tmp_path / 'nope'}: calibration folder does not exist"]


@pytest.mark.slow
def test_light_install_runs_tflite_commands_without_tensorflow(images, tmp_path):
    for args in (["upscale", images / "a.png", "-o", tmp_path / "a.png", "--model", "x2-rgb"],
                 ["eval", "x2", "--data", ROOT / "keras_sr" / "samples"],
                 ["bench", "x4", "--size", "16x16", "--runs", "1"],
                 ["models"]):
        result = _cli(*args, no_tensorflow=True)
        assert result.returncode == 0, (args, result.stderr)
    for args in (["fold", PRETRAINED / "ecbsr_x2_m4c16_relu_y", "-o", tmp_path / "f.keras"],
                 ["upscale", images / "a.png", "-o", tmp_path / "k.png", "--model",
                  PRETRAINED / "ecbsr_x2_m4c16_relu_y.keras"]):
        result = _cli(*args, no_tensorflow=True)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.splitlines() == [
            "error: this needs TensorFlow, which the base install leaves out: pip install 'keras-sr[train]'"]
    assert not (tmp_path / "f.keras").exists() and not (tmp_path / "k.png").exists()


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_only_regular_files_are_read_as_models_and_images(images, tmp_path, kind):
    import os

    for name in ("m.tflite", "i.png"):
        path = tmp_path / name
        if kind == "fifo":
            os.mkfifo(path)
        else:
            path.symlink_to("/dev/zero")
    model = runner.invoke(app, ["upscale", str(images / "a.png"), "-o", str(tmp_path / "o.png"),
                                "--model", str(tmp_path / "m.tflite")])
    assert model.exit_code == 2 and "m.tflite: not a regular file" in model.output, model.output
    image = runner.invoke(app, ["upscale", str(tmp_path / "i.png"), "-o", str(tmp_path / "o.png")])
    assert image.exit_code == 2 and "i.png: not a regular file" in image.output, image.output


@pytest.mark.parametrize("command", [["upscale", "IMG", "-o", "OUT"], ["bench", "x2", "--size", "8x8"]])
@pytest.mark.parametrize("threads", ["0", "100000"])
def test_threads_are_bounded(images, tmp_path, command, threads):
    args = [str(images / "a.png") if a == "IMG" else str(tmp_path / "o.png") if a == "OUT" else a
            for a in command]
    result = runner.invoke(app, [*args, "--threads", threads])
    assert result.exit_code == 2 and "--threads must be in 1.." in result.output, result.output


def test_32_bit_integer_images_are_scaled_or_refused(tmp_path):
    from keras_sr.images import load_image

    sixteen = np.array([[0, 65535], [32768, 1000]], np.int32)
    Image.fromarray(sixteen, mode="I").save(tmp_path / "16.tif")
    loaded = load_image(tmp_path / "16.tif")
    np.testing.assert_array_equal(loaded.pixels, [[0, 255], [128, 4]])
    assert loaded.warnings == ["32-bit integer image with 16-bit values converted to 8 bits"]
    Image.fromarray(np.array([[0, 1 << 20]], np.int32), mode="I").save(tmp_path / "32.tif")
    with pytest.raises(UserError, match=r"32\.tif: 32-bit integer image with values 0\.\.1048576"):
        load_image(tmp_path / "32.tif")
    Image.fromarray(np.zeros((2, 2), np.float32), mode="F").save(tmp_path / "f.tif")
    with pytest.raises(UserError, match=r"f\.tif: 32-bit float images are not supported"):
        load_image(tmp_path / "f.tif")


@pytest.mark.slow
def test_tflite_input_size_must_be_tileable(tmp_path):
    from tests.sr_models import make_run

    run = make_run(tmp_path / "run")  # receptive radius 3
    result = runner.invoke(app, ["tflite", str(run), "-o", str(tmp_path / "m.tflite"), "--input-size", "6x40"])
    assert result.exit_code == 2 and "each side must be larger than 6" in result.output, result.output
    assert not (tmp_path / "m.tflite").exists()


def test_help_speaks_in_words_and_lists_commands_in_workflow_order():
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "120"})
    commands = [line.split()[1] for line in result.output.splitlines()
                if line.startswith("│ ") and len(line.split()) > 2 and line.split()[1].isalnum()
                and line.split()[1] in ("upscale", "models", "eval", "bench", "train", "fold",
                                        "tflite", "report", "div2k")]
    assert commands == ["upscale", "models", "eval", "bench", "train", "fold", "tflite", "report", "div2k"]
    for command in ("upscale", "train", "eval", "bench", "tflite", "report"):
        text = runner.invoke(app, [command, "--help"], env={"COLUMNS": "120"}).output
        assert "<bool>" not in text and "list[" not in text and "<int>" not in text, text
    assert "PATH" in runner.invoke(app, ["upscale", "--help"]).output


def test_temp_files_of_a_killed_run_are_ignored(images, tmp_path):
    """What SIGKILL can leave beside an output (atomic writes use `.<random>.<name>`) is not
    taken as an input the next time."""
    (images / "bad.png").unlink()
    (images / ".1a2b3c4d.a.png").write_bytes(b"half-written")
    out = tmp_path / "out"
    result = runner.invoke(app, ["upscale", str(images), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png"]


@pytest.mark.parametrize("args,message", [
    # Found by tests/test_fuzz.py: typer printed a usage text and a framed panel here.
    (["upscale", "IMG", "-o", "OUT", "--quality", "1e+16"], "error: Invalid value for '--quality'"),
    (["upscale"], "error: Missing argument 'inputs'"),
    (["no-such-command"], "error: No such command 'no-such-command'"),
])
def test_usage_errors_are_one_line(images, tmp_path, args, message):
    args = [str(images / "a.png") if a == "IMG" else str(tmp_path / "o.png") if a == "OUT" else a for a in args]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [result.output.strip()] and result.output.startswith(message)


def test_a_forged_png_size_is_refused_before_decoding(tmp_path):
    """Found by tests/test_fuzz.py: a 68-byte PNG whose header claims 1 x 40,349,542 pixels
    (under the 100-megapixel bound) exhausted memory; sides are bounded too."""
    import struct
    import zlib

    Image.new("LA", (1, 1)).save(tmp_path / "small.png")
    content = (tmp_path / "small.png").read_bytes()
    ihdr = b"IHDR" + struct.pack(">II", 1, 40_349_542) + content[24:29]
    forged = content[:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + content[33:]
    (tmp_path / "forged.png").write_bytes(forged)
    result = runner.invoke(app, ["upscale", str(tmp_path / "forged.png"), "-o", str(tmp_path / "o.png")])
    assert result.exit_code == 2 and "over 65,535 pixels on a side" in result.output, result.output


@pytest.mark.parametrize("field,value,message", [
    # Found by tests/test_fuzz.py: one flipped bit made a zero point -256 and LiteRT segfaulted.
    ("zeroPoint", [-256], "zero point [-256] outside INT8"),
    ("scale", [0.0], "not finite and positive"),
])
def test_damaged_quantization_is_refused_before_litert_runs(tmp_path, images, field, value, message):
    from keras_sr import flatbuf

    model = flatbuf.read((PRETRAINED / "ecbsr_x2_m4c16_relu_y_int8.tflite").read_bytes())
    graph = model.subgraphs[0]
    tensor = graph.tensors[graph.operators[1].outputs[0]]
    setattr(tensor.quantization, field, value)
    (tmp_path / "m.tflite").write_bytes(flatbuf.write(model))
    result = runner.invoke(app, ["upscale", str(images / "a.png"), "-o", str(tmp_path / "o.png"),
                                 "--model", str(tmp_path / "m.tflite")])
    assert result.exit_code == 2 and "damaged TFLite model" in result.output and message in result.output
