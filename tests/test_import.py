"""``sr-tool import``: PyTorch ECBSR checkpoints as run dirs, checked against real PyTorch.

The fixtures in tests/data/torch were made by ``tools/make_torch_fixtures.py`` with torch (its
version and the two codes' commits are in ``manifest.json``): random-weight models of the
reference code (github.com/xindongzhang/ECBSR, ``models/ecbsr.py``) and of BasicSR
(``basicsr/archs/ecbsr_arch.py``), saved as each code saves them (bare state dict; BasicSR's
``{"params": ...}`` and ``{"params", "params_ema"}``), in torch's zip format, its legacy format and
safetensors, with torch's outputs on a fixed input in training mode (the five branches) and in
eval mode (re-parameterized). torch is not needed to run these tests.
"""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file
from typer.testing import CliRunner

from keras_sr.cli import app
from keras_sr.errors import UserError
from keras_sr.folding import fold
from keras_sr.importing import ImportOptions, import_checkpoint
from keras_sr.runs import _preclip, load_run
from keras_sr.torch_files import read_checkpoint

runner = CliRunner()
DATA = Path(__file__).parent / "data" / "torch"
MANIFEST = json.loads((DATA / "manifest.json").read_text())["cases"]
TOLERANCE = 1e-3  # on the 0..255 scale, borders included (the outputs reach about 1,400)


def _options(case: dict, **overrides) -> ImportOptions:
    fmt = case["code"] if case["file"].endswith(".safetensors") else "auto"  # a bare file cannot say
    act = None if case["act_type"] == "prelu" else case["act_type"]
    return ImportOptions(**{"fmt": fmt, "act_type": act, "with_idt": case["with_idt"], **overrides})


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_import_reproduces_torch_outputs(name, tmp_path):
    case = MANIFEST[name]
    report = import_checkpoint(DATA / case["file"], tmp_path / "run", _options(case))
    model, config = load_run(tmp_path / "run")
    assert (config.scale, config.colors, config.num_blocks, config.channels, config.act_type,
            config.with_idt) == (case["scale"], case["colors"], case["num_blocks"], case["channels"],
                                 case["act_type"], case["with_idt"])
    assert report.config == config
    expected = np.load(DATA / f"{name}.npz")
    lr = expected["lr"]
    branches = _preclip(model)(lr, training=False).numpy()
    folded = _preclip(fold(model))(lr, training=False).numpy()
    assert np.abs(expected["branches"]).max() > 300  # outputs are not all tiny: the check has teeth
    np.testing.assert_allclose(branches, expected["branches"], rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(folded, expected["folded"], rtol=0, atol=TOLERANCE)


def test_wrong_pixel_range_or_channel_order_shows(tmp_path):
    """The two transformations matter: without them the outputs are far off."""
    case = MANIFEST["basicsr_x2_rgb_prelu"]
    expected = np.load(DATA / "basicsr_x2_rgb_prelu.npz")
    import_checkpoint(DATA / case["file"], tmp_path / "range", _options(case, pixel_max=255.0))
    model, _ = load_run(tmp_path / "range")
    assert np.abs(_preclip(model)(expected["lr"]).numpy() - expected["branches"]).max() > 10

    from keras_sr import importing

    original = importing._shuffle_order
    try:
        importing._shuffle_order = lambda colors, scale: np.arange(colors * scale * scale)
        import_checkpoint(DATA / case["file"], tmp_path / "order", _options(case))
    finally:
        importing._shuffle_order = original
    model, _ = load_run(tmp_path / "order")
    assert np.abs(_preclip(model)(expected["lr"]).numpy() - expected["branches"]).max() > 10


def test_basicsr_ema_weights_are_preferred():
    ckpt = read_checkpoint(DATA / "basicsr_x2_y_relu_ema.pth")
    assert (ckpt.container, ckpt.wrapper) == ("PyTorch zip", "params_ema")
    assert read_checkpoint(DATA / "ecbsr_x3_y_prelu_legacy.pth").container == "PyTorch legacy"


def _edit_safetensors(tmp_path, edit, source="basicsr_x4_y_prelu.safetensors") -> Path:
    tensors = load_file(str(DATA / source))
    edit(tensors)
    path = tmp_path / "edited.safetensors"
    save_file(tensors, str(path))
    return path


def test_a_scaled_mask_folds_into_the_scale_and_a_module_prefix_is_removed(tmp_path, rng):
    case = MANIFEST["basicsr_x4_y_prelu"]
    factors = rng.uniform(0.5, 2.0, 8).astype(np.float32) * rng.choice([-1, 1], 8)

    def edit(tensors):
        for key in [k for k in tensors if k.startswith("backbone.1.conv1x1_sbx.")]:
            if key.endswith("mask"):
                tensors[key] = tensors[key] * factors[:, None, None, None]
            if key.endswith("scale"):
                tensors[key] = tensors[key] / factors[:, None, None, None]
        for key in list(tensors):
            tensors["module." + key] = tensors.pop(key)

    report = import_checkpoint(_edit_safetensors(tmp_path, edit), tmp_path / "run", _options(case))
    assert "'module.' prefix removed" in report.read[0]
    model, _ = load_run(tmp_path / "run")
    expected = np.load(DATA / "basicsr_x4_y_prelu.npz")
    np.testing.assert_allclose(_preclip(model)(expected["lr"]).numpy(), expected["branches"],
                               rtol=0, atol=TOLERANCE)


def _evil_pickle(marker: Path) -> bytes:
    class Evil:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    return pickle.dumps({"backbone.0.conv3x3.weight": Evil()}, protocol=2)


def _legacy(obj_pickle: bytes) -> bytes:
    head = pickle.dumps(0x1950A86A20F9469CFC6C) + pickle.dumps(1001) + pickle.dumps({"little_endian": True})
    return head + obj_pickle + pickle.dumps([])


@pytest.mark.parametrize("container", ["zip", "legacy", "bare pickle"])
def test_a_pickle_calling_any_other_global_is_refused_and_never_run(tmp_path, container):
    marker = tmp_path / "pwned"
    payload = _evil_pickle(marker)
    path = tmp_path / "evil.pth"
    if container == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("evil/data.pkl", payload)
    else:
        path.write_bytes(_legacy(payload) if container == "legacy" else payload)
    result = runner.invoke(app, ["import", str(path), "-o", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert not marker.exists()
    assert not (tmp_path / "run").exists()
    if container != "bare pickle":  # a bare pickle fails earlier: it is not a checkpoint at all
        assert "refused: its pickle calls posix.system" in result.output or \
               "refused: its pickle calls nt.system" in result.output


def _zip_with_garbage_tensor(tmp_path) -> Path:
    """A zip checkpoint whose tensor claims more elements than its storage holds."""
    source = zipfile.ZipFile(DATA / "ecbsr_x2_y_prelu.pth")
    path = tmp_path / "short.pth"
    with zipfile.ZipFile(path, "w") as archive:
        for info in source.infolist():
            data = source.read(info)
            archive.writestr(info, data[:8] if info.filename.endswith("/data/0") else data)
    return path


BAD_FILES = {
    "not a checkpoint": (lambda t: _write(t / "x.pth", b"\x89PNG\r\n\x1a\n" + bytes(100)), "not a PyTorch checkpoint"),
    "empty": (lambda t: _write(t / "x.pth", b""), "not a PyTorch checkpoint"),
    "truncated zip": (lambda t: _write(t / "x.pth", (DATA / "ecbsr_x2_y_prelu.pth").read_bytes()[:30000]),
                      "damaged zip archive"),
    "short storage": (_zip_with_garbage_tensor, "shorter than its tensor"),
    "truncated legacy": (lambda t: _write(t / "x.pth", (DATA / "ecbsr_x3_y_prelu_legacy.pth").read_bytes()[:-100]),
                         "truncated legacy"),
    "zip of something else": (lambda t: _zip(t / "x.pth", {"a.txt": b"hi"}), "not a PyTorch checkpoint"),
    "not safetensors": (lambda t: _write(t / "x.safetensors", b"junk" * 10), "not a readable safetensors"),
    "a folder": (lambda t: (t / "x.pth").mkdir() or t / "x.pth", "not a regular file|is a directory|folder"),
    "missing": (lambda t: t / "nothing.pth", "no such file"),
    "other architecture": (lambda t: _safetensors(t, {"head.0.weight": np.zeros((64, 3, 3, 3), np.float32),
                                                       "body.0.conv1.weight": np.zeros((64, 64, 3, 3), np.float32)}),
                           r"not an ECBSR state dict \(no backbone"),
    "missing key": (lambda t: _edit_safetensors(t, lambda d: d.pop("backbone.1.conv1x1_lpl.mask")),
                    "missing backbone.1.conv1x1_lpl.mask"),
    "extra key": (lambda t: _edit_safetensors(t, lambda d: d.update(extra=np.zeros(3, np.float32))),
                  "unexpected extra"),
    "bad shape": (lambda t: _edit_safetensors(t, lambda d: d.update({"backbone.1.conv1x1_3x3.k1": np.zeros((16, 16, 3, 3), np.float32)})),
                  r"backbone.1.conv1x1_3x3.k1 has shape \(16, 16, 3, 3\), expected \(8, 16, 3, 3\)"),
    "not a multiple of the filter": (lambda t: _edit_safetensors(
        t, lambda d: d.update({"backbone.0.conv1x1_lpl.mask": np.ones((8, 1, 3, 3), np.float32)})),
        "not a per-channel multiple of the laplacian filter"),
    "nan": (lambda t: _edit_safetensors(t, lambda d: d.update({"backbone.0.conv3x3.bias": np.full(8, np.nan, np.float32)})),
            "NaN"),
    "no scale": (lambda t: _edit_safetensors(t, lambda d: d.update({
        "backbone.2.conv3x3.weight": np.zeros((5, 8, 3, 3), np.float32)})), "no 1- or 3-color model|shape"),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _zip(path: Path, members: dict) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _safetensors(tmp_path: Path, tensors: dict) -> Path:
    path = tmp_path / "other.safetensors"
    save_file(tensors, str(path))
    return path


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_files_give_one_line_and_leave_no_run_dir(tmp_path, case):
    make, message = BAD_FILES[case]
    path = make(tmp_path)
    out = tmp_path / "run"
    result = runner.invoke(app, ["import", str(path), "-o", str(out), "--format", "basicsr"])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert __import__("re").search(message, lines[0]), lines[0]
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("args,message", [
    (["ecbsr_x2_y_prelu.pth", "--act", "relu"], "act relu conflicts with the checkpoint: it has PReLU slopes"),
    (["basicsr_x4_rgb_relu.pth", "--act", "gelu"], "act must be relu or none"),
    (["basicsr_x4_rgb_relu.pth", "--format", "ecbsr"], "reference ECBSR code cannot run RGB models"),
    (["basicsr_x4_rgb_relu.pth", "--format", "keras"], "format must be one of auto, ecbsr, basicsr"),
    (["basicsr_x4_rgb_relu.pth", "--pixel-max", "100"], "pixel_max must be 1 or 255"),
])
def test_conflicting_options(tmp_path, args, message):
    out = tmp_path / "run"
    result = runner.invoke(app, ["import", str(DATA / args[0]), *args[1:], "-o", str(out)])
    assert result.exit_code == 2 and message in result.output, result.output
    assert not out.exists()


def test_an_existing_run_dir_is_not_overwritten(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(UserError, match="already exists"):
        import_checkpoint(DATA / "ecbsr_x2_y_prelu.pth", out)
    assert (out / "keep.txt").read_text() == "mine"


def test_import_command_summary(tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["import", str(DATA / "basicsr_x2_y_relu_ema.pth"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = result.output
    assert "read:" in text and "under 'params_ema'" in text
    assert "format basicsr (state dict under 'params_ema'" in text
    assert "activation relu (default" in text and "pixels 0..1 (basicsr default)" in text
    assert "imported x2_m1c8_relu_y" in text and (out / "config.json").is_file()


@pytest.mark.slow
def test_imported_checkpoint_exports_to_int8_and_upscales(tmp_path, rng):
    from PIL import Image

    out = tmp_path / "run"
    assert runner.invoke(app, ["import", str(DATA / "ecbsr_x2_y_prelu.pth"), "-o", str(out)]).exit_code == 0
    tflite = tmp_path / "imported_int8.tflite"
    result = runner.invoke(app, ["tflite", str(out), "-o", str(tflite), "--int8", "--calib-samples", "8"])
    assert result.exit_code == 0, result.output
    image = tmp_path / "in.png"
    Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)).save(image)
    result = runner.invoke(app, ["upscale", str(image), "-o", str(tmp_path / "up.png"), "--model", str(tflite)])
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "up.png").size == (20, 24)
