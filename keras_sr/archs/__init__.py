"""Model families behind one contract, so every command runs every family without branches.

A family is a module here (``ecbsr``, ``esr``) with:

* ``build(config, collapsed=False)``: the training-time network (NHWC pixels 0..255 in and out);
* ``fold(model, config)``: a NEW plain network with the same function (the trained model is
  never modified);
* ``deploy(plain, config)``: the network the .tflite files hold (may equal the plain one);
* ``plain_config(plain)``: the config of a plain network read from a .keras file;
* ``pin_int8(content)``: the family's int8 measures on a converted flatbuffer;
* ``int8_training_forward(network, config, patches, learn_ranges=False)``:
  ``(forward, variables, ranges)`` for quantization-aware fine-tuning (:mod:`keras_sr.qat`):
  ``forward(lr)`` is the deploy network with the int8 file's roundings simulated, its ranges
  measured on the calibration ``patches``, ``variables`` the weights the fine-tuning learns
  (where ``SUPPORTS_QAT``) and ``ranges`` the :class:`keras_sr.qat.ActivationRange` of each
  range group of the int8 file (:func:`keras_sr.flatbuf.range_groups`), whose steps it learns
  with ``learn_ranges`` (where ``LEARNS_RANGES``);
* ``INT8_OPS``: the builtin ops its full-int8 file may hold; ``SUPPORTS_QAT``; ``LEARNS_RANGES``.

The configs themselves (:mod:`keras_sr.config`) say their family, name, literature name and
receptive radius, and need no TensorFlow.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from keras_sr.config import FAMILY_CONFIGS, Config
from keras_sr.errors import UserError

FAMILIES = tuple(FAMILY_CONFIGS)


def family(config: Config) -> ModuleType:
    """The module of ``config``'s family."""
    return importlib.import_module(f"keras_sr.archs.{config.family}")


def plain_config(plain) -> Config:
    """The config of a plain (folded) network of any family, from a .keras file."""
    for name in FAMILIES:
        module = importlib.import_module(f"keras_sr.archs.{name}")
        if module.is_plain(plain):
            return module.plain_config(plain)
    raise UserError(f"model {plain.name!r} is not a plain keras_sr network of any family "
                    f"({', '.join(FAMILIES)})")
