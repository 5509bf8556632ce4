"""keras_sr: mobile super-resolution by structural re-parameterization (ECBSR in tf-keras).

Train with multi-branch Edge-oriented Convolution Blocks, fold them into a plain network of
3x3 convolutions, depth-to-space and clip, and export it as a full-integer TFLite model.

The public names below are imported lazily, so ``import keras_sr`` (and ``sr-tool --help``)
does not load TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_EXPORTS = {
    "ModelConfig": "keras_sr.config",
    "UserError": "keras_sr.errors",
    "build_model": "keras_sr.models",
    "build_plain_model": "keras_sr.models",
    "fold": "keras_sr.folding",
    "load_run": "keras_sr.runs",
    "save_run": "keras_sr.runs",
    "load_plain": "keras_sr.runs",
    "load_sr_model": "keras_sr.runtime",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    from keras_sr.config import ModelConfig
    from keras_sr.errors import UserError
    from keras_sr.folding import fold
    from keras_sr.models import build_model, build_plain_model
    from keras_sr.runs import load_plain, load_run, save_run
    from keras_sr.runtime import load_sr_model


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'keras_sr' has no attribute {name!r}")
