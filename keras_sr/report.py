"""BENCHMARKS.md, regenerated from scratch: quality, latency, size, machine, and a figure.

For every bundled model (see :func:`discover_models` for the layout) and every benchmark set:

* quality: PSNR/SSIM on Y, shave = scale (:func:`keras_sr.evaluate.evaluate`, the code of
  ``sr-tool eval``) of the bicubic baseline, the float training-time network (run dir, ECB
  branches expanded), the folded ``.keras`` and the int8 ``.tflite``, and int8 minus float;
* latency: the int8 ``.tflite``, the float32 TFLite conversion of the plain network (same
  runtime) and the training-time network on one random LR image (:mod:`keras_sr.bench`);
* side by side (``--peers``): the bundled int8 files and other projects' .tflite files at one
  output size, interleaved (:func:`keras_sr.profile.side_by_side`);
* size: parameters of the training-time network and of the deploy network that the .tflite
  files hold, and multiply-accumulates per output (HR) pixel of the latter, counted from its
  convolution kernels.

Published figures are listed beside them in :data:`QUOTED`, marked as quoted, never measured.
The figure (:func:`comparison_figure`) shows bicubic | ours | HR crops of two bundled samples;
the trade-off chart (:func:`tradeoff_chart`) PSNR on Set5 x2 against int8 latency here and
against parameters, with the quoted rows placed by their published parameter counts.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import platform
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from keras_sr.bundled import INT8_SUFFIX, PRETRAINED_DIR
from keras_sr.errors import UserError
from keras_sr.files import atomic_path

SAMPLES_DIR = Path(__file__).parent / "samples"
DEFAULT_SETS = ("Set5", "Set14")
DEFAULT_OUTPUT = Path("BENCHMARKS.md")
DEFAULT_FIGURE = Path("docs/comparison.png")
DEFAULT_TRADEOFF = Path("docs/quality_latency.png")
TRADEOFF_SCALE, TRADEOFF_SET = 2, "Set5"
FIGURE_MODEL = "ecbsr_x2_m4c16_relu_y"  # "ours" in the figure, when bundled
FIGURE_IMAGES = ("astronaut.png", "coffee.png")  # public domain / CC0 (samples/README.md)
FIGURE_CROP = 48  # HR pixels per side of each crop
FIGURE_ZOOM = 4  # nearest-neighbour enlargement of the crops
PEER_OUTPUT = (1080, 1920)  # HR pixels: a multiple of 2, 3 and 4, so every scale gets it exactly
PEER_THREADS = (1, 2)
FIGURE_LABEL = 18  # pixels of label strip above each panel
FIGURE_GAP = 6  # pixels between panels and rows
FIGURE_PANELS = ("bicubic", "ours", "HR")


@dataclasses.dataclass(frozen=True)
class Quoted:
    """A published result, quoted (not measured here). ``scores``: set -> (PSNR dB, SSIM or
    None). ``ref`` keys :data:`SOURCES`."""

    method: str
    scale: int
    scores: dict[str, tuple[float, float | None]]
    ref: str


SOURCES = {
    "vdsr": "Kim et al., *Accurate Image Super-Resolution Using Very Deep Convolutional Networks*, "
            "CVPR 2016, Table 3 (VDSR, 665K parameters, trained on 291 images; and the standard "
            "bicubic row, also in EDSR, Lim et al., CVPRW 2017)",
    "fsrcnn": "Dong et al., *Accelerating the Super-Resolution Convolutional Neural Network*, "
              "ECCV 2016 (FSRCNN, 12K parameters)",
    "ecbsr": "Zhang et al., *Edge-oriented Convolution Block for Real-time Super Resolution on "
             "Mobile Devices*, ACM MM 2021",
    "etds": "Chao et al., *Equivalent Transformation and Dual Stream Network Construction for "
            "Mobile Image Super-Resolution*, CVPR 2023, Table 2 (their ECBSR-M4C16 and -M6C40 "
            "re-implementations, RGB)",
    "srcnn": "Dong et al., *Image Super-Resolution Using Deep Convolutional Networks*, TPAMI 2016 "
             "(SRCNN 9-5-5, 57K parameters)",
}

QUOTED: tuple[Quoted, ...] = (
    Quoted("Bicubic", 2, {"Set5": (33.66, 0.9299), "Set14": (30.24, 0.8688)}, "vdsr"),
    Quoted("Bicubic", 3, {"Set5": (30.39, 0.8682), "Set14": (27.55, 0.7742)}, "vdsr"),
    Quoted("Bicubic", 4, {"Set5": (28.42, 0.8104), "Set14": (26.00, 0.7027)}, "vdsr"),
    Quoted("SRCNN (57K)", 2, {"Set5": (36.66, None), "Set14": (32.42, None), "B100": (31.36, None)}, "srcnn"),
    Quoted("SRCNN (57K)", 4, {"Set5": (30.48, None), "Set14": (27.49, None), "B100": (26.90, None)}, "srcnn"),
    Quoted("FSRCNN (12K)", 2, {"Set5": (37.00, None), "Set14": (32.63, None)}, "fsrcnn"),
    Quoted("FSRCNN (12K)", 4, {"Set5": (30.72, None), "Set14": (27.61, None)}, "fsrcnn"),
    Quoted("ECBSR-M4C16 (Y)", 2, {"Set5": (37.33, None)}, "ecbsr"),
    Quoted("ECBSR-M4C16 (RGB re-impl.)", 2,
           {"Set5": (37.18, None), "Set14": (32.79, None), "B100": (31.61, None)}, "etds"),
    Quoted("ECBSR-M4C16 (RGB re-impl.)", 4,
           {"Set5": (30.87, None), "Set14": (27.80, None), "B100": (27.06, None)}, "etds"),
    Quoted("ECBSR-M6C40 (RGB re-impl.)", 2,
           {"Set5": (37.61, None), "Set14": (33.18, None), "B100": (31.94, None)}, "etds"),
    Quoted("VDSR (665K)", 2, {"Set5": (37.53, None), "Set14": (33.03, None), "B100": (31.90, None)}, "vdsr"),
    Quoted("VDSR (665K)", 4, {"Set5": (31.35, None), "Set14": (28.01, None), "B100": (27.29, None)}, "vdsr"),
)

# Parameters of the quoted methods, for the trade-off chart: as published (SRCNN 9-5-5, FSRCNN,
# VDSR), and for ECBSR counted from its deploy network (the same as keras_sr's: 3x3 convs
# 1->16, 4 x 16->16, 16->4 (Y) or 3->16, ..., 16->12 (RGB), with biases; M6C40 RGB: 92K).
QUOTED_PARAMS = {"SRCNN (57K)": 57_000, "FSRCNN (12K)": 12_000, "VDSR (665K)": 665_000,
                 "ECBSR-M4C16 (Y)": 9 * (16 + 4 * 256 + 16 * 4) + 16 * 5 + 4,
                 "ECBSR-M4C16 (RGB re-impl.)": 9 * (3 * 16 + 4 * 256 + 16 * 12) + 16 * 5 + 12,
                 "ECBSR-M6C40 (RGB re-impl.)": 9 * (3 * 40 + 6 * 1600 + 40 * 12) + 40 * 7 + 12}

# (model, scale, LR input, device and delegate, int8 latency ms, source key)
QUOTED_LATENCY = (
    ("ECBSR-M4C16 int8", 2, "640x360", "MediaTek Dimensity 8100, NNAPI", 6.15, "etds"),
    ("ECBSR-M4C16 int8", 2, "640x360", "Qualcomm Snapdragon 8 Gen 1, NNAPI", 31.6, "etds"),
)

# The "Model families" rows (:data:`keras_sr.config.BENCHMARK_CONFIGS`): x2, Y, weights as
# initialized (size and latency do not depend on training).
FAMILY_SCALE = 2
FAMILY_CALIB_SAMPLES = 16

# Progress callback: (what is being done, steps done, steps in total).
Progress = Callable[[str, int, int], None]


@dataclasses.dataclass(frozen=True)
class BundledModel:
    """One model in the pretrained layout: ``NAME/`` run dir, ``NAME.keras``, ``NAME_int8.tflite``."""

    name: str
    run_dir: Path
    folded: Path
    int8: Path
    scale: int
    colors: int
    qat_steps: int = 0  # quantization-aware fine-tuning steps of the int8 file (its metadata)


def discover_models(models_dir: Path) -> list[BundledModel]:
    """Every model in ``models_dir``: each subfolder with a ``config.json`` is a run dir NAME,
    which needs ``NAME.keras`` and ``NAME_int8.tflite`` beside it. Sorted by scale, then name."""
    from keras_sr.config import CONFIG_FILE, load_config
    from keras_sr.metadata import read_metadata

    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        raise UserError(f"{models_dir}: no such models folder")
    found = []
    for run_dir in sorted(p for p in models_dir.iterdir() if (p / CONFIG_FILE).is_file()):
        folded = models_dir / f"{run_dir.name}.keras"
        int8 = models_dir / f"{run_dir.name}{INT8_SUFFIX}"
        for path, how in ((folded, "sr-tool fold"), (int8, "sr-tool tflite --int8")):
            if not path.is_file():
                raise UserError(f"{run_dir}: {path.name} is missing beside it (make it with {how})")
        config = load_config(run_dir / CONFIG_FILE)
        qat_steps = read_metadata(int8.read_bytes(), source=str(int8)).get("qat_steps", 0)
        found.append(BundledModel(run_dir.name, run_dir, folded, int8, config.scale, config.colors,
                                  qat_steps))
    if not found:
        raise UserError(f"{models_dir}: no models found (expected NAME/{CONFIG_FILE} run folders "
                        f"with NAME.keras and NAME{INT8_SUFFIX} beside them)")
    return sorted(found, key=lambda m: (m.scale, m.name))


@dataclasses.dataclass
class Quality:
    """Mean (PSNR dB, SSIM) on Y per set name, for each form of one model."""

    bicubic: dict[str, tuple[float, float]]
    training_time: dict[str, tuple[float, float]]
    folded: dict[str, tuple[float, float]]
    int8: dict[str, tuple[float, float]]

    def int8_loss(self, name: str) -> float:
        """int8 minus float training-time PSNR (dB) on one set."""
        return self.int8[name][0] - self.training_time[name][0]


@dataclasses.dataclass
class Latency:
    """Median latency (ms) on one LR input of ``size`` (H, W) for a model of ``scale``."""

    size: tuple[int, int]
    scale: int
    int8_ms: float
    fp32_ms: float
    training_time_ms: float
    runtime: str
    tf_runtime: str


@dataclasses.dataclass
class Size:
    training_time_params: int
    folded_params: int
    macs_per_output_pixel: float
    convs: int


@dataclasses.dataclass
class ModelResult:
    model: BundledModel
    quality: Quality
    latency: Latency
    size: Size


@dataclasses.dataclass
class FamilyResult:
    """Size and latency of one untrained configuration (``sr-tool report --families``)."""

    name: str  # the literature's name, e.g. ECBSR-M4C16
    family: str
    latency: Latency
    size: Size


@dataclasses.dataclass
class ReportResult:
    output: Path
    figure: Path | None
    models: list[ModelResult]
    figure_model: str | None
    tradeoff: Path | None = None


def measure_quality(model: BundledModel, folders: Sequence[Path],
                    on_form: Callable[[str], None] | None = None) -> Quality:
    """Evaluate the three forms of ``model`` (and bicubic) on ``folders`` with the code of
    ``sr-tool eval``."""
    from keras_sr.evaluate import evaluate

    def means(report, which: str) -> dict[str, tuple[float, float]]:
        return {d.name: d.mean(which) for d in report.datasets}

    forms = (("float training-time", dict(model_path=str(model.run_dir), training_time=True)),
             ("folded .keras", dict(model_path=str(model.folded))),
             ("int8 .tflite", dict(model_path=str(model.int8))))
    reports = []
    for label, kwargs in forms:
        if on_form:
            on_form(label)
        reports.append(evaluate(folders=folders, **kwargs))
    return Quality(means(reports[0], "bicubic"), *(means(r, "model") for r in reports))


def measure_latency(model: BundledModel, size: tuple[int, int], runs: int, threads: int | None,
                    warmup: int | None = None) -> Latency:
    """Median latency of the int8 file, the float32 TFLite conversion of the plain network
    (same runtime) and the training-time network, on the same random LR image of ``size``."""
    from keras_sr.bench import DEFAULT_WARMUP, bench_forms, model_forms
    from keras_sr.runtime import load_sr_model

    converted = dict(model_forms(model.run_dir, threads, compare=True))
    forms = [("int8 tflite", lambda: load_sr_model(model.int8, threads)),
             ("float32 tflite", converted["float32 tflite"]),
             ("training-time keras", converted["training-time keras"])]
    int8, fp32, training = bench_forms(forms, size, threads, runs,
                                       DEFAULT_WARMUP if warmup is None else warmup)
    return Latency(size, model.scale, int8.median_ms, fp32.median_ms, training.median_ms,
                   int8.runtime, training.runtime)


def measure_peers(models: Sequence[BundledModel], peers: Sequence[Path], runs: int,
                  warmup: int | None = None) -> list:
    """The bundled int8 files and ``peers`` timed side by side at :data:`PEER_OUTPUT` output
    pixels, 1 and 2 threads (:func:`keras_sr.profile.side_by_side`)."""
    from keras_sr.bench import DEFAULT_WARMUP
    from keras_sr.profile import side_by_side

    return side_by_side([m.int8 for m in models] + list(peers), PEER_OUTPUT, PEER_THREADS, runs,
                        DEFAULT_WARMUP if warmup is None else warmup)


def measure_families(names: Sequence[str], size: tuple[int, int], runs: int, threads: int | None,
                     warmup: int | None = None, on_name: Callable[[str], None] | None = None,
                     ) -> list[FamilyResult]:
    """Build each configuration of ``names`` (``--preset`` names) at x:data:`FAMILY_SCALE`, Y,
    with its initial weights, fold it and export it to int8 in a temporary folder, and measure
    it as a bundled model (:func:`measure_latency`, :func:`measure_size`)."""
    import tempfile

    from keras_sr import archs
    from keras_sr.config import preset_config
    from keras_sr.export import export_tflite
    from keras_sr.runs import fold_run, save_run

    configs = [preset_config(name, FAMILY_SCALE) for name in names]  # bad names fail first
    results = []
    with tempfile.TemporaryDirectory(prefix="keras_sr_families_") as tmp:
        for config in configs:
            if on_name:
                on_name(config.literature_name)
            run_dir = Path(tmp) / config.name
            save_run(archs.family(config).build(config), config, run_dir)
            folded, int8 = Path(tmp) / f"{config.name}.keras", Path(tmp) / f"{config.name}{INT8_SUFFIX}"
            fold_run(run_dir, folded, check_size=(32, 32))
            export_tflite(run_dir, int8, "int8", calib_samples=FAMILY_CALIB_SAMPLES, report=False)
            model = BundledModel(config.name, run_dir, folded, int8, config.scale, config.colors)
            results.append(FamilyResult(config.literature_name, config.family,
                                        measure_latency(model, size, runs, threads, warmup),
                                        measure_size(model)))
    return results


def measure_size(model: BundledModel) -> Size:
    """Parameters of the training-time network and of the deploy network that the .tflite
    files hold (:func:`keras_sr.folding.deploy`); MACs per HR pixel of the deploy network: the
    sum over its convolutions of kh * kw * cin * cout (per LR pixel), divided by scale^2."""
    from keras_sr import archs
    from keras_sr.runs import load_plain, load_run

    training, config = load_run(model.run_dir)
    plain = archs.family(config).deploy(load_plain(model.folded), config)
    macs, convs = 0, 0
    for layer in plain.layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is not None and len(kernel.shape) == 4:  # Conv2D: (kh, kw, cin, cout)
            macs += int(np.prod(kernel.shape))
            convs += 1
    return Size(training.count_params(), plain.count_params(), macs / model.scale ** 2, convs)


def machine_info() -> dict[str, str]:
    """CPU, cores, OS and the versions of Python, TensorFlow, tf-keras, the TFLite runtime and
    numpy, and the date (UTC)."""
    from keras_sr.runtime import package_version, runtime_name

    def version(dist: str) -> str:
        return package_version(dist, missing="not installed")

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "CPU": _cpu_model(),
        "cores": f"{os.cpu_count()} logical ({usable} usable by this process)",
        "OS": platform.platform(),
        "Python": sys.version.split()[0],
        "TensorFlow": version("tensorflow"),
        "tf-keras": version("tf-keras"),
        "TFLite runtime": runtime_name(),
        "numpy": np.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "processor\t: ")) and ":" in line:
                value = line.split(":", 1)[1].strip()
                if value and not value.isdigit():
                    return value
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def generate_report(models_dir: Path = PRETRAINED_DIR, data_dir: Path | None = None,
                    sets: Sequence[str] = DEFAULT_SETS, output: Path = DEFAULT_OUTPUT,
                    figure: Path | None = DEFAULT_FIGURE, size: tuple[int, int] = (540, 960),
                    runs: int = 10, threads: int | None = None, command: str = "",
                    progress: Progress | None = None, warmup: int | None = None,
                    peers: Sequence[Path] = (), tradeoff: Path | None = None,
                    families: Sequence[str] = ()) -> ReportResult:
    """Measure every model of ``models_dir`` on ``data_dir/<set>`` for each set, draw the
    figure (``None``: none) and write the markdown to ``output``; both written atomically.
    ``command`` is the command line quoted in the file. ``peers``: other projects' .tflite
    files, timed side by side with the bundled int8 files (:func:`measure_peers`). ``tradeoff``:
    where to draw :func:`tradeoff_chart` (None: not drawn; nor without an x2 model or Set5).
    ``families``: configurations to size and time untrained (:func:`measure_families`)."""
    if data_dir is None or not Path(data_dir).is_dir():
        raise UserError(f"{data_dir}: no such data folder (data_dir must be the folder holding "
                        f"{', '.join(sets)})", params=("data_dir",))
    if not sets:
        raise UserError("sets: give at least one benchmark set (e.g. Set5,Set14)", params=("sets",))
    folders = [Path(data_dir) / name for name in sets]
    for folder in folders:
        if not folder.is_dir():
            raise UserError(f"{folder}: no such benchmark set (expected a folder of HR images)")
    if runs < 1:
        raise UserError("runs must be >= 1", params=("runs",))
    output = Path(output)
    for path in (output, figure, tradeoff):
        if path is not None and not Path(path).parent.is_dir():
            raise UserError(f"{Path(path).parent}: output folder does not exist")
    models = discover_models(models_dir)
    figure_model = _figure_model(models) if figure is not None else None
    for peer in peers:
        if not Path(peer).is_file():
            raise UserError(f"{peer}: no such file (peers are .tflite files)", params=("peers",))

    total = len(models) * (3 + 2) + (figure is not None) + bool(peers) + len(families)
    done = 0

    def step(label: str) -> None:
        nonlocal done
        if progress:
            progress(label, done, total)
        done += 1

    results = []
    for model in models:
        quality = measure_quality(model, folders, lambda form: step(f"{model.name}: eval {form}"))
        step(f"{model.name}: latency at {size[0]}x{size[1]}")
        latency = measure_latency(model, size, runs, threads, warmup)
        step(f"{model.name}: parameters and MACs")
        results.append(ModelResult(model, quality, latency, measure_size(model)))
    side = []
    if peers:
        step(f"{len(peers)} peer files side by side")
        side = measure_peers(models, peers, runs, warmup)
    if figure is not None:
        step(f"figure with {figure_model.name}")
        comparison_figure(figure_model.int8, Path(figure))
    family_rows = measure_families(families, size, runs, threads, warmup,
                                   lambda name: step(f"{name}: untrained, size and latency"))
    if tradeoff is not None and not tradeoff_chart(results, Path(tradeoff), size):
        tradeoff = None
    if progress:
        progress("done", total, total)
    text = render_markdown(results, list(sets), machine_info(), command, figure, output, figure_model,
                           side, tradeoff, family_rows)
    try:
        with atomic_path(output) as tmp:
            tmp.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{output}: cannot write ({exc.strerror or exc})") from None
    return ReportResult(output, figure, results, figure_model.name if figure_model else None,
                        tradeoff)


def tradeoff_chart(results: Sequence[ModelResult], path: Path, size: tuple[int, int],
                   scale: int = TRADEOFF_SCALE, set_name: str = TRADEOFF_SET) -> bool:
    """Draw PSNR-Y of the int8 files on ``set_name`` at ``scale`` against their int8 latency on
    this machine (LR input ``size``) and against parameters (log scale), with the measured
    bicubic as a line and the quoted rows of :data:`QUOTED` placed by :data:`QUOTED_PARAMS`
    (hollow, labelled "quoted": their latency is not measured here), their labels on the left
    and ours on the right (the quoted ECBSR points sit at our parameter counts). Written
    atomically; False (nothing written) when no model of ``scale`` was scored on ``set_name``."""
    from matplotlib.figure import Figure

    ours = [r for r in results if r.model.scale == scale and set_name in r.quality.int8]
    if not ours:
        return False
    figure = Figure(figsize=(10, 4.4), dpi=100, layout="constrained")
    by_latency, by_params = figure.subplots(1, 2, sharey=True)
    bicubic = ours[0].quality.bicubic[set_name][0]
    for axes in (by_latency, by_params):
        axes.axhline(bicubic, color="gray", linestyle="--", linewidth=1)
        axes.grid(alpha=0.3)
    by_latency.text(0.02, bicubic, " bicubic", color="gray", va="bottom", transform=by_latency.get_yaxis_transform())
    for r in ours:
        psnr = r.quality.int8[set_name][0]
        for axes, x in ((by_latency, r.latency.int8_ms), (by_params, r.size.folded_params)):
            axes.scatter([x], [psnr], color="tab:blue", zorder=3)
            axes.annotate(r.model.name, (x, psnr), textcoords="offset points", xytext=(5, 4), fontsize=7)
    for q in QUOTED:
        if q.scale == scale and set_name in q.scores and q.method in QUOTED_PARAMS:
            x, psnr = QUOTED_PARAMS[q.method], q.scores[set_name][0]
            by_params.scatter([x], [psnr], facecolors="none", edgecolors="tab:red", marker="s", zorder=3)
            by_params.annotate(f"{q.method}, quoted", (x, psnr), textcoords="offset points",
                               xytext=(-6, -3), ha="right", fontsize=7, color="tab:red")
    h, w = size
    by_latency.set_xlabel(f"int8 latency on this machine (ms), {h}x{w} -> {h * scale}x{w * scale}")
    by_latency.set_ylabel(f"PSNR-Y on {set_name} x{scale} (dB), int8")
    by_latency.set_xlim(left=0)
    by_params.set_xscale("log")
    by_params.set_xlabel("parameters (deploy network; quoted rows as published)")
    figure.suptitle(f"x{scale}: quality against latency (measured) and size (ours measured, "
                    f"red squares quoted)", fontsize=10)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")
    return True


def _figure_model(models: list[BundledModel]) -> BundledModel:
    """The default model if bundled, else the first x2 Y model, else the first model."""
    for pick in (lambda m: m.name == FIGURE_MODEL, lambda m: m.scale == 2 and m.colors == 1,
                 lambda m: True):
        for model in models:
            if pick(model):
                return model
    raise AssertionError("no models")


# --- markdown ---------------------------------------------------------------------------------

def _score(value: tuple[float, float | None] | None) -> str:
    if value is None:
        return "–"
    psnr, ssim = value
    return f"{psnr:.2f}" if ssim is None else f"{psnr:.2f} / {ssim:.4f}"


def _colors(colors: int) -> str:
    return "Y" if colors == 1 else "RGB"


def render_markdown(results: list[ModelResult], sets: list[str], machine: dict[str, str],
                    command: str, figure: Path | None, output: Path,
                    figure_model: BundledModel | None, side: Sequence = (),
                    tradeoff: Path | None = None, families: Sequence[FamilyResult] = ()) -> str:
    """The whole BENCHMARKS.md text."""
    refs = list(SOURCES)
    cite = {key: f"[{i + 1}]" for i, key in enumerate(refs)}
    lines = [
        "# Benchmarks",
        "",
        "Generated from scratch by `sr-tool report`; do not edit by hand. To regenerate (from this "
        "file's folder):",
        "",
        "```bash",
        command or "sr-tool report --data DATASETS",
        "```",
        "",
        "Rows marked **measured** were computed by this command on the machine below; rows marked "
        "*quoted* are copied from the cited papers and were not measured here.",
        "",
        "## Quality",
        "",
        "PSNR (dB) / SSIM on the Y channel (MATLAB BT.601), `scale` pixels shaved at each border; "
        "LR images made with MATLAB's bicubic `imresize` on the uint8 HR, as in `sr-tool eval` "
        "(the same code). *training-time*: the float network as trained (ECB branches expanded); "
        "*folded*: the plain float `.keras`; *int8*: the full-integer `.tflite` on the LiteRT "
        "CPU runtime (*QAT*: quantization-aware fine-tuning steps before the conversion, "
        "`sr-tool tflite --qat-steps`). The bicubic row uses the published (SRCNN-era) protocol and reproduces the "
        "quoted bicubic figures.",
        "",
    ]
    scales = sorted({r.model.scale for r in results} | {q.scale for q in QUOTED})
    for scale in scales:
        ours = [r for r in results if r.model.scale == scale]
        quoted = [q for q in QUOTED if q.scale == scale and any(s in q.scores for s in sets)]
        if not ours:
            continue
        lines += [f"### x{scale}", "",
                  "| method | " + " | ".join(sets) + " | |",
                  "|---|" + "---:|" * len(sets) + "---|"]
        for q in quoted:
            cells = [_score(q.scores.get(s)) for s in sets]
            lines.append(f"| {q.method} | " + " | ".join(cells) + f" | *quoted* {cite[q.ref]} |")
        bicubic = ours[0].quality.bicubic
        lines.append("| Bicubic | " + " | ".join(_score(bicubic[s]) for s in sets) + " | **measured** |")
        for r in ours:
            q, name = r.quality, r.model.name
            qat = r.model.qat_steps
            int8_label = "int8 .tflite" + (f" (QAT {qat} steps)" if qat else "")
            for label, scores in (("float, training-time", q.training_time),
                                  ("folded float .keras", q.folded), (int8_label, q.int8)):
                lines.append(f"| `{name}` {label} | " + " | ".join(_score(scores[s]) for s in sets)
                             + " | **measured** |")
            lines.append(f"| `{name}` int8 − float (dB) | "
                         + " | ".join(f"{q.int8_loss(s):+.3f}" for s in sets) + " | **measured** |")
        lines.append("")
        if any(r.model.colors == 3 for r in ours):
            lines += ["RGB models are scored on Y of their RGB output, like the Y models.", ""]

    if tradeoff is not None:
        link = Path(os.path.relpath(Path(tradeoff).resolve(), Path(output).resolve().parent)).as_posix()
        lines += ["## Quality against latency and size", "",
                  f"PSNR-Y of each x{TRADEOFF_SCALE} int8 file on {TRADEOFF_SET} (the tables above) "
                  f"against its int8 latency on this machine (the latency table below) and against "
                  f"its parameters; the dashed line is bicubic (measured). Red squares are quoted "
                  f"rows placed by their published parameter counts: their latency was not "
                  f"measured here.", "",
                  f"![PSNR against int8 latency and parameters]({link})", ""]
    lines += _latency_section(results, cite)
    lines += _side_by_side_section(side)
    lines += _size_section(results)
    lines += _families_section(families)
    if figure is not None and figure_model is not None:
        link = Path(os.path.relpath(Path(figure).resolve(), Path(output).resolve().parent)).as_posix()
        lines += ["## Visual comparison", "",
                  f"Crops of two bundled sample images (`keras_sr/samples/`, public domain and CC0): "
                  f"the HR image downscaled x{figure_model.scale} with MATLAB bicubic, then upscaled "
                  f"with bicubic and with `{figure_model.name}{INT8_SUFFIX}` through `sr-tool upscale`'s "
                  f"code (Y by the model, Cb/Cr bicubic for Y models), next to the HR image; "
                  f"enlarged {FIGURE_ZOOM}x with nearest neighbour.", "",
                  f"![bicubic, ours and HR crops]({link})", ""]
    lines += ["## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in machine.items()]
    lines += ["", "## Sources of quoted figures", ""]
    lines += [f"{cite[key]} {SOURCES[key]}" + ("  " if i < len(refs) - 1 else "")
              for i, key in enumerate(refs)]
    lines.append("")
    return "\n".join(lines)


def _latency_section(results: list[ModelResult], cite: dict[str, str]) -> list[str]:
    first = results[0].latency
    lines = [
        "## Latency", "",
        f"Median of the timed runs after warm-up, whole image at once, one random uint8 LR image "
        f"per model; the int8 and float32 TFLite models on {first.runtime} (CPU, XNNPACK), the "
        f"training-time network on {first.tf_runtime}. *fp32 plain* is the folded network converted "
        f"to float32 TFLite in memory, in the same deploy form as the int8 file (the residual as a "
        f"1x1 conv and an ADD). The forms are timed one after the other, not interleaved (the "
        f"side-by-side table below is). The LR input is the same for every scale, so x3 and x4 "
        f"models produce larger outputs.", "",
        "| model | LR input | output | int8 (ms) | fp32 plain (ms) | training-time (ms) "
        "| fp32 / int8 | training-time / int8 |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lat = r.latency
        h, w = lat.size
        lines.append(f"| `{r.model.name}` | {h}x{w} | {h * lat.scale}x{w * lat.scale} "
                     f"| {_ms(lat.int8_ms)} | {_ms(lat.fp32_ms)} | {_ms(lat.training_time_ms)} "
                     f"| {lat.fp32_ms / lat.int8_ms:.2f}x | {lat.training_time_ms / lat.int8_ms:.2f}x |")
    lines += ["", "Quoted on-device latency (*not measured here*; LR input as in the source):", "",
              "| model | scale | LR input | device | int8 latency (ms) | |",
              "|---|---|---|---|---:|---|"]
    for model, scale, lr, device, ms, ref in QUOTED_LATENCY:
        lines.append(f"| {model} | x{scale} | {lr} | {device} | {ms:g} | *quoted* {cite[ref]} |")
    return lines + [""]


def _side_by_side_section(rows: Sequence) -> list[str]:
    if not rows:
        return []
    h, w = PEER_OUTPUT
    lines = [
        "## Side by side with other int8 files", "",
        f"**Measured** on this machine: the bundled int8 files and the files given to "
        f"`--peers` (other projects' published .tflite files, which users fetch themselves; the "
        f"README says where from), each at {h}x{w} output pixels, in one process, interleaved, "
        f"median; MACs per output pixel counted from each file's convolution weights. Each file "
        f"gets pixels quantized as its own input tensor says.", "",
        "| file | threads | input | scale | MACs / output pixel | ms | output Mpx/s | GMAC/s |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        size = "x".join(map(str, r.input_shape[1:]))
        note = f" ({r.note})" if r.note else ""
        lines.append(f"| `{r.name}`{note} | {r.threads} | {size} | x{r.scale} "
                     f"| {r.macs_per_output_pixel:,.0f} | {_ms(r.ms)} | {r.output_mpix_per_s:.1f} "
                     f"| {r.gmacs_per_s:.0f} |")
    return lines + [""]


def _ms(value: float) -> str:
    """Milliseconds with about three significant digits (tiny test models run in microseconds)."""
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}" if value >= 1 else f"{value:.3f}"


def _size_section(results: list[ModelResult]) -> list[str]:
    lines = [
        "## Size", "",
        "Parameters of the training-time network (ECB branches) and of the folded network as the "
        ".tflite files hold it (3x3 convolutions, and the residual as a fixed 1x1 repeat "
        "convolution and one ADD); multiply-accumulates per output (HR) pixel of that network: "
        "the sum over its convolutions of k · k · c_in · c_out per LR pixel, divided by scale².", "",
        "| model | scale | colors | params (training-time) | params (folded) | convs "
        "| MACs / output pixel |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in results:
        s = r.size
        lines.append(f"| `{r.model.name}` | x{r.model.scale} | {_colors(r.model.colors)} "
                     f"| {s.training_time_params:,} | {s.folded_params:,} | {s.convs} "
                     f"| {s.macs_per_output_pixel:,.0f} |")
    return lines + [""]


def _families_section(rows: Sequence[FamilyResult]) -> list[str]:
    if not rows:
        return []
    h, w = rows[0].latency.size
    lines = [
        "## Model families", "",
        f"One row per family configuration, x{FAMILY_SCALE} Y, **measured** with the weights as "
        f"initialized (size and latency do not depend on training; quality is in the tables above "
        f"for the trained ones): parameters and MACs as in *Size*, median latency at {h}x{w} -> "
        f"{h * FAMILY_SCALE}x{w * FAMILY_SCALE} of the int8 file (calibrated on the bundled "
        f"samples), the float32 TFLite file of the deploy network and the training-time graph, "
        f"timed one after the other in this run.", "",
        "| configuration | family | params (training-time) | params (deploy) | MACs / output pixel "
        "| int8 (ms) | fp32 (ms) | training-time (ms) | fp32 / int8 | training-time / int8 |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lat, size = r.latency, r.size
        lines.append(f"| {r.name} | {r.family} | {size.training_time_params:,} | {size.folded_params:,} "
                     f"| {size.macs_per_output_pixel:,.0f} | {_ms(lat.int8_ms)} | {_ms(lat.fp32_ms)} "
                     f"| {_ms(lat.training_time_ms)} | {lat.fp32_ms / lat.int8_ms:.2f}x "
                     f"| {lat.training_time_ms / lat.int8_ms:.2f}x |")
    return lines + [""]


# --- figure -----------------------------------------------------------------------------------

def figure_size(rows: int = len(FIGURE_IMAGES)) -> tuple[int, int]:
    """(width, height) in pixels of the comparison figure."""
    panel = FIGURE_CROP * FIGURE_ZOOM
    width = len(FIGURE_PANELS) * panel + (len(FIGURE_PANELS) + 1) * FIGURE_GAP
    height = rows * (FIGURE_LABEL + panel) + (rows + 1) * FIGURE_GAP
    return width, height


def detail_window(hr: np.ndarray, crop: int = FIGURE_CROP) -> tuple[int, int]:
    """(top, left) of the ``crop`` x ``crop`` window of an HR image with the most edge energy
    (sum of squared Y gradients), searched on a grid of crop/4 steps away from the borders."""
    from keras_sr.metrics import to_y

    y = to_y(hr) if hr.ndim == 3 else hr.astype(np.float64)
    energy = np.zeros_like(y)
    energy[:, 1:] += np.diff(y, axis=1) ** 2
    energy[1:, :] += np.diff(y, axis=0) ** 2
    integral = np.pad(energy.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    step, margin = max(1, crop // 4), crop // 4
    best, where = -1.0, (0, 0)
    for top in range(min(margin, y.shape[0] - crop), y.shape[0] - crop + 1, step):
        for left in range(min(margin, y.shape[1] - crop), y.shape[1] - crop + 1, step):
            total = (integral[top + crop, left + crop] - integral[top, left + crop]
                     - integral[top + crop, left] + integral[top, left])
            if total > best:
                best, where = total, (top, left)
    return where


def comparison_figure(model_path: Path, output: Path, images: Sequence[Path] | None = None) -> Path:
    """Write a PNG of bicubic | ours | HR crops, one row per image (the bundled astronaut and
    coffee samples by default): each HR image is downscaled with MATLAB bicubic, upscaled with
    bicubic and with the model as ``sr-tool upscale`` does (Y by the model, Cb/Cr bicubic for a
    Y model), and a detailed window is enlarged with nearest neighbour. Layout: see
    :func:`figure_size`."""
    from PIL import Image, ImageDraw

    from keras_sr.data import model_input, read_image
    from keras_sr.imresize import bicubic_downscale, bicubic_upscale
    from keras_sr.runtime import load_sr_model
    from keras_sr.upscale import upscale_image

    model = load_sr_model(Path(model_path))
    paths = [SAMPLES_DIR / name for name in FIGURE_IMAGES] if images is None else list(images)
    canvas = Image.new("RGB", figure_size(len(paths)), "white")
    draw = ImageDraw.Draw(canvas)
    panel = FIGURE_CROP * FIGURE_ZOOM
    for row, path in enumerate(paths):
        hr, lr = bicubic_downscale(model_input(read_image(path), 3), model.scale)
        if min(hr.shape[:2]) < FIGURE_CROP:
            raise UserError(f"{path}: too small for a {FIGURE_CROP}-pixel crop")
        ours = upscale_image(model, lr)
        bicubic = bicubic_upscale(lr, model.scale)
        top, left = detail_window(hr)
        y0 = FIGURE_GAP + row * (FIGURE_LABEL + panel + FIGURE_GAP)
        for col, (label, image) in enumerate(zip(FIGURE_PANELS, (bicubic, ours, hr))):
            crop = np.ascontiguousarray(image[top:top + FIGURE_CROP, left:left + FIGURE_CROP, :3])
            big = Image.fromarray(crop).resize((panel, panel), Image.Resampling.NEAREST)
            x0 = FIGURE_GAP + col * (panel + FIGURE_GAP)
            text = {0: f"{label} ({path.stem}, x{model.scale})", 1: f"{label} ({model.kind})"}
            draw.text((x0 + 2, y0 + 3), text.get(col, label), fill="black")
            canvas.paste(big, (x0, y0 + FIGURE_LABEL))
    output = Path(output)
    if not output.parent.is_dir():
        raise UserError(f"{output.parent}: output folder does not exist")
    try:
        with atomic_path(output) as tmp:
            canvas.save(tmp, format="PNG")
    except OSError as exc:
        raise UserError(f"{output}: cannot write ({exc.strerror or exc})") from None
    return output
