"""Check ``sr-tool import`` on a trained model: PSNR in PyTorch vs after import, float and int8.

A keras_sr run dir is written out as a PyTorch checkpoint of the reference ECBSR code or of
BasicSR (built with that code, in a separate Python that has torch), PyTorch scores it on a
benchmark folder, then the checkpoint is imported back with :func:`keras_sr.importing.import_checkpoint`,
exported to int8 and scored by ``sr-tool eval``'s code. The imported float model must match
PyTorch's PSNR; the int8 file may lose what int8 loses.

    python -m tools.check_import_psnr keras_sr/pretrained/ecbsr_x2_m4c16_relu_rgb \\
        --format basicsr --data DATASETS/Set5 --torch-python TORCHENV/bin/python \\
        --ecbsr ECBSR_CHECKOUT --basicsr BASICSR_CHECKOUT
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

from keras_sr.data import list_images, model_input, read_image
from keras_sr.evaluate import evaluate, model_scores
from keras_sr.export import export_tflite
from keras_sr.imresize import bicubic_downscale, round_pixels
from keras_sr.importing import _BRANCH_TENSORS, PIXEL_MAX, ImportOptions, _shuffle_order, import_checkpoint
from keras_sr.kernels import EDGE_FILTERS
from keras_sr.runs import load_run

_EDGE_KINDS = dict(zip(("conv1x1_sbx", "conv1x1_sby", "conv1x1_lpl"), EDGE_FILTERS))

TORCH_SCRIPT = textwrap.dedent("""
    import sys, numpy as np, torch
    sys.path.insert(0, sys.argv[1])
    from make_torch_fixtures import reference_ecbsr, basicsr_ecbsr
    fmt, ecbsr_dir, basicsr_dir, weights, inputs, checkpoint, outputs = sys.argv[2:9]
    w = dict(np.load(weights)); cfg = {k: w.pop(k).item() for k in list(w) if k.startswith("cfg_")}
    s, c, m, ch, act, idt = (cfg["cfg_" + k] for k in ("scale", "colors", "blocks", "channels", "act", "idt"))
    from pathlib import Path
    if fmt == "ecbsr":
        model = reference_ecbsr(Path(ecbsr_dir))(m, ch, bool(idt), act, s, c)
    else:
        model = basicsr_ecbsr(Path(basicsr_dir))(c, c, m, ch, bool(idt), act, s)
    state = {k: torch.from_numpy(v) for k, v in w.items()}
    model.load_state_dict(state, strict=True)
    torch.save({"params": model.state_dict()} if fmt == "basicsr" else model.state_dict(), checkpoint)
    model.eval()
    x = np.load(inputs); out = {}
    with torch.no_grad():
        for name in x.files:
            lr = torch.from_numpy(x[name]).permute(2, 0, 1)[None]
            out[name] = model(lr)[0].permute(1, 2, 0).numpy()
    np.savez(outputs, **out)
""")


def torch_state(run_dir: Path, fmt: str) -> dict[str, np.ndarray]:
    """The run's training-time weights under the PyTorch names, in PyTorch's layout and range."""
    model, config = load_run(run_dir)
    unit = PIXEL_MAX[fmt] / 255.0
    state = {"cfg_scale": config.scale, "cfg_colors": config.colors, "cfg_blocks": config.num_blocks,
             "cfg_channels": config.channels, "cfg_act": config.act_type, "cfg_idt": int(config.with_idt)}
    for i in range(config.num_convs):
        ecb = model.get_layer(f"ecb_{i}")
        last = i == config.num_convs - 1
        back = np.argsort(_shuffle_order(config.colors, config.scale)) if last else np.arange(ecb.out_channels)
        for branch, (index, names) in _BRANCH_TENSORS.items():
            layer = ecb.branches[index]
            if index == 0:
                values = [layer.kernel, layer.bias]
            elif index == 1:
                values = [layer.kernel0, layer.bias0, layer.kernel1, layer.bias1]
            else:
                mask = np.broadcast_to(EDGE_FILTERS[_EDGE_KINDS[branch]], (ecb.out_channels, 1, 3, 3))
                values = [layer.kernel0, layer.bias0, layer.scale.numpy().reshape(-1, 1, 1, 1), layer.bias, mask]
            for name, value in zip(names, values):
                array = np.asarray(value, np.float32)
                if array.ndim == 4 and name != "scale" and name != "mask":
                    array = array.transpose(3, 2, 0, 1)  # HWIO -> OIHW
                if name in ("bias", "b0", "b1"):
                    array = array * unit
                if not (index == 1 and name in ("k0", "b0")):
                    array = array[back]
                state[f"backbone.{i}.{branch}.{name}"] = np.ascontiguousarray(array)
        if config.act_type == "prelu" and not last:
            state[f"backbone.{i}.act.weight"] = model.get_layer(f"act_{i}").alpha.numpy().reshape(-1)
    return state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--format", choices=("ecbsr", "basicsr"), required=True)
    parser.add_argument("--data", type=Path, required=True, help="a folder of HR images (e.g. Set5)")
    parser.add_argument("--torch-python", required=True, help="a Python that has torch")
    parser.add_argument("--ecbsr", type=Path, required=True, help="checkout of xindongzhang/ECBSR")
    parser.add_argument("--basicsr", type=Path, required=True, help="checkout of XPixelGroup/BasicSR")
    args = parser.parse_args()

    _, config = load_run(args.run_dir)
    unit = PIXEL_MAX[args.format] / 255.0
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        np.savez(tmp / "weights.npz", **torch_state(args.run_dir, args.format))
        images = {path.stem: read_image(path) for path in list_images([args.data])}
        crops = {}
        inputs = {}
        for name, hr in images.items():
            crops[name], lr = bicubic_downscale(hr, config.scale)
            inputs[name] = model_input(lr, config.colors).astype(np.float32) * unit
        np.savez(tmp / "inputs.npz", **inputs)
        checkpoint = tmp / f"ecbsr_{args.format}.pth"
        subprocess.run([args.torch_python, "-c", TORCH_SCRIPT, str(Path(__file__).parent), args.format,
                        str(args.ecbsr), str(args.basicsr), str(tmp / "weights.npz"), str(tmp / "inputs.npz"),
                        str(checkpoint), str(tmp / "outputs.npz")], check=True)
        outputs = np.load(tmp / "outputs.npz")
        torch_psnr = np.mean([model_scores(round_pixels(np.clip(outputs[name] / unit, 0, 255)),
                                           crops[name], config.scale)[0] for name in images])
        imported = tmp / "imported"
        import_checkpoint(checkpoint, imported, ImportOptions(fmt=args.format))
        int8 = tmp / "imported_int8.tflite"
        export_tflite(imported, int8, "int8", report=False)
        scores = {label: evaluate(str(path), [args.data]).datasets[0].mean("model")[0]
                  for label, path in (("imported float", imported), ("imported int8", int8),
                                      ("original run", args.run_dir))}
    print(f"{args.run_dir.name} as a {args.format} checkpoint, PSNR-Y on {args.data.name} (dB):")
    print(f"  PyTorch ({args.format} code)  {torch_psnr:.4f}")
    for label, value in scores.items():
        print(f"  {label:22} {value:.4f}")


if __name__ == "__main__":
    sys.exit(main())
