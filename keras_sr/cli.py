"""``sr-tool``: the command line. Each command parses its options, calls one library function
and reports; user errors (:class:`keras_sr.errors.UserError`) print one line and exit 2."""

from __future__ import annotations

import functools
import inspect
import os
import sys
import typing
from pathlib import Path
from typing import Annotated, Optional

import typer

from keras_sr import __version__
from keras_sr.config import BENCHMARK_CONFIGS
from keras_sr.errors import UserError

# What an option takes, in words, in --help (typer would print Python types: <list[Path]>).
_TYPE_WORDS = {"Path": "PATH", "int": "N", "float": "X", "str": "TEXT"}


def _help_words() -> None:
    """Show option values in words (PATH, N, TEXT) and nothing for flags in --help, instead
    of typer's Python type names (``<list[Path]>``, ``<bool>`` on flags)."""
    from typer import core

    def words(param, ctx=None) -> str | None:
        if param.metavar is not None:
            return param.metavar
        if getattr(param, "is_flag", False):
            return None
        descriptor = param.type_descriptor
        if descriptor.is_choice:
            return "|".join(str(c) for c in descriptor.choices or ())
        annotation = descriptor.annotation
        inner = typing.get_args(annotation)[0] if descriptor.is_list and typing.get_args(annotation) else annotation
        word = _TYPE_WORDS.get(getattr(inner, "__name__", str(inner)), "VALUE")
        return word + ("..." if param.nargs != 1 and not getattr(param, "multiple", False) else "")

    core.TyperOption.display_type_rich = words
    core.TyperArgument.display_type_rich = words


def _one_line_usage_errors() -> None:
    """A bad option value or a missing argument is one line too (``error: ...``, exit code 2),
    like every other error a user can cause, instead of typer's usage text and framed panel."""
    from typer import rich_utils

    def one_line(error) -> None:
        if error.__class__.__name__ == "NoArgsIsHelpError":  # the help itself, not an error
            return
        message = " ".join(error.format_message().split())
        ctx = getattr(error, "ctx", None)
        hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
        typer.secho(f"error: {message}{hint}", fg=typer.colors.RED, err=True)

    rich_utils.rich_format_error = one_line


_help_words()
_one_line_usage_errors()
# --help lists the commands in workflow order: everyday use first, then making models.
COMMAND_ORDER = ("upscale", "models", "eval", "bench", "train", "import", "fold", "tflite", "report",
                 "div2k")


class _WorkflowOrder(typer.core.TyperGroup):
    def list_commands(self, ctx) -> list[str]:
        rank = {name: i for i, name in enumerate(COMMAND_ORDER)}
        return sorted(super().list_commands(ctx), key=lambda name: rank.get(name, len(rank)))


app = typer.Typer(
    cls=_WorkflowOrder,
    help="Mobile super-resolution: train ECBSR, fold it into a plain network, export int8 TFLite.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


TENSORFLOW_MODULES = ("tensorflow", "tf_keras")
TRAIN_EXTRA = "pip install 'keras-sr[train]'"


class _Settings:
    verbose = False


def _quiet_native_logs() -> None:
    """Hide what TensorFlow, absl, oneDNN, CUDA and LiteRT print unless --verbose: their Python
    loggers and warnings are set to errors only, and the process's stderr (fd 2, where the C++
    libraries write) goes to /dev/null while Python's ``sys.stderr`` (our one-line errors,
    warnings, progress bars) moves to a copy of the real stderr. An application-level choice,
    never made by the library; the fd part is skipped when stderr is not a real file (e.g. under
    a test runner)."""
    import logging
    import warnings

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    for name in TENSORFLOW_MODULES + ("tensorflow", "absl", "h5py"):
        logging.getLogger(name).setLevel(logging.ERROR)
    for module in TENSORFLOW_MODULES + ("keras", "absl"):
        warnings.filterwarnings("ignore", module=module)
    try:
        if sys.stderr.fileno() != 2:
            return
    except (AttributeError, OSError, ValueError):
        return
    sys.stderr.flush()
    terminal = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    sys.stderr = os.fdopen(terminal, "w", buffering=1)


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def command(func=None, *, name: str | None = None, flags: dict[str, str] | None = None):
    """Register ``func`` as a command (named ``name``, else after the function); turn UserError
    into a one-line message in this command's terms (:func:`_flag_names`, plus ``flags``: library
    parameter -> what the user typed, where the names differ) and exit 2."""
    if func is None:
        return functools.partial(command, name=name, flags=flags)

    names = {**_flag_names(func), **(flags or {})}

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if not _Settings.verbose:
            _quiet_native_logs()
        _interrupt_on_sigterm()
        try:
            return func(*args, **kwargs)
        except UserError as exc:
            _fail(exc.in_terms_of(names))
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] not in TENSORFLOW_MODULES:
                raise
            _fail(f"this needs TensorFlow, which the base install leaves out: {TRAIN_EXTRA}")
        except KeyboardInterrupt:
            typer.secho("interrupted", err=True)
            raise typer.Exit(130) from None

    wrapper.__doc__ = _reflow(func.__doc__)
    return app.command(name)(wrapper)


def _flag_names(func) -> dict[str, str]:
    """A command's parameters by their Python name: options as their long flag (``qat_steps``
    -> ``--qat-steps``, or the one declared), arguments as their metavar (``model`` -> ``MODEL``)."""
    names = {}
    for name, hint in typing.get_type_hints(func, include_extras=True).items():
        for info in getattr(hint, "__metadata__", ()):
            if isinstance(info, typer.models.OptionInfo):
                # In Annotated form typer takes a leading "-o" as the default's slot; of a
                # "--compare/--no-compare" pair the flag is the first.
                decls = [d.split("/")[0] for d in (info.default, *(info.param_decls or ()))
                         if isinstance(d, str) and d.startswith("--")]
                names[name] = max(decls, key=len) if decls else "--" + name.replace("_", "-")
            elif isinstance(info, typer.models.ArgumentInfo):
                names[name] = info.metavar or name.upper()
    return names


def _reflow(doc: str | None) -> str | None:
    """A docstring with each paragraph on one line: typer's rich help keeps single newlines,
    which breaks sentences mid-line at the terminal's width."""
    if not doc:
        return doc
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


def _interrupt_on_sigterm() -> None:
    """SIGTERM (kill, a scheduler stopping a job) cleans up like Ctrl-C: temporary files are
    removed, training writes a checkpoint. Only the main thread may set signal handlers."""
    import signal
    import threading

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


def _version_callback(value: bool) -> None:
    if value:
        from keras_sr.runtime import runtime_name

        typer.echo(f"sr-tool {__version__} (Python {sys.version.split()[0]}, "
                   f"TFLite runtime: {runtime_name()})")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[Optional[bool], typer.Option(
        "--version", callback=_version_callback, is_eager=True, help="Show the version and exit.")] = None,
    verbose: Annotated[bool, typer.Option(
        "--verbose", help="Show the log lines of TensorFlow, absl, oneDNN and LiteRT (hidden by default).")] = False,
) -> None:
    """Mobile super-resolution by structural re-parameterization."""
    _Settings.verbose = verbose


@command
def fold(
    run_dir: Annotated[Path, typer.Argument(help="Run directory: config.json + model.weights.h5.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the plain .keras model.")],
    check_size: Annotated[str, typer.Option(help="HxW of the random LR image used to check the fold.")] = "256x256",
) -> None:
    """Fold a trained run into the plain network and save it as .keras.

    The plain network is conv + activation, depth-to-space and clip; it is checked against the
    training-time network on a random image and the max abs difference is printed."""
    from keras_sr.runs import fold_run

    size = parse_size(check_size)
    report = fold_run(run_dir, output, size)
    typer.echo(f"folded {report.name}: {report.num_convs} convs, {report.params:,} parameters "
               f"in the .keras; {report.deploy_params:,} in the deploy network of the .tflite files")
    typer.echo(f"max abs difference vs training-time network on a random {size[0]}x{size[1]} "
               f"image (0..255 scale, before clip): {report.max_abs_diff:.2e}")
    typer.echo(f"wrote {output}")


@command(name="import")
def import_(
    checkpoint: Annotated[Path, typer.Argument(
        help="PyTorch ECBSR checkpoint: .pth/.pt (zip or legacy) or .safetensors.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Run directory to create (must not exist).")],
    fmt: Annotated[str, typer.Option(
        "--format", help="Which code saved it. ecbsr: github.com/xindongzhang/ECBSR (a bare state dict, "
        "pixels 0..255). basicsr: BasicSR's ECBSR ({'params' or 'params_ema': ...}, pixels 0..1). "
        "auto: basicsr when the state dict is wrapped that way, else ecbsr.")] = "auto",
    act: Annotated[Optional[str], typer.Option(
        help="relu or none: the activation when the file has no PReLU slopes (it cannot tell "
        "relu from none). "
        "Default relu; both codes' shipped configs use prelu, which is read from the file.")] = None,
    with_idt: Annotated[bool, typer.Option(
        "--with-idt/--no-idt", help="The ECBs' identity branch (leaves no tensor). Default off, as the "
        "reference code (idt_ecbsr: 0) and BasicSR (with_idt: False).")] = False,
    pixel_max: Annotated[Optional[int], typer.Option(
        help="Pixel range the model was trained on: 255 or 1. Default from --format (ecbsr 255, basicsr 1).")] = None,
) -> None:
    """Turn a PyTorch ECBSR checkpoint into a run dir, without torch.

    The run dir then works like a trained one: fold, tflite --int8, eval, upscale. Scale, colors,
    blocks, channels and activation come from the tensors; the rest from the options. The file
    is read by a restricted unpickler that refuses anything but tensors and dicts."""
    from keras_sr.importing import ImportOptions, import_checkpoint

    options = ImportOptions(fmt=fmt, act_type=act, with_idt=with_idt,
                            pixel_max=None if pixel_max is None else float(pixel_max))
    report = import_checkpoint(checkpoint, output, options)
    for label, lines in (("read", report.read), ("inferred", report.inferred),
                         ("from options", report.from_options)):
        typer.echo(f"{label + ':':14} " + "; ".join(lines))
    typer.echo(f"{'checked:':14} finite output on a random image (|max| {report.max_output:.0f} before clip); "
               f"fold max abs diff {report.fold_diff:.1e}")
    typer.echo(f"imported {report.config.name}: {report.params:,} training-time parameters")
    typer.echo(f"wrote {output}; next: sr-tool tflite {output} -o MODEL.tflite --int8")


def parse_size(text: str) -> tuple[int, int]:
    """Parse ``HxW`` (e.g. ``540x960``) into (height, width), at most
    :data:`keras_sr.limits.MAX_INPUT_PIXELS` pixels."""
    from keras_sr.limits import MAX_INPUT_PIXELS

    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UserError(f"size must look like HxW (e.g. 540x960), got {text!r}") from None
    if h < 1 or w < 1:
        raise UserError(f"size must be positive, got {text!r}")
    if h * w > MAX_INPUT_PIXELS:
        raise UserError(f"size {text} is over {MAX_INPUT_PIXELS:,} pixels")
    return h, w


@command
def train(
    output: Annotated[Path, typer.Option("-o", "--output", help="Run directory to write (or --resume).")],
    data: Annotated[Optional[list[Path]], typer.Option(
        "--data", help="Folder of HR training images (PNG/JPEG/BMP); repeat for more.")] = None,
    scale: Annotated[int, typer.Option(help="Upscaling factor: 2, 3 or 4.")] = 2,
    preset: Annotated[str, typer.Option(
        help="Architecture: an ECBSR preset (m4c8, m4c16, m4c32, m10c32, m16c64), an eSR name "
             "in the paper's form (eSR-MAX_K7_C4, eSR-TM_K7_C4, eSR-TR_K5_C2: kernel K, channels C), "
             "or RepRFN: reprfn (the paper's, RepRFN-B4C48), reprfn-s (phone-sized, RepRFN-B2C32) "
             "or RepRFN-BnCm (n RepRFBs, m channels).")] = "m4c16",
    act: Annotated[str, typer.Option(help="Activation: relu, prelu or none (ECBSR; RepRFN's is "
                                          "LeakyReLU(0.05)).")] = "relu",
    colors: Annotated[int, typer.Option(help="1 = Y channel, 3 = RGB.")] = 1,
    steps: Annotated[Optional[int], typer.Option(help="Total training steps (default 5000: about +1.4 dB over bicubic for x2 on T91, "
             "minutes on a CPU; the bundled models trained for 130k; with --resume, a new total).")] = None,
    batch: Annotated[int, typer.Option(help="Patches per step.")] = 16,
    patch: Annotated[int, typer.Option(help="LR patch side in pixels.")] = 64,
    lr: Annotated[float, typer.Option(help="Initial Adam learning rate.")] = 5e-4,
    schedule: Annotated[str, typer.Option(
        help="Learning-rate schedule: cosine, or step (halve every quarter of the steps).")] = "cosine",
    fft_weight: Annotated[float, typer.Option(help="Weight of the Fourier-domain L1 loss (0 = off).")] = 0.0,
    seed: Annotated[int, typer.Option(help="Random seed (weights and patches).")] = 0,
    ckpt_every: Annotated[int, typer.Option(help="Checkpoint (and save the run) every K steps.")] = 500,
    val: Annotated[Optional[list[Path]], typer.Option(
        help="Folder of HR validation images; repeat for more.")] = None,
    val_every: Annotated[int, typer.Option(help="Validate every K steps (0: at every checkpoint).")] = 0,
    init: Annotated[Optional[Path], typer.Option(
        help="Start from this run's weights (e.g. x2 for x3/x4).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run in -o from its last checkpoint.")] = False,
    expanded: Annotated[bool, typer.Option(
        help="Train the five ECB branches as written (slow) instead of collapsed.")] = False,
    jit: Annotated[bool, typer.Option(help="XLA-compile the training step.")] = False,
    precision: Annotated[Optional[str], typer.Option(
        help="float32 (default), or mixed_bfloat16: bfloat16 compute, float32 weights, "
             "validation and saved files; measured for ECBSR-M10C32 on a Xeon with AMX: 2.4x the "
             "steps/s of the network alone, 1.5x of a whole run (with --resume: switch a run's "
             "precision).")] = None,
) -> None:
    """Train an ECBSR, eSR or RepRFN network on folders of HR images (bicubic LR made on the fly, cached)."""
    from keras_sr.config import preset_config
    from keras_sr.train import ProgressReporter, TrainOptions
    from keras_sr.train import train as train_run

    reporter = ProgressReporter()
    if resume:
        reporter.note(f"resuming {output}: architecture and options come from its train.json")
        result = train_run(None, None, output, resume=True, steps=steps, reporter=reporter,
                           precision=precision)
    else:
        if not data:
            raise UserError("give at least one --data folder")
        config = preset_config(preset, scale=scale, colors=colors, act_type=act)
        options = TrainOptions(
            data=tuple(str(d) for d in data),
            steps=TrainOptions.steps if steps is None else steps, batch=batch, patch=patch,
            lr=lr, schedule=schedule, fft_weight=fft_weight, seed=seed, ckpt_every=ckpt_every,
            val=tuple(str(v) for v in val or ()), val_every=val_every,
            init=str(init) if init else None, collapsed=not expanded, jit=jit,
            precision=precision or TrainOptions.precision)
        result = train_run(config, options, output, reporter=reporter)
    psnr = f", val PSNR-Y {result.val_psnr:.3f} dB" if result.val_psnr is not None else ""
    typer.echo(f"trained steps {result.first_step}..{result.last_step}: loss {result.final_loss:.3f}, "
               f"{result.steps_per_s:.2f} steps/s{psnr}")
    if result.below_bicubic:
        typer.secho(f"warning: the validation PSNR {result.val_psnr:.3f} dB is below bicubic's "
                    f"{result.val_bicubic_psnr:.3f} dB: train longer (--resume --steps N) before "
                    f"using this model", fg=typer.colors.YELLOW, err=True)
    typer.echo(f"wrote {output}")


@command
def eval(  # noqa: A001 (the command's name)
    model: Annotated[str, typer.Argument(help="Run directory, folded .keras, .tflite, or 'bicubic'.")],
    data: Annotated[list[Path], typer.Option("--data", help="Folder of HR images; repeat for more.")],
    scale: Annotated[Optional[int], typer.Option(help="Upscaling factor (default: the model's).")] = None,
    self_ensemble: Annotated[bool, typer.Option(help="Average the 8 flips/rotations (EDSR's x8).")] = False,
    per_image: Annotated[bool, typer.Option(help="Also print a table per image.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the results as JSON instead.")] = False,
) -> None:
    """PSNR/SSIM (Y channel, shave = scale) of a model and of bicubic on folders of HR images."""
    import json

    from keras_sr.evaluate import evaluate

    report = evaluate(model, data, scale, self_ensemble)
    if json_output:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    _print_eval(report, per_image)


@command
def div2k(
    folder: Annotated[Path, typer.Argument(help="Where to download and unpack DIV2K.")],
    valid: Annotated[bool, typer.Option(help="Also fetch the 100 validation images.")] = True,
) -> None:
    """Download DIV2K's HR images (resumable, SHA-256 checked), ready for `train --data`.

    From the official site, unpacked into FOLDER."""
    from keras_sr.div2k import download_div2k

    parts = ("train_hr", "valid_hr") if valid else ("train_hr",)

    def progress(name: str, done: int, total: int | None) -> None:
        if total and (done == total or done % (64 << 20) < (1 << 20)):
            typer.echo(f"{name}: {done / 2**20:,.0f} / {total / 2**20:,.0f} MiB", err=True)

    for path in download_div2k(folder, parts, progress):
        typer.echo(f"ready: {path}")


def _print_eval(report, per_image: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    se = " + self-ensemble" if report.self_ensemble else ""
    title = f"x{report.scale}, PSNR (dB) / SSIM on Y, shave {report.scale}"
    table = Table(title=title)
    table.add_column("method")
    for d in report.datasets:
        table.add_column(f"{d.name} ({len(d.images)})", justify="right")
    rows = [("bicubic", "bicubic")]
    if report.datasets[0].images[0].model is not None:
        rows.append((f"{report.model}{se}", "model"))
    for label, which in rows:
        cells = [f"{m[0]:.2f} / {m[1]:.4f}" for m in (d.mean(which) for d in report.datasets)]
        table.add_row(label, *cells)
    console.print(table)
    console.print(f"model: {report.description}", highlight=False)
    if per_image:
        for d in report.datasets:
            t = Table(title=d.name)
            t.add_column("image")
            for label, _ in rows:
                t.add_column(label, justify="right")
            for img in d.images:
                t.add_row(img.name, *(f"{v[0]:.2f} / {v[1]:.4f}" for v in
                                      (img.bicubic, img.model)[:len(rows)]))
            console.print(t)


@command(flags={"quantization int8": "--int8"})
def tflite(
    model: Annotated[Path, typer.Argument(help="Run directory (folded in memory) or folded .keras file.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the .tflite file.")],
    int8: Annotated[bool, typer.Option("--int8", help="Full-integer int8, uint8 pixels in and out.")] = False,
    fp16: Annotated[bool, typer.Option("--fp16", help="Float16 weights (float32 input and output).")] = False,
    calib: Annotated[Optional[Path], typer.Option(
        help="Folder of HR images for int8 calibration and the quantization report "
             "(default: the bundled samples).")] = None,
    calib_samples: Annotated[int, typer.Option(help="Number of 64x64 LR calibration patches.")] = 100,
    input_size: Annotated[Optional[str], typer.Option(
        help="Fix the input to HxW LR pixels (for the Android GPU delegate) (default: dynamic).")] = None,
    qat_steps: Annotated[int, typer.Option(
        help="With --int8: also fine-tune this many steps with int8 rounding simulated, on "
             "the --calib images, and keep the result if it scores higher on them "
             "(quantization-aware; 0 = off).")] = 0,
    qat_ranges: Annotated[Optional[str], typer.Option(
        help="With --qat-steps: 'learned' learns each hidden tensor's int8 step with the weights "
             "(LSQ) and writes it into the file; 'searched' searches the ranges after the "
             "fine-tuning, as post-training int8 does (default: learned where the model family "
             "implements it, ECBSR).")] = None,
    qat_val_dir: Annotated[Optional[Path], typer.Option(
        "--qat-val", help="With --qat-steps: folder of held-out HR images that decide whether the fine-tuned "
             "file is kept (default: the --calib images it was tuned on).")] = None,
) -> None:
    """Export to TFLite (float32, --fp16 or full-integer --int8) with metadata.

    Checks the op list and GPU-delegate compatibility, and reports the PSNR loss against the
    float plain model."""
    from keras_sr.export import export_tflite

    if int8 and fp16:
        raise UserError("choose one of --int8 and --fp16")
    quantization = "int8" if int8 else "fp16" if fp16 else "float32"
    size = parse_size(input_size) if input_size else None
    with _progress_bar() as bar:
        task = bar.add_task("loading", total=None)

        def phase(label: str) -> None:
            bar.update(task, description=label, total=None, completed=0)

        def progress(step: int, loss: float) -> None:
            bar.update(task, completed=step, total=qat_steps,
                       description=f"quantization-aware fine-tuning, loss {loss:.3f}")

        r = export_tflite(model, output, quantization, calib, size, calib_samples,
                          qat_steps=qat_steps, qat_progress=progress, on_phase=phase,
                          qat_ranges=qat_ranges, qat_val_dir=qat_val_dir)
    shape = f"{size[0]}x{size[1]}" if size else "dynamic"
    typer.echo(f"exported {r.name} as {r.quantization} TFLite, input {shape}, {r.size_bytes:,} bytes")
    typer.echo(f"ops: {' '.join(r.ops)}")
    if r.calib_samples:
        typer.echo(f"calibration: {r.calib_samples} LR patches from {r.calib_source}")
    if r.qat:
        verdict = "kept" if r.qat.kept else "not kept, post-training int8 scores higher"
        typer.echo(f"quantization-aware fine-tuning: {r.qat.steps} steps on {r.calib_source}, "
                   f"ranges {r.qat.ranges}: int8 vs HR on {r.qat.judged_on} "
                   f"{r.qat.finetuned_vs_hr:.3f} dB (post-training {r.qat.post_training_vs_hr:.3f} dB), {verdict}")
    typer.echo(f"GPU delegate (TF analyzer): {r.gpu_report.splitlines()[0]}")
    if r.quant:
        q = r.quant
        versus = ("identical outputs" if q.tflite_vs_float == float("inf")
                  else f"{q.tflite_vs_float:.2f} dB")
        typer.echo(f"PSNR-Y on {r.calib_source}, shave = scale: "
                   f"{r.quantization} vs float plain {versus}; vs HR: float "
                   f"{q.float_vs_hr:.3f} dB, {r.quantization} {q.tflite_vs_hr:.3f} dB "
                   f"(loss {q.float_vs_hr - q.tflite_vs_hr:+.3f} dB)")
    typer.echo(f"wrote {output}")


@command(flags={"format": "--format"})
def upscale(
    inputs: Annotated[list[Path], typer.Argument(help="Image files or folders of images.")],
    output: Annotated[Path, typer.Option(
        "-o", "--output", help="Output image (one input) or folder (several inputs or a folder).")],
    model: Annotated[Optional[str], typer.Option(
        metavar="MODEL", help="A bundled model's name (x2, x3, x4, x2-rgb, x2-quality: see sr-tool "
                              "models), a .tflite, a folded .keras or a run directory "
                              "(default: x2).")] = None,
    scale: Annotated[Optional[int], typer.Option(
        help="Without --model: the bundled model of this scale; with it: refuse another scale.")] = None,
    tile: Annotated[Optional[int], typer.Option(
        help="Tile size in LR pixels (default: 256, or the model's fixed input size).")] = None,
    threads: Annotated[Optional[int], typer.Option(help="CPU threads for TFLite models.")] = None,
    output_format: Annotated[Optional[str], typer.Option(
        "--format", metavar="TYPE", help="Folder output: file type, png (default), jpg, webp, ...")] = None,
    quality: Annotated[Optional[int], typer.Option(
        metavar="1..100", help="JPEG/WebP quality (default: Pillow's).")] = None,
    recursive: Annotated[bool, typer.Option(
        "--recursive", help="Also take images in subfolders; the output mirrors them.")] = False,
    skip_existing: Annotated[bool, typer.Option(
        "--skip-existing", help="Skip inputs whose output already exists.")] = False,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace outputs that already exist (otherwise they are never touched).")] = False,
    fail_fast: Annotated[bool, typer.Option(
        "--fail-fast", help="Stop at the first input that fails (default: report it, go on, exit 2 at the end).")] = False,
) -> None:
    """Upscale images with a super-resolution model, in tiles (any size, same result as whole)."""
    from keras_sr.bundled import bundled_for_scale
    from keras_sr.runtime import load_sr_model
    from keras_sr.upscale import BatchOptions, upscale_files

    if model is None and scale is not None:
        model = bundled_for_scale(scale)
    sr = load_sr_model(model, threads)
    if scale is not None and scale != sr.scale:
        raise UserError(f"scale mismatch: the model upscales x{sr.scale}, --scale asks for x{scale}")
    typer.echo(f"model: {sr.describe()}", err=True)
    with _progress_bar(_show_progress(inputs)) as bar:
        tasks: dict = {}

        def progress(path: Path, done: int, total: int) -> None:
            if path not in tasks:
                tasks[path] = bar.add_task(path.name, total=total)
            bar.update(tasks[path], completed=done)

        options = BatchOptions(output_format, quality, recursive, skip_existing, overwrite, fail_fast)
        batch = upscale_files(sr, inputs, output, tile, progress, options,
                              on_failure=lambda source, message: typer.secho(
                                  f"error: {message}", fg=typer.colors.RED, err=True))
    for r in batch.done:
        for note in r.warnings:
            typer.secho(f"warning: {r.source}: {note}", fg=typer.colors.YELLOW, err=True)
        typer.echo(f"{r.source} ({r.input_size[1]}x{r.input_size[0]}) -> {r.output} "
                   f"({r.output_size[1]}x{r.output_size[0]})")
    for source, target in batch.skipped:
        typer.echo(f"{source}: skipped, {target} exists")
    if batch.skipped or batch.failed:
        typer.echo(f"{len(batch.done)} upscaled, {len(batch.skipped)} skipped, {len(batch.failed)} failed",
                   err=True)
    if batch.failed:
        raise typer.Exit(2)


@command
def models() -> None:
    """List the bundled models by name, with the quality their metadata records.

    Names for --model, scale, colors, int8 PSNR-Y on the benchmark sets (dB) and QAT steps."""
    from rich.console import Console
    from rich.table import Table

    from keras_sr.bundled import DEFAULT_MODEL, bundled_files

    files = bundled_files()
    if not files:
        raise UserError("no models are bundled with this install")
    order = ("Set5", "Set14", "B100", "Urban100")
    found = {name for f in files for name in f.metadata.get("quality", {}).get("psnr", {})}
    sets = [s for s in order if s in found] + sorted(found - set(order))
    table = Table(title=f"bundled int8 models (--model NAME; default {DEFAULT_MODEL})", box=None, pad_edge=False,
                  padding=(0, 1), header_style="bold")
    for column in ("name", "full name", "scale", "Y/RGB", " / ".join(sets) or "PSNR", "QAT"):
        table.add_column(column, justify="left" if "name" in column else "right", no_wrap=True)
    for f in files:
        meta, psnr = f.metadata, f.metadata.get("quality", {}).get("psnr", {})
        table.add_row(f.names[0], f.name, f"x{meta['scale']}", "Y" if meta["colors"] == 1 else "RGB",
                      " / ".join(f"{psnr[s]:.2f}" if s in psnr else "–" for s in sets),
                      str(meta.get("qat_steps", 0)))
    console = Console()
    console.print(table)
    protocol = next((f.metadata["quality"].get("protocol") for f in files if "quality" in f.metadata), None)
    if protocol:
        console.print(f"PSNR: {protocol}", highlight=False)


def _progress_bar(show: bool = True):
    """A transient progress bar on stderr, shown only on a terminal (a pipe or a log file gets
    no control characters or blank lines)."""
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    return Progress(transient=True, console=console, disable=not (show and console.is_terminal))


def _show_progress(inputs: list[Path]) -> bool:
    """A progress bar for several files or an image of 1 megapixel or more (a second or more
    here), read from its header without decoding it."""
    import warnings

    from PIL import Image

    def pixels(path: Path) -> int:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a decompression-bomb warning: load_image decides
                with Image.open(path) as img:
                    return img.size[0] * img.size[1]
        except Exception:  # noqa: BLE001 (not an image: upscale reports it)
            return 0

    return len(inputs) > 1 or any(p.is_dir() or (p.is_file() and pixels(p) >= 1_000_000) for p in inputs)


@command
def bench(
    models: Annotated[list[Path], typer.Argument(
        help="A .tflite, .keras or run directory; several to compare them on the same input.")],
    size: Annotated[str, typer.Option(help="LR input HxW.")] = "540x960",
    threads: Annotated[Optional[int], typer.Option(help="CPU threads (default: the runtime's).")] = None,
    runs: Annotated[int, typer.Option(help="Timed runs after warm-up.")] = 10,
    warmup: Annotated[int, typer.Option(help="Untimed warm-up runs.")] = 2,
    compare: Annotated[Optional[bool], typer.Option(
        "--compare/--no-compare",
        help="Also time the int8 and float32 TFLite conversions and the keras forms "
             "(default: on for run directories and .keras files).")] = None,
    profile: Annotated[bool, typer.Option(
        "--profile", help="Time each op of .tflite files (from cut-down copies of the graph, "
                          "timed interleaved) and count its MACs.")] = False,
) -> None:
    """Latency (median, min, max) and output megapixels/s; ratios against the first row."""
    from rich.console import Console
    from rich.table import Table

    from keras_sr.bench import bench as run_bench
    from keras_sr.runtime import runtime_name

    h, w = parse_size(size)
    console = Console()
    if profile:
        for path in models:
            _print_profile(console, path, (h, w), threads, runs, warmup)
        return
    console.print(f"input {h}x{w} LR, {runs} runs after {warmup} warm-up, TFLite runtime: {runtime_name()}",
                  highlight=False)
    results = run_bench(models, (h, w), threads, runs, warmup, compare,
                        on_result=lambda r: console.print(f"  {r.name}: {r.median_ms:.1f} ms", highlight=False))
    table = Table(title=f"{h}x{w} LR input, latency in ms")
    for name in ("model", "runtime", "median", "min", "max", "out Mpx/s", "vs first"):
        text = name in ("model", "runtime")
        table.add_column(name, justify="left" if text else "right", no_wrap=not text)
    first = results[0].median_ms
    for r in results:
        table.add_row(r.name, r.runtime, f"{r.median_ms:.1f}", f"{r.min_ms:.1f}", f"{r.max_ms:.1f}",
                      f"{r.output_mpix_per_s:.2f}", f"{r.median_ms / first:.2f}x")
    console.print(table)


def _print_profile(console, path: Path, size: tuple[int, int], threads: Optional[int], runs: int,
                   warmup: int) -> None:
    from rich.table import Table

    from keras_sr.profile import profile_tflite
    from keras_sr.runtime import runtime_name

    with _progress_bar() as bar:
        task = bar.add_task(f"profiling {path.name}", total=runs)
        result = profile_tflite(path, size, threads, runs, warmup,
                                progress=lambda done, total: bar.update(task, completed=done))
    table = Table(title=f"{path.name}: {size[0]}x{size[1]} LR input, threads "
                        f"{threads or 'default'}, {runtime_name()}, median of {runs}")
    for name in ("#", "op", "output", "MMACs", "ms", "share", "GMAC/s"):
        table.add_column(name, justify="left" if name in ("op", "output") else "right")
    for op in result.ops:
        rate = op.gmacs_per_s
        table.add_row(str(op.index), op.name, "x".join(map(str, op.output_shape[1:])),
                      f"{op.macs / 1e6:,.0f}" if op.macs else "", f"{op.ms:.2f}",
                      f"{op.ms / result.total_ms:.0%}", f"{rate:.0f}" if rate else "")
    table.add_row("", "whole graph", "", f"{result.macs / 1e6:,.0f}", f"{result.total_ms:.2f}", "100%",
                  f"{result.macs / result.total_ms / 1e6:.0f}")
    console.print(table)


@command(flags={"data_dir": "--data"})
def report(
    data: Annotated[Path, typer.Option(help="Folder holding the benchmark sets as subfolders of HR images.")],
    models: Annotated[Optional[Path], typer.Option(
        help="Folder of models: NAME/ run dirs with NAME.keras and NAME_int8.tflite beside them "
             "(default: the bundled pretrained folder).")] = None,
    sets: Annotated[str, typer.Option(
        help="Comma-separated subfolders of --data to evaluate on.")] = "Set5,Set14",
    output: Annotated[Path, typer.Option(
        "-o", "--output", help="Markdown file to write.")] = Path("BENCHMARKS.md"),
    figure: Annotated[Path, typer.Option(
        help="PNG of bicubic | ours | HR crops to write.")] = Path("docs/comparison.png"),
    families: Annotated[str, typer.Option(
        help="Comma-separated --preset names to size and time untrained, at x2 Y, one row each "
             "(\"\" for none).")] = ",".join(BENCHMARK_CONFIGS),
    tradeoff: Annotated[Path, typer.Option(
        help="PNG of PSNR on Set5 x2 against int8 latency and parameters, with the quoted "
             "rows (drawn when an x2 model and Set5 are measured).")] = Path("docs/quality_latency.png"),
    size: Annotated[str, typer.Option(help="LR input HxW for the latency.")] = "540x960",
    runs: Annotated[int, typer.Option(help="Timed runs per form after warm-up.")] = 10,
    threads: Annotated[Optional[int], typer.Option(help="CPU threads (default: the runtimes').")] = None,
    peers: Annotated[Optional[list[Path]], typer.Option(
        "--peers", help="Another project's .tflite file to time side by side with the bundled "
                        "int8 files (at 1080x1920 output, 1 and 2 threads); repeat for more.")] = None,
) -> None:
    """Regenerate BENCHMARKS.md and the comparison figure from scratch.

    PSNR/SSIM of bicubic, float, folded and int8 per model and set, latency, parameters and
    MACs, machine, and the published rows (quoted)."""
    import shlex

    from keras_sr.report import PRETRAINED_DIR, generate_report

    h, w = parse_size(size)
    names = [s.strip() for s in sets.split(",") if s.strip()]
    models_dir = models if models is not None else PRETRAINED_DIR
    # The command quoted in the file, as run from the file's folder: relative paths, so that
    # it names no machine's folders.
    def here(path: Path) -> str:
        return os.path.relpath(Path(path).resolve(), Path(output).resolve().parent)

    args = ["sr-tool", "report", "--data", here(data)]
    if models is not None:
        args += ["--models", here(models)]
    args += ["--sets", ",".join(names), "-o", here(output), "--figure", here(figure),
             "--tradeoff", here(tradeoff), "--families", families,
             "--size", f"{h}x{w}", "--runs", str(runs)]
    if threads is not None:
        args += ["--threads", str(threads)]
    for peer in peers or []:
        args += ["--peers", peer.name]
    with _progress_bar() as bar:
        task = bar.add_task("report", total=None)

        def progress(label: str, done: int, total: int) -> None:
            bar.update(task, description=label, completed=done, total=total)

        result = generate_report(models_dir, data, names, output, figure, (h, w), runs, threads,
                                 shlex.join(args), progress, peers=peers or [], tradeoff=tradeoff,
                                 families=[f.strip() for f in families.split(",") if f.strip()])
    for r in result.models:
        cells = ", ".join(f"{s} int8 {r.quality.int8[s][0]:.2f} dB ({r.quality.int8_loss(s):+.3f})"
                          for s in names)
        typer.echo(f"{r.model.name}: {cells}; int8 {r.latency.int8_ms:.1f} ms")
    charts = f", {result.tradeoff}" if result.tradeoff else " (no trade-off chart: no x2 model on Set5)"
    typer.echo(f"wrote {result.output}, {result.figure} (figure model: {result.figure_model}){charts}")


if __name__ == "__main__":
    app()
