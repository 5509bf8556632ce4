"""Make the PyTorch checkpoints that tests/test_import.py reads (run once, with torch installed).

Not part of the package and not run by the tests: it needs torch, which keras_sr does not
depend on. It builds small random-weight ECBSR models with the two codes people train ECBSR
with, saves their checkpoints the way those codes do, and records torch's own outputs on a fixed
input, so the tests can check keras_sr against real PyTorch without torch installed.

    python -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch safetensors numpy
    /tmp/torchenv/bin/python tools/make_torch_fixtures.py ECBSR_CHECKOUT BASICSR_CHECKOUT

ECBSR_CHECKOUT is github.com/xindongzhang/ECBSR, BASICSR_CHECKOUT github.com/XPixelGroup/BasicSR
(the commits used are written into tests/data/torch/manifest.json). Each model's every weight is
random at O(0.1-1): the edge branches' scales are N(0, 0.3) so no branch hides, biases are
N(0, 1) in 0..255 models and N(0, 0.1) in 0..1 models, PReLU slopes U(-0.5, 0.5).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "torch"
INPUT_SIZE = (13, 11)  # H, W: odd and not square, so a transposed axis or border shows


def _load_module(name: str, path: Path, stub_modules: dict[str, types.ModuleType]) -> types.ModuleType:
    sys.modules.update(stub_modules)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def reference_ecbsr(checkout: Path) -> type:
    """models.ecbsr.ECBSR of the reference code, imported from its files."""
    models = types.ModuleType("models")
    models.__path__ = [str(checkout / "models")]
    _load_module("models.ecb", checkout / "models" / "ecb.py", {"models": models})
    return _load_module("models.ecbsr", checkout / "models" / "ecbsr.py", {}).ECBSR


def basicsr_ecbsr(checkout: Path) -> type:
    """basicsr.archs.ecbsr_arch.ECBSR, imported alone (the package's __init__ pulls in cv2)."""
    registry = types.ModuleType("basicsr.utils.registry")
    registry.ARCH_REGISTRY = types.SimpleNamespace(register=lambda: (lambda cls: cls))
    stubs = {"basicsr": types.ModuleType("basicsr"), "basicsr.utils": types.ModuleType("basicsr.utils"),
             "basicsr.utils.registry": registry}
    return _load_module("basicsr_ecbsr_arch", checkout / "basicsr" / "archs" / "ecbsr_arch.py",
                        stubs).ECBSR


def randomize(model: torch.nn.Module, bias_std: float, gen: torch.Generator) -> None:
    """Every learnable tensor at O(0.1-1); fixed masks untouched."""
    with torch.no_grad():
        for name, param in model.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if leaf == "mask":
                continue
            if leaf == "scale":
                param.copy_(torch.randn(param.shape, generator=gen) * 0.3)
            elif leaf in ("bias", "b0", "b1"):
                param.copy_(torch.randn(param.shape, generator=gen) * bias_std)
            elif name.endswith("act.weight"):
                param.copy_(torch.rand(param.shape, generator=gen) - 0.5)
            else:  # conv kernels: uniform with the fan-in scale of torch's default init
                fan_in = param[0].numel()
                param.copy_((torch.rand(param.shape, generator=gen) * 2 - 1) * (1.5 / fan_in) ** 0.5)


def outputs(model: torch.nn.Module, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Training-time (branches) and eval-time (re-parameterized) outputs, NHWC, unclipped."""
    with torch.no_grad():
        model.train()
        branches = model(x)
        model.eval()
        folded = model(x)
    return (branches.permute(0, 2, 3, 1).numpy(), folded.permute(0, 2, 3, 1).numpy())


def commit(checkout: Path) -> str:
    return subprocess.run(["git", "--git-dir", str(checkout), "rev-parse", "HEAD"], capture_output=True,
                          text=True).stdout.strip() or "unknown"


def main(ecbsr_checkout: str, basicsr_checkout: str, ecbsr_git: str = "", basicsr_git: str = "") -> None:
    ecbsr_dir, basicsr_dir = Path(ecbsr_checkout), Path(basicsr_checkout)
    reference, basicsr = reference_ecbsr(ecbsr_dir), basicsr_ecbsr(basicsr_dir)
    OUT.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(2026)
    cases = [
        # name, code, scale, colors, blocks, channels, act, with_idt, save as
        ("ecbsr_x2_y_prelu", "ecbsr", 2, 1, 2, 8, "prelu", False, "zip"),
        ("ecbsr_x4_y_relu_idt", "ecbsr", 4, 1, 1, 16, "relu", True, "zip"),
        ("ecbsr_x3_y_prelu_legacy", "ecbsr", 3, 1, 1, 8, "prelu", False, "legacy"),
        ("basicsr_x2_y_relu_ema", "basicsr", 2, 1, 1, 8, "relu", False, "ema"),
        ("basicsr_x2_rgb_prelu", "basicsr", 2, 3, 2, 8, "prelu", False, "zip"),
        ("basicsr_x4_rgb_relu", "basicsr", 4, 3, 1, 8, "relu", True, "zip"),
        ("basicsr_x4_y_prelu", "basicsr", 4, 1, 1, 8, "prelu", False, "safetensors"),
    ]
    manifest = {}
    for name, code, scale, colors, blocks, channels, act, idt, form in cases:
        if code == "ecbsr":
            model = reference(blocks, channels, idt, act, scale, colors)
            pixel_max, bias_std = 255.0, 1.0
        else:
            model = basicsr(colors, colors, blocks, channels, idt, act, scale)
            pixel_max, bias_std = 1.0, 0.1
        randomize(model, bias_std, gen)
        lr = torch.rand((1, colors, *INPUT_SIZE), generator=gen) * pixel_max
        branches, folded = outputs(model, lr)
        state = model.state_dict()
        if form == "zip":
            path = OUT / f"{name}.pth"
            torch.save({"params": state} if code == "basicsr" else state, path)
        elif form == "ema":  # BasicSR saves both; the EMA weights are the ones to use
            path = OUT / f"{name}.pth"
            plain = {k: v + 0.5 if v.is_floating_point() else v for k, v in state.items()}
            torch.save({"params": plain, "params_ema": state}, path)
        elif form == "legacy":
            path = OUT / f"{name}.pth"
            torch.save(state, path, _use_new_zipfile_serialization=False)
        else:
            path = OUT / f"{name}.safetensors"
            save_file({k: v.contiguous() for k, v in state.items()}, str(path))
        # Outputs in 0..255 pixel units whatever the model's range, as keras_sr runs it.
        unit = 255.0 / pixel_max
        np.savez_compressed(OUT / f"{name}.npz", lr=lr.permute(0, 2, 3, 1).numpy() * unit,
                            branches=branches * unit, folded=folded * unit)
        manifest[name] = {"file": path.name, "code": code, "scale": scale, "colors": colors,
                          "num_blocks": blocks, "channels": channels, "act_type": act,
                          "with_idt": idt, "pixel_max": pixel_max,
                          "output_abs_max": float(np.abs(branches * unit).max())}
        print(f"{name}: {path.name}, |output| max {manifest[name]['output_abs_max']:.1f}")
    versions = {"torch": torch.__version__, "ecbsr_commit": ecbsr_git or commit(ecbsr_dir / ".git"),
                "basicsr_commit": basicsr_git or commit(basicsr_dir / ".git")}
    (OUT / "manifest.json").write_text(json.dumps({"made_with": versions, "cases": manifest},
                                                  indent=2) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
