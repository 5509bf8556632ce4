"""Training speed of the three forms of one network, in one run: the expanded ECBSR (five
branches per block), the collapsed ECBSR (one 3x3 convolution per block whose kernel is computed
from the branch weights in the forward pass), and the plain network of the same shape (what the
collapsed form cannot beat).

Each form runs the training step of ``sr-tool train`` (:func:`keras_sr.train.make_train_step`:
L1 loss, Adam with the default schedule, ``tf.function``) on a fixed random batch, after warm-up,
in interleaved rounds (the best round counts, so other load on a shared machine disturbs less);
prints steps/s and the step-time ratio to the plain network.

Usage (from the repository root):
    python -m tools.bench_train [--preset m4c16] [--scale 2] [--batch 16] [--patch 64]
                                [--steps 10] [--rounds 5] [--warmup 5] [--jit]
                                [--precision float32|mixed_bfloat16|both]

``--precision both`` times every form in float32 and in mixed bfloat16 in the same interleaved
rounds (the README's mixed-precision figures).
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def make_step(model, lr, hr, jit: bool):
    """The training step of ``sr-tool train`` (:func:`keras_sr.train.make_train_step`, with
    training's optimizer and default learning-rate schedule) on one fixed batch."""
    import tensorflow as tf

    from keras_sr.train import TrainOptions, learning_rate_schedule, make_optimizer, make_train_step

    optimizer = make_optimizer(learning_rate_schedule(TrainOptions(data=())))
    step = make_train_step(model, optimizer, tf.distribute.get_strategy(), 0.0, jit)
    return lambda: step(lr, hr)


def steps_per_second(step, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        step().numpy()  # the training loop reads the loss every step too
    return steps / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="m4c16")
    parser.add_argument("--scale", type=int, default=2)
    parser.add_argument("--colors", type=int, default=1)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--patch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10, help="steps per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--jit", action="store_true", help="XLA-compile the steps")
    parser.add_argument("--precision", default="float32",
                        choices=["float32", "mixed_bfloat16", "both"])
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    import numpy as np
    import tensorflow as tf

    from keras_sr.config import ModelConfig
    from keras_sr.models import build_model, build_plain_model
    from keras_sr.train import precision_policy

    config = ModelConfig.preset(args.preset, scale=args.scale, colors=args.colors)
    rng = np.random.default_rng(0)
    p, s = args.patch, args.scale
    lr = tf.constant(rng.uniform(0, 255, (args.batch, p, p, config.colors)), tf.float32)
    hr = tf.constant(rng.uniform(0, 255, (args.batch, p * s, p * s, config.colors)), tf.float32)
    forms = {
        "expanded": lambda: build_model(config, collapsed=False),
        "collapsed": lambda: build_model(config, collapsed=True),
        "plain": lambda: build_plain_model(config),
    }
    devices = ", ".join(d.name for d in tf.config.list_logical_devices()) or "?"
    print(f"{config.name}, batch {args.batch}, LR patch {p}; best of {args.rounds} rounds of "
          f"{args.steps} steps after {args.warmup} warm-up; jit_compile={args.jit}; "
          f"{os.cpu_count()} cpus; devices: {devices}")
    precisions = ["float32", "mixed_bfloat16"] if args.precision == "both" else [args.precision]
    step_fns = {}
    for precision in precisions:
        for name, build in forms.items():
            with precision_policy(precision):
                model = build()
            label = name if len(precisions) == 1 else f"{name} {'fp32' if precision == 'float32' else 'bf16'}"
            step_fns[label] = make_step(model, lr, hr, args.jit)
    for step in step_fns.values():
        for _ in range(args.warmup):
            step().numpy()
    # Interleaved rounds, best round per form: robust to other load on a shared machine.
    rates = {name: 0.0 for name in step_fns}
    for _ in range(args.rounds):
        for name, step in step_fns.items():
            rates[name] = max(rates[name], steps_per_second(step, args.steps))
    base = next(name for name in rates if name.startswith("plain"))
    print(f"{'form':<16} {'steps/s':>8} {'ms/step':>8} {'step time / ' + base:>22}")
    for name, rate in rates.items():
        print(f"{name:<16} {rate:>8.2f} {1000 / rate:>8.1f} {rates[base] / rate:>22.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
