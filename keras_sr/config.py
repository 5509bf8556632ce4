"""Network configuration: one frozen dataclass, named presets, and its ``config.json``.

Field names follow the ECBSR paper and code: ``scale``, ``num_blocks`` (M), ``channels`` (C),
``colors``, ``act_type``, ``with_idt``, ``depth_multiplier``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from keras_sr.errors import UserError

SCALES = (2, 3, 4)
ACT_TYPES = ("relu", "prelu", "none")
CONFIG_FILE = "config.json"
MAX_BLOCKS, MAX_CHANNELS = 64, 256  # far beyond any mobile network, still bounded

# ECBSR's model grid: M = number of middle ECBs, C = channels.
PRESETS: dict[str, dict[str, int]] = {
    "m4c8": {"num_blocks": 4, "channels": 8},
    "m4c16": {"num_blocks": 4, "channels": 16},
    "m4c32": {"num_blocks": 4, "channels": 32},
    "m10c32": {"num_blocks": 10, "channels": 32},
    "m16c64": {"num_blocks": 16, "channels": 64},
}


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Architecture of an ECBSR network; everything needed to rebuild it.

    scale: upscaling factor (2, 3 or 4).
    num_blocks: number of C -> C ECBs between the head and the tail ECB.
    channels: feature channels C.
    colors: 1 (Y channel) or 3 (RGB); input and output pixels are 0..255.
    act_type: activation after each ECB except the last: "relu", "prelu" or "none".
    with_idt: add an identity branch to ECBs whose input and output channels match.
    depth_multiplier: the 1x1-3x3 branch expands to int(out_channels * depth_multiplier).
    """

    scale: int = 2
    num_blocks: int = 4
    channels: int = 16
    colors: int = 1
    act_type: str = "relu"
    with_idt: bool = False
    depth_multiplier: float = 2.0

    family = "ecbsr"  # not a field: old config.json files, without it, are ECBSR

    def __post_init__(self) -> None:
        for name, kind in _FIELD_TYPES.items():
            value = getattr(self, name)
            # bool is an int in Python, and a JSON "2" is a str: neither may pass as a number.
            ok = (isinstance(value, bool) if kind is bool else
                  isinstance(value, (int, float)) and not isinstance(value, bool) if kind is float else
                  isinstance(value, kind) and not isinstance(value, bool))
            if not ok:
                raise UserError(f"{name} must be {_TYPE_WORDS[kind]}, got {json.dumps(value)} "
                                f"({type(value).__name__})")
        if self.scale not in SCALES:
            raise UserError(f"scale must be one of {SCALES}, got {self.scale}")
        if self.colors not in (1, 3):
            raise UserError(f"colors must be 1 (Y) or 3 (RGB), got {self.colors}")
        if self.act_type not in ACT_TYPES:
            raise UserError(f"act_type must be one of {ACT_TYPES}, got {self.act_type!r}")
        if not 0 <= self.num_blocks <= MAX_BLOCKS:
            raise UserError(f"num_blocks must be in 0..{MAX_BLOCKS}, got {self.num_blocks}")
        if not 1 <= self.channels <= MAX_CHANNELS:
            raise UserError(f"channels must be in 1..{MAX_CHANNELS}, got {self.channels}")
        if not 0 < self.depth_multiplier <= 16:
            raise UserError(f"depth_multiplier must be in (0, 16], got {self.depth_multiplier}")

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> ModelConfig:
        """A named preset (m4c8, m4c16, m4c32, m10c32, m16c64) with optional field overrides."""
        key = name.lower()
        if key not in PRESETS:
            raise UserError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
        return cls(**{**PRESETS[key], **overrides})

    @property
    def num_convs(self) -> int:
        """Number of 3x3 convolutions in the folded network (head + blocks + tail)."""
        return self.num_blocks + 2

    @property
    def receptive_radius(self) -> int:
        """Receptive-field radius in LR pixels: one pixel per 3x3 convolution."""
        return self.num_convs

    @property
    def name(self) -> str:
        """A short descriptive name, e.g. ``x2_m4c16_relu_y``."""
        color = "y" if self.colors == 1 else "rgb"
        return f"x{self.scale}_m{self.num_blocks}c{self.channels}_{self.act_type}_{color}"

    @property
    def literature_name(self) -> str:
        """The paper's name, e.g. ``ECBSR-M4C16``."""
        return f"ECBSR-M{self.num_blocks}C{self.channels}" + ("" if self.colors == 1 else "-RGB")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Build from a dict, rejecting unknown fields with a clear message."""
        if not isinstance(data, dict):
            raise UserError("config must be a JSON object")
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - fields)
        if unknown:
            raise UserError(f"unknown config field(s): {', '.join(unknown)}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise UserError(f"invalid config: {exc}") from None

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> ModelConfig:
        return _load_json(path, cls.from_dict)


_FIELD_TYPES = {field.name: {"int": int, "str": str, "bool": bool, "float": float}[field.type]
                for field in dataclasses.fields(ModelConfig)}
_TYPE_WORDS = {int: "an integer", str: "a string", bool: "true or false", float: "a number"}


ESR_MODES = ("max", "tm", "tr")
# Head width per output channel and sub-pixel: values (MAX); values + keys (TM); + queries (TR).
ESR_PARTS = {"max": 1, "tm": 2, "tr": 3}


@dataclasses.dataclass(frozen=True)
class ESRConfig:
    """An edge-SR network (Michelini et al., WACV 2022): one k x k convolution from Y to
    ``parts * scale^2 * channels`` channels, depth-to-space, and a head over the C channels of
    each output pixel: their maximum (MAX), or values weighted by a softmax of keys (TM) or of
    query * key (TR). No bias, no residual (as the paper).

    scale: 2, 3 or 4. mode: "max", "tm" or "tr". kernel_size: odd, 3..15. channels: C, 1..64.
    colors: 1 (the paper's Y-only networks).
    """

    scale: int = 2
    mode: str = "max"
    kernel_size: int = 7
    channels: int = 4
    colors: int = 1

    family = "esr"

    def __post_init__(self) -> None:
        for name in ("scale", "kernel_size", "channels", "colors"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise UserError(f"{name} must be an integer, got {json.dumps(value)}")
        if self.scale not in SCALES:
            raise UserError(f"scale must be one of {SCALES}, got {self.scale}")
        if self.mode not in ESR_MODES:
            raise UserError(f"mode must be one of {ESR_MODES}, got {self.mode!r}")
        if self.kernel_size % 2 == 0 or not 3 <= self.kernel_size <= 15:
            raise UserError(f"kernel_size must be odd, 3..15, got {self.kernel_size}")
        if not 1 <= self.channels <= 64:
            raise UserError(f"channels must be in 1..64, got {self.channels}")
        if self.colors != 1:
            raise UserError("eSR networks are Y-only (colors 1)")

    @property
    def receptive_radius(self) -> int:
        return self.kernel_size // 2

    @property
    def name(self) -> str:
        return f"x{self.scale}_esr_{self.mode}_k{self.kernel_size}c{self.channels}_y"

    @property
    def literature_name(self) -> str:
        return f"eSR-{self.mode.upper()}_s{self.scale}_K{self.kernel_size}_C{self.channels}"

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ESRConfig:
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - fields - {"family"})
        if unknown:
            raise UserError(f"unknown config field(s): {', '.join(unknown)}")
        return cls(**{k: v for k, v in data.items() if k != "family"})

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def parse(cls, name: str, scale: int | None = None) -> ESRConfig:
        """``eSR-MAX_K7_C4`` (the paper's form; ``_s2`` optional, the fields in any order)."""
        head, *fields = name.split("_")
        mode = head[len("esr-"):].lower() if head.lower().startswith("esr-") else ""
        values: dict[str, int] = {}
        for field in fields:
            key, digits = field[:1], field[1:]
            if key not in "sKC" or not digits.isdigit() or key in values:
                raise UserError(f"{name!r}: not an eSR name like eSR-MAX_K7_C4 (fields sN, KN, CN)")
            values[key] = int(digits)
        if "K" not in values or "C" not in values:
            raise UserError(f"{name!r}: an eSR name needs KN and CN, e.g. eSR-TM_K7_C4")
        if scale is not None and "s" in values and values["s"] != scale:
            raise UserError(f"{name!r} is a x{values['s']} name, but the scale is {scale}")
        return cls(scale=values.get("s", scale or 2), mode=mode, kernel_size=values["K"],
                   channels=values["C"])


Config = ModelConfig | ESRConfig
FAMILY_CONFIGS: dict[str, type] = {"ecbsr": ModelConfig, "esr": ESRConfig}


def config_from_dict(data: Any) -> Config:
    """A config of any family from its dict: ``family`` names it (absent: ECBSR, as every
    config.json and .tflite metadata written before the families existed)."""
    if not isinstance(data, dict):
        raise UserError("config must be a JSON object")
    family = data.get("family", "ecbsr")
    if family not in FAMILY_CONFIGS:
        raise UserError(f"unknown model family {family!r}; known: {', '.join(FAMILY_CONFIGS)}")
    if family == "ecbsr":
        data = {k: v for k, v in data.items() if k != "family"}
    return FAMILY_CONFIGS[family].from_dict(data)


def load_config(path: Path) -> Config:
    """The config.json of a run directory, of any family."""
    return _load_json(path, config_from_dict)


def _load_json(path: Path, parse):
    """``parse`` of the JSON in ``path``, every failure a one-line :class:`UserError`."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: not a valid config file ({exc})") from None
    try:
        return parse(data)
    except (UserError, TypeError) as exc:
        raise UserError(f"{path}: {exc}") from None


def preset_config(name: str, scale: int, colors: int = 1, act_type: str = "relu") -> Config:
    """``--preset``: an ECBSR preset (m4c16, ...) or an eSR name (eSR-MAX_K7_C4, ...)."""
    if name.lower().startswith("esr-"):
        if colors != 1:
            raise UserError("eSR networks are Y-only: use --colors 1")
        return ESRConfig.parse(name, scale)
    return ModelConfig.preset(name, scale=scale, colors=colors, act_type=act_type)
