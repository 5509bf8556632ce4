"""The models shipped in the package (``keras_sr/pretrained/*_int8.tflite``), by name.

Each bundled int8 file is known by its full name, the file name without ``_int8.tflite``
(e.g. ``ecbsr_x2_m4c16_relu_y``), and, for the two ECBSR sizes that ship, by a short one: the
default architecture (ECBSR-M4C16 with ReLU) is ``x2``, ``x3``, ``x4`` for the Y models and
``x2-rgb`` for RGB; the quality model (ECBSR-M10C32 with ReLU) is ``x2-quality``. Names come from
each file's metadata, so a new bundled file needs no code here. Reading them needs no TensorFlow.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from keras_sr.errors import UserError

PRETRAINED_DIR = Path(__file__).parent / "pretrained"
INT8_SUFFIX = "_int8.tflite"
DEFAULT_MODEL = "x2"
# Architectures with short names: config entries -> the suffix after "x<scale>".
SHORT_NAME_ARCHS = (
    ({"num_blocks": 4, "channels": 16, "act_type": "relu"}, ""),  # ECBSR-M4C16, ReLU: the default
    ({"num_blocks": 10, "channels": 32, "act_type": "relu"}, "-quality"),  # ECBSR-M10C32, ReLU
)


@dataclasses.dataclass(frozen=True)
class BundledFile:
    """A bundled int8 .tflite: its names, where it is, and its metadata."""

    name: str
    short_name: str | None
    path: Path
    metadata: dict[str, Any]

    @property
    def names(self) -> tuple[str, ...]:
        return (self.short_name, self.name) if self.short_name else (self.name,)


def bundled_files(folder: Path | None = None) -> list[BundledFile]:
    """Every ``*_int8.tflite`` in ``folder`` (default: :data:`PRETRAINED_DIR`), sorted by colors,
    scale and name."""
    from keras_sr.metadata import read_metadata
    from keras_sr.runtime import _read_bytes

    found = []
    for path in sorted(Path(folder or PRETRAINED_DIR).glob(f"*{INT8_SUFFIX}")):
        metadata = read_metadata(_read_bytes(path), source=str(path))
        found.append(BundledFile(path.name[: -len(INT8_SUFFIX)], _short_name(metadata), path, metadata))
    return sorted(found, key=lambda f: (f.metadata["colors"], f.metadata["scale"],
                                        f.short_name is None, f.names[0]))


def _short_name(metadata: dict[str, Any]) -> str | None:
    config = metadata.get("config") or {}
    if config.get("family", "ecbsr") != "ecbsr":
        return None
    for arch, suffix in SHORT_NAME_ARCHS:
        if all(config.get(key) == value for key, value in arch.items()):
            return f"x{metadata['scale']}{suffix}" + ("-rgb" if metadata["colors"] == 3 else "")
    return None


def find_bundled(name: str, folder: Path | None = None) -> Path | None:
    """The bundled file called ``name`` (short or full, any case), or None."""
    key = name.lower()
    for file in bundled_files(folder):
        if key in file.names:
            return file.path
    return None


def resolve_model(model: str | Path | None, folder: Path | None = None) -> Path:
    """The path of ``model``: an existing file or folder as given, else a bundled model's name;
    None means the default bundled model."""
    if model is None:
        model = DEFAULT_MODEL
    path = Path(model)
    if path.exists() or path.is_symlink():
        return path
    found = find_bundled(str(model), folder) if path.name == str(model) else None
    if found is not None:
        return found
    names = ", ".join(f.names[0] for f in bundled_files(folder)) or "none"
    raise UserError(f"{model}: no such file, folder or bundled model (bundled: {names}; "
                    f"see sr-tool models)")


def bundled_for_scale(scale: int, folder: Path | None = None) -> Path:
    """The bundled short-named Y model of ``scale`` (what ``upscale --scale S`` picks)."""
    for file in bundled_files(folder):
        if file.short_name == f"x{scale}":
            return file.path
    raise UserError(f"no bundled x{scale} model; pass one as model", params=("model",))
