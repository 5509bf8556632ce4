"""Network configuration: one frozen dataclass, named presets, and its ``config.json``.

Field names follow the ECBSR paper and code: ``scale``, ``num_blocks`` (M), ``channels`` (C),
``colors``, ``act_type``, ``with_idt``, ``depth_multiplier``.
"""

from __future__ import annotations

import dataclasses
import json
import re
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


ESR_MODES = ("max", "tm", "tr", "cnn")
# Head width per output channel and sub-pixel: values (MAX); values + keys (TM, CNN); + queries (TR).
ESR_PARTS = {"max": 1, "tm": 2, "tr": 3, "cnn": 2}
# eSR-CNN's convolutions, fixed by the paper: 5x5 to D, 3x3 to S, 3x3 to the head. Together they
# see a 9x9 window, which is eSR-CNN's kernel_size: receptive_radius = kernel_size // 2 in every mode.
ESR_CNN_KERNELS = (5, 3, 3)
ESR_CNN_WINDOW = 1 + sum(k - 1 for k in ESR_CNN_KERNELS)
ESR_MAX_CHANNELS = 64


class _FamilyConfigFile:
    """``from_dict`` (unknown fields refused, ``family`` read past) and ``save`` of the
    config.json of a family config that writes its ``family`` (eSR, RepRFN)."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - fields - {"family"})
        if unknown:
            raise UserError(f"unknown config field(s): {', '.join(unknown)}")
        return cls(**{k: v for k, v in data.items() if k != "family"})

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")


@dataclasses.dataclass(frozen=True)
class ESRConfig(_FamilyConfigFile):
    """An edge-SR network (Michelini et al., WACV 2022): one k x k convolution from Y to
    ``parts * scale^2 * channels`` channels, depth-to-space, and a head over the C channels of
    each output pixel: their maximum (MAX), or values weighted by a softmax of keys (TM) or of
    query * key (TR). No bias, no residual (as the paper). eSR-CNN (CNN) puts the paper's small
    CNN in place of the one convolution (5x5 to D channels, tanh, 3x3 to S, tanh, 3x3 to
    ``2 * scale^2 * channels``, see :data:`ESR_CNN_KERNELS`) and weights values by a softmax of
    key * key.

    scale: 2, 3 or 4. mode: "max", "tm", "tr" or "cnn". kernel_size: odd, 3..15; for "cnn" the
    CNN's window, :data:`ESR_CNN_WINDOW` (9). channels: C, 1..64. colors: 1 (the paper's Y-only
    networks). d_channels, s_channels: eSR-CNN's D and S, 1..64 (0, and absent from
    ``config.json``, for the other modes).
    """

    scale: int = 2
    mode: str = "max"
    kernel_size: int = 7
    channels: int = 4
    colors: int = 1
    d_channels: int = 0
    s_channels: int = 0

    family = "esr"

    def __post_init__(self) -> None:
        for name in ("scale", "kernel_size", "channels", "colors", "d_channels", "s_channels"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise UserError(f"{name} must be an integer, got {json.dumps(value)}")
        if self.scale not in SCALES:
            raise UserError(f"scale must be one of {SCALES}, got {self.scale}")
        if self.mode not in ESR_MODES:
            raise UserError(f"mode must be one of {ESR_MODES}, got {self.mode!r}")
        if self.kernel_size % 2 == 0 or not 3 <= self.kernel_size <= 15:
            raise UserError(f"kernel_size must be odd, 3..15, got {self.kernel_size}")
        if not 1 <= self.channels <= ESR_MAX_CHANNELS:
            raise UserError(f"channels must be in 1..{ESR_MAX_CHANNELS}, got {self.channels}")
        if self.colors != 1:
            raise UserError("eSR networks are Y-only (colors 1)")
        if self.mode != "cnn":
            if self.d_channels or self.s_channels:
                raise UserError(f"d_channels and s_channels belong to eSR-CNN (mode 'cnn'), "
                                f"not to mode {self.mode!r}")
            return
        if self.kernel_size != ESR_CNN_WINDOW:
            raise UserError(f"eSR-CNN's kernel_size is its {ESR_CNN_WINDOW}x{ESR_CNN_WINDOW} window "
                            f"({', '.join(f'{k}x{k}' for k in ESR_CNN_KERNELS)} convolutions), "
                            f"got {self.kernel_size}")
        for name in ("d_channels", "s_channels"):
            if not 1 <= getattr(self, name) <= ESR_MAX_CHANNELS:
                raise UserError(f"eSR-CNN's {name} must be in 1..{ESR_MAX_CHANNELS}, "
                                f"got {getattr(self, name)}")

    @property
    def receptive_radius(self) -> int:
        """LR pixels of context on each side: k // 2 (eSR-CNN: 2 + 1 + 1 = 4)."""
        return self.kernel_size // 2

    @property
    def name(self) -> str:
        """e.g. ``x2_esr_tm_k7c4_y``, ``x2_esr_cnn_c4d3s9_y``."""
        if self.mode == "cnn":
            return f"x{self.scale}_esr_cnn_c{self.channels}d{self.d_channels}s{self.s_channels}_y"
        return f"x{self.scale}_esr_{self.mode}_k{self.kernel_size}c{self.channels}_y"

    @property
    def literature_name(self) -> str:
        """The paper's (and its model files') name, e.g. ``eSR-TM_s2_K7_C4``, ``eSR-CNN_s2_C4_D3_S9``."""
        if self.mode == "cnn":
            return f"eSR-CNN_s{self.scale}_C{self.channels}_D{self.d_channels}_S{self.s_channels}"
        return f"eSR-{self.mode.upper()}_s{self.scale}_K{self.kernel_size}_C{self.channels}"

    def to_dict(self) -> dict[str, Any]:
        data = {"family": self.family, **dataclasses.asdict(self)}
        if self.mode != "cnn":  # MAX, TM and TR configs stay as they were before eSR-CNN
            del data["d_channels"], data["s_channels"]
        return data

    @classmethod
    def parse(cls, name: str, scale: int | None = None) -> ESRConfig:
        """``eSR-MAX_K7_C4`` or ``eSR-CNN_C4_D3_S9`` (the paper's forms; ``_s2`` optional, the
        fields in any order). The letters are case-sensitive: ``s`` is the scale, ``S`` eSR-CNN's S."""
        head, *fields = name.split("_")
        mode = head[len("esr-"):].lower() if head.lower().startswith("esr-") else ""
        letters, example = ("sCDS", "eSR-CNN_C4_D3_S9") if mode == "cnn" else ("sKC", "eSR-MAX_K7_C4")
        values: dict[str, int] = {}
        for field in fields:
            key, digits = field[:1], field[1:]
            if key not in letters or not digits.isdigit() or key in values:
                raise UserError(f"{name!r}: not an eSR name like {example} "
                                f"(fields {', '.join(letter + 'N' for letter in letters)})")
            values[key] = int(digits)
        if any(letter not in values for letter in letters[1:]):  # the scale may come from --scale
            needs = "CN, DN and SN" if mode == "cnn" else "KN and CN"
            raise UserError(f"{name!r}: an eSR name needs {needs}, e.g. {example}")
        if scale is not None and "s" in values and values["s"] != scale:
            raise UserError(f"{name!r} is a x{values['s']} name, but the scale is {scale}")
        scale = values.get("s", scale or 2)
        if mode == "cnn":
            return cls(scale=scale, mode=mode, kernel_size=ESR_CNN_WINDOW, channels=values["C"],
                       d_channels=values["D"], s_channels=values["S"])
        return cls(scale=scale, mode=mode, kernel_size=values["K"], channels=values["C"])


# RepRFN sizes: the paper's network (its code: 4 RepRFBs of 48 channels) and a phone-sized one
# (under 100K parameters deployed at x2 Y).
REPRFN_PRESETS: dict[str, dict[str, int]] = {
    "reprfn": {"num_blocks": 4, "channels": 48},
    "reprfn-s": {"num_blocks": 2, "channels": 32},
}
REPRFN_ESA_CHANNELS = 16  # the paper's ESA width
# Each RepRFB adds 9 pixels of receptive radius; the .tflite metadata allows at most 128.
REPRFN_MAX_BLOCKS = 13
_REPRFN_NAME = re.compile(r"reprfn-b(\d+)c(\d+)(?:e(\d+))?(-rgb)?", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class RepRFNConfig(_FamilyConfigFile):
    """A RepRFN network (Deng et al., CVPRW 2023; see :mod:`keras_sr.archs.reprfn`): a 3x3 conv
    to ``channels`` features, ``num_blocks`` RepRFBs (three RepBlocks, a 3x3 conv, the block's
    residual, ESA of ``esa_channels``), a 3x3 conv with the long residual, and a 3x3 conv to
    ``colors * scale^2`` with the global residual, depth-to-space and clip.

    scale: 2, 3 or 4. num_blocks: RepRFBs, 1..13. channels: C, 1..256. esa_channels: ESA's f,
    1..C. colors: 1 (Y) or 3 (RGB).
    """

    scale: int = 2
    num_blocks: int = 4
    channels: int = 48
    esa_channels: int = REPRFN_ESA_CHANNELS
    colors: int = 1

    family = "reprfn"

    def __post_init__(self) -> None:
        for name in ("scale", "num_blocks", "channels", "esa_channels", "colors"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise UserError(f"{name} must be an integer, got {json.dumps(value)}")
        if self.scale not in SCALES:
            raise UserError(f"scale must be one of {SCALES}, got {self.scale}", params=("scale",))
        if self.colors not in (1, 3):
            raise UserError(f"colors must be 1 (Y) or 3 (RGB), got {self.colors}", params=("colors",))
        if not 1 <= self.num_blocks <= REPRFN_MAX_BLOCKS:
            raise UserError(f"num_blocks must be in 1..{REPRFN_MAX_BLOCKS}, got {self.num_blocks}")
        if not 1 <= self.channels <= MAX_CHANNELS:
            raise UserError(f"channels must be in 1..{MAX_CHANNELS}, got {self.channels}")
        if not 1 <= self.esa_channels <= self.channels:
            raise UserError(f"esa_channels must be in 1..channels ({self.channels}), "
                            f"got {self.esa_channels}")

    @property
    def receptive_radius(self) -> int:
        """LR pixels of context on each side: the head, tail and up-sampling 3x3 convs (3), and
        per RepRFB its four 3x3 convs (4) and ESA's 3x3, 7x7 max-pool, 3x3 (1 + 3 + 1)."""
        return 3 + 9 * self.num_blocks

    @property
    def _size(self) -> str:
        esa = "" if self.esa_channels == REPRFN_ESA_CHANNELS else f"e{self.esa_channels}"
        return f"b{self.num_blocks}c{self.channels}{esa}"

    @property
    def name(self) -> str:
        """e.g. ``x2_reprfn_b4c48_y`` (``e8`` after the channels for a non-default ESA width)."""
        return f"x{self.scale}_reprfn_{self._size}_{'y' if self.colors == 1 else 'rgb'}"

    @property
    def literature_name(self) -> str:
        """e.g. ``RepRFN-B4C48``, ``RepRFN-B2C32-RGB``."""
        return f"RepRFN-{self._size.upper()}" + ("" if self.colors == 1 else "-RGB")

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, **dataclasses.asdict(self)}

    @classmethod
    def parse(cls, name: str, scale: int = 2, colors: int = 1) -> RepRFNConfig:
        """A preset (``reprfn``, ``reprfn-s``) or a literature name (``RepRFN-B4C48``,
        ``RepRFN-B2C32E8``, ``RepRFN-B4C48-RGB`` with ``colors`` 3), any case."""
        key = name.lower()
        if key in REPRFN_PRESETS:
            return cls(scale=scale, colors=colors, **REPRFN_PRESETS[key])
        match = _REPRFN_NAME.fullmatch(name)
        if match is None:
            raise UserError(f"{name!r}: not a RepRFN name; use {' or '.join(REPRFN_PRESETS)}, "
                            f"or RepRFN-BnCm like RepRFN-B4C48")
        blocks, channels, esa, rgb = match.groups()
        if rgb and colors != 3:
            raise UserError(f"{name!r} is an RGB name, but colors is {colors}", params=("colors",))
        return cls(scale=scale, num_blocks=int(blocks), channels=int(channels),
                   esa_channels=int(esa) if esa else REPRFN_ESA_CHANNELS, colors=colors)


Config = ModelConfig | ESRConfig | RepRFNConfig
FAMILY_CONFIGS: dict[str, type] = {"ecbsr": ModelConfig, "esr": ESRConfig, "reprfn": RepRFNConfig}


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
    """``--preset``: an ECBSR preset (m4c16, ...), an eSR name (eSR-MAX_K7_C4, ...) or a
    RepRFN preset or name (reprfn, reprfn-s, RepRFN-B4C48; ``act_type`` does not apply)."""
    if name.lower().startswith("reprfn"):
        return RepRFNConfig.parse(name, scale=scale, colors=colors)
    if name.lower().startswith("esr-"):
        if colors != 1:
            raise UserError("eSR networks are Y-only: colors must be 1", params=("colors",))
        return ESRConfig.parse(name, scale)
    return ModelConfig.preset(name, scale=scale, colors=colors, act_type=act_type)


# One configuration per family and size that `sr-tool report` sizes and times untrained (its
# "Model families" table): the ECBSR ladder, the eSR heads and the RepRFN sizes.
BENCHMARK_CONFIGS = ("m4c8", "m4c16", "m4c32", "m10c32", "m16c64", "eSR-MAX_K7_C4", "eSR-TM_K7_C4",
                     "eSR-TR_K7_C4", "eSR-CNN_C4_D3_S9", "reprfn-s", "reprfn")
