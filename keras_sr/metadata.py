"""The ``keras_sr`` metadata of a .tflite file: one schema, written and read here.

Every .tflite file that ``sr-tool tflite`` writes carries a ``keras_sr`` entry in the flatbuffer's
``Model.metadata``: UTF-8 JSON in a buffer. Its fields (schema version :data:`SCHEMA_VERSION`):

=================  ===========================================================================
format             "keras_sr"
schema             the schema version (absent in files written before it: version 1)
scale, colors      the upscaling factor (2, 3, 4) and 1 (Y) or 3 (RGB)
receptive_radius   LR pixels of context each output pixel needs (tiles overlap by this much)
input_range        [0, 255]; input_dtype "uint8" (int8 files) or "float32"
quantization       "int8", "fp16" or "float32"; qat_steps (int8): quantization-aware steps
config             the architecture (:func:`keras_sr.config.config_from_dict` reads it)
version            the keras_sr version that wrote the file
quality            optional: PSNR on benchmark sets, stamped by ``tools/stamp_quality.py``
=================  ===========================================================================

:class:`SRMetadata` is the typed view of the fields a runtime needs; :func:`read_metadata`
checks them (a file is untrusted input) and returns the whole entry as a dict. The Android app's
``core/ModelContract`` mirrors the checks; ``tools/make_android_golden.py`` writes the golden
files both sides' tests read. Reading needs neither TensorFlow nor a generated schema.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np

from keras_sr import __version__
from keras_sr.errors import UserError, first_line

SCHEMA_VERSION = 1

METADATA_NAME = "keras_sr"
TFLITE_IDENTIFIER = b"TFL3"

# Field slots of the TFLite schema tables read by the metadata reader (vtable offset = 4 + 2 * i).
_MODEL_BUFFERS, _MODEL_METADATA = 4, 6
_METADATA_NAME, _METADATA_BUFFER = 0, 1
_BUFFER_DATA, _BUFFER_OFFSET, _BUFFER_SIZE = 0, 1, 2
# The metadata fields the runtime uses, with the values it can run (see keras_sr.limits).
METADATA_FIELDS = {"scale": (2, 3, 4), "colors": (1, 3), "receptive_radius": range(1, 129)}
QUANTIZATIONS = ("int8", "fp16", "float32")


@dataclasses.dataclass(frozen=True)
class SRMetadata:
    """The fields a runtime needs, checked: see the module docstring."""

    scale: int
    colors: int
    receptive_radius: int
    quantization: str = "float32"
    schema: int = 1

    @classmethod
    def from_dict(cls, metadata: dict[str, Any]) -> SRMetadata:
        """Check and type the runtime's fields of a metadata dict; ValueError if one is wrong."""
        if not isinstance(metadata, dict) or metadata.get("format") != METADATA_NAME:
            raise ValueError("wrong format field")
        schema = metadata.get("schema", 1)
        if isinstance(schema, bool) or not isinstance(schema, int) or schema < 1:
            raise ValueError(f"schema must be a positive integer, got {json.dumps(schema)}")
        if schema > SCHEMA_VERSION:
            raise ValueError(f"schema {schema} is newer than this keras_sr reads ({SCHEMA_VERSION}); "
                             "upgrade keras-sr")
        for key, allowed in METADATA_FIELDS.items():
            value = metadata[key]
            if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
                shown = f"{allowed.start}..{allowed.stop - 1}" if isinstance(allowed, range) else allowed
                raise ValueError(f"{key} must be an integer in {shown}, got {json.dumps(value)}")
        quantization = metadata.get("quantization", "float32")
        if quantization not in QUANTIZATIONS:
            raise ValueError(f"unknown quantization {json.dumps(quantization)}")
        return cls(metadata["scale"], metadata["colors"], metadata["receptive_radius"], quantization, schema)


def sr_metadata(config, quantization: str, qat_steps: int = 0) -> dict:
    """The ``keras_sr`` metadata entry (read by :func:`keras_sr.runtime.read_metadata`); int8
    files also record their quantization-aware fine-tuning steps (0: post-training only)."""
    metadata = {"format": METADATA_NAME, "schema": SCHEMA_VERSION, "scale": config.scale, "colors": config.colors,
                "input_range": [0, 255], "input_dtype": "uint8" if quantization == "int8" else "float32",
                "quantization": quantization, "receptive_radius": config.receptive_radius,
                "config": config.to_dict(), "version": __version__}
    if quantization == "int8":
        metadata["qat_steps"] = qat_steps
    return metadata


def add_metadata(content: bytes, metadata: dict) -> bytes:
    """Append (or replace) the ``keras_sr`` entry of ``Model.metadata``: UTF-8 JSON in a buffer."""
    from keras_sr import flatbuf

    schema = flatbuf.schema()
    model = flatbuf.read(content)
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(json.dumps(metadata, sort_keys=True).encode("utf-8"), np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = METADATA_NAME
    entry.buffer = len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or []) if _name(m.name) != METADATA_NAME] + [entry]
    return flatbuf.write(model)


def read_metadata(content: bytes, source: str = "model") -> dict[str, Any]:
    """The ``keras_sr`` metadata of a .tflite flatbuffer, as a dict.

    Raises UserError when ``content`` is not a TFLite model or carries no SR metadata.
    """
    if len(content) < 8 or content[4:8] != TFLITE_IDENTIFIER:
        raise UserError(f"{source}: not a TFLite model file")
    try:
        entries = dict(_metadata_entries(content))
    except Exception as exc:  # a damaged flatbuffer can fail in many ways
        raise UserError(f"{source}: damaged TFLite model file ({first_line(exc)})") from None
    if METADATA_NAME not in entries:
        raise UserError(f"{source}: not a keras_sr super-resolution model (no '{METADATA_NAME}' "
                        f"metadata; export it with sr-tool tflite)")
    try:
        metadata = json.loads(entries[METADATA_NAME].decode("utf-8"))
        SRMetadata.from_dict(metadata)
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError, RecursionError) as exc:
        raise UserError(f"{source}: invalid '{METADATA_NAME}' metadata ({first_line(exc)})") from None
    return metadata


def _metadata_entries(buf: bytes):
    """Yield (name, bytes) for each entry of ``Model.metadata`` (a tiny flatbuffer reader,
    so that reading metadata needs neither TensorFlow nor a generated schema)."""
    from flatbuffers import encode, number_types, packer, table

    root = table.Table(bytearray(buf), encode.Get(packer.uoffset, buf, 0))

    def vector(tab: table.Table, slot: int) -> list[int]:
        off = tab.Offset(4 + 2 * slot)
        if not off:
            return []
        start = tab.Vector(off)
        return [tab.Indirect(start + 4 * i) for i in range(tab.VectorLen(off))]

    def scalar(tab: table.Table, slot: int, flags) -> int:
        off = tab.Offset(4 + 2 * slot)
        return tab.Get(flags, tab.Pos + off) if off else 0

    buffers = vector(root, _MODEL_BUFFERS)
    for pos in vector(root, _MODEL_METADATA):
        entry = table.Table(root.Bytes, pos)
        off = entry.Offset(4 + 2 * _METADATA_NAME)
        name = entry.String(off + entry.Pos).decode("utf-8") if off else ""
        buffer = table.Table(root.Bytes, buffers[scalar(entry, _METADATA_BUFFER, number_types.Uint32Flags)])
        data_off = buffer.Offset(4 + 2 * _BUFFER_DATA)
        if data_off:
            start = buffer.Vector(data_off)
            data = bytes(root.Bytes[start:start + buffer.VectorLen(data_off)])
        else:  # models over 2 GB keep buffers after the flatbuffer
            offset = scalar(buffer, _BUFFER_OFFSET, number_types.Uint64Flags)
            size = scalar(buffer, _BUFFER_SIZE, number_types.Uint64Flags)
            data = bytes(buf[offset:offset + size])
        yield name, data


def _name(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
