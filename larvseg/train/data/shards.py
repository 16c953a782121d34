"""WebDataset tar shards as an image-level source (`format: webdataset`), read by random access.

Members are grouped into samples by webdataset's own rule
(`webdataset.tariterators.base_plus_ext`: the key is the member path up to the first
dot of its file name, the rest is the extension, lower-cased). A sample holds its image
(`jpg`, `jpeg`, `png`, `webp` or `bmp`) and its labels `cls`: text of wnids or of
integers indexing `classes`, separated by spaces or commas. Listing reads every tar
header and `cls` member once (a `SourceIndex` with each image's byte offset and size,
cached like any listing); reading a sample is then one positioned read, so the keyed,
sharded sampling of `larvseg.train.data.sampler` is exact as for files.
"""

from __future__ import annotations

import os
import tarfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from tqdm import tqdm

from ...errors import DataError, ImageError
from ...evaluation.labelmaps import read_class_list
from .formats import decode_image, extra_module
from .index import DataWarning, IndexBuilder, SourceIndex

if TYPE_CHECKING:
    from ..config import DataSourceConfig

IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "webp", "bmp")
LABEL_EXTENSION = "cls"


def member_path(shard: str, name: str) -> str:
    """How a sample is named in messages: `<shard>:<image member>`."""
    return f"{shard}:{name}"


def shard_paths(images: str, where: str) -> list[Path]:
    """The shards of `images`: the `*.tar` files of a folder (sorted), a brace pattern
    (`train-{000000..001023}.tar`) or one file; DataError when one is missing."""
    if Path(images).is_dir():
        shards = sorted(Path(images).glob("*.tar"))
    else:
        shards = [Path(p) for p in extra_module("braceexpand", where).braceexpand(images)]
    if not shards:
        raise DataError(f"{where}: no .tar shards in {images}")
    missing = [path for path in shards if not path.is_file()]
    if missing:
        raise DataError(
            f"{where}: shard {missing[0]} does not exist ({len(missing)} of {len(shards)} missing)"
        )
    return shards


def _samples(
    tar: tarfile.TarFile, split: Callable[[str], tuple[str | None, str | None]], cut: list[str]
) -> Iterator[tuple[str, dict[str, tarfile.TarInfo]]]:
    """`(key, {extension: member})` of consecutive members sharing a key (metadata
    members `__*__` and non-files skipped). A header cut short ends the listing, its
    reason appended to `cut`."""
    key: str | None = None
    group: dict[str, tarfile.TarInfo] = {}
    while True:
        try:
            member = tar.next()
        except tarfile.ReadError as err:  # a header cut short or damaged
            cut.append(f"a tar header is damaged ({err})")
            break
        if member is None:
            break
        name = os.path.basename(member.name)
        if not member.isreg() or (name.startswith("__") and name.endswith("__")):
            continue
        prefix, extension = split(member.name)
        if prefix is None or extension is None:
            continue
        if prefix != key:
            if key is not None:
                yield key, group
            key, group = prefix, {}
        group[extension.lower()] = member
    if key is not None:
        yield key, group


def list_shards(
    config: DataSourceConfig, where: str, bad_samples: Literal["skip", "fail"] = "fail"
) -> SourceIndex:
    """Index every sample of the shards: image member offsets and sizes, labels.

    A shard cut short (its last members, or its end-of-archive blocks, missing: tarfile
    alone would stop there without a word) raises `DataError` naming it; with
    `bad_samples="skip"` its complete samples are kept, the lost ones are counted in a
    `DataWarning`, and the shard is listed in the index's `damaged`.
    """
    split = extra_module("webdataset.tariterators", where).base_plus_ext
    builder = IndexBuilder()
    if Path(config.images).is_dir():
        builder.stamp(config.images)
    shards = shard_paths(config.images, where)
    damaged = []
    bar = tqdm(shards, desc=f"indexing {config.name}", unit="shard", leave=False, disable=None)
    for shard in bar:
        builder.stamp(shard)
        shard_id = builder.folder(str(shard))
        try:
            with tarfile.open(shard, "r:") as tar:
                cut: list[str] = []
                groups = list(_samples(tar, split, cut))
                kept, lost = _complete(groups, tar.offset, os.path.getsize(shard), cut)
                if lost is not None:
                    message = f"{where}: shard {shard} is cut short: {lost}"
                    if bad_samples == "fail":
                        raise DataError(
                            f"{message}; write or download it again, or set "
                            "data.bad_samples: skip to keep its complete samples"
                        )
                    warnings.warn(
                        f"{message}; skipped (data.bad_samples: skip)", DataWarning, stacklevel=2
                    )
                    damaged.append(str(shard))
                for key, group in kept:
                    _add_sample(
                        builder, shard_id, tar, key, group, f"{where}: sample {key} of {shard}"
                    )
        except (tarfile.TarError, UnicodeDecodeError) as err:
            raise DataError(f"{where}: cannot read shard {shard}: {err}") from err
    raw = read_class_list(config.classes, where)
    index = builder.build(raw, where, single=config.kind == "singlelabel", join=member_path)
    index.damaged = damaged
    return index


def _complete(
    groups: list[tuple[str, dict[str, tarfile.TarInfo]]], end: int, size: int, cut: list[str]
) -> tuple[list[tuple[str, dict[str, tarfile.TarInfo]]], str | None]:
    """The samples of a shard of `size` bytes whose members all lie inside it, and what
    was lost (None when the shard is whole: no damaged header (`cut`) and the two zero
    blocks that end every tar follow `end`, the offset after its last member)."""
    if not cut and size >= end + 2 * tarfile.BLOCKSIZE:
        return groups, None
    last = len(groups) - 1
    kept = [
        (key, group)
        for i, (key, group) in enumerate(groups)
        if all(m.offset_data + m.size <= size for m in group.values())
        and (i < last or _usable(group))  # the last may have lost members never listed
    ]
    inside = all(m.offset_data + m.size <= size for _, group in groups for m in group.values())
    where = cut[0] if cut and inside else f"it ends at byte {size}, inside its data"
    lost = len(groups) - len(kept)
    return (
        kept,
        f"{where}; {lost} of its {len(groups)} samples listed, and any after them, are lost",
    )


def _usable(group: dict[str, tarfile.TarInfo]) -> bool:
    return LABEL_EXTENSION in group and any(e in group for e in IMAGE_EXTENSIONS)


def _add_sample(
    builder: IndexBuilder,
    shard_id: int,
    tar: tarfile.TarFile,
    key: str,
    group: dict[str, tarfile.TarInfo],
    name: str,
) -> None:
    """Add one sample: its image member's offset and size, its labels from `cls`."""
    image = next((e for e in IMAGE_EXTENSIONS if e in group), None)
    if image is None or LABEL_EXTENSION not in group:
        raise DataError(
            f"{name} has {sorted(group)}; it needs an image ({', '.join(IMAGE_EXTENSIONS)}) "
            f"and its labels ({LABEL_EXTENSION})"
        )
    labels = tar.extractfile(group[LABEL_EXTENSION])
    text = labels.read().decode("utf-8") if labels else ""
    member = group[image]
    builder.add(
        shard_id,
        os.path.basename(member.name),
        text.replace(",", " ").split(),
        (member.offset_data, member.size),
    )


class ShardSamples:
    """The samples of a `format: webdataset` source, by random access into the shards."""

    def __init__(self, index: SourceIndex) -> None:
        if index.members is None:
            raise ValueError("a webdataset index holds member offsets")
        self.index, self.members, self.classes = index, index.members, index.classes

    def __len__(self) -> int:
        return len(self.index)

    def path(self, index: int) -> str:
        """`<shard>:<image member>` of sample `index`."""
        return member_path(self.index.folder(index), self.index.name(index))

    def labels(self, index: int) -> tuple[int, ...] | None:
        return self.index.labels_of(index)

    def label_map(self, index: int) -> None:
        """Shard sources have no label maps."""
        return None

    def image(self, index: int) -> np.ndarray:
        """`(H, W, 3)` uint8 RGB pixels of sample `index`; ImageError when unreadable."""
        offset, size = (int(v) for v in self.members[index])
        try:
            with open(self.index.folder(index), "rb") as shard:
                data = os.pread(shard.fileno(), size, offset)
        except OSError as err:
            raise ImageError(f"{self.path(index)}: cannot read the shard ({err})") from err
        if len(data) != size:
            raise ImageError(f"{self.path(index)}: the shard ends before this member")
        return decode_image(data, self.path(index))

    def check(self, index: int) -> None:
        """DataError when the shard of sample `index` is shorter than its image member."""
        offset, size = (int(v) for v in self.members[index])
        if os.path.getsize(self.index.folder(index)) < offset + size:
            raise DataError(f"shard {self.index.folder(index)} ends before {self.path(index)}")
