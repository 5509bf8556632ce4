"""Run directories and model files.

A run directory holds ``config.json`` (a :class:`ModelConfig`) and the training-time weights
(``model.weights.h5``); every later command rebuilds the network from them without flags.
A folded plain model is a ``.keras`` file; the ones written here also hold the config, as a
``keras_sr_config.json`` entry of the zip (:func:`save_plain`), so a later command reads the
architecture as trained (with_idt, depth multiplier) instead of re-inferring it from the layers.
Files without it (written before) fall back to the family's ``plain_config``.
"""

from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path

import numpy as np
import tf_keras as keras

from keras_sr import archs
from keras_sr.config import CONFIG_FILE, Config, config_from_dict, load_config
from keras_sr.errors import UserError, first_line
from keras_sr.files import atomic_path

WEIGHTS_FILE = "model.weights.h5"
PLAIN_CONFIG_ENTRY = "keras_sr_config.json"  # inside a .keras zip; Keras ignores other entries


def save_run(model: keras.Model, config: Config, run_dir: Path) -> None:
    """Write ``config.json`` and the weights into ``run_dir`` (created if needed), atomically
    per file: each is written to a temporary name and renamed."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(run_dir / WEIGHTS_FILE) as tmp:
        model.save_weights(str(tmp))
    with atomic_path(run_dir / CONFIG_FILE) as tmp:
        config.save(tmp)


def load_run(run_dir: Path, collapsed: bool = False) -> tuple[keras.Model, Config]:
    """Rebuild the training-time network of a run directory and load its weights."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: not a run directory (expected a folder with {CONFIG_FILE})")
    config = load_config(run_dir / CONFIG_FILE)
    weights = run_dir / WEIGHTS_FILE
    if not weights.is_file():
        raise UserError(f"{run_dir}: no {WEIGHTS_FILE} (has this run saved weights yet?)")
    model = archs.family(config).build(config, collapsed=collapsed)
    try:
        model.load_weights(str(weights))
    except Exception as exc:  # h5py/keras raise many types for bad or mismatched files
        raise UserError(f"{weights}: cannot load weights for {config.name} ({first_line(exc)})") from None
    return model, config


def load_plain(path: Path) -> keras.Model:
    """A plain (folded) model from a run directory (folded in memory) or a ``.keras`` file."""
    path = Path(path)
    if path.is_dir():
        model, config = load_run(path)
        return archs.family(config).fold(model, config)
    if not path.exists():
        raise UserError(f"{path}: no such file or directory")
    if path.suffix != ".keras":
        raise UserError(f"{path}: expected a run directory or a folded .keras file")
    import keras_sr.archs.esr  # noqa: F401  (registers the custom layers for deserialization)
    import keras_sr.blocks  # noqa: F401

    try:
        return keras.models.load_model(str(path), compile=False)
    except Exception as exc:
        raise UserError(f"{path}: cannot load model ({first_line(exc)})") from None


def save_plain(plain: keras.Model, config: Config, path: Path) -> None:
    """Write the plain model to ``path`` (.keras) with ``config`` inside it, atomically."""
    with atomic_path(Path(path)) as tmp:
        plain.save(str(tmp))
        with zipfile.ZipFile(tmp, "a") as archive:
            archive.writestr(PLAIN_CONFIG_ENTRY, json.dumps(config.to_dict(), indent=2) + "\n")


def plain_file_config(path: Path) -> Config | None:
    """The config stored in a .keras file by :func:`save_plain`; None for a file without it."""
    try:
        with zipfile.ZipFile(path) as archive:
            if PLAIN_CONFIG_ENTRY not in archive.namelist():
                return None
            data = json.loads(archive.read(PLAIN_CONFIG_ENTRY))
    except (OSError, zipfile.BadZipFile, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: cannot read its {PLAIN_CONFIG_ENTRY} ({first_line(exc)})") from None
    try:
        return config_from_dict(data)
    except (UserError, TypeError) as exc:
        raise UserError(f"{path}: {PLAIN_CONFIG_ENTRY}: {exc}") from None


@dataclasses.dataclass(frozen=True)
class FoldReport:
    name: str
    num_convs: int
    params: int  # of the plain .keras (ECBSR: the residual carried through the convs as a channel)
    max_abs_diff: float
    deploy_params: int  # of the network the .tflite files hold (ECBSR: the residual as 1x1 + ADD)


def fold_run(run_dir: Path, output: Path, check_size: tuple[int, int] = (256, 256)) -> FoldReport:
    """Load a run, fold it, check the fold on a random image, and save the plain ``.keras``."""
    output = Path(output)
    if output.suffix != ".keras":
        raise UserError(f"{output}: the output must end in .keras")
    if not output.parent.is_dir():
        raise UserError(f"{output.parent}: output folder does not exist")
    model, config = load_run(run_dir)
    plain = archs.family(config).fold(model, config)
    diff = max_abs_diff(model, plain, check_size)
    try:
        save_plain(plain, config, output)
    except Exception as exc:  # OSError, or h5py/keras errors for an unwritable target
        raise UserError(f"{output}: cannot write ({getattr(exc, 'strerror', None) or first_line(exc)})") from None
    convs = sum(isinstance(layer, keras.layers.Conv2D) for layer in plain.layers)
    deploy_params = archs.family(config).deploy(plain, config).count_params()
    return FoldReport(config.name, convs, plain.count_params(), diff, deploy_params)


def max_abs_diff(model_a: keras.Model, model_b: keras.Model, size: tuple[int, int] = (64, 64),
                 seed: int = 0, preclip: bool = True) -> float:
    """Max absolute difference of two SR models on one random image (pixels 0..255).

    ``preclip`` compares the outputs before the final clip (the ``clip`` layer's input), so a
    difference cannot hide in the clipped range.
    """
    colors = int(model_a.input_shape[-1])
    x = np.random.default_rng(seed).uniform(0, 255, (1, *size, colors)).astype(np.float32)
    if preclip:
        model_a, model_b = _preclip(model_a), _preclip(model_b)
    ya = model_a(x, training=False).numpy()
    yb = model_b(x, training=False).numpy()
    return float(np.max(np.abs(ya.astype(np.float64) - yb)))


def _preclip(model: keras.Model) -> keras.Model:
    """The network up to the final clip, of any family."""
    return keras.Model(model.input, model.get_layer("clip").input)

