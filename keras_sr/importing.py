"""``sr-tool import``: a PyTorch ECBSR checkpoint (reference code or BasicSR) as a run dir.

Both codes name the weights the same way (``backbone.<i>.<branch>.<tensor>``, see
:data:`_BRANCH_TENSORS`), and so does keras_sr's ECB, so the mapping is one to one:

* kernels OIHW -> HWIO; PReLU slopes ``backbone.<i>.act.weight`` -> ``act_<i>``;
* an edge branch's stored ``mask`` may be any per-channel multiple f of the fixed filter: f is
  folded into that channel's ``scale`` (a mask that is no such multiple is refused);
* RGB: PyTorch's PixelShuffle reads channel c * s^2 + k (k = dy * s + dx), TF's depth_to_space
  channel k * C + c, so the last block's output channels, and only those, are permuted. BasicSR's
  shortcut ``repeat_interleave(x, s^2)`` then equals keras_sr's tiled repeat;
* BasicSR works on 0..1 images, keras_sr on 0..255: every bias is multiplied by 255 (the network
  is linear and ReLU/PReLU are positively homogeneous, so this is exact).

What the tensors cannot say comes from :class:`ImportOptions`; :func:`import_checkpoint` returns
an :class:`ImportReport` that says what was read, inferred and taken from options.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import shutil
import uuid
from pathlib import Path

import numpy as np

from keras_sr.config import ModelConfig
from keras_sr.errors import UserError
from keras_sr.kernels import EDGE_FILTERS
from keras_sr.torch_files import Checkpoint, read_checkpoint

FORMATS = ("auto", "ecbsr", "basicsr")
# Each format's pixel range and defaults, as their code and shipped option files have them.
PIXEL_MAX = {"ecbsr": 255.0, "basicsr": 1.0}
# PyTorch branch name -> (keras_sr branch index in ECB.branches, tensor names).
_BRANCH_TENSORS = {
    "conv3x3": (0, ("weight", "bias")),
    "conv1x1_3x3": (1, ("k0", "b0", "k1", "b1")),
    "conv1x1_sbx": (2, ("k0", "b0", "scale", "bias", "mask")),
    "conv1x1_sby": (3, ("k0", "b0", "scale", "bias", "mask")),
    "conv1x1_lpl": (4, ("k0", "b0", "scale", "bias", "mask")),
}
_EDGE_KIND = {"conv1x1_sbx": "sobel_x", "conv1x1_sby": "sobel_y", "conv1x1_lpl": "laplacian"}
_BIASES = ("bias", "b0", "b1")
# Tolerances of the checks after import: the fold (a float32 sum of five kernels) and a mask's
# fit to a multiple of its filter.
FOLD_TOLERANCE = 1e-3
MASK_TOLERANCE = 1e-5


@dataclasses.dataclass(frozen=True)
class ImportOptions:
    """What a checkpoint cannot tell. ``None`` means the format's default.

    fmt: "ecbsr" (github.com/xindongzhang/ECBSR: bare state dict, pixels 0..255), "basicsr"
        (BasicSR's ECBSR: ``{"params": ...}``, pixels 0..1) or "auto" (basicsr when the state
        dict is wrapped under params/params_ema, else ecbsr).
    act_type: "relu" or "none" when the file has no PReLU slopes (both codes: relu or prelu).
    with_idt: the ECBs' identity branch (both codes default to off).
    pixel_max: 255 or 1, the pixel range the model was trained on.
    """

    fmt: str = "auto"
    act_type: str | None = None
    with_idt: bool = False
    pixel_max: float | None = None

    def __post_init__(self) -> None:
        if self.fmt not in FORMATS:
            raise UserError(f"format must be one of {', '.join(FORMATS)}, got {self.fmt!r}")
        if self.act_type not in (None, "relu", "none", "prelu"):
            raise UserError(f"act must be relu or none, got {self.act_type!r}")
        if self.pixel_max not in (None, 1.0, 255.0):
            raise UserError(f"pixel_max must be 1 or 255, got {self.pixel_max:g}")


@dataclasses.dataclass(frozen=True)
class ImportReport:
    config: ModelConfig
    read: list[str]
    inferred: list[str]
    from_options: list[str]
    params: int
    max_output: float
    fold_diff: float


def _fail(path: Path, message: str) -> UserError:
    return UserError(f"{path}: {message}")


def _blocks(path: Path, tensors: dict[str, np.ndarray]) -> int:
    indices = {int(m.group(1)) for key in tensors if (m := re.match(r"backbone\.(\d+)\.conv3x3\.weight$", key))}
    if not indices:
        sample = ", ".join(sorted(tensors)[:3])
        raise _fail(path, f"not an ECBSR state dict (no backbone.<i>.conv3x3.weight; it has {sample}, ...)")
    count = max(indices) + 1
    if sorted(indices) != list(range(count)) or count < 2:
        raise _fail(path, f"ECBSR blocks must be backbone.0 .. backbone.N (N >= 1), found {sorted(indices)}")
    return count


def _expected_keys(count: int, prelu: bool) -> set[str]:
    keys = {f"backbone.{i}.{branch}.{name}" for i in range(count)
            for branch, (_, names) in _BRANCH_TENSORS.items() for name in names}
    if prelu:
        keys |= {f"backbone.{i}.act.weight" for i in range(count - 1)}
    return keys


def _infer(path: Path, ckpt: Checkpoint, options: ImportOptions) -> tuple[ModelConfig, str, float, list, list]:
    tensors = ckpt.tensors
    count = _blocks(path, tensors)
    prelu = "backbone.0.act.weight" in tensors
    missing = sorted(_expected_keys(count, prelu) - set(tensors))
    extra = sorted(set(tensors) - _expected_keys(count, prelu))
    if missing or extra:
        parts = ([f"missing {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}"] if missing else []) + \
                ([f"unexpected {', '.join(extra[:3])}{' ...' if len(extra) > 3 else ''}"] if extra else [])
        raise _fail(path, f"not an ECBSR state dict of {count} blocks: {'; '.join(parts)}")
    head, tail = tensors["backbone.0.conv3x3.weight"], tensors[f"backbone.{count - 1}.conv3x3.weight"]
    if head.ndim != 4 or tail.ndim != 4:
        raise _fail(path, "conv3x3 weights must be 4-D (out, in, 3, 3)")
    colors, channels, out = int(head.shape[1]), int(head.shape[0]), int(tail.shape[0])
    scale = math.isqrt(out // colors) if colors in (1, 3) and out % colors == 0 else 0
    if colors not in (1, 3) or scale * scale * colors != out or scale not in (2, 3, 4):
        raise _fail(path, f"input {colors} and output {out} channels are no 1- or 3-color model at x2/x3/x4")
    mid = tensors["backbone.0.conv1x1_3x3.k0"].shape[0]
    depth_multiplier = mid / channels

    fmt = options.fmt
    inferred = [f"scale x{scale}, {'Y' if colors == 1 else 'RGB'}, {count - 2} middle blocks, "
                f"{channels} channels, depth multiplier {depth_multiplier:g} (from tensor shapes)"]
    from_options = []
    if fmt == "auto":
        fmt = "basicsr" if ckpt.wrapper in ("params", "params_ema") else "ecbsr"
        inferred.append(f"format {fmt} (" + (f"state dict under {ckpt.wrapper!r}, as BasicSR saves)"
                                             if fmt == "basicsr" else "a bare state dict, as the reference code saves)"))
    else:
        from_options.append(f"format {fmt}")
    if prelu:
        if options.act_type not in (None, "prelu"):
            raise UserError(f"act {options.act_type} conflicts with the checkpoint: it has PReLU slopes")
        act = "prelu"
        inferred.append("activation prelu (PReLU slopes present)")
    else:
        if options.act_type == "prelu":
            raise UserError("act prelu conflicts with the checkpoint: it has no PReLU slopes")
        act = options.act_type or "relu"
        from_options.append(f"activation {act}" + ("" if options.act_type else " (default: no PReLU slopes, so relu or none)"))
    pixel_max = options.pixel_max if options.pixel_max is not None else PIXEL_MAX[fmt]
    from_options.append(f"pixels 0..{pixel_max:g}" + ("" if options.pixel_max is not None else f" ({fmt} default)"))
    from_options.append(f"with_idt {str(options.with_idt).lower()}" + ("" if options.with_idt else " (default of both codes)"))
    if colors == 3 and fmt == "ecbsr":
        raise UserError(f"{path}: the reference ECBSR code cannot run RGB models (its residual x + backbone(x) "
                        "does not broadcast 3 to 3*scale^2 channels); if it was trained with BasicSR, use format basicsr")
    if colors == 3 and options.with_idt and channels == out:
        raise UserError("with_idt on the last block of an RGB model (channels = 3*scale^2) has no keras_sr "
                        "equivalent: PixelShuffle's channel order makes its identity a permutation")
    try:
        config = ModelConfig(scale=scale, num_blocks=count - 2, channels=channels, colors=colors,
                             act_type=act, with_idt=options.with_idt, depth_multiplier=float(depth_multiplier))
    except UserError as exc:
        raise _fail(path, f"unsupported ECBSR configuration ({exc})") from None
    return config, fmt, pixel_max, inferred, from_options


def _shuffle_order(colors: int, scale: int) -> np.ndarray:
    """For TF channel j = k * colors + c, the PyTorch channel c * scale^2 + k that holds it."""
    s2 = scale * scale
    return np.array([c * s2 + k for k in range(s2) for c in range(colors)])


def _edge_scale(path: Path, key: str, mask: np.ndarray, scale: np.ndarray, kind: str) -> np.ndarray:
    """The per-channel scale times the factor f with mask[o] = f[o] * filter."""
    filt = EDGE_FILTERS[kind].astype(np.float64)
    masks = mask.reshape(mask.shape[0], 3, 3).astype(np.float64)
    factor = np.einsum("oij,ij->o", masks, filt) / np.sum(filt * filt)
    residue = np.abs(masks - factor[:, None, None] * filt).max()
    if residue > MASK_TOLERANCE * max(1.0, float(np.abs(masks).max())):
        raise _fail(path, f"{key}.mask is not a per-channel multiple of the {kind} filter")
    return (scale.reshape(-1) * factor).astype(np.float32)


def _check_shapes(path: Path, key: str, array: np.ndarray, shape: tuple) -> np.ndarray:
    if tuple(array.shape) != tuple(shape):
        raise _fail(path, f"{key} has shape {tuple(array.shape)}, expected {tuple(shape)}")
    if not np.all(np.isfinite(array)):
        raise _fail(path, f"{key} holds NaN or infinite values")
    return array.astype(np.float32)


def _set_weights(path: Path, model, config: ModelConfig, tensors: dict[str, np.ndarray], pixel_max: float) -> None:
    count = config.num_convs
    unit = 255.0 / pixel_max
    for i in range(count):
        ecb = model.get_layer(f"ecb_{i}")
        cin, cout = ecb.in_channels, ecb.out_channels
        order = _shuffle_order(config.colors, config.scale) if i == count - 1 else np.arange(cout)
        mid = ecb.branches[1].mid_channels
        for branch, (index, names) in _BRANCH_TENSORS.items():
            prefix = f"backbone.{i}.{branch}"
            shapes = {"weight": (cout, cin, 3, 3), "bias": (cout,), "k0": (mid if index == 1 else cout, cin, 1, 1),
                      "b0": (mid if index == 1 else cout,), "k1": (cout, mid, 3, 3), "b1": (cout,),
                      "scale": (cout, 1, 1, 1), "mask": (cout, 1, 3, 3)}
            t = {name: _check_shapes(path, f"{prefix}.{name}", tensors[f"{prefix}.{name}"], shapes[name])
                 for name in names}
            for name in names:  # the last block's outputs in depth_to_space order
                if not (index == 1 and name in ("k0", "b0")):
                    t[name] = t[name][order]
            for name in _BIASES:
                if name in t:
                    t[name] = t[name] * unit
            layer = ecb.branches[index]
            if index == 0:
                values = [t["weight"].transpose(2, 3, 1, 0), t["bias"]]
            elif index == 1:
                values = [t["k0"].transpose(2, 3, 1, 0), t["b0"], t["k1"].transpose(2, 3, 1, 0), t["b1"]]
            else:
                scale = _edge_scale(path, prefix, t["mask"], t["scale"], _EDGE_KIND[branch])
                values = [t["k0"].transpose(2, 3, 1, 0), t["b0"], scale, t["bias"]]
            for variable, value in zip(_branch_variables(layer, index), values):
                variable.assign(value)
        if config.act_type == "prelu" and i < count - 1:
            slopes = tensors[f"backbone.{i}.act.weight"].astype(np.float32).reshape(-1)
            if slopes.size not in (1, cout):
                raise _fail(path, f"backbone.{i}.act.weight has {slopes.size} slopes for {cout} channels")
            model.get_layer(f"act_{i}").alpha.assign(np.broadcast_to(slopes, (cout,)).reshape(1, 1, cout))


def _branch_variables(layer, index: int) -> list:
    if index == 0:
        return [layer.kernel, layer.bias]
    if index == 1:
        return [layer.kernel0, layer.bias0, layer.kernel1, layer.bias1]
    return [layer.kernel0, layer.bias0, layer.scale, layer.bias]


def _check(model, config: ModelConfig) -> tuple[float, float]:
    """The largest pre-clip output on a random image (must be finite) and the fold's error."""
    from keras_sr.folding import fold
    from keras_sr.runs import _preclip, max_abs_diff

    x = np.random.default_rng(0).uniform(0, 255, (1, 32, 32, config.colors)).astype(np.float32)
    y = _preclip(model)(x, training=False).numpy()
    if not np.all(np.isfinite(y)):
        raise UserError("the imported model's output is not finite on a random image")
    peak = float(np.abs(y).max())
    diff = max_abs_diff(model, fold(model, config), (32, 32))
    if diff > FOLD_TOLERANCE * max(1.0, peak / 255.0):
        raise UserError(f"the imported model does not fold exactly (max diff {diff:.3g})")
    return peak, diff


def import_checkpoint(checkpoint: Path, run_dir: Path, options: ImportOptions = ImportOptions()) -> ImportReport:
    """Read an ECBSR checkpoint and write ``run_dir`` (config.json + training-time weights).

    Everything is checked before ``run_dir`` appears: it is written under a temporary name and
    renamed, so a failure leaves nothing behind.
    """
    from keras_sr.models import build_model
    from keras_sr.runs import save_run

    checkpoint, run_dir = Path(checkpoint), Path(run_dir)
    if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        raise UserError(f"{run_dir}: already exists; import into a new folder")
    if not run_dir.parent.is_dir():
        raise UserError(f"{run_dir.parent}: output folder does not exist")
    ckpt = read_checkpoint(checkpoint)
    config, _, pixel_max, inferred, from_options = _infer(checkpoint, ckpt, options)
    model = build_model(config)
    _set_weights(checkpoint, model, config, ckpt.tensors, pixel_max)
    peak, diff = _check(model, config)
    read = [f"{len(ckpt.tensors)} tensors, {sum(a.size for a in ckpt.tensors.values()):,} values "
            f"({ckpt.container}" + (f", under {ckpt.wrapper!r}" if ckpt.wrapper else "")
            + (", 'module.' prefix removed" if ckpt.prefix_stripped else "") + ")"]
    tmp = run_dir.with_name(f".{uuid.uuid4().hex[:8]}.{run_dir.name}")
    try:
        save_run(model, config, tmp)
        if run_dir.exists():
            run_dir.rmdir()
        os.replace(tmp, run_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ImportReport(config, read, inferred, from_options, model.count_params(), peak, diff)
