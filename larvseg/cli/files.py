"""Image files named on a command line: folders, glob patterns and files, expanded.

Each file gets an output name: its path under the folder that was named (without the
suffix, so `photos/a/b.jpg` from `photos` is `a/b`), or its stem for a file named
directly or matched by a pattern. Under `torchrun` every rank takes `shard` of the
same sorted list, so the ranks together cover each file exactly once.
"""

from __future__ import annotations

import glob
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ..errors import InputError
from ..pipeline.image import ImageFile


def image_suffixes() -> frozenset[str]:
    """Lower-case suffixes of every format Pillow can open (".jpg", ".png", ".webp", ...)."""
    Image.init()
    return frozenset(ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN)


@dataclass(frozen=True)
class FoundImages:
    """What `find_images` found: the files (sorted by path), and each input that named
    nothing as `(input, reason)`."""

    files: list[ImageFile]
    missing: list[tuple[str, str]]


def _folder_images(folder: Path, recursive: bool, suffixes: frozenset[str]) -> Iterable[Path]:
    entries = folder.rglob("*") if recursive else folder.iterdir()
    return (p for p in entries if p.is_file() and p.suffix.lower() in suffixes)


def find_images(inputs: Sequence[str], recursive: bool = False) -> FoundImages:
    """Expand folders (their image files; with `recursive`, also in subfolders), glob
    patterns (`**` spans folders with `recursive`) and file paths into image files.

    A file named twice is kept once. Raises `InputError` when two different files would
    get the same output name.
    """
    suffixes = image_suffixes()
    found: dict[Path, ImageFile] = {}
    missing = []

    def add(path: Path, name: str) -> None:
        found.setdefault(path.resolve(), ImageFile(path, name))

    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            for image in _folder_images(path, recursive, suffixes):
                add(image, image.relative_to(path).with_suffix("").as_posix())
        elif path.is_file():
            add(path, path.stem)
        elif glob.has_magic(item):
            matches = [Path(m) for m in sorted(glob.glob(item, recursive=recursive))]
            images = [m for m in matches if m.is_file() and m.suffix.lower() in suffixes]
            for image in images:
                add(image, image.stem)
            if not images:
                missing.append((item, "no image file matches this pattern"))
        else:
            missing.append((item, "no such file or folder"))
    files = sorted(found.values(), key=lambda f: str(f.path))
    by_name: dict[str, Path] = {}
    for file in files:
        other = by_name.setdefault(file.name, file.path)
        if other != file.path:
            raise InputError(
                f"{other} and {file.path} would both write outputs named {file.name!r}; "
                "name their common parent folder (with --recursive) instead"
            )
    return FoundImages(files, missing)


def shard(files: Sequence[ImageFile], rank: int, world_size: int) -> list[ImageFile]:
    """The files of `rank` of `world_size` (every `world_size`-th, from `rank`)."""
    return list(files[rank::world_size])
