"""``sr-tool eval``: the published bicubic baseline, model rows, self-ensemble, JSON, errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from keras_sr.cli import app
from keras_sr.config import ModelConfig
from keras_sr.data import model_input, read_image
from keras_sr.evaluate import bicubic_scores, comparable_y, evaluate, model_scores, super_resolve
from keras_sr.imresize import bicubic_downscale
from keras_sr.metrics import psnr_y, ssim_y, to_y
from keras_sr.models import build_model
from keras_sr.runs import save_run
from tests.conftest import randomize_ecb_model

runner = CliRunner()
DATA = Path(__file__).parent / "data"
DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"

# Bicubic (PSNR dB, SSIM) of the published protocol on the committed crops (regression values
# from this code; the full-set figures they lead to are checked against the tables below).
CROPS = {
    ("pepper_x2_hr.png", 2): (37.85142124710833, 0.9515709015506701),
    ("baboon_x3_hr.png", 3): (19.024595787372448, 0.33842996145386645),
    ("butterfly_x4_hr.png", 4): (22.809741151616873, 0.6941099408877028),
    ("bridge_x2_hr.png", 2): (26.465893980882065, 0.8745033386786628),  # grayscale
    ("bird_96.png", 4): (30.07243144503537, 0.9048076824470822),
}
# The published bicubic row (VDSR, Table 3): (PSNR dB, SSIM).
PUBLISHED = {
    ("Set5", 2): (33.66, 0.9299), ("Set14", 2): (30.24, 0.8688),
    ("Set5", 3): (30.39, 0.8682), ("Set14", 3): (27.55, 0.7742),
    ("Set5", 4): (28.42, 0.8104), ("Set14", 4): (26.00, 0.7027),
}


@pytest.mark.parametrize("name,scale", list(CROPS))
def test_bicubic_on_committed_crops(name, scale):
    hr = read_image(DATA / name)
    psnr, ssim = bicubic_scores(hr, scale)
    assert psnr == pytest.approx(CROPS[name, scale][0], abs=1e-6)
    assert ssim == pytest.approx(CROPS[name, scale][1], abs=1e-6)


def test_bicubic_protocol_is_y_only_in_double():
    # Written out independently: Y of the HR rounded to uint8, MATLAB bicubic down and up on
    # that Y in double, the SR Y rounded; shave = scale.
    from keras_sr.imresize import imresize

    hr = read_image(DATA / "bird_96.png")
    y = np.floor(to_y(hr) + 0.5)
    sr = np.floor(np.clip(imresize(imresize(y, 1 / 3), 3.0), 0, 255) + 0.5)
    assert bicubic_scores(hr, 3) == pytest.approx((psnr_y(sr, y, 3), ssim_y(sr, y, 3)), abs=1e-12)


@pytest.mark.slow
@pytest.mark.skipif(not (DATASETS / "Set14").is_dir(), reason="needs ../shared/datasets")
def test_bicubic_reproduces_the_published_tables():
    for scale in (2, 4):
        report = evaluate("bicubic", [DATASETS / "Set5", DATASETS / "Set14"], scale=scale)
        for dataset in report.datasets:
            psnr, ssim = dataset.mean("bicubic")
            ref_psnr, ref_ssim = PUBLISHED[dataset.name, scale]
            assert abs(psnr - ref_psnr) <= 0.01, (dataset.name, scale, psnr)
            assert abs(ssim - ref_ssim) <= 0.001, (dataset.name, scale, ssim)


def test_comparable_y_picks_what_each_model_is_scored_on(rng):
    rgb = rng.integers(0, 256, (20, 22, 3), dtype=np.uint8)
    gray = rgb[:, :, 1]
    # Y model: its output against the luma of the HR image (RGB, gray, or a Y target).
    for hr, y in ((rgb, to_y(rgb)), (gray, gray), (to_y(rgb)[:, :, None], to_y(rgb))):
        sr_y, hr_y = comparable_y(rgb[:, :, :1], hr)
        np.testing.assert_array_equal(sr_y, rgb[:, :, 0])
        np.testing.assert_array_equal(hr_y, y)
    # RGB model on a grayscale image: the rounded mean of its channels against the gray values.
    sr_y, hr_y = comparable_y(rgb, gray)
    np.testing.assert_array_equal(sr_y, np.floor(rgb.astype(np.float64).mean(axis=2) + 0.5))
    np.testing.assert_array_equal(hr_y, gray)
    # RGB model on an RGB image: both as they are.
    other = rgb[::-1]
    assert all(a is b for a, b in zip(comparable_y(rgb, other), (rgb, other)))
    assert model_scores(rgb, gray, 2) == (psnr_y(*comparable_y(rgb, gray), 2),
                                          ssim_y(*comparable_y(rgb, gray), 2))


def _nearest(scale):
    return lambda x: np.repeat(np.repeat(x, scale, 0), scale, 1)


def test_self_ensemble_transforms_back(rng):
    lr = rng.integers(0, 256, (5, 7, 1), dtype=np.uint8)
    # An equivariant model gives the same output with and without the ensemble; a wrong
    # inverse transform would give a rotated or flipped image instead.
    np.testing.assert_array_equal(super_resolve(_nearest(2), lr, True), _nearest(2)(lr))
    # A model that is not equivariant (adds a ramp along x): the 8 ramps average out.
    ramp = lambda x: _nearest(2)(x).astype(np.float64) + np.arange(x.shape[1] * 2)[None, :, None]  # noqa: E731
    out = super_resolve(lambda x: np.clip(ramp(x), 0, 255).astype(np.uint8),
                        np.full((6, 6, 1), 100, np.uint8), True)
    assert out.shape == (12, 12, 1) and np.ptp(out) <= 1


@pytest.fixture
def sets(tmp_path):
    d = tmp_path / "crops"
    d.mkdir()
    for name in ("pepper_x2_hr.png", "bridge_x2_hr.png"):
        shutil.copy(DATA / name, d / name)
    return d


@pytest.fixture
def run_dir(tmp_path):
    config = ModelConfig(scale=2, num_blocks=1, channels=4)
    model = build_model(config)
    randomize_ecb_model(model)
    save_run(model, config, tmp_path / "run")
    return tmp_path / "run"


def test_eval_command_table_json_and_model_row(sets, run_dir):
    result = runner.invoke(app, ["eval", str(run_dir), "--data", str(sets), "--per-image"])
    assert result.exit_code == 0, result.output
    assert "bicubic" in result.output and "pepper_x2_hr" in result.output
    result = runner.invoke(app, ["eval", str(run_dir), "--data", str(sets), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["scale"] == 2
    (dataset,) = report["datasets"]
    names = [img["name"] for img in dataset["images"]]
    assert names == ["bridge_x2_hr", "pepper_x2_hr"]
    assert dataset["images"][1]["bicubic"]["psnr"] == pytest.approx(CROPS["pepper_x2_hr.png", 2][0])
    # The model row, recomputed by hand: rounded Y of the uint8 LR in, Y out vs float HR Y.
    from keras_sr.runtime import load_sr_model

    model = load_sr_model(run_dir)
    hr, lr = bicubic_downscale(read_image(sets / "pepper_x2_hr.png"), 2)
    sr = model(model_input(lr, 1))[:, :, 0]
    assert dataset["images"][1]["model"]["psnr"] == pytest.approx(psnr_y(sr, to_y(hr), 2))
    assert dataset["images"][1]["model"]["ssim"] == pytest.approx(ssim_y(sr, to_y(hr), 2))
    means = dataset["mean"]["model"]
    assert means["psnr"] == pytest.approx(np.mean([i["model"]["psnr"] for i in dataset["images"]]))


@pytest.mark.slow
def test_eval_self_ensemble_on_a_folded_model(sets, run_dir, tmp_path):
    from keras_sr.data import dihedral, inverse_dihedral
    from keras_sr.runtime import load_sr_model

    folded = tmp_path / "plain.keras"
    assert runner.invoke(app, ["fold", str(run_dir), "-o", str(folded)]).exit_code == 0
    ensemble = evaluate(str(folded), [sets], self_ensemble=True)
    model = load_sr_model(folded)
    hr, lr = bicubic_downscale(read_image(sets / "pepper_x2_hr.png"), 2)
    x = model_input(lr, 1)
    outs = [inverse_dihedral(model(np.ascontiguousarray(dihedral(x, k))), k) for k in range(8)]
    sr = np.floor(np.mean(np.array(outs, np.float64), axis=0) + 0.5)[:, :, 0]
    assert ensemble.datasets[0].images[1].model == pytest.approx(
        (psnr_y(sr, to_y(hr), 2), ssim_y(sr, to_y(hr), 2)))
    assert ensemble.datasets[0].mean("bicubic") == evaluate(str(folded), [sets]).datasets[0].mean("bicubic")


def _one_line_error(result, message):
    assert result.exit_code == 2, result.output
    assert result.output.strip().startswith("error:") and "\n" not in result.output.strip()
    assert message in result.output, result.output


@pytest.mark.parametrize("args,message", [
    (lambda r, d, t: [str(r), "--data", str(d), "--scale", "3"], "is a x2 model, not x3"),
    (lambda r, d, t: ["bicubic", "--data", str(d), "--scale", "5"], "scale must be one of"),
    (lambda r, d, t: ["bicubic", "--data", str(d)], "the bicubic baseline needs a --scale"),
    (lambda r, d, t: ["bicubic", "--data", str(d), "--scale", "2", "--self-ensemble"], "needs a model"),
    (lambda r, d, t: [str(t / "nope"), "--data", str(d)], "nope"),
    (lambda r, d, t: ["bicubic", "--data", str(t / "missing"), "--scale", "2"], "no such data folder"),
    (lambda r, d, t: ["bicubic", "--data", str(_empty(t)), "--scale", "2"], "no images"),
    (lambda r, d, t: ["bicubic", "--data", str(_tiny(t)), "--scale", "4"], "too small to evaluate"),
])
def test_eval_command_bad_input(sets, run_dir, tmp_path, args, message):
    _one_line_error(runner.invoke(app, ["eval", *args(run_dir, sets, tmp_path)]), message)


def _empty(tmp_path: Path) -> Path:
    (tmp_path / "empty").mkdir()
    return tmp_path / "empty"


def _tiny(tmp_path: Path) -> Path:
    from PIL import Image

    (tmp_path / "tiny").mkdir()
    Image.fromarray(np.zeros((16, 18, 3), np.uint8)).save(tmp_path / "tiny" / "a.png")
    return tmp_path / "tiny"
