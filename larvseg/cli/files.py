"""Image files named on a command line: folders, glob patterns and files, expanded.

Each file gets an output name: its path under the folder that was named (without the
suffix, so `photos/a/b.jpg` from `photos` is `a/b`), or its stem for a file named
directly or matched by a pattern. Every entry of a folder that gives no image is
accounted for with its reason (not an image, a subfolder without `-r`, a broken link,
a link loop, a folder that cannot be listed), and the output folder is never read as
input. Under `torchrun` every rank takes `shard` of the same sorted list, so the ranks
together cover each file exactly once.
"""

from __future__ import annotations

import errno
import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from ..errors import InputError
from ..pipeline.image import ImageFile


def image_suffixes() -> frozenset[str]:
    """Lower-case suffixes of every format Pillow can open (".jpg", ".png", ".webp", ...)."""
    Image.init()
    return frozenset(ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN)


OUTPUT_SUFFIXES = ("_labels.png", "_overlay.png")
"""How the image outputs of `larvseg segment` end (never taken back as input from the
output folder)."""


@dataclass(frozen=True)
class FoundImages:
    """What `find_images` found: the files (sorted by path); each input or folder entry
    that should have given images and cannot be used as `(path, reason)` (`missing`:
    failures); and each other entry met in a folder and left out, with the reason
    (`skipped`: not an image, a subfolder without `recursive`, a broken link, ...)."""

    files: list[ImageFile]
    missing: list[tuple[str, str]]
    skipped: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _Walk:
    """One folder walk's settings and findings."""

    recursive: bool
    suffixes: frozenset[str]
    output_dir: str | None
    images: list[Path] = field(default_factory=list)
    missing: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def folder(self, folder: Path, ancestors: tuple[str, ...]) -> None:
        """Take the images of `folder` (and of its subfolders when recursive); account for
        every other entry. `ancestors`: real paths of the folders above, to catch loops."""
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as err:
            self.missing.append((str(folder), f"cannot list this folder: {_reason(err)}"))
            return
        for entry in entries:
            self.entry(Path(entry.path), entry, ancestors)

    def entry(self, path: Path, entry: os.DirEntry, ancestors: tuple[str, ...]) -> None:
        try:
            is_dir = entry.is_dir()  # follows links: a linked folder is walked like any other
            is_file = entry.is_file()
        except OSError as err:
            self.skipped.append((str(path), _reason(err)))
            return
        if entry.is_symlink() and not (is_dir or is_file):
            self.skipped.append((str(path), _broken_link(path)))
        elif is_dir:
            real = os.path.realpath(path)
            if real == self.output_dir:
                self.skipped.append((str(path), "the output folder (-o): never read as input"))
            elif real in ancestors:
                self.skipped.append((str(path), f"a symbolic link loop (back to {real})"))
            elif not self.recursive:
                self.skipped.append((str(path), "a subfolder (give -r to take its images too)"))
            else:
                self.folder(path, (*ancestors, real))
        elif not is_file:
            self.skipped.append((str(path), "not a regular file"))
        elif self.is_output(path):
            self.skipped.append((str(path), "an output of larvseg segment (in the output folder)"))
        elif path.suffix.lower() not in self.suffixes:
            self.skipped.append((str(path), "not an image file (by its suffix)"))
        else:
            self.images.append(path)

    def is_output(self, path: Path) -> bool:
        """Whether `path` is one of larvseg segment's outputs in the output folder."""
        if self.output_dir is None or not path.name.endswith(OUTPUT_SUFFIXES):
            return False
        return os.path.realpath(path).startswith(os.path.join(self.output_dir, ""))


def _reason(err: OSError) -> str:
    """An OSError as a reason: "permission denied", "symbolic link loop", ..."""
    if err.errno == errno.ELOOP:
        return "a symbolic link loop"
    return (err.strerror or str(err)).lower()


def _broken_link(path: Path) -> str:
    try:
        os.stat(path)
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "a symbolic link loop"
        return f"a broken symbolic link (to {os.readlink(path)}: {_reason(err)})"
    return "a symbolic link to something other than a file or folder"


def find_images(
    inputs: Sequence[str], recursive: bool = False, output_dir: str | Path | None = None
) -> FoundImages:
    """Expand folders (their image files; with `recursive`, also in subfolders), glob
    patterns (`**` spans folders with `recursive`) and file paths into image files.

    A file named twice is kept once. Every entry of a folder that is not taken is
    accounted for in `missing` or `skipped` with its reason. `output_dir` (the output
    folder) is never walked into, and the outputs larvseg segment writes there are not
    taken from folders or patterns. Raises `InputError` when two different files would
    get the same output name.
    """
    walk = _Walk(
        recursive,
        image_suffixes(),
        None if output_dir is None else os.path.realpath(output_dir),
    )
    found: dict[Path, ImageFile] = {}

    def add(path: Path, name: str) -> None:
        found.setdefault(path.resolve(), ImageFile(path, name))

    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            walk.images = []
            walk.folder(path, (os.path.realpath(path),))
            for image in walk.images:
                add(image, image.relative_to(path).with_suffix("").as_posix())
        elif path.is_file():
            add(path, path.stem)
        elif glob.has_magic(item):
            matches = [Path(m) for m in sorted(glob.glob(item, recursive=recursive))]
            images = [
                m
                for m in matches
                if m.is_file() and m.suffix.lower() in walk.suffixes and not walk.is_output(m)
            ]
            for image in images:
                add(image, image.stem)
            if not images:
                walk.missing.append((item, "no image file matches this pattern"))
        elif path.is_symlink():
            walk.missing.append((item, _broken_link(path)))
        else:
            walk.missing.append((item, "no such file or folder"))
    files = sorted(found.values(), key=lambda f: str(f.path))
    by_name: dict[str, Path] = {}
    for file in files:
        other = by_name.setdefault(file.name, file.path)
        if other != file.path:
            raise InputError(
                f"{other} and {file.path} would both write outputs named {file.name!r}; "
                "name their common parent folder (with --recursive) instead"
            )
    return FoundImages(files, walk.missing, walk.skipped)


def shard(files: Sequence[ImageFile], rank: int, world_size: int) -> list[ImageFile]:
    """The files of `rank` of `world_size` (every `world_size`-th, from `rank`)."""
    return list(files[rank::world_size])
