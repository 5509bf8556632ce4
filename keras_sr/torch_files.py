"""Read PyTorch checkpoints without torch: ``.pth``/``.pt`` (zip and legacy) and ``.safetensors``.

A checkpoint is untrusted input. ``torch.save`` writes a pickle, and unpickling can call any
importable function, so the pickle is read by :class:`_StateDictUnpickler`: it resolves only the
handful of globals a state dict is made of (``collections.OrderedDict``, torch's typed storages
and its tensor/parameter rebuild functions), each mapped to a local stand-in that builds plain
data, and refuses every other global (``os.system``, ``builtins.eval``, ...) before it is called.
Tensors come back as numpy arrays.

Formats (see ``torch/serialization.py``):

* zip (torch >= 1.6): ``<name>/data.pkl`` is the pickle; a tensor's storage is a persistent id
  ``("storage", StorageType, key, location, numel)`` whose bytes are ``<name>/data/<key>``;
  ``<name>/byteorder`` says ``little`` or ``big`` (absent means little).
* legacy (``_use_new_zipfile_serialization=False``): five pickles in a row (magic number,
  protocol version, system info, the object with persistent ids ``("storage", StorageType, key,
  location, numel, view_metadata)``, the sorted storage keys), then each storage as an int64
  element count followed by its raw bytes.
* safetensors: read with the ``safetensors`` package.
"""

from __future__ import annotations

import collections
import dataclasses
import io
import pickle
import struct
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from keras_sr.errors import UserError
from keras_sr.limits import MAX_MODEL_BYTES, check_regular_file

# torch.<Name>Storage -> numpy dtype. BFloat16 has no numpy dtype: read as uint16, widened below.
_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": np.uint16, "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
# Keys under which training codes wrap the state dict, in order of preference (BasicSR's EMA
# weights are what it evaluates with, when it kept them).
WRAPPER_KEYS = ("params_ema", "params", "state_dict", "model")


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """A state dict read from a file: ``tensors`` by name, and how it was stored."""

    tensors: dict[str, np.ndarray]
    container: str  # "PyTorch zip", "PyTorch legacy" or "safetensors"
    wrapper: str | None  # the key the state dict was found under (BasicSR: "params_ema"), if any
    prefix_stripped: bool  # a DataParallel "module." prefix was removed


@dataclasses.dataclass(frozen=True)
class _Storage:
    key: str
    dtype: type
    numel: int


@dataclasses.dataclass(frozen=True)
class _TensorRef:
    storage: _Storage
    offset: int
    size: tuple
    stride: tuple


def _rebuild_tensor(storage, storage_offset, size, stride, *_ignored) -> _TensorRef:
    """Stand-in for torch._utils._rebuild_tensor(_v2): remembers where the tensor's data is."""
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError("a tensor without a storage")
    return _TensorRef(storage, storage_offset, tuple(size), tuple(stride))


def _rebuild_parameter(data, *_ignored) -> _TensorRef:
    """Stand-in for torch._utils._rebuild_parameter(_with_state): a parameter is its data."""
    if not isinstance(data, _TensorRef):
        raise pickle.UnpicklingError("a parameter without a tensor")
    return data


@dataclasses.dataclass(frozen=True)
class _StorageType:
    name: str


_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    **{("torch", name): _StorageType(name) for name in _STORAGE_DTYPES},
}


class ForbiddenGlobal(pickle.UnpicklingError):
    """The pickle names a global that a state dict never needs."""


class _StateDictUnpickler(pickle.Unpickler):
    def __init__(self, stream: io.BytesIO, storages: dict[str, _Storage]):
        super().__init__(stream)
        self.storages = storages

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise ForbiddenGlobal(f"{module}.{name}") from None

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"
                and isinstance(pid[1], _StorageType) and isinstance(pid[4], int) and pid[4] >= 0):
            raise pickle.UnpicklingError(f"unexpected persistent id {str(pid)[:60]}")
        key = str(pid[2])
        storage = _Storage(key, _STORAGE_DTYPES[pid[1].name], pid[4])
        if self.storages.setdefault(key, storage) != storage:
            raise pickle.UnpicklingError(f"storage {key} declared twice with different types")
        return storage


def _unpickle(path: Path, data: bytes, storages: dict[str, _Storage]):
    try:
        return _StateDictUnpickler(io.BytesIO(data), storages).load()
    except ForbiddenGlobal as exc:
        raise _refused(path, exc) from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError,
            AttributeError, struct.error, MemoryError, RecursionError) as exc:
        raise UserError(f"{path}: not a readable PyTorch checkpoint ({type(exc).__name__})") from None


def _materialize(path: Path, ref: _TensorRef, raw: bytes, byteorder: str) -> np.ndarray:
    storage = ref.storage
    dtype = np.dtype(storage.dtype).newbyteorder("<" if byteorder == "little" else ">")
    if len(raw) < storage.numel * dtype.itemsize:
        raise UserError(f"{path}: storage {storage.key} is shorter than its tensor (truncated file?)")
    flat = np.frombuffer(raw, dtype, count=storage.numel)
    size, stride, offset = ref.size, ref.stride, ref.offset
    if not (all(isinstance(v, int) and v >= 0 for v in (*size, *stride, offset))
            and len(size) == len(stride)):
        raise UserError(f"{path}: a tensor with an invalid shape")
    if 0 not in size and offset + sum((n - 1) * s for n, s in zip(size, stride)) >= storage.numel:
        raise UserError(f"{path}: a tensor reaches past the end of its storage")
    if 0 in size:
        array = np.zeros(size, dtype)
    else:
        array = np.lib.stride_tricks.as_strided(flat[offset:], size, [s * dtype.itemsize for s in stride])
    array = np.array(array, dtype.newbyteorder("="))
    if storage.dtype is np.uint16:  # bfloat16: the high half of a float32
        array = (array.astype(np.uint32) << 16).view(np.float32)
    return array


def _resolve(path: Path, obj, storage_bytes, byteorder: str):
    """Replace every tensor reference in ``obj`` (dicts and lists of them) with its array."""
    if isinstance(obj, _TensorRef):
        return _materialize(path, obj, storage_bytes(obj.storage.key), byteorder)
    if isinstance(obj, Mapping):
        return {key: _resolve(path, value, storage_bytes, byteorder) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_resolve(path, value, storage_bytes, byteorder) for value in obj]
    return obj


def _read_zip(path: Path):
    try:
        archive = zipfile.ZipFile(path)
        names = archive.namelist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise UserError(f"{path}: damaged zip archive ({exc})") from None
    pickles = [name for name in names if name.endswith("/data.pkl") and name.count("/") == 1]
    if len(pickles) != 1:
        raise UserError(f"{path}: a zip file, but not a PyTorch checkpoint (no <name>/data.pkl)")
    root = pickles[0][: -len("data.pkl")]
    if sum(info.file_size for info in archive.infolist()) > MAX_MODEL_BYTES:
        raise UserError(f"{path}: unpacks to more than {MAX_MODEL_BYTES >> 20} MiB; not a small SR model")

    def member(name: str) -> bytes:
        try:
            return archive.read(name)
        except KeyError:
            raise UserError(f"{path}: {name} is missing (truncated or damaged checkpoint)") from None
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
            raise UserError(f"{path}: cannot read {name} ({exc})") from None

    byteorder = member(root + "byteorder").decode(errors="replace").strip() \
        if root + "byteorder" in names else "little"
    if byteorder not in ("little", "big"):
        raise UserError(f"{path}: unknown byte order {byteorder[:20]!r}")
    storages: dict[str, _Storage] = {}
    obj = _unpickle(path, member(pickles[0]), storages)
    return _resolve(path, obj, lambda key: member(f"{root}data/{key}"), byteorder)


def _refused(path: Path, exc: ForbiddenGlobal) -> UserError:
    return UserError(f"{path}: refused: its pickle calls {exc}, which a state dict never needs "
                     "(only tensors and dicts are read)")


def _read_legacy(path: Path, data: bytes):
    try:
        return _read_legacy_pickles(path, data)
    except ForbiddenGlobal as exc:
        raise _refused(path, exc) from None


def _read_legacy_pickles(path: Path, data: bytes):
    stream = io.BytesIO(data)
    storages: dict[str, _Storage] = {}

    def next_pickle():
        # Like torch's loader: each load() stops right after its pickle's STOP opcode.
        try:
            return _StateDictUnpickler(stream, storages).load()
        except ForbiddenGlobal:
            raise
        except Exception:
            raise UserError(f"{path}: not a PyTorch checkpoint (neither zip nor legacy format)") from None

    if next_pickle() != _LEGACY_MAGIC:
        raise UserError(f"{path}: not a PyTorch checkpoint (neither zip nor legacy format)")
    next_pickle()  # protocol version
    sys_info = next_pickle()
    little = sys_info.get("little_endian", True) if isinstance(sys_info, dict) else True
    obj = next_pickle()
    keys = next_pickle()
    if not (isinstance(keys, list) and sorted(map(str, keys)) == sorted(storages)):
        raise UserError(f"{path}: damaged legacy checkpoint (storage list does not match)")
    blobs: dict[str, bytes] = {}
    for key in keys:
        header = stream.read(8)
        if len(header) < 8:
            raise UserError(f"{path}: truncated legacy checkpoint")
        numel = struct.unpack("<q" if little else ">q", header)[0]
        storage = storages[str(key)]
        nbytes = numel * np.dtype(storage.dtype).itemsize
        if numel != storage.numel or nbytes > len(data):
            raise UserError(f"{path}: damaged legacy checkpoint (storage {key} size)")
        blobs[str(key)] = stream.read(nbytes)
        if len(blobs[str(key)]) < nbytes:
            raise UserError(f"{path}: truncated legacy checkpoint")
    return _resolve(path, obj, blobs.__getitem__, "little" if little else "big")


def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, TypeError) as exc:
        raise UserError(f"{path}: not a readable safetensors file ({str(exc).splitlines()[0][:80]})") from None


def _state_dict(path: Path, obj) -> tuple[dict[str, np.ndarray], str | None, bool]:
    wrapper = None
    if isinstance(obj, Mapping):
        for key in WRAPPER_KEYS:
            if isinstance(obj.get(key), Mapping):
                obj, wrapper = obj[key], key
                break
    if not isinstance(obj, Mapping) or not obj:
        raise UserError(f"{path}: holds no state dict (expected a dict of tensors)")
    tensors = {str(k): v for k, v in obj.items() if isinstance(v, np.ndarray)}
    others = [str(k) for k, v in obj.items() if not isinstance(v, np.ndarray)]
    if others or not tensors:
        raise UserError(f"{path}: not a state dict: {', '.join(others[:3]) or 'no tensors'} "
                        "hold something other than tensors")
    stripped = all(k.startswith("module.") for k in tensors)
    if stripped:
        tensors = {k[len("module."):]: v for k, v in tensors.items()}
    return tensors, wrapper, stripped


def read_checkpoint(path: Path) -> Checkpoint:
    """The state dict in a ``.pth``/``.pt`` (zip or legacy) or ``.safetensors`` file, as numpy
    arrays by name, unwrapped from BasicSR's ``{"params_ema" | "params": ...}`` and from a
    DataParallel ``module.`` prefix. Anything else raises :class:`UserError`, and nothing in the
    file is executed."""
    path = Path(path)
    check_regular_file(path, MAX_MODEL_BYTES, "a checkpoint")
    if path.suffix == ".safetensors":
        tensors, wrapper, stripped = _state_dict(path, _read_safetensors(path))
        return Checkpoint(tensors, "safetensors", wrapper, stripped)
    if zipfile.is_zipfile(path):
        obj, container = _read_zip(path), "PyTorch zip"
    else:
        data = path.read_bytes()
        if data.startswith(b"PK\x03\x04"):
            raise UserError(f"{path}: damaged zip archive (truncated? its central directory is missing)")
        if data[:8].startswith(b"{") or data[8:9] == b"{":  # safetensors: u64 length, JSON header
            raise UserError(f"{path}: looks like a safetensors file; name it *.safetensors")
        obj, container = _read_legacy(path, data), "PyTorch legacy"
    tensors, wrapper, stripped = _state_dict(path, obj)
    return Checkpoint(tensors, container, wrapper, stripped)
