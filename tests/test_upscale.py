"""Tiling (bit-identical to whole-image runs), color handling and ``sr-tool upscale``,
every bad-input path included (exit 2, one line, no traceback, no output file left)."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from keras_sr.cli import app
from keras_sr.errors import UserError
from keras_sr.images import LoadedImage, PngWriter, load_image
from keras_sr.imresize import imresize
from keras_sr.metrics import rgb2ycbcr, ycbcr2rgb
from keras_sr.runtime import load_sr_model, round_pixels
from keras_sr.tiling import axis_windows, run_tiled
from keras_sr.upscale import _BandResize, upscale_bands
from tests.sr_models import export, make_run

runner = CliRunner()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("upscale")
    run = make_run(root / "run")
    export(run, root / "y_int8.tflite", "int8", report=False)
    rgb = make_run(root / "rgb", colors=3, seed=1)
    return {"run": run, "int8": root / "y_int8.tflite", "rgb": rgb}


@pytest.fixture(scope="module")
def int8(models):
    return load_sr_model(models["int8"])


@pytest.mark.parametrize("length,tile,radius", [(1, 7, 3), (7, 7, 3), (8, 7, 3), (53, 8, 3),
                                                (100, 256, 6), (1000, 256, 6), (257, 256, 6)])
def test_axis_windows_cover_the_axis_with_enough_context(length, tile, radius):
    windows = axis_windows(length, tile, radius)
    assert windows[0].keep_start == 0 and windows[-1].keep_end == length
    for w, nxt in zip(windows, windows[1:]):
        assert w.keep_end == nxt.keep_start
    for w in windows:
        assert 0 <= w.start and w.start + w.size <= length and w.size == min(tile, length)
        # Each kept pixel has `radius` real pixels of context on each side, or a true border.
        assert w.keep_start - w.start >= radius or w.start == 0
        assert w.start + w.size - w.keep_end >= radius or w.start + w.size == length
    with pytest.raises(UserError, match="larger than twice"):
        axis_windows(length, 2 * radius, radius)


@pytest.mark.parametrize("kind", ["int8", "run", "rgb"])
def test_tiled_equals_whole_bit_for_bit(models, kind, rng):
    model = load_sr_model(models[kind])
    lr = rng.integers(0, 256, (53, 41, model.colors), dtype=np.uint8)
    whole = model(lr)
    for tile in (7, 8, 19, 64):
        np.testing.assert_array_equal(run_tiled(model, lr, tile), whole)


def test_band_bicubic_equals_whole_image_imresize(rng):
    img = rng.uniform(0, 255, (37, 29, 2))
    band = _BandResize(37, 29, 3, lambda r0, r1: img[r0:r1])
    parts = np.concatenate([band.rows(o, min(o + 10, 111)) for o in range(0, 111, 10)])
    np.testing.assert_array_equal(parts, imresize(img, 3.0))


def test_y_model_color_pipeline_matches_the_reference(int8, rng):
    rgb = rng.integers(0, 256, (30, 23, 3), dtype=np.uint8)
    h, w, c, bands = upscale_bands(int8, LoadedImage(rgb, []), tile=8)
    out = np.concatenate([band for _, band in bands])
    ycc = rgb2ycbcr(rgb)
    y_sr = int8(round_pixels(ycc[:, :, :1])).astype(np.float64)
    ref = round_pixels(ycbcr2rgb(np.concatenate([y_sr, imresize(ycc[:, :, 1:], 2.0)], axis=2)))
    assert (h, w, c) == (60, 46, 3)
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_png_writer_round_trip(tmp_path, rng, channels):
    pixels = rng.integers(0, 256, (21, 13, channels), dtype=np.uint8)
    buf = io.BytesIO()
    writer = PngWriter(buf, 13, 21, channels)
    for r in range(0, 21, 5):
        writer.write(pixels[r:r + 5])
    writer.close()
    back = np.asarray(Image.open(io.BytesIO(buf.getvalue())))
    np.testing.assert_array_equal(back.reshape(pixels.shape), pixels)


def _upscale(args):
    return runner.invoke(app, ["upscale", *map(str, args)])


def test_upscale_rgb_file_with_int8_model_tiled(models, int8, tmp_path, rng):
    rgb = rng.integers(0, 256, (40, 35, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "in.png")
    out = tmp_path / "out.png"
    result = _upscale(["--model", models["int8"], "--tile", "9", tmp_path / "in.png", "-o", out])
    assert result.exit_code == 0, result.output
    got = np.asarray(Image.open(out))
    _, _, _, bands = upscale_bands(int8, LoadedImage(rgb, []), tile=512)  # one tile
    np.testing.assert_array_equal(got, np.concatenate([b for _, b in bands]))


def test_exif_orientation_is_honored(models, tmp_path, rng):
    img = Image.fromarray(rng.integers(0, 256, (10, 20, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    img.save(tmp_path / "in.jpg", exif=exif.tobytes())
    result = _upscale(["--model", models["int8"], tmp_path / "in.jpg", "-o", tmp_path / "o.png"])
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "o.png").size == (20, 40)  # displayed 10 wide, 20 tall, x2


def test_rgba_keeps_alpha_and_gray_stays_gray(models, tmp_path, rng):
    rgba = rng.integers(0, 256, (12, 9, 4), dtype=np.uint8)
    Image.fromarray(rgba).save(tmp_path / "a.png")
    Image.fromarray(rgba[:, :, 0]).save(tmp_path / "g.png")
    for model in (models["int8"], models["rgb"]):
        out = tmp_path / "out"
        result = _upscale(["--model", model, tmp_path / "a.png", tmp_path / "g.png", "-o", out,
                           "--overwrite"])
        assert result.exit_code == 0, result.output
        a, g = Image.open(out / "a.png"), Image.open(out / "g.png")
        assert (a.mode, a.size, g.mode, g.size) == ("RGBA", (18, 24), "L", (18, 24))
        alpha = round_pixels(imresize(rgba[:, :, 3].astype(np.float64), 2.0))
        np.testing.assert_array_equal(np.asarray(a)[:, :, 3], alpha)


def test_gray_input_is_fed_as_y(models, int8, tmp_path, rng):
    gray = rng.integers(0, 256, (15, 11), dtype=np.uint8)
    Image.fromarray(gray).save(tmp_path / "g.png")
    result = _upscale(["--model", models["int8"], tmp_path / "g.png", "-o", tmp_path / "o.png"])
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "o.png")), int8(gray[:, :, None])[:, :, 0])


def test_16_bit_input_is_converted_with_a_warning(models, tmp_path):
    values = np.linspace(0, 65535, 12 * 10).reshape(12, 10).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    loaded = load_image(tmp_path / "deep.png")
    np.testing.assert_array_equal(loaded.pixels, np.floor(values / 257.0 + 0.5).astype(np.uint8))
    result = _upscale(["--model", models["int8"], tmp_path / "deep.png", "-o", tmp_path / "o.png"])
    assert result.exit_code == 0, result.output
    assert "16-bit image converted to 8 bits" in result.output
    assert Image.open(tmp_path / "o.png").mode == "L"


def test_16_bit_rgb_png_is_converted_with_a_warning(tmp_path):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rgb = (np.arange(4 * 5 * 3).reshape(4, 5, 3) * 1000).astype(">u2")
    raw = b"".join(b"\x00" + row.tobytes() for row in rgb)
    (tmp_path / "deep.png").write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 5, 4, 16, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    loaded = load_image(tmp_path / "deep.png")
    assert loaded.warnings == ["16-bit image converted to 8 bits"]
    np.testing.assert_array_equal(loaded.pixels, (rgb >> 8).astype(np.uint8))


def test_directory_input(models, tmp_path, rng):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("b.png", "a.jpg"):
        Image.fromarray(rng.integers(0, 256, (8, 6, 3), dtype=np.uint8)).save(src / name)
    (src / "notes.txt").write_text("not an image, not listed")
    result = _upscale(["--model", models["run"], src, "-o", tmp_path / "out"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.png"]
    assert Image.open(tmp_path / "out" / "a.png").size == (12, 16)


def test_same_names_from_several_folders_get_distinct_outputs(models, tmp_path, rng):
    folders = [tmp_path / name for name in "xyz"]
    for folder in folders:
        folder.mkdir()
        Image.fromarray(rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)).save(folder / "p.png")
    result = _upscale(["--model", models["run"], *folders, "-o", tmp_path / "out"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["p.png", "p_2.png", "p_3.png"]


def test_an_output_that_would_overwrite_an_input_is_refused(models, tmp_path, rng):
    src = tmp_path / "src"
    src.mkdir()
    Image.fromarray(rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)).save(src / "a.png")
    before = (src / "a.png").read_bytes()
    for args in ([src, "-o", src], [src / "a.png", "-o", src / "a.png"]):
        result = _upscale(["--model", models["run"], *args])
        assert result.exit_code == 2 and "would overwrite an input" in result.output, result.output
        assert sorted(p.name for p in src.iterdir()) == ["a.png"]
        assert (src / "a.png").read_bytes() == before


def _png_with_size(width: int, height: int) -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def _bad_input(tmp_path, kind):
    path = tmp_path / "in.png"
    if kind == "missing":
        return path, []
    if kind == "not an image":
        path.write_text("hello")
    elif kind == "truncated":
        img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
        img.save(path)
        path.write_bytes(path.read_bytes()[:2000])
    elif kind == "zero size":
        path.write_bytes(_png_with_size(0, 5))
    elif kind == "bomb":
        Image.new("1", (12000, 12000)).save(path)
    return path, []


@pytest.mark.parametrize("kind,message", [
    ("missing", "no such file"),
    ("not an image", "not an image"),
    ("truncated", "truncated or corrupt"),
    ("zero size", "empty image (0x5)"),
    ("bomb", "decompression-bomb guard"),
])
def test_bad_images_fail_cleanly(models, tmp_path, kind, message):
    path, _ = _bad_input(tmp_path, kind)
    out = tmp_path / "out"
    out.mkdir()
    result = _upscale(["--model", models["int8"], path, "-o", out / "o.png"])
    _assert_clean_failure(result, message, out)


def _assert_clean_failure(result, message, out_dir):
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], result.output
    assert "Traceback" not in result.output
    assert list(out_dir.iterdir()) == []  # no output, not even a temporary file


@pytest.fixture
def bare_tflite(tmp_path):
    """A valid TFLite file without keras_sr metadata (not an SR model)."""
    import tensorflow as tf

    fn = tf.function(lambda x: x * 2.0, input_signature=[tf.TensorSpec([1, 4], tf.float32)])
    content = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()]).convert()
    (tmp_path / "bare.tflite").write_bytes(content)
    return tmp_path / "bare.tflite"


@pytest.mark.parametrize("case,message", [
    ("garbage model", "not a TFLite model file"),
    ("not sr", "not a keras_sr super-resolution model"),
    ("missing model", "no such file"),
    ("scale mismatch", "scale mismatch"),
    ("no output folder", "output folder does not exist"),
    ("bad output type", "unknown image type"),
    ("no bundled model", "bundled: none"),
])
def test_bad_models_and_outputs_fail_cleanly(models, tmp_path, rng, bare_tflite, monkeypatch, case,
                                             message):
    monkeypatch.setattr("keras_sr.bundled.PRETRAINED_DIR", tmp_path / "nothing_bundled")
    Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(tmp_path / "in.png")
    out = tmp_path / "out"
    out.mkdir()
    garbage = tmp_path / "junk.tflite"
    garbage.write_bytes(b"\x00\x01junk" * 10)
    args = {
        "garbage model": ["--model", garbage],
        "not sr": ["--model", bare_tflite],
        "missing model": ["--model", tmp_path / "nope.tflite"],
        "scale mismatch": ["--model", models["int8"], "--scale", "3"],
        "no output folder": ["--model", models["int8"], "-o", out / "sub" / "o.png"],
        "bad output type": ["--model", models["int8"], "-o", out / "o.xyz"],
        "no bundled model": [],
    }[case]
    if "-o" not in args:
        args = args + ["-o", out / "o.png"]
    _assert_clean_failure(_upscale([*args, tmp_path / "in.png"]), message, out)
