"""Download DIV2K (the training set of EDSR, ECBSR and the patent) from its official location,
with resume and a SHA-256 check, and unpack it.

Sizes and SHA-256 digests are those recorded by TensorFlow Datasets
(``tensorflow_datasets/url_checksums/div2k.txt``). An interrupted download leaves
``NAME.zip.part``; the next call asks the server for the remaining bytes (HTTP Range) and starts
over only if the server ignores the range. The ``.zip`` appears (by rename) only once the whole
file matches its digest.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

from keras_sr.errors import UserError

BASE_URL = "https://data.vision.ee.ethz.ch/cvl/DIV2K/"
CHUNK_BYTES = 1 << 20
TIMEOUT_S = 60


@dataclasses.dataclass(frozen=True)
class Archive:
    name: str
    size: int
    sha256: str

    @property
    def url(self) -> str:
        return BASE_URL + self.name


ARCHIVES = {
    "train_hr": Archive("DIV2K_train_HR.zip", 3530603713,
                        "9d0b9c463f6e35b6c62cc6a930ee2224f670b34c1df841a57670f9acf0f6c335"),
    "valid_hr": Archive("DIV2K_valid_HR.zip", 448993893,
                        "20dd31fd84d777bc1cf5d6b7654a3f569c0aec74458ae094122ad1d0489900fc"),
}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, target: Path, sha256: str | None = None, size: int | None = None,
             on_bytes: Callable[[int, int | None], None] | None = None) -> Path:
    """Download ``url`` to ``target`` with resume; verify ``sha256`` (hex) if given.

    Already complete and matching: nothing is fetched. A partial ``target.part`` is continued
    with an HTTP Range request. A digest mismatch deletes the partial file and raises
    :class:`UserError`, as do network errors (the partial file is kept for the next try).
    ``on_bytes(done, total)`` reports progress.
    """
    target = Path(target)
    if target.is_file() and (sha256 is None or sha256_of(target) == sha256):
        return target
    part = target.with_name(target.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    if size is not None and have > size:
        part.unlink()
        have = 0
    if size is None or have < size:
        request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                if have and response.status != 206:  # the server ignored the range
                    have = 0
                length = response.headers.get("Content-Length")
                total = have + int(length) if length is not None else size
                with open(part, "ab" if have else "wb") as f:
                    done = have
                    for chunk in iter(lambda: response.read(CHUNK_BYTES), b""):
                        f.write(chunk)
                        done += len(chunk)
                        if on_bytes is not None:
                            on_bytes(done, total)
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and have:  # range past the end: the partial file is complete
                pass
            else:
                raise UserError(f"{url}: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise UserError(f"{url}: download failed ({reason}); run again to resume") from None
    if sha256 is not None:
        actual = sha256_of(part)
        if actual != sha256:
            part.unlink()
            raise UserError(f"{url}: checksum mismatch (sha256 {actual}, expected {sha256}); "
                            "the partial file was deleted, run again")
    os.replace(part, target)
    return target


def extract(archive: Path, folder: Path) -> Path:
    """Unpack a zip into ``folder``; refuses members that would land outside it.

    Unpacks into a temporary folder beside ``folder`` first and moves the top-level entries in
    only when everything is out, so an interrupted unpack never looks complete.
    """
    folder = Path(folder).resolve()
    staging = folder / f".unpacking-{Path(archive).stem}"
    try:
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():
                if not (folder / member).resolve().is_relative_to(folder):
                    raise UserError(f"{archive}: unsafe path {member!r} in the archive")
            shutil.rmtree(staging, ignore_errors=True)
            zf.extractall(staging)
        for entry in staging.iterdir():
            os.replace(entry, folder / entry.name)
    except zipfile.BadZipFile as exc:
        raise UserError(f"{archive}: not a zip file ({exc})") from None
    except OSError as exc:
        raise UserError(f"{archive}: cannot unpack into {folder} ({exc.strerror or exc})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def download_div2k(folder: Path, parts: tuple[str, ...] = ("train_hr", "valid_hr"),
                   on_bytes: Callable[[str, int, int | None], None] | None = None) -> list[Path]:
    """Download and unpack the DIV2K HR archives into ``folder`` (created if needed).

    Returns the unpacked image folders, e.g. ``folder/DIV2K_train_HR`` (800 PNGs) and
    ``folder/DIV2K_valid_HR`` (100 PNGs), ready for ``sr-tool train --data``.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{folder}: cannot create the folder ({exc.strerror or exc})") from None
    out = []
    for key in parts:
        if key not in ARCHIVES:
            raise UserError(f"unknown DIV2K part {key!r}; choose from {', '.join(ARCHIVES)}")
        archive = ARCHIVES[key]
        report = None if on_bytes is None else (lambda d, t, n=archive.name: on_bytes(n, d, t))
        path = download(archive.url, folder / archive.name, archive.sha256, archive.size, report)
        images = folder / archive.name.removesuffix(".zip")
        if not images.is_dir():
            extract(path, folder)
        out.append(images)
    return out
