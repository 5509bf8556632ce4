"""File helpers shared by every command that writes output."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it to ``target`` when the block ends
    without error, delete it otherwise. No partial ``target`` on error or interrupt.

    The temporary name ends with ``target``'s full name, so libraries that choose a format by
    extension (``.weights.h5``, ``.keras``, ``.png``) see the right one.
    """
    target = Path(target)
    tmp = target.with_name(f".{uuid.uuid4().hex[:8]}.{target.name}")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
