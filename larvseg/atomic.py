"""Files written whole or not at all: write to a temporary name beside the target, rename.

Every file larvseg writes (segmentation outputs and summaries, evaluation JSON, ONNX
files, checkpoints, index caches) goes through `atomic_path`: the content is written to
a hidden temporary file in the target's folder (`.<name>.<random>.partial`) and renamed
over the target (`os.replace`, atomic on POSIX and Windows within one file system) only
once it is complete. A run killed mid-write leaves the previous file, or none, under the
target's name, never a truncated one; an exception or Ctrl-C removes the temporary file
(a SIGKILL leaves the hidden `.partial` file behind, which nothing reads). With
`durable=True` the data and the rename are also flushed to the disk (`fsync`), so that
a power cut cannot lose what the rename announced (checkpoints).
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import OutputError

if TYPE_CHECKING:  # PIL is only used through the image passed in (cheap imports for configs)
    from PIL import Image

PARTIAL_SUFFIX = ".partial"
"""The suffix of temporary files (hidden, in the target's folder)."""


def partial_name(path: Path) -> Path:
    """A fresh temporary name beside `path`: `.<name>.<8 hex digits>.partial`."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}")


@contextmanager
def atomic_path(path: str | os.PathLike, durable: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; on success it is renamed to `path`.

    The parent folder must exist. On any exception (KeyboardInterrupt included) the
    temporary file is removed and `path` is left as it was.
    """
    target = Path(path)
    temporary = partial_name(target)
    try:
        yield temporary
        if durable:
            _fsync_file(temporary)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    if durable:
        fsync_folder(target.parent)


@contextmanager
def atomic_files(folder: str | os.PathLike, last: str) -> Iterator[Path]:
    """Yield a hidden staging folder inside `folder`; on success each file written into
    it is renamed into `folder`, the one named `last` after the others (for writers that
    put companion files beside their main file, such as ONNX external data). The staging
    folder is removed in every case."""
    staging = Path(tempfile.mkdtemp(prefix=f".{last}.", suffix=PARTIAL_SUFFIX, dir=folder))
    try:
        yield staging
        names = sorted(os.listdir(staging), key=lambda name: name == last)
        for name in names:
            os.replace(staging / name, Path(folder, name))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def check_output_folder(path: str | os.PathLike, what: str = "output folder") -> Path:
    """Create folder `path` (and its parents) and check that files can be written in it;
    `OutputError` naming it otherwise (it is a file, lies under a file, no permission).
    Call it before any work, so that a bad location fails at once, not at the end."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{what} {folder} is a file; give a folder")
    _writable_folder(folder, f"{what} {folder}")
    return folder


def check_output_file(path: str | os.PathLike, what: str = "output file") -> Path:
    """Check that file `path` can be written, its folder created if needed: `OutputError`
    naming it when it is a folder or its folder cannot take it."""
    file = Path(path)
    if file.is_dir():
        raise OutputError(f"{what} {file} is a folder; give a file name")
    _writable_folder(file.parent, f"{what} {file}")
    return file


def _writable_folder(folder: Path, label: str) -> None:
    """Create `folder` and write (then remove) a probe file in it; `OutputError` saying
    what failed for `label` (what is to be written)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(
            f"cannot write {label}: cannot create folder {folder} ({_why(err)})"
        ) from err
    try:
        probe, name = tempfile.mkstemp(prefix=".larvseg-probe.", suffix=PARTIAL_SUFFIX, dir=folder)
    except OSError as err:
        raise OutputError(
            f"cannot write {label}: cannot write in folder {folder} ({_why(err)})"
        ) from err
    os.close(probe)
    os.unlink(name)


def _why(err: OSError) -> str:
    """An OSError's reason in words ("permission denied", "not a directory")."""
    return (err.strerror or str(err)).lower()


def write_bytes(path: str | os.PathLike, data: bytes, durable: bool = False) -> Path:
    """Write `data` to `path` atomically; returns the path."""
    with atomic_path(path, durable) as temporary:
        temporary.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str, durable: bool = False) -> Path:
    """Write `text` (UTF-8) to `path` atomically; returns the path."""
    return write_bytes(path, text.encode("utf-8"), durable)


def save_image(image: Image.Image, path: str | os.PathLike, format: str = "PNG") -> Path:
    """Save a PIL image to `path` atomically in `format` (default PNG); returns the path."""
    with atomic_path(path) as temporary:
        image.save(temporary, format=format)
    return Path(path)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def fsync_folder(folder: str | os.PathLike) -> None:
    """Flush a folder's entries (a rename into it) to disk, where the system allows it."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows cannot open folders; its renames are flushed with the file
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)
