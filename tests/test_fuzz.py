"""Property-based fuzzing of the commands with Hypothesis: every input is untrusted.

Each test drives a real command through typer's CliRunner with generated inputs: config.json
files with wrong types and out-of-range or missing values, .tflite files with mutated metadata
and truncated or bit-flipped bytes, truncated and bit-flipped weight and .keras files, image files
of every mode (truncated, bit-flipped, with forged header sizes), and random values for numeric
options. Properties: exit code 0 or 2, never a traceback, at most one error line, no file left
that was not there before unless the command succeeded, inputs unchanged, and on success an
output of the promised size. Inputs that reach native code (LiteRT, h5py, image decoders) run
in a worker process, so that a crash is a failed example instead of a dead test run.

Profiles: ``quick`` (default, about a minute in all, part of the README's test command) and
``long``: ``HYPOTHESIS_PROFILE=long python -m pytest tests/test_fuzz.py`` runs over 10,000
generated cases (the README's reliability section quotes its result).
"""

from __future__ import annotations

import io
import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from typer.testing import CliRunner

from keras_sr.cli import app

runner = CliRunner()
ROOT = Path(__file__).parent.parent
PRETRAINED = ROOT / "keras_sr" / "pretrained"
# Examples per test: quick keeps the default run short; long adds up to over 10,000 cases.
EXAMPLES = {"quick": {"config": 40, "metadata": 40, "bytes": 40, "image": 60, "weights": 20,
                      "options": 60, "sizes": 40},
            "long": {"config": 1500, "metadata": 1500, "bytes": 1500, "image": 2500, "weights": 500,
                     "options": 2000, "sizes": 1000}}
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "quick")
settings.register_profile("quick", deadline=None, derandomize=True, print_blob=True,
                          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                 HealthCheck.too_slow])
settings.register_profile("long", deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                 HealthCheck.too_slow])
# replay: the failing examples the long profile saved in .hypothesis/, then one new case each.
EXAMPLES["replay"] = dict.fromkeys(EXAMPLES["quick"], 1)
settings.register_profile("replay", parent=settings.get_profile("long"))
settings.load_profile(PROFILE if PROFILE in EXAMPLES else "quick")


def examples(kind: str) -> settings:
    return settings(max_examples=EXAMPLES.get(PROFILE, EXAMPLES["quick"])[kind])


# --- running a command and checking the properties ---------------------------------------------

def _invoke(args: list[str]) -> tuple[int, str, bool]:
    result = runner.invoke(app, [str(a) for a in args])
    unexpected = result.exception is not None and not isinstance(result.exception, SystemExit)
    return result.exit_code, result.output, unexpected


def _serve(connection) -> None:
    """The worker process: run each command it is sent and send back its outcome."""
    while True:
        args = connection.recv()
        connection.send(_invoke(args))


class Worker:
    """Commands whose inputs reach native code (LiteRT, h5py, image decoders) run in a separate
    process, so that a crash there is a failed example instead of a dead test run; it is
    started again after a crash. (A forked child can deadlock on locks that threads of this
    process held; a spawned one starts clean.)"""

    def __init__(self):
        import multiprocessing

        self._context = multiprocessing.get_context("spawn")
        self._start()

    def _start(self) -> None:
        self._connection, child = self._context.Pipe()
        self._process = self._context.Process(target=_serve, args=(child,), daemon=True)
        self._process.start()

    def run(self, args: list, timeout: float = 300) -> tuple[int, str, bool]:
        """(exit code, output, raised something unexpected); a crash comes back as exit code
        -signal, a hang as "timed out"."""
        self._connection.send([str(a) for a in args])
        try:
            if self._connection.poll(timeout):
                return self._connection.recv()
            outcome = (-9, f"timed out after {timeout} s", True)
        except EOFError:
            self._process.join(10)
            outcome = (self._process.exitcode or -1, "the worker process died", True)
        self._process.kill()
        self._start()
        return outcome

    def close(self) -> None:
        self._process.kill()


@pytest.fixture(scope="module")
def worker():
    process = Worker()
    yield process
    process.close()


def snapshot(*folders: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for f in folders for p in sorted(Path(f).rglob("*")) if p.is_file()}


def check(outcome: tuple[int, str, bool], before: dict[Path, bytes], after: dict[Path, bytes],
          produced: set[Path] = frozenset()) -> bool:
    """The properties every command must keep; returns whether it succeeded. ``produced``: the
    files a success may add."""
    code, output, unexpected = outcome
    assert code in (0, 2), f"exit code {code}:\n{output}"
    assert not unexpected and "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) <= 1, output
    if code == 2:
        assert len(errors) == 1, output
    for path, content in before.items():
        assert after.get(path) == content, f"{path} was changed or removed:\n{output}"
    new = set(after) - set(before)
    assert new <= (set(produced) if code == 0 else set()), f"left behind {sorted(new)}:\n{output}"
    return code == 0


# --- fixtures ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A tiny run dir (x2 Y), its .keras and int8 .tflite, and a folder with one small image."""
    from keras_sr.runs import fold_run
    from tests.sr_models import export, make_run

    root = tmp_path_factory.mktemp("fuzz")
    run = make_run(root / "run")
    fold_run(run, root / "m.keras", check_size=(8, 8))
    export(run, root / "m.tflite", "int8", calib_samples=4, report=False)
    data = root / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (24, 20, 3), dtype=np.uint8)).save(data / "img.png")
    return {"root": root, "run": run, "keras": root / "m.keras", "tflite": root / "m.tflite",
            "data": data, "image": data / "img.png"}


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=True)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=5)


# --- config.json -------------------------------------------------------------------------------

@examples("config")
@given(data=st.data())
def test_fuzz_config_json(base, tmp_path_factory, data):
    from keras_sr.config import ModelConfig

    run = tmp_path_factory.mktemp("cfg")
    (run / "model.weights.h5").write_bytes((base["run"] / "model.weights.h5").read_bytes())
    config = json.loads((base["run"] / "config.json").read_text())
    fields = list(ModelConfig().to_dict())
    for name in data.draw(st.lists(st.sampled_from(fields), max_size=3, unique=True)):
        config[name] = data.draw(JSON_VALUES | st.integers(-3, 300) | st.sampled_from(["relu", "2", "true"]))
    for name in data.draw(st.lists(st.sampled_from(fields), max_size=2, unique=True)):
        config.pop(name, None)
    text = json.dumps(config) if data.draw(st.booleans()) else json.dumps(config)[: data.draw(st.integers(0, 40))]
    (run / "config.json").write_text(text)
    before = snapshot(run, base["data"])
    outcome = _invoke(["eval", run, "--data", base["data"], "--json"])
    check(outcome, before, snapshot(run, base["data"]))


# --- .tflite: mutated metadata, truncated and bit-flipped bytes ---------------------------------

def _upscale_checks(model: Path, base, out_dir: Path, worker=None) -> None:
    out = out_dir / "out.png"
    before = snapshot(model.parent, base["data"])
    args = ["upscale", base["image"], "-o", out, "--model", model]
    outcome = worker.run(args) if worker else _invoke(args)
    if check(outcome, before, snapshot(model.parent, base["data"]), {out}):
        with Image.open(out) as img:
            with Image.open(base["image"]) as src:
                scale = img.size[0] // src.size[0]
                assert scale in (2, 3, 4) and img.size == (src.size[0] * scale, src.size[1] * scale)


@examples("metadata")
@given(data=st.data())
def test_fuzz_tflite_metadata(base, tmp_path_factory, data):
    from keras_sr.metadata import add_metadata
    from keras_sr.runtime import read_metadata

    content = base["tflite"].read_bytes()
    metadata = read_metadata(content)
    for name in data.draw(st.lists(st.sampled_from(sorted(metadata) + ["extra"]), min_size=1, max_size=3,
                                   unique=True)):
        if data.draw(st.booleans()):
            metadata[name] = data.draw(JSON_VALUES | st.integers(-2, 8))
        else:
            metadata.pop(name, None)
    folder = tmp_path_factory.mktemp("meta")
    model = folder / "m.tflite"
    model.write_bytes(add_metadata(content, metadata))
    _upscale_checks(model, base, folder)


@examples("bytes")
@given(data=st.data())
def test_fuzz_tflite_bytes(base, worker, tmp_path_factory, data):
    content = bytearray(base["tflite"].read_bytes())
    if data.draw(st.booleans()):
        content = content[: data.draw(st.integers(0, len(content) - 1))]
    else:
        for _ in range(data.draw(st.integers(1, 8))):
            bit = data.draw(st.integers(0, 8 * len(content) - 1))
            content[bit // 8] ^= 1 << (bit % 8)
    folder = tmp_path_factory.mktemp("bytes")
    model = folder / "m.tflite"
    model.write_bytes(bytes(content))
    _upscale_checks(model, base, folder, worker)


# --- weights and .keras files --------------------------------------------------------------------

@examples("weights")
@given(data=st.data(), which=st.sampled_from(["weights", "keras"]))
def test_fuzz_weights_and_keras_files(base, worker, tmp_path_factory, data, which):
    source = base["run"] / "model.weights.h5" if which == "weights" else base["keras"]
    content = bytearray(source.read_bytes())
    if data.draw(st.booleans()):
        content = content[: data.draw(st.integers(0, len(content) - 1))]
    else:
        for _ in range(data.draw(st.integers(1, 16))):
            at = data.draw(st.integers(0, len(content) - 1))
            content[at] ^= data.draw(st.integers(1, 255))
    folder = tmp_path_factory.mktemp(which)
    if which == "weights":
        model = folder / "run"
        model.mkdir()
        (model / "config.json").write_bytes((base["run"] / "config.json").read_bytes())
        (model / "model.weights.h5").write_bytes(bytes(content))
    else:
        model = folder / "m.keras"
        model.write_bytes(bytes(content))
    out = folder / "out.png"
    before = snapshot(folder, base["data"])
    outcome = worker.run(["upscale", base["image"], "-o", out, "--model", model])
    check(outcome, before, snapshot(folder, base["data"]), {out})


# --- image files of every mode -------------------------------------------------------------------

MODES = ["1", "L", "LA", "P", "RGB", "RGBA", "I;16", "I", "F", "CMYK"]
FORMATS = {"png": ("PNG", {"1", "L", "LA", "P", "RGB", "RGBA", "I;16"}),
           "tif": ("TIFF", set(MODES)), "jpg": ("JPEG", {"L", "RGB", "CMYK"}),
           "bmp": ("BMP", {"1", "L", "P", "RGB"}), "webp": ("WEBP", {"RGB", "RGBA"}),
           "gif": ("GIF", {"L", "P"})}


def _image_bytes(mode: str, fmt: str, size: tuple[int, int], seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    w, h = size
    if mode in ("I;16", "I"):
        top = 65535 if mode == "I;16" else int(rng.choice([255, 65535, 2**20]))
        values = rng.integers(0, top + 1, (h, w))
        img = Image.fromarray(values.astype(np.uint16 if mode == "I;16" else np.int32))
    elif mode == "F":
        img = Image.fromarray(rng.uniform(0, 1, (h, w)).astype(np.float32))
    else:
        img = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).convert(mode)
    buffer = io.BytesIO()
    img.save(buffer, FORMATS[fmt][0])
    return buffer.getvalue()


def _forge_png_size(content: bytes, width: int, height: int) -> bytes:
    """The PNG with its IHDR width and height replaced (and the chunk CRC fixed)."""
    if content[12:16] != b"IHDR":
        return content
    ihdr = b"IHDR" + struct.pack(">II", width, height) + content[24:29]
    return content[:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + content[33:]


@examples("image")
@given(data=st.data(), fmt=st.sampled_from(sorted(FORMATS)), seed=st.integers(0, 1000),
       size=st.tuples(st.integers(1, 40), st.integers(1, 40)))
def test_fuzz_image_files(base, worker, tmp_path_factory, data, fmt, seed, size):
    mode = data.draw(st.sampled_from(sorted(FORMATS[fmt][1])))
    content = bytearray(_image_bytes(mode, fmt, size, seed))
    damage = data.draw(st.sampled_from(["none", "truncate", "flip", "forge"]))
    if damage == "truncate":
        content = content[: data.draw(st.integers(0, len(content) - 1))]
    elif damage == "flip":
        for _ in range(data.draw(st.integers(1, 8))):
            at = data.draw(st.integers(0, len(content) - 1))
            content[at] ^= data.draw(st.integers(1, 255))
    elif damage == "forge" and fmt == "png":
        content = bytearray(_forge_png_size(bytes(content), data.draw(st.integers(0, 2**31 - 1)),
                                            data.draw(st.integers(0, 2**31 - 1))))
    folder = tmp_path_factory.mktemp("img")
    image = folder / f"in.{fmt}"
    image.write_bytes(bytes(content))
    out = folder / "out.png"
    before = snapshot(folder)
    outcome = worker.run(["upscale", image, "-o", out, "--model", base["tflite"]])
    if check(outcome, before, snapshot(folder), {out}):
        with Image.open(out) as result:
            assert result.size == (2 * size[0], 2 * size[1]) or damage != "none", (result.size, size)


# --- numeric options -----------------------------------------------------------------------------

NUMBERS = (st.integers(-10**6, 10**6) | st.integers(-3, 300) | st.floats(allow_nan=True).map(str)
           | st.sampled_from(["", "x", "1e3", "0x10", " 4", "nan", "-0"]))


@examples("options")
@given(data=st.data())
def test_fuzz_numeric_options(base, worker, tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("opt")
    out = folder / "out.png"
    options = {"--tile": NUMBERS, "--threads": NUMBERS, "--scale": NUMBERS, "--quality": NUMBERS}
    args = ["upscale", base["image"], "-o", out, "--model", base["tflite"]]
    for name in data.draw(st.lists(st.sampled_from(sorted(options)), min_size=1, max_size=3, unique=True)):
        args += [name, str(data.draw(options[name]))]
    before = snapshot(folder, base["data"])
    outcome = worker.run(args)
    if check(outcome, before, snapshot(folder, base["data"]), {out}):
        with Image.open(out) as img:
            assert img.size == (40, 48)


@examples("sizes")
@given(size=st.tuples(st.integers(-5, 50_000), st.integers(-5, 50_000)).map(lambda s: f"{s[0]}x{s[1]}")
       | st.text(max_size=12), runs=NUMBERS, warmup=NUMBERS)
def test_fuzz_bench_sizes(base, worker, size, runs, warmup):
    args = ["bench", base["tflite"], "--size", size, "--runs", str(runs), "--warmup", str(warmup)]

    def number(text) -> float | None:
        try:
            return float(str(text))
        except ValueError:
            return None

    parts = [number(v) for v in size.lower().split("x")]
    pixels = parts[0] * parts[1] if len(parts) == 2 and None not in parts else 0
    if 250_000 < pixels <= 16_000_000 or any((number(v) or 0) > 3 for v in (runs, warmup)):
        return  # valid but slow: the bounds are what is fuzzed here, not the benchmark
    before = snapshot(base["root"])
    check(worker.run(args), before, snapshot(base["root"]))
