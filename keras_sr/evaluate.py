"""Benchmark evaluation: PSNR and SSIM on the Y channel against HR folders, with the bicubic
baseline, optionally with EDSR's geometric self-ensemble.

Per image (see :mod:`keras_sr.metrics` for the protocol and what was verified):

* model: HR is cropped to a multiple of the scale and degraded with MATLAB's bicubic on uint8
  pixels (:func:`keras_sr.imresize.bicubic_downscale`); the network gets that LR image as its
  input (rounded Y for Y models, see :func:`keras_sr.data.model_input`); its uint8 output is
  compared with the HR image on Y in float, ``scale`` pixels shaved at each border.
* bicubic: the pipeline that made the published bicubic row (SRCNN-era MATLAB code, on Y only):
  HR Y rounded to uint8, bicubic down and up in double, SR Y rounded. It reproduces the
  published Set5 figures exactly and Set14 to 0.007 dB; bicubic on the uint8 RGB LR (the model's
  own input) is 0.01-0.015 dB higher at x2.

Results are a :class:`EvalReport`: per image and mean, per dataset.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from keras_sr.config import SCALES
from keras_sr.data import dihedral, inverse_dihedral, list_images, model_input, read_image
from keras_sr.errors import UserError
from keras_sr.imresize import bicubic_downscale, imresize, round_pixels
from keras_sr.metrics import SSIM_WINDOW, psnr_y, ssim_y, to_y

BICUBIC = "bicubic"
ENSEMBLE_SIZE = 8


def bicubic_scores(hr: np.ndarray, scale: int) -> tuple[float, float]:
    """(PSNR, SSIM) of the published bicubic baseline for one uint8 HR image."""
    h, w = hr.shape[0] // scale * scale, hr.shape[1] // scale * scale
    y_hr = round_pixels(to_y(hr[:h, :w]))
    y_sr = round_pixels(imresize(imresize(y_hr.astype(np.float64), 1.0 / scale), float(scale)))
    return psnr_y(y_sr, y_hr, scale), ssim_y(y_sr, y_hr, scale)


def super_resolve(model: Callable[[np.ndarray], np.ndarray], lr: np.ndarray,
                  self_ensemble: bool = False) -> np.ndarray:
    """Run ``model`` (HxWxC uint8 -> sHxsWxC uint8) on ``lr``; with ``self_ensemble``, average
    its outputs over the 8 flips/rotations of the input (each transformed back) in float, then
    round."""
    if not self_ensemble:
        return model(lr)
    total = None
    for k in range(ENSEMBLE_SIZE):
        out = inverse_dihedral(model(np.ascontiguousarray(dihedral(lr, k))), k).astype(np.float64)
        total = out if total is None else total + out
    return round_pixels(total / ENSEMBLE_SIZE)


def comparable_y(sr: np.ndarray, hr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two images a model output is scored on, for :func:`~keras_sr.metrics.psnr_y` and
    :func:`~keras_sr.metrics.ssim_y` (which take the Y of each).

    ``sr``: model output, sHxsWxC uint8. ``hr``: the reference of the same size, uint8 HxW
    (grayscale) or HxWx3, or a Y image (HxW or HxWx1, float allowed).

    * Y model (C = 1): its output against the luma of ``hr``;
    * RGB model on a grayscale image (``hr`` HxW): the mean of the output channels, rounded to
      uint8, against the gray values;
    * RGB model on an RGB image: both as they are.
    """
    if sr.shape[2] == 1:
        return sr[:, :, 0], to_y(hr)
    if hr.ndim == 2:
        return round_pixels(sr.astype(np.float64).mean(axis=2)), hr
    return sr, hr


def model_scores(sr: np.ndarray, hr: np.ndarray, scale: int) -> tuple[float, float]:
    """(PSNR, SSIM) on Y of a model output (sHxsWxC uint8) against the cropped uint8 HR."""
    sr_y, hr_y = comparable_y(sr, hr)
    return psnr_y(sr_y, hr_y, scale), ssim_y(sr_y, hr_y, scale)


@dataclasses.dataclass
class ImageScores:
    name: str
    bicubic: tuple[float, float]
    model: tuple[float, float] | None


@dataclasses.dataclass
class DatasetReport:
    name: str
    folder: str
    images: list[ImageScores]

    def mean(self, which: str) -> tuple[float, float] | None:
        values = [getattr(img, which) for img in self.images]
        if any(v is None for v in values):
            return None
        return tuple(float(v) for v in np.mean(values, axis=0))  # type: ignore[return-value]


@dataclasses.dataclass
class EvalReport:
    model: str
    description: str
    scale: int
    self_ensemble: bool
    datasets: list[DatasetReport]

    def to_dict(self) -> dict[str, Any]:
        def pair(v):
            return None if v is None else {"psnr": v[0], "ssim": v[1]}

        return {
            "model": self.model, "description": self.description, "scale": self.scale,
            "self_ensemble": self.self_ensemble, "metric": "Y channel, shave = scale",
            "datasets": [{
                "name": d.name, "folder": d.folder,
                "mean": {"bicubic": pair(d.mean("bicubic")), "model": pair(d.mean("model"))},
                "images": [{"name": i.name, "bicubic": pair(i.bicubic), "model": pair(i.model)}
                           for i in d.images],
            } for d in self.datasets],
        }


def evaluate(model_path: str, folders: Sequence[Path], scale: int | None = None,
             self_ensemble: bool = False,
             on_image: Callable[[str], None] | None = None,
             training_time: bool = False) -> EvalReport:
    """Evaluate a model (run dir, .keras, .tflite, or ``"bicubic"`` for the baseline alone) on
    folders of HR images. ``scale`` defaults to the model's; it must match it.
    ``training_time`` (run dirs only) evaluates the training-time network (ECB branches
    expanded) instead of the plain network folded in memory."""
    model = None
    description = "bicubic baseline only"
    if training_time and not Path(model_path).is_dir():
        raise UserError(f"{model_path}: the training-time network needs a run directory")
    if str(model_path) != BICUBIC:
        from keras_sr.runtime import load_keras_sr_model, load_sr_model

        model = (load_keras_sr_model(Path(model_path), training_time=True) if training_time
                 else load_sr_model(model_path))
        description = model.describe()
        if scale is None:
            scale = model.scale
        elif scale != model.scale:
            raise UserError(f"{model_path} is a x{model.scale} model, not x{scale}")
    if scale is None:
        raise UserError("the bicubic baseline needs a scale", params=("scale",))
    if scale not in SCALES:
        raise UserError(f"scale must be one of {SCALES}, got {scale}")
    if self_ensemble and model is None:
        raise UserError("self_ensemble needs a model", params=("self_ensemble",))

    reports = []
    for folder in map(Path, folders):
        images = []
        for path in list_images([folder]):
            hr = read_image(path)
            if min(hr.shape[:2]) // scale * scale < 2 * scale + SSIM_WINDOW:
                raise UserError(f"{path}: {hr.shape[1]}x{hr.shape[0]} pixels is too small to "
                                f"evaluate at x{scale}")
            bicubic = bicubic_scores(hr, scale)
            scores = None
            if model is not None:
                hr_c, lr = bicubic_downscale(hr, scale)
                sr = super_resolve(model, model_input(lr, model.colors), self_ensemble)
                scores = model_scores(sr, hr_c, scale)
            images.append(ImageScores(path.stem, bicubic, scores))
            if on_image is not None:
                on_image(path.name)
        reports.append(DatasetReport(folder.name, str(folder), images))
    return EvalReport(str(model_path), description, scale, self_ensemble, reports)
