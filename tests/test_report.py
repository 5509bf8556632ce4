"""``sr-tool report``: BENCHMARKS.md sections and rows, numbers equal to ``evaluate``'s, the
figure's layout, and error paths, on a tiny pretrained layout (x2 Y and x3 RGB)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from keras_sr.cli import app
from keras_sr.report import FIGURE_CROP, FIGURE_GAP, FIGURE_LABEL, FIGURE_ZOOM, SAMPLES_DIR, figure_size
from tests.sr_models import export, make_run

runner = CliRunner()
DATA = Path(__file__).parent / "data"
X2, X3 = "ecbsr_x2_m1c4_relu_y", "ecbsr_x3_m1c4_relu_rgb"


def _layout(root: Path) -> Path:
    """The pretrained layout: NAME/ run dir, NAME.keras, NAME_int8.tflite."""
    from keras_sr.runs import fold_run

    models = root / "models"
    for name, fields in ((X2, {}), (X3, {"scale": 3, "colors": 3})):
        run_dir = make_run(models / name, seed=len(name), **fields)
        fold_run(run_dir, models / f"{name}.keras", check_size=(8, 8))
        export(run_dir, models / f"{name}_int8.tflite", "int8", calib_samples=4, report=False)
    return models


def _sets(root: Path) -> Path:
    data = root / "data"
    for name, files in (("Set5", ("pepper_x2_hr.png", "bird_96.png")), ("Set14", ("baboon_x3_hr.png",))):
        (data / name).mkdir(parents=True)
        for file in files:
            shutil.copy(DATA / file, data / name / file)
    return data


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    models, data = _layout(root), _sets(root)
    (root / "docs").mkdir()
    output, figure = root / "BENCH.md", root / "docs" / "cmp.png"
    tradeoff = root / "docs" / "qt.png"
    result = runner.invoke(app, ["report", "--models", str(models), "--data", str(data), "--sets", "Set5,Set14",
                                 "-o", str(output), "--figure", str(figure), "--size", "12x16", "--runs", "1",
                                 "--threads", "1", "--tradeoff", str(tradeoff),
                                 "--families", "m4c8,eSR-MAX_K3_C2"])
    assert result.exit_code == 0, result.output
    return {"root": root, "models": models, "data": data, "text": output.read_text(), "figure": figure,
            "tradeoff": tradeoff, "output": result.output}


def _row(text: str, label: str, last: str | None = None) -> list[str]:
    """The cells after the first of the first table row whose first cell is ``label`` (and
    whose last cell is ``last``, if given)."""
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] == label and last in (None, cells[-1]):
            return cells[1:]
    raise AssertionError(f"no row {label!r} in:\n{text}")


@pytest.mark.slow
def test_report_has_every_section_and_row(generated):
    text = generated["text"]
    for heading in ("# Benchmarks", "## Quality", "### x2", "### x3", "## Latency", "## Size",
                    "## Visual comparison", "## Machine", "## Sources of quoted figures"):
        assert re.search(rf"^{re.escape(heading)}$", text, re.M), heading
    assert "sr-tool report --data" in text and "--size 12x16 --runs 1 --threads 1" in text
    assert str(generated["root"]) not in text  # the quoted command uses relative paths
    for name in (X2, X3):
        for form in ("float, training-time", "folded float .keras", "int8 .tflite", "int8 − float (dB)"):
            assert _row(text, f"`{name}` {form}")[-1] == "**measured**"
    # Quoted rows (the sets are named Set5 and Set14 here) are marked and cite a source; they
    # sit in their scale's section only (FSRCNN has no x3 row to quote).
    x2_section, x3_section = text.split("### x2")[1].split("### x3")
    assert _row(x2_section, "FSRCNN (12K)") == ["37.00", "32.63", "*quoted* [2]"]
    assert _row(x2_section, "ECBSR-M4C16 (Y)") == ["37.33", "–", "*quoted* [3]"]
    assert _row(x2_section, "SRCNN (57K)") == ["36.66", "32.42", "*quoted* [5]"]
    assert _row(x2_section, "VDSR (665K)") == ["37.53", "33.03", "*quoted* [1]"]
    assert _row(x3_section, "Bicubic") == ["30.39 / 0.8682", "27.55 / 0.7742", "*quoted* [1]"]
    assert "FSRCNN" not in x3_section.split("## Latency")[0]
    assert "*quoted* [4]" in text and "Dimensity 8100" in text and "6.15" in text
    assert "![bicubic, ours and HR crops](docs/cmp.png)" in text
    for key in ("CPU", "cores", "Python", "TensorFlow", "tf-keras", "TFLite runtime", "numpy", "date"):
        assert _row(text, key)[0], key
    # Latency at the given LR size, outputs per scale, ratios against int8.
    x2, x3 = _row(text, f"`{X2}`"), _row(text, f"`{X3}`")
    assert x2[:2] == ["12x16", "24x32"] and x3[:2] == ["12x16", "36x48"]
    for row in (x2, x3):
        assert all(float(v) > 0 for v in row[2:5]), row
        assert all(v.endswith("x") and float(v[:-1]) > 0 for v in row[5:7]), row
    assert f"{X2}: Set5 int8" in generated["output"]


@pytest.mark.slow
def test_report_numbers_are_those_of_evaluate(generated):
    from keras_sr.evaluate import evaluate

    text, models, data = generated["text"], generated["models"], generated["data"]
    sets = [data / "Set5", data / "Set14"]
    for name in (X2, X3):
        run_dir = models / name
        float_report = evaluate(str(run_dir), sets, training_time=True)
        forms = {"float, training-time": float_report,
                 "folded float .keras": evaluate(str(models / f"{name}.keras"), sets),
                 "int8 .tflite": evaluate(str(models / f"{name}_int8.tflite"), sets)}
        for form, report in forms.items():
            expected = [f"{p:.2f} / {s:.4f}" for p, s in (d.mean("model") for d in report.datasets)]
            assert _row(text, f"`{name}` {form}")[:2] == expected, (name, form)
        loss = [forms["int8 .tflite"].datasets[i].mean("model")[0] - float_report.datasets[i].mean("model")[0]
                for i in range(2)]
        assert _row(text, f"`{name}` int8 − float (dB)")[:2] == [f"{v:+.3f}" for v in loss]
    bicubic = evaluate("bicubic", sets, scale=3)
    x3_section = text.split("### x3")[1].split("##")[0]
    assert _row(x3_section, "Bicubic", "**measured**")[:2] == [f"{p:.2f} / {s:.4f}" for p, s in
                                               (d.mean("bicubic") for d in bicubic.datasets)]


@pytest.mark.slow
def test_report_size_counts_parameters_and_macs(generated):
    from keras_sr.report import discover_models, measure_size

    x2 = next(m for m in discover_models(generated["models"]) if m.name == X2)
    size = measure_size(x2)
    # Deploy widths 1 -> 4 -> 4 -> 4 and the residual's 1x1 conv 1 -> 4:
    # 9 * (4 + 16 + 16) + 4 MACs per LR pixel.
    assert size.convs == 4 and size.macs_per_output_pixel == (9 * (4 + 16 + 16) + 4) / 4
    assert size.folded_params == 9 * (4 + 16 + 16) + 4 + 4 + 4 + 4
    assert size.training_time_params > size.folded_params
    size_row = _row(generated["text"].split("## Size")[1], f"`{X2}`")
    assert size_row[-4:] == [f"{size.training_time_params:,}", "340", "4", "82"]


@pytest.mark.slow
def test_report_figure_layout(generated):
    from PIL import Image

    from keras_sr.data import read_image
    from keras_sr.imresize import bicubic_downscale
    from keras_sr.report import detail_window

    with Image.open(generated["figure"]) as image:
        assert image.format == "PNG" and image.mode == "RGB"
        assert image.size == figure_size(2)
        pixels = np.asarray(image)
    panel = FIGURE_CROP * FIGURE_ZOOM
    # The HR panel of the first row (astronaut) is the detailed crop, enlarged by nearest neighbour.
    hr, _ = bicubic_downscale(read_image(SAMPLES_DIR / "astronaut.png"), 2)
    top, left = detail_window(hr)
    crop = hr[top:top + FIGURE_CROP, left:left + FIGURE_CROP]
    x0, y0 = FIGURE_GAP + 2 * (panel + FIGURE_GAP), FIGURE_GAP + FIGURE_LABEL
    np.testing.assert_array_equal(pixels[y0:y0 + panel, x0:x0 + panel],
                                  np.repeat(np.repeat(crop, FIGURE_ZOOM, 0), FIGURE_ZOOM, 1))
    # The bicubic and model panels differ from HR and from each other.
    panels = [pixels[y0:y0 + panel, FIGURE_GAP + i * (panel + FIGURE_GAP):][:, :panel] for i in range(3)]
    assert not np.array_equal(panels[0], panels[2]) and not np.array_equal(panels[0], panels[1])
    assert (pixels[:FIGURE_GAP] == 255).all()  # white margins, no partial draw
    assert not list(generated["figure"].parent.glob(".*"))  # atomic: no temporary left behind


@pytest.mark.slow
def test_report_times_each_family_configuration(generated):
    text = generated["text"].split("## Model families")[1]
    esr = _row(text, "eSR-MAX_s2_K3_C2")
    assert esr[0] == "esr" and esr[2] == "72"  # one 3x3 conv, 1 -> 2^2 * 2 channels, no bias
    ecbsr = _row(text, "ECBSR-M4C8")
    assert ecbsr[0] == "ecbsr" and int(ecbsr[1].replace(",", "")) > int(ecbsr[2].replace(",", ""))
    for row in (esr, ecbsr):
        assert all(float(v) > 0 for v in row[4:7]), row
        assert float(row[7].rstrip("x")) == pytest.approx(float(row[5]) / float(row[4]), rel=0.15)


@pytest.mark.slow
def test_report_tradeoff_chart(generated):
    """The x2 model's point (blue) and the quoted rows (red squares) are drawn, the markdown
    links the chart relatively, and with no x2 model there is no chart."""
    from PIL import Image

    from keras_sr.report import tradeoff_chart

    assert "## Quality against latency and size" in generated["text"]
    assert "](docs/qt.png)" in generated["text"]
    with Image.open(generated["tradeoff"]) as image:
        assert image.format == "PNG" and image.size == (1000, 440)
        pixels = np.asarray(image.convert("RGB")).reshape(-1, 3).astype(int)
    for color in ((31, 119, 180), (214, 39, 40)):  # matplotlib's tab:blue, tab:red
        assert (np.abs(pixels - color).sum(1) < 30).sum() > 20, color
    assert not tradeoff_chart([], generated["root"] / "none.png", (12, 16))
    assert not (generated["root"] / "none.png").exists()


def _one_line_error(result, message):
    assert result.exit_code == 2, result.output
    assert result.output.strip().startswith("error:") and "\n" not in result.output.strip()
    assert message in result.output, result.output


@pytest.fixture
def data(tmp_path):
    return _sets(tmp_path)


def test_report_errors(tmp_path, data):
    empty = tmp_path / "empty"
    empty.mkdir()
    half = tmp_path / "half"
    make_run(half / X2)
    base = ["report", "--runs", "1", "-o", str(tmp_path / "B.md"), "--figure", str(tmp_path / "f.png")]
    cases = [
        (["--models", str(empty), "--data", str(tmp_path / "nope")], "no such data folder"),
        (["--models", str(empty), "--data", str(data), "--sets", "Set5,Urban100"], "Urban100: no such benchmark set"),
        (["--models", str(empty), "--data", str(data), "--sets", "Set5"], "no models found"),
        (["--models", str(tmp_path / "missing"), "--data", str(data), "--sets", "Set5"], "no such models folder"),
        (["--models", str(half), "--data", str(data), "--sets", "Set5"], f"{X2}.keras is missing"),
        (["--models", str(empty), "--data", str(data), "--sets", "Set5", "--size", "0x4"], "size must be positive"),
        (["--models", str(empty), "--data", str(data), "--sets", "Set5", "--runs", "0"], "--runs must be >= 1"),
    ]
    for args, message in cases:
        _one_line_error(runner.invoke(app, [*base, *args]), message)
    assert not (tmp_path / "B.md").exists()


def test_report_needs_an_existing_output_folder(tmp_path, data):
    result = runner.invoke(app, ["report", "--models", str(tmp_path), "--data", str(data), "--sets", "Set5",
                                 "-o", str(tmp_path / "no" / "B.md")])
    _one_line_error(result, "output folder does not exist")


@pytest.mark.slow
def test_report_times_peer_files_side_by_side(generated, tmp_path):
    from keras_sr.report import _side_by_side_section, discover_models, measure_peers

    models = discover_models(generated["models"])
    peer = tmp_path / "peer.tflite"
    shutil.copy(generated["models"] / f"{X2}_int8.tflite", peer)
    rows = measure_peers(models, [peer], runs=1, warmup=0)
    assert [r.name for r in rows[:3]] == [f"{X2}_int8.tflite", f"{X3}_int8.tflite", "peer.tflite"]
    assert [r.threads for r in rows] == [1, 1, 1, 2, 2, 2]
    assert [r.input_shape for r in rows[:3]] == [(1, 540, 960, 1), (1, 360, 640, 3), (1, 540, 960, 1)]
    text = "\n".join(_side_by_side_section(rows))
    assert "## Side by side with other int8 files" in text and "1080x1920 output pixels" in text
    assert _row(text, "`peer.tflite`")[:3] == ["1", "540x960x1", "x2"]


@pytest.mark.slow
def test_report_refuses_a_missing_peer_file(generated, tmp_path):
    result = runner.invoke(app, ["report", "--models", str(generated["models"]), "--data",
                                 str(generated["data"]), "--peers", str(tmp_path / "nope.tflite")])
    assert result.exit_code == 2 and "nope.tflite: no such file" in result.output, result.output
