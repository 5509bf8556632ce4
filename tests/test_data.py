"""The data pipeline: image folders, pairs, the patch sampler, and the DIV2K download helper."""

from __future__ import annotations

import hashlib
import http.server
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from keras_sr.data import (Pair, PatchSampler, dihedral, inverse_dihedral, list_images, load_pairs,
                           make_pair, model_input, target)
from keras_sr.div2k import download, extract
from keras_sr.errors import UserError
from keras_sr.imresize import bicubic_downscale
from keras_sr.metrics import rgb2ycbcr

DATA = Path(__file__).parent / "data"


def _save(path: Path, pixels: np.ndarray) -> Path:
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture
def folder(tmp_path, rng):
    d = tmp_path / "hr"
    d.mkdir()
    _save(d / "a.png", rng.integers(0, 256, (40, 52, 3), dtype=np.uint8))
    _save(d / "b.bmp", rng.integers(0, 256, (45, 38), dtype=np.uint8))  # grayscale, odd size
    _save(d / "tiny.png", rng.integers(0, 256, (9, 30, 3), dtype=np.uint8))
    (d / "broken.png").write_bytes(b"not a png")
    (d / "notes.txt").write_text("ignored: not an image suffix")
    return d


def test_load_pairs_skips_and_reports_unreadable_and_small_images(folder):
    pairs = load_pairs([folder], scale=2, colors=1, min_lr_size=8)
    assert [p.name for p in pairs.pairs] == ["a.png", "b.bmp"]
    reasons = {p.name: r for p, r in pairs.skipped}
    assert set(reasons) == {"broken.png", "tiny.png"}
    assert "not an image" in reasons["broken.png"]
    assert "smaller than a 16x16 HR patch" in reasons["tiny.png"]
    a, b = pairs.pairs
    assert a.lr.shape == (20, 26, 1) and a.lr.dtype == np.uint8
    assert a.hr.shape == (40, 52, 1) and a.hr.dtype == np.float32
    assert b.lr.shape == (22, 19, 1) and b.hr.shape == (44, 38, 1)  # cropped to a multiple of 2


@pytest.mark.parametrize("setup,message", [
    (lambda d: None, "no such data folder"),
    (lambda d: d.mkdir(), "no images"),
    (lambda d: (d.mkdir(), (d / "x.txt").write_text("x")), "no images"),
    (lambda d: (d.mkdir(), (d / "x.png").write_text("x")), "no usable image"),
])
def test_bad_folders_are_user_errors(tmp_path, setup, message):
    setup(tmp_path / "d")
    with pytest.raises(UserError, match=message):
        load_pairs([tmp_path / "d"], scale=2, colors=1)


def test_all_images_too_small_is_a_user_error(folder):
    with pytest.raises(UserError, match="no usable image.*smaller than"):
        load_pairs([folder], scale=4, colors=1, min_lr_size=64)


def test_y_convention_input_rounded_target_float():
    with Image.open(DATA / "pepper_x2_hr.png") as im:
        hr = np.asarray(im.convert("RGB"))
    pair = make_pair("pepper", hr, 2, colors=1)
    _, lr_rgb = bicubic_downscale(hr, 2)
    y_lr = rgb2ycbcr(lr_rgb)[:, :, 0]
    np.testing.assert_array_equal(pair.lr[:, :, 0], np.floor(y_lr + 0.5).astype(np.uint8))
    np.testing.assert_allclose(pair.hr[:, :, 0], rgb2ycbcr(hr)[:, :, 0], atol=1e-4)
    assert not np.allclose(pair.hr, np.round(pair.hr))  # the target Y is not rounded
    rgb = make_pair("pepper", hr, 2, colors=3)
    np.testing.assert_array_equal(rgb.lr, lr_rgb)
    np.testing.assert_array_equal(rgb.hr, hr)


def test_grayscale_values_are_y_and_repeat_for_rgb():
    gray = np.arange(20, dtype=np.uint8).reshape(4, 5) * 7
    np.testing.assert_array_equal(model_input(gray, 1)[:, :, 0], gray)
    np.testing.assert_array_equal(target(gray, 1)[:, :, 0], gray)
    np.testing.assert_array_equal(model_input(gray, 3), np.repeat(gray[:, :, None], 3, axis=2))


def _nearest_pairs(rng, scale, colors):
    """Pairs whose HR is the LR repeated scale x scale, so every HR patch must be the nearest
    upsampling of its LR patch, whatever the crop, flips and rotation."""
    pairs = []
    for h, w in [(13, 17), (21, 11), (16, 16)]:
        lr = rng.integers(0, 256, (h, w, colors), dtype=np.uint8)
        hr = np.repeat(np.repeat(lr, scale, 0), scale, 1).astype(np.float32)
        pairs.append(Pair(f"{h}x{w}", lr, hr))
    return pairs


@pytest.mark.parametrize("colors", [1, 3])
def test_patch_sampler_keeps_lr_and_hr_aligned(rng, colors):
    scale, patch, batch = 3, 7, 12
    sampler = PatchSampler(_nearest_pairs(rng, scale, colors), scale, patch, batch, seed=5)
    for step in range(4):
        lr, hr = (t.numpy() for t in sampler.batch_for_step(step))
        assert lr.shape == (batch, patch, patch, colors)
        assert hr.shape == (batch, patch * scale, patch * scale, colors)
        np.testing.assert_array_equal(hr, np.repeat(np.repeat(lr, scale, 1), scale, 2))


def test_patch_sampler_is_a_function_of_seed_and_step(rng):
    pairs = _nearest_pairs(rng, 2, 1)
    a = PatchSampler(pairs, 2, 5, 4, seed=1)
    b = PatchSampler(pairs, 2, 5, 4, seed=1)
    c = PatchSampler(pairs, 2, 5, 4, seed=2)
    np.testing.assert_array_equal(a.batch_for_step(7)[0], b.batch_for_step(7)[0])
    assert not np.array_equal(a.batch_for_step(7)[0], a.batch_for_step(8)[0])
    assert not np.array_equal(a.batch_for_step(7)[0], c.batch_for_step(7)[0])
    # The dataset from step 3 yields exactly the batches of steps 3, 4, 5.
    batches = [x.numpy() for x, _ in a.dataset(3, 6)]
    assert len(batches) == 3
    for k, x in zip(range(3, 6), batches):
        np.testing.assert_array_equal(x, a.batch_for_step(k)[0])


def test_patch_sampler_covers_the_borders(rng):
    pairs = _nearest_pairs(rng, 2, 1)[:1]  # 13 x 17
    lr_img = pairs[0].lr[:, :, 0]
    sampler = PatchSampler(pairs, 2, 13, 8, seed=0)
    lr, _ = sampler.batch_for_step(0)
    # A 13x13 patch of a 13x17 image: every patch contains the whole first and last rows.
    views = {dihedral(lr_img[:, x:x + 13, None], k).tobytes()
             for x in range(5) for k in range(8)}
    assert all(p.astype(np.uint8).tobytes() in views for p in lr.numpy())


@pytest.mark.parametrize("k", range(8))
def test_dihedral_inverse(k, rng):
    x = rng.integers(0, 9, (5, 7, 2))
    y = dihedral(x, k)
    np.testing.assert_array_equal(inverse_dihedral(y, k), x)
    assert len({dihedral(x, j).tobytes() for j in range(8)}) == 8


def test_list_images_sorted_by_name(folder):
    names = [p.name for p in list_images([folder])]
    assert names == ["a.png", "b.bmp", "broken.png", "tiny.png"]


# --- DIV2K download helper, on a local HTTP server ---------------------------------------------


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves ``server.payload`` at any path; honours ``Range: bytes=N-`` unless told not to."""

    def do_GET(self):  # noqa: N802 (http.server's naming)
        data, start = self.server.payload, 0
        self.server.requests.append(self.headers.get("Range"))
        rng = self.headers.get("Range")
        if rng and self.server.ranges:
            start = int(rng.split("=")[1].rstrip("-"))
            self.send_response(206)
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self.wfile.write(data[start:])

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RangeHandler)
    httpd.payload = bytes(range(256)) * 5000
    httpd.ranges = True
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()


def _url(server):
    return f"http://127.0.0.1:{server.server_address[1]}/DIV2K_train_HR.zip"


@pytest.mark.parametrize("ranges", [True, False])
def test_download_resumes_a_partial_file(tmp_path, server, ranges):
    server.ranges = ranges
    payload = server.payload
    digest = hashlib.sha256(payload).hexdigest()
    target = tmp_path / "DIV2K_train_HR.zip"
    (tmp_path / "DIV2K_train_HR.zip.part").write_bytes(payload[:1000])
    download(_url(server), target, digest, len(payload))
    assert target.read_bytes() == payload
    assert server.requests == ["bytes=1000-"]
    assert not (tmp_path / "DIV2K_train_HR.zip.part").exists()
    download(_url(server), target, digest, len(payload))  # complete: nothing fetched
    assert len(server.requests) == 1


def test_download_checksum_mismatch_deletes_the_partial_file(tmp_path, server):
    target = tmp_path / "DIV2K_train_HR.zip"
    with pytest.raises(UserError, match="checksum mismatch"):
        download(_url(server), target, "0" * 64)
    assert not target.exists()
    assert not (tmp_path / "DIV2K_train_HR.zip.part").exists()


def test_download_network_error_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="download failed"):
        download("http://127.0.0.1:9/none.zip", tmp_path / "none.zip")


def test_extract_refuses_paths_outside_the_folder(tmp_path):
    good, bad = tmp_path / "good.zip", tmp_path / "bad.zip"
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("DIV2K_train_HR/0001.png", b"x")
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("../evil.txt", b"x")
    extract(good, tmp_path / "out")
    assert (tmp_path / "out" / "DIV2K_train_HR" / "0001.png").is_file()
    with pytest.raises(UserError, match="unsafe path"):
        extract(bad, tmp_path / "out2")


def test_an_interrupted_unpack_leaves_nothing_that_looks_complete(tmp_path, monkeypatch):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("DIV2K_train_HR/0001.png", b"x")
        zf.writestr("DIV2K_train_HR/0002.png", b"y")

    def disk_full(self, path):
        (Path(path) / "DIV2K_train_HR").mkdir(parents=True)
        (Path(path) / "DIV2K_train_HR" / "0001.png").write_bytes(b"x")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(zipfile.ZipFile, "extractall", disk_full)
    with pytest.raises(UserError, match="cannot unpack.*No space left"):
        extract(archive, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_div2k_command_downloads_checks_and_unpacks(tmp_path, server, monkeypatch):
    import io

    from typer.testing import CliRunner

    import keras_sr.div2k as div2k
    from keras_sr.cli import app

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("DIV2K_train_HR/0001.png", b"png bytes")
    server.payload = buf.getvalue()
    archive = div2k.Archive("DIV2K_train_HR.zip", len(server.payload),
                            hashlib.sha256(server.payload).hexdigest())
    monkeypatch.setattr(div2k, "BASE_URL", _url(server).rsplit("/", 1)[0] + "/")
    monkeypatch.setattr(div2k, "ARCHIVES", {"train_hr": archive})
    result = CliRunner().invoke(app, ["div2k", str(tmp_path / "div2k"), "--no-valid"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "div2k" / "DIV2K_train_HR" / "0001.png").read_bytes() == b"png bytes"
    assert "ready:" in result.output
    monkeypatch.setattr(div2k, "BASE_URL", "http://127.0.0.1:9/")
    result = CliRunner().invoke(app, ["div2k", str(tmp_path / "other"), "--no-valid"])
    assert result.exit_code == 2 and "download failed" in result.output
