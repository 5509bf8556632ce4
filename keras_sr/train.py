"""Training: L1 (+ optional Fourier) loss, Adam with a cosine or step schedule, atomic
checkpoints with exact resume, validation PSNR, TensorBoard and a curves PNG.

A run directory holds, besides ``config.json`` and ``model.weights.h5`` (rewritten at every
checkpoint, so ``sr-tool fold/eval RUN_DIR`` work during training):

* ``train.json``: the training options, reused by ``--resume``;
* ``ckpt/``: ``tf.train.Checkpoint`` of model, optimizer and step (``CheckpointManager`` writes
  the shard files, then atomically replaces its ``checkpoint`` index);
* ``log.csv`` (step, loss, learning rate) and ``val.csv`` (step, PSNR), appended just before each
  checkpoint; on resume, rows after the restored step are dropped, so every step appears once;
* ``tb/`` (TensorBoard scalars) and ``curves.png``.

Batches are a function of ``(seed, step)`` (see :class:`keras_sr.data.PatchSampler`), so a run
resumed from step k trains on exactly the batches an uninterrupted run would have used.
The network trains in collapsed form by default: each ECB is one 3x3 convolution whose kernel
is computed from the branch weights in the forward pass (same weights, same function).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import math
import os
import re
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from keras_sr.config import CONFIG_FILE, Config, load_config
from keras_sr.errors import UserError, first_line
from keras_sr.files import atomic_path

TRAIN_FILE = "train.json"
CKPT_DIR = "ckpt"
LOG_FILE = "log.csv"
VAL_FILE = "val.csv"
TB_DIR = "tb"
CURVES_FILE = "curves.png"
SCHEDULES = ("cosine", "step")
# float32; or bfloat16 compute with float32 weights (Keras' mixed precision): 2.4x the step
# rate of float32 for collapsed ECBSR-M10C32 on a CPU with AMX, 1.5x for a whole run (README).
PRECISIONS = ("float32", "mixed_bfloat16")
# Cosine decays to this fraction of the initial learning rate; "step" halves it this often
# (as a fraction of the total steps), as EDSR's halving schedule.
COSINE_FINAL_FRACTION = 0.01
STEP_DECAY_FRACTION = 0.25
CHECKPOINTS_KEPT = 2


@dataclasses.dataclass(frozen=True)
class TrainOptions:
    """Training options (everything but the architecture), saved as ``train.json``.

    data / val: folders of HR images. patch: LR patch side in pixels. lr: initial Adam
    learning rate. fft_weight: weight of the Fourier L1 term (0 = off). ckpt_every /
    val_every: checkpoint and validation interval in steps. collapsed: train each ECB as one
    3x3 convolution (fast) instead of five branches. jit: XLA-compile the training step.
    precision: one of :data:`PRECISIONS`.
    """

    data: tuple[str, ...]
    # A useful model by default: x2 M4C16 on T91 reached 34.44 dB on 10 BSD200 images after
    # 5000 steps (bicubic 33.00; 34.20 after 1000 of a 6000-step run), about 3 minutes here.
    steps: int = 5000
    batch: int = 16
    patch: int = 64
    lr: float = 5e-4
    schedule: str = "cosine"
    fft_weight: float = 0.0
    seed: int = 0
    ckpt_every: int = 500
    val: tuple[str, ...] = ()
    val_every: int = 0
    init: str | None = None
    collapsed: bool = True
    jit: bool = False
    precision: str = "float32"

    def __post_init__(self) -> None:
        for name in ("steps", "batch", "patch", "ckpt_every"):
            if getattr(self, name) < 1:
                raise UserError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise UserError(f"lr must be > 0, got {self.lr}")
        if self.schedule not in SCHEDULES:
            raise UserError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if not self.fft_weight >= 0:
            raise UserError(f"fft_weight must be >= 0, got {self.fft_weight}")
        if self.val_every < 0:
            raise UserError(f"val_every must be >= 0, got {self.val_every}")
        if self.precision not in PRECISIONS:
            raise UserError(f"precision must be one of {PRECISIONS}, got {self.precision!r}",
                            params=("precision",))

    @property
    def validate_every(self) -> int:
        return self.val_every or self.ckpt_every

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainOptions:
        fields = {f.name for f in dataclasses.fields(cls)}
        clean = {k: v for k, v in data.items() if k in fields}
        for key in ("data", "val"):
            clean[key] = tuple(clean.get(key, ()))
        return cls(**clean)


@dataclasses.dataclass
class TrainResult:
    run_dir: Path
    first_step: int
    last_step: int
    final_loss: float
    steps_per_s: float
    val_psnr: float | None
    notes: list[str]
    val_bicubic_psnr: float | None = None  # the bicubic baseline on the same images

    @property
    def below_bicubic(self) -> bool:
        """Whether the final validation PSNR is below bicubic's: the model is not useful yet."""
        return None not in (self.val_psnr, self.val_bicubic_psnr) and self.val_psnr < self.val_bicubic_psnr


class Reporter:
    """Where training reports progress. This base class is silent (tests, benchmarks)."""

    def note(self, text: str) -> None:
        pass

    def start(self, first: int, total: int) -> None:
        pass

    def update(self, step: int, loss: float, rate: float) -> None:
        pass

    def close(self) -> None:
        pass


class ProgressReporter(Reporter):
    """A rich progress bar: step, loss, steps/s and ETA; notes are printed above it."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)
        self.progress = None

    def note(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def start(self, first: int, total: int) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("step {task.completed:.0f}/{task.total:.0f}"), BarColumn(),
            TextColumn("loss {task.fields[loss]:.3f}"), TextColumn("{task.fields[rate]:.2f} steps/s"),
            TextColumn("ETA"), TimeRemainingColumn(), console=self.console)
        self.progress.start()
        self.task = self.progress.add_task("train", total=total, completed=first, loss=0.0, rate=0.0)

    def update(self, step: int, loss: float, rate: float) -> None:
        self.progress.update(self.task, completed=step, loss=loss, rate=rate)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def l1_loss(sr, hr):
    """Mean absolute error in pixels (0..255)."""
    import tensorflow as tf

    return tf.reduce_mean(tf.abs(sr - hr))


def fourier_loss(sr, hr):
    """RepRFN's frequency loss: mean L1 between the 2-D spectra (real and imaginary parts)
    of SR and HR per channel, orthonormal FFT, in pixel units."""
    import tensorflow as tf

    def spectrum(x):
        x = tf.transpose(x, [0, 3, 1, 2])
        f = tf.signal.rfft2d(x) / tf.cast(tf.sqrt(tf.cast(tf.size(x[0, 0]), tf.float32)), tf.complex64)
        return tf.stack([tf.math.real(f), tf.math.imag(f)], axis=-1)

    return tf.reduce_mean(tf.abs(spectrum(sr) - spectrum(hr)))


def learning_rate_schedule(options: TrainOptions):
    import tf_keras as keras

    if options.schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(options.lr, options.steps,
                                                       alpha=COSINE_FINAL_FRACTION)
    every = max(1, int(options.steps * STEP_DECAY_FRACTION))
    return keras.optimizers.schedules.ExponentialDecay(options.lr, every, 0.5, staircase=True)


def make_optimizer(schedule):
    """The training optimizer: Adam on ``schedule`` (see :func:`learning_rate_schedule`)."""
    import tf_keras as keras

    return keras.optimizers.Adam(schedule, epsilon=1e-8)


def cluster_workers() -> int:
    """The number of workers TF_CONFIG names (0 when it is unset): training runs on all of
    them with MultiWorkerMirroredStrategy."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        return 0
    try:
        cluster = json.loads(text)["cluster"]
        return sum(len(cluster.get(role, ())) for role in ("chief", "worker"))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise UserError("TF_CONFIG is not valid JSON with a cluster (see tf.distribute's TF_CONFIG)") from None


def choose_strategy():
    """MultiWorkerMirroredStrategy when TF_CONFIG names several workers (each runs the same
    command; gradients are all-reduced every step); else MirroredStrategy over all GPUs when more
    than one is visible; else the default (one GPU if present, else CPU).

    Call it before any other TensorFlow op: the multi-worker strategy configures the runtime."""
    import tensorflow as tf

    if cluster_workers() > 1:
        return tf.distribute.MultiWorkerMirroredStrategy()
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def worker_role(strategy) -> tuple[bool, int]:
    """(is this the chief, task index): the chief is task "chief", or "worker" 0 without one."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True, 0
    task_id = int(resolver.task_id or 0)
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    chief = resolver.task_type == "chief" or (not has_chief and task_id == 0)
    return chief, task_id + (1 if has_chief and resolver.task_type == "worker" else 0)


def init_from_run(model, config: Config, init_dir: Path) -> tuple[list[str], list[str]]:
    """Copy the weights of a trained run into ``model`` (EDSR's x2 -> x3/x4 start).

    Every layer is copied except the tail ECB when the scale differs (its output width,
    colors * scale^2, does). Returns the names of the copied and the freshly initialized layers.
    Raises :class:`UserError` for a run of another architecture.
    """
    from keras_sr.runs import load_run

    source, source_config = load_run(Path(init_dir))
    if source_config.family != config.family:
        raise UserError(f"init {init_dir}: a {source_config.family} run, not {config.family}",
                        params=("init",))
    keys = [f.name for f in dataclasses.fields(config) if f.name != "scale"]
    diff = [f"{k} {getattr(source_config, k)} vs {getattr(config, k)}" for k in keys
            if getattr(source_config, k) != getattr(config, k)]
    if diff:
        raise UserError(f"init {init_dir}: another architecture ({'; '.join(diff)})", params=("init",))
    copied, fresh = [], []
    for layer in model.layers:
        if not layer.weights:
            continue
        other = source.get_layer(layer.name)
        shapes = [w.shape for w in layer.get_weights()]
        if [w.shape for w in other.get_weights()] == shapes:
            layer.set_weights(other.get_weights())
            copied.append(layer.name)
        else:
            fresh.append(layer.name)
    return copied, fresh


@contextlib.contextmanager
def precision_policy(precision: str):
    """Keras' global dtype policy set to ``precision`` (one of :data:`PRECISIONS`) while layers
    are built inside the block, and restored after it: a layer keeps the policy it was built
    with, so nothing else in the process changes."""
    import tf_keras as keras

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(precision)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def validate(model, pairs, scale: int) -> float:
    """Mean PSNR (Y, shave = scale) of ``model`` on full validation images, its float output
    rounded to uint8, as ``sr-tool eval`` measures."""
    import tensorflow as tf

    from keras_sr.evaluate import comparable_y
    from keras_sr.imresize import round_pixels
    from keras_sr.metrics import psnr_y

    scores = []
    for pair in pairs:
        out = model(tf.constant(pair.lr[None], tf.float32), training=False).numpy()[0]
        # A grayscale image's target holds its gray values in every channel (HxWxcolors,
        # see keras_sr.data.target): one of them is the HxW image sr-tool eval compares with.
        hr = pair.hr[:, :, 0] if pair.gray else pair.hr
        scores.append(psnr_y(*comparable_y(round_pixels(out), hr), scale))
    return float(np.mean(scores))


def bicubic_psnr(pairs, scale: int) -> float:
    """Mean PSNR of the bicubic baseline (:func:`keras_sr.evaluate.bicubic_scores`) on the
    validation images: the level a trained model must pass to be of any use."""
    from keras_sr.evaluate import bicubic_scores

    return float(np.mean([bicubic_scores(pair.hr[:, :, 0] if pair.gray else pair.hr, scale)[0]
                          for pair in pairs]))


def plot_curves(log_path: Path, val_path: Path, output: Path) -> None:
    """Draw the loss (and validation PSNR, if any) against the step into a PNG, with PIL."""
    from PIL import Image, ImageDraw

    rows = _read_rows(log_path)[1:]
    vals = _read_rows(val_path)[1:]
    if not rows:
        return
    panels = [("loss (L1, 0..255)", [(int(r[0]), float(r[1])) for r in rows])]
    if vals:
        panels.append(("val PSNR-Y (dB)", [(int(r[0]), float(r[1])) for r in vals]))
    width, height, margin = 640, 240, 48
    image = Image.new("RGB", (width, height * len(panels)), "white")
    draw = ImageDraw.Draw(image)
    for i, (title, points) in enumerate(panels):
        top = i * height
        xs = np.array([p[0] for p in points], float)
        ys = np.array([p[1] for p in points], float)
        last = ys[-1]
        if len(ys) > 100:  # a running mean keeps the loss readable
            k = len(ys) // 50
            ys = np.convolve(ys, np.ones(k) / k, mode="valid")
            xs = xs[k - 1:]
        lo, hi = np.nanmin(ys), np.nanmax(ys)
        hi = hi if hi > lo else lo + 1
        x0, x1 = xs.min(), max(xs.max(), xs.min() + 1)
        box = (margin, top + 20, width - 10, top + height - 24)
        draw.rectangle(box, outline="gray")
        pts = [(box[0] + (x - x0) / (x1 - x0) * (box[2] - box[0]),
                box[3] - (y - lo) / (hi - lo) * (box[3] - box[1])) for x, y in zip(xs, ys)
               if np.isfinite(y)]
        if len(pts) > 1:
            draw.line(pts, fill="navy", width=2)
        elif pts:
            draw.ellipse([pts[0][0] - 2, pts[0][1] - 2, pts[0][0] + 2, pts[0][1] + 2], fill="navy")
        draw.text((margin, top + 4), f"{title}: last {last:.3f}", fill="black")
        draw.text((2, box[1]), f"{hi:.2f}", fill="black")
        draw.text((2, box[3] - 10), f"{lo:.2f}", fill="black")
        draw.text((box[0], box[3] + 6), f"step {x0:.0f}", fill="black")
        draw.text((box[2] - 80, box[3] + 6), f"step {x1:.0f}", fill="black")
    with atomic_path(output) as tmp:
        image.save(tmp)


def _read_rows(path: Path) -> list[list[str]]:
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        return [row for row in csv.reader(f) if row]


class RunLog:
    """The step log (``log.csv``), validation log (``val.csv``), TensorBoard events and
    ``curves.png`` of a run. Rows are buffered and written by :meth:`flush`, just before each
    checkpoint; opening the log drops rows past ``first_step`` (written before a checkpoint
    that never completed), so each step is logged exactly once."""

    LOG_HEADER = ("step", "loss", "lr")
    VAL_HEADER = ("step", "psnr_y")

    def __init__(self, run_dir: Path, first_step: int):
        import tensorflow as tf

        self.run_dir = run_dir
        self.log_path, self.val_path = run_dir / LOG_FILE, run_dir / VAL_FILE
        self._truncate(self.log_path, self.LOG_HEADER, first_step)
        self._truncate(self.val_path, self.VAL_HEADER, first_step)
        self.steps: list[tuple[int, float, float]] = []
        self.vals: list[tuple[int, float]] = []
        self.writer = tf.summary.create_file_writer(str(run_dir / TB_DIR))

    @staticmethod
    def check(run_dir: Path) -> None:
        """Raise UserError if a log of ``run_dir`` is damaged (read only: nothing is written)."""
        for path in (run_dir / LOG_FILE, run_dir / VAL_FILE):
            RunLog._steps(path)

    @staticmethod
    def _steps(path: Path) -> list[tuple[int, list[str]]]:
        rows = _read_rows(path)[1:]
        try:
            return [(int(r[0]), r) for r in rows]
        except (ValueError, IndexError):
            raise UserError(f"{path}: damaged log (a row without a step number)") from None

    @staticmethod
    def _truncate(path: Path, header: Sequence[str], last_step: int) -> None:
        rows = [r for _, r in RunLog._steps(path)]
        keep = [r for step, r in RunLog._steps(path) if step <= last_step]
        if len(keep) != len(rows) or not path.is_file():
            with atomic_path(path) as tmp:
                with tmp.open("w", newline="") as f:
                    csv.writer(f).writerows([header, *keep])

    def add_step(self, step: int, loss: float, lr: float) -> None:
        self.steps.append((step, loss, lr))

    def add_val(self, step: int, psnr: float) -> None:
        self.vals.append((step, psnr))

    def flush(self) -> None:
        for path, rows in ((self.log_path, self.steps), (self.val_path, self.vals)):
            with path.open("a", newline="") as f:
                csv.writer(f).writerows(rows)
        with self.writer.as_default():
            for step, loss, lr in self.steps:
                _scalar_summary("loss", loss, step)
                _scalar_summary("learning_rate", lr, step)
            for step, psnr in self.vals:
                _scalar_summary("val_psnr_y", psnr, step)
        self.writer.flush()
        plot_curves(self.log_path, self.val_path, self.run_dir / CURVES_FILE)
        self.steps, self.vals = [], []

    def close(self) -> None:
        self.writer.close()


def _scalar_summary(tag: str, value: float, step: int) -> None:
    """A TensorBoard scalar written with core TF (``tf.summary.scalar`` needs the tensorboard
    package, which TF does not require)."""
    import tensorflow as tf
    from tensorflow.core.framework import summary_pb2

    metadata = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
    tf.summary.write(tag, tf.constant(value, tf.float32), step=step,
                     metadata=metadata.SerializeToString())


def _resolve_run(config: Config | None, options: TrainOptions | None, run_dir: Path,
                 resume: bool, steps: int | None, precision: str | None = None,
                 check_output: bool = True) -> tuple[Config, TrainOptions]:
    """The architecture and options of a fresh run (given) or a resumed one (from run_dir, with
    ``steps`` and ``precision`` changed where given). ``check_output=False`` (a non-chief
    worker) skips the checks that run_dir holds no run."""
    if resume:
        if not (run_dir / TRAIN_FILE).is_file():
            raise UserError(f"{run_dir}: nothing to resume (no {TRAIN_FILE})")
        config = load_config(run_dir / CONFIG_FILE)
        try:
            options = TrainOptions.from_dict(json.loads((run_dir / TRAIN_FILE).read_text()))
        except (OSError, ValueError, TypeError) as exc:
            raise UserError(f"{run_dir / TRAIN_FILE}: not a valid options file ({exc})") from None
        changes = {k: v for k, v in (("steps", steps), ("precision", precision)) if v is not None}
        return config, dataclasses.replace(options, **changes)
    if config is None or options is None:
        raise ValueError("a fresh run needs a config and options")
    if check_output:
        _check_fresh_output(run_dir)
    # Absolute folders, so that --resume works from any working directory.
    absolute = lambda dirs: tuple(str(Path(d).resolve()) for d in dirs)  # noqa: E731
    options = dataclasses.replace(options, data=absolute(options.data), val=absolute(options.val),
                                  init=str(Path(options.init).resolve()) if options.init else None)
    return config, options


def _check_fresh_output(run_dir: Path) -> None:
    if run_dir.exists() and not run_dir.is_dir():
        raise UserError(f"{run_dir}: exists and is not a folder")
    if _checkpoint_files(run_dir) or (run_dir / TRAIN_FILE).exists():
        raise UserError(f"{run_dir} already holds a run; use resume to continue it, "
                        "or another output folder", params=("resume",))
    if run_dir.is_dir() and any(run_dir.iterdir()):
        raise UserError(f"{run_dir}: folder exists and is not empty (and is not a run); "
                        "train into a new or empty folder")


def _folders(run_dir: Path, folders: Sequence[str]) -> list[Path]:
    """The data folders of ``train.json``: absolute as a fresh run writes them, or relative to
    the run dir (a run kept in the repository names no machine's folders)."""
    return [Path(f) if Path(f).is_absolute() else run_dir / f for f in folders]


def _tf_reason(exc: Exception) -> str:
    """The cause in a TensorFlow error, without its op and node decorations (e.g. "No space
    left on device" out of "{{function_node ...}} path.tempstate...; No space left on device
    [Op:SaveV2]")."""
    text = first_line(getattr(exc, "message", None) or exc)
    text = re.sub(r"\{\{[^}]*\}\}|\s*\[Op:[^\]]*\]", "", text).strip()
    return text.rsplit("; ", 1)[-1] if "; " in text else text


def _checkpoint_files(run_dir: Path) -> list[Path]:
    """The checkpoints in ``run_dir`` (their ``.index`` files), oldest first by step, found on
    disk rather than from the ``checkpoint`` index file, which may be damaged."""
    def number(path: Path) -> int:
        suffix = path.name[len("ckpt-"):-len(".index")]
        return int(suffix) if suffix.isdigit() else -1

    folder = run_dir / CKPT_DIR
    found = [p for p in folder.glob("ckpt-*.index") if number(p) >= 0] if folder.is_dir() else []
    return sorted(found, key=number)


def restore_newest_intact(checkpoint, run_dir: Path, note) -> str | None:
    """Restore the newest checkpoint of ``run_dir`` that reads back; return its prefix (None if
    there is none). A damaged one is never deleted or overwritten: its files are renamed to
    ``*.damaged`` (so a later save at the same step cannot replace them) and the index is
    rewritten to list the intact ones. Raises UserError if checkpoints exist but none reads."""
    import tensorflow as tf

    index_files = _checkpoint_files(run_dir)
    damaged = []
    for index_file in reversed(index_files):
        prefix = str(index_file)[: -len(".index")]
        try:
            # Read every tensor back first: the optimizer's slots restore lazily, at the first
            # step, where a damaged value would surface as a traceback.
            reader = tf.train.load_checkpoint(prefix)
            for name in reader.get_variable_to_shape_map():
                reader.get_tensor(name)
            checkpoint.restore(prefix).expect_partial()
        except Exception as exc:  # noqa: BLE001 (TF reports damage as many types: all mean "damaged")
            damaged.append((prefix, first_line(getattr(exc, "message", None) or exc)))
            continue
        for bad, reason in damaged:
            for part in Path(bad).parent.glob(Path(bad).name + ".*"):
                if not part.name.endswith(".damaged"):
                    part.rename(part.with_name(part.name + ".damaged"))
            note(f"checkpoint {bad} is damaged ({reason}); kept as {Path(bad).name}.*.damaged")
        intact = [str(p)[: -len(".index")] for p in _checkpoint_files(run_dir)]
        tf.compat.v1.train.update_checkpoint_state(str(run_dir / CKPT_DIR), prefix,
                                         all_model_checkpoint_paths=intact)
        return prefix
    if damaged:
        raise UserError(f"{run_dir}: no checkpoint reads back ({damaged[0][0]}: {damaged[0][1]}); "
                        "nothing was changed")
    return None


def make_train_step(model, optimizer, strategy, fft_weight: float, jit: bool):
    """A compiled training step ``(lr, hr) -> loss`` (the mean loss over replicas)."""
    import tensorflow as tf

    replicas = strategy.num_replicas_in_sync
    variables = model.trainable_variables
    with strategy.scope():
        optimizer.build(variables)  # slot variables now, so the step is traced only once

    def step_fn(lr, hr):
        with tf.GradientTape() as tape:
            sr = model(lr, training=True)
            loss = l1_loss(sr, hr)
            if fft_weight > 0:
                loss = loss + fft_weight * fourier_loss(sr, hr)
            # Gradients are summed over replicas.
            scaled = loss / replicas
        optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        return loss

    if replicas == 1:
        return tf.function(step_fn, jit_compile=jit, autograph=False)

    @tf.function(autograph=False)
    def distributed_step(lr, hr):
        losses = strategy.run(step_fn, args=(lr, hr))
        return strategy.reduce(tf.distribute.ReduceOp.MEAN, losses, axis=None)

    return distributed_step


def train(config: Config | None, options: TrainOptions | None, run_dir: Path,
          resume: bool = False, steps: int | None = None,
          reporter: Reporter | None = None, precision: str | None = None) -> TrainResult:
    """Train an ECBSR network into ``run_dir``.

    Fresh run: ``config`` and ``options`` are required and ``run_dir`` must not hold a run.
    ``resume=True``: both come from ``run_dir`` (``steps`` may change the total, ``precision``
    the compute precision), and training continues from the last checkpoint (from step 0 if
    none was written yet).
    Raises :class:`UserError` for bad data, a bad ``--init`` run, or a non-finite loss (the last
    good checkpoint is kept).
    """
    import tensorflow as tf
    import tf_keras as keras

    from keras_sr.data import describe_skipped, load_pairs
    from keras_sr import archs

    reporter = reporter or Reporter()
    run_dir = Path(run_dir)
    notes: list[str] = []

    def note(text: str) -> None:
        notes.append(text)
        reporter.note(text)

    strategy = choose_strategy()  # first: the multi-worker strategy must precede any TF op
    chief, task = worker_role(strategy)
    if chief:
        config, options = _resolve_run(config, options, run_dir, resume, steps, precision)
    else:  # the chief checks and owns run_dir; this worker only reads it on --resume
        config, options = _resolve_run(config, options, run_dir, resume, steps, precision,
                                       check_output=False)
        note(f"worker {task}: synchronous with the chief, which writes {run_dir}")
    if options.batch % strategy.num_replicas_in_sync:
        raise UserError(f"batch {options.batch} must be a multiple of the "
                        f"{strategy.num_replicas_in_sync} replicas", params=("batch",))
    note(f"reading and degrading the training images (bicubic x{config.scale}, once) ...")
    train_set = load_pairs(_folders(run_dir, options.data), config.scale, config.colors,
                           min_lr_size=options.patch)
    for line in describe_skipped(train_set.skipped):
        note(line)
    note(f"training data: {len(train_set.pairs)} images, {train_set.nbytes / 2**20:.0f} MiB "
         f"decoded (x{config.scale}, {'Y' if config.colors == 1 else 'RGB'})")
    val_pairs = []
    if options.val:
        val_set = load_pairs(_folders(run_dir, options.val), config.scale, config.colors,
                             min_lr_size=3)
        val_pairs = val_set.pairs
        for line in describe_skipped(val_set.skipped):
            note(line)

    build = archs.family(config).build
    with strategy.scope(), precision_policy(options.precision):
        keras.utils.set_random_seed(options.seed)
        model = build(config, collapsed=options.collapsed)
        schedule = learning_rate_schedule(options)
        optimizer = make_optimizer(schedule)
        step_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, step=step_var)
    if chief:
        RunLog.check(run_dir)  # before anything is written: a failed command changes nothing
    if resume:
        restored = restore_newest_intact(checkpoint, run_dir, note)
        note(f"resumed from {restored} at step {int(step_var.numpy())}" if restored else
             "no checkpoint yet: starting from step 0")
    if int(step_var.numpy()) == 0 and options.init:
        copied, fresh = init_from_run(model, config, Path(options.init))
        note(f"--init {options.init}: copied {', '.join(copied)}")
        if fresh:
            note(f"initialized fresh (shape differs): {', '.join(fresh)}")
    if not chief:
        # Every worker saves its checkpoints (the strategy needs all of them to); the others
        # write theirs to a scratch folder, deleted at the end, and skip validation.
        scratch = Path(tempfile.mkdtemp(prefix=f"keras_sr_worker{task}_"))
        try:
            return _train_loop(config, options, scratch / "run", False, reporter, notes, note, model,
                               optimizer, schedule, step_var, checkpoint, strategy, train_set, [],
                               model)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    existed = run_dir.exists()
    try:
        return _train_loop(config, options, run_dir, resume, reporter, notes, note, model, optimizer,
                           schedule, step_var, checkpoint, strategy, train_set, val_pairs,
                           float32_twin(model, build, config, options))
    except BaseException:
        if not resume and not _checkpoint_files(run_dir):
            # A fresh run that failed before its first checkpoint leaves the folder as it was
            # (absent, or empty: _resolve_run refuses any other).
            _empty_folder(run_dir, remove=not existed)
        raise


def float32_twin(model, build, config: Config, options: TrainOptions):
    """``model`` itself under float32; under mixed precision a float32 network of the same
    architecture (``build``), so that validation scores the network that ships, not its
    bfloat16 compute. The caller copies the weights into it before each use."""
    if options.precision == "float32":
        return model
    with precision_policy("float32"):
        return build(config, collapsed=options.collapsed)


def _interrupts_between_steps():
    """A context in which Ctrl-C and SIGTERM only set a flag (a second one interrupts at once):
    the training loop checks it between steps, so an interrupt never lands between a weight
    update and its log row. Outside the main thread (no signal handlers there) it does nothing."""
    import signal
    import threading

    @contextlib.contextmanager
    def deferred():
        if threading.current_thread() is not threading.main_thread():
            yield lambda: False
            return
        flag = threading.Event()

        def handler(signum, frame):
            if flag.is_set():
                raise KeyboardInterrupt
            flag.set()

        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield flag.is_set
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)

    return deferred()


def _per_worker_batches(strategy, train_set, config, options, first: int):
    """The multi-worker input: each worker samples its own patches (seed + its pipeline id),
    batched per replica, ``steps`` batches for each of its replicas (stateless per-step seeds, so
    a resumed run continues the same sequence)."""
    from keras_sr.data import PatchSampler

    def dataset_fn(context):
        per_replica = context.get_per_replica_batch_size(options.batch)
        local = context.num_replicas_in_sync // context.num_input_pipelines
        sampler = PatchSampler(train_set.pairs, config.scale, options.patch, per_replica,
                               options.seed + context.input_pipeline_id)
        return sampler.dataset(first * local, options.steps * local)

    return strategy.distribute_datasets_from_function(dataset_fn)


def _empty_folder(folder: Path, remove: bool) -> None:
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    if remove:
        folder.rmdir()


def _train_loop(config, options, run_dir: Path, resume: bool, reporter, notes, note, model, optimizer,
                schedule, step_var, checkpoint, strategy, train_set, val_pairs,
                val_model) -> TrainResult:
    """The part of :func:`train` that writes into ``run_dir``: the run files, then the steps.
    ``val_model``: the network that validation runs with ``model``'s weights (its float32 twin
    under mixed precision, else ``model`` itself)."""
    import tensorflow as tf

    from keras_sr.data import PatchSampler
    from keras_sr.runs import save_run

    manager = tf.train.CheckpointManager(checkpoint, str(run_dir / CKPT_DIR),
                                         max_to_keep=CHECKPOINTS_KEPT)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        with atomic_path(run_dir / TRAIN_FILE) as tmp:  # on resume: a new --steps total
            tmp.write_text(json.dumps(options.to_dict(), indent=2) + "\n")
        if not resume:
            with atomic_path(run_dir / CONFIG_FILE) as tmp:
                config.save(tmp)
    except OSError as exc:
        raise UserError(f"{run_dir}: cannot write the run directory ({exc.strerror or exc})") from None

    first = step = int(step_var.numpy())
    log = RunLog(run_dir, first)
    if first >= options.steps:
        log.close()
        note(f"already at step {first} of {options.steps}: nothing to do")
        return TrainResult(run_dir, first, first, math.nan, 0.0, None, notes)
    loss = rate = math.nan
    psnr: float | None = None
    t_start = None

    # A checkpoint holds the weights and Adam's two moments, the run's weights file the weights
    # again: with room for the new ones before the old ones go, about 5 copies of the weights.
    needed = 5 * 4 * model.count_params() + (1 << 20)

    saved = [first]  # the step of the last complete checkpoint

    def save_checkpoint(at: int) -> None:
        good = manager.latest_checkpoint
        kept = f"the last good checkpoint ({good}) is kept" if good else "no checkpoint was written"
        free = shutil.disk_usage(run_dir).free
        if free < needed:
            # Checked before writing: h5py can crash the process when the disk fills mid-write.
            raise UserError(f"{run_dir}: not enough free disk space for the checkpoint at step {at} "
                            f"({free / 2**20:.1f} MiB free, about {needed / 2**20:.1f} MiB needed); {kept}")
        # Logs first, then the checkpoint: a kill in between leaves log rows past the
        # checkpoint, which the resumed run drops; the other order would lose steps.
        try:
            log.flush()
            step_var.assign(at)
            manager.save(checkpoint_number=at)
            save_run(model, config, run_dir)
            saved[0] = at
        except (OSError, RuntimeError, tf.errors.OpError) as exc:  # h5py: RuntimeError
            reason = getattr(exc, "strerror", None) or _tf_reason(exc)
            raise UserError(f"{run_dir}: cannot write the checkpoint at step {at} ({reason}); "
                            f"{kept}") from None

    def one_step(lr_batch, hr_batch, step, rate, psnr, t_start):
        """One step and its bookkeeping (log, progress, validation, checkpoint); an interrupt
        waits until it is done, so the weights, the log and the checkpoints agree."""
        loss = float(train_step(lr_batch, hr_batch))
        if not math.isfinite(loss):
            good = manager.latest_checkpoint
            kept = f"the last good checkpoint ({good}) is kept" if good else "no checkpoint was written"
            raise UserError(f"loss became {loss} at step {step + 1}; stopped, {kept}. "
                            "Lower --lr or check the data")
        step += 1
        log.add_step(step, loss, float(schedule(step - 1)))
        if t_start is None:  # the first step includes tracing: time from the second on
            t_start = time.perf_counter()
        else:
            rate = (step - first - 1) / (time.perf_counter() - t_start)
        reporter.update(step, loss, rate)
        if val_pairs and (step % options.validate_every == 0 or step == options.steps):
            if val_model is not model:
                val_model.set_weights(model.get_weights())
            psnr = validate(val_model, val_pairs, config.scale)
            log.add_val(step, psnr)
            reporter.note(f"step {step}: val PSNR-Y {psnr:.3f} dB")
        if step % options.ckpt_every == 0 or step == options.steps:
            save_checkpoint(step)
        return step, loss, rate, psnr, t_start

    try:
        if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
            dataset = _per_worker_batches(strategy, train_set, config, options, first)
        else:
            sampler = PatchSampler(train_set.pairs, config.scale, options.patch, options.batch,
                                   options.seed)
            dataset = sampler.dataset(first, options.steps)
            if strategy.num_replicas_in_sync > 1:
                dataset = strategy.experimental_distribute_dataset(dataset)
        train_step = make_train_step(model, optimizer, strategy, options.fft_weight, options.jit)
        reporter.start(first, options.steps)
        with _interrupts_between_steps() as interrupted:
            for lr_batch, hr_batch in dataset:
                step, loss, rate, psnr, t_start = one_step(lr_batch, hr_batch, step, rate, psnr, t_start)
                if interrupted():
                    raise KeyboardInterrupt
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM through the CLI: keep what was trained
        if step > saved[0]:  # also when the signal cut a regular checkpoint short
            save_checkpoint(step)
            reporter.note(f"interrupted: checkpoint written at step {step}; --resume continues")
        raise
    finally:
        reporter.close()
        log.close()
    bicubic = bicubic_psnr(val_pairs, config.scale) if psnr is not None else None
    return TrainResult(run_dir, first, step, loss, rate, psnr, notes, bicubic)
