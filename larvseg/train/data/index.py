"""Compact source listings, written once per source and reused while the data is unchanged.

Listing a source (walking its folders, parsing its labels file, reading tar headers)
takes hours at ImageNet-21K scale. A `SourceIndex` holds the listing as a few flat
numpy arrays (about 40 bytes per sample, no Python object per sample, so forked
DataLoader workers share its pages) and is cached as `<index_dir>/<key>.npz`, the key
hashing the source's listing fields (`index_path`). `load_index` returns it while
every folder and file it was listed from keeps its modification time and size (a
folder's time changes when an entry is added, removed or renamed in it); otherwise
the source is listed again. `<key>.checked` beside it records that the listing passed
`SourceDataset.validate()`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import warnings
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ...atomic import atomic_path
from ...errors import DataError

if TYPE_CHECKING:
    from ..config import DataSourceConfig

INDEX_VERSION = 1
LISTING_FIELDS = (
    "format",
    "kind",
    "images",
    "annotations",
    "labels_file",
    "classes",
    "reduce_zero_label",
    "label_decoder",
    "image_suffix",
    "label_suffix",
)
"""The source fields an index depends on (paths are made absolute for the key)."""
RACY_NS = 2_000_000_000
"""Folders changed this close to the listing are not trusted next time (same-tick edits)."""
log = logging.getLogger(__name__)


class DataWarning(UserWarning):
    """Damaged data that was worked around: an index cache listed again, a damaged shard's
    lost samples skipped (`data.bad_samples: skip`); the message names the file."""


def stamp(path: str | Path, started: int) -> list[int]:
    """`[mtime_ns, size]` of `path`, or `[0, 0]` (never fresh) when it changed less than
    `RACY_NS` before `started` (time.time_ns() when the listing began)."""
    stat = os.stat(path)
    racy = stat.st_mtime_ns > started - RACY_NS
    return [0, 0] if racy else [stat.st_mtime_ns, stat.st_size]


def labels_at(labels: np.ndarray, ends: np.ndarray | None, index: int) -> tuple[int, ...]:
    """Labels of sample `index` from flat `labels` `(L,)` and end offsets `ends` `(N,)`
    (None: one label per sample)."""
    if ends is None:
        return (int(labels[index]),)
    start = int(ends[index - 1]) if index else 0
    return tuple(int(v) for v in labels[start : int(ends[index])])


def resolve_labels(
    tokens: list[str], raw: list[str | None] | None, where: str, numbered: bool = True
) -> tuple[list[str], np.ndarray]:
    """The source's classes and the class index of each label token `(T,)` (-1: unknown).

    A token is a wnid, or (with `numbered`) a decimal integer: the position of its wnid
    in the class list `raw` (label value or line number). Without `raw` the classes are
    the sorted wnids of the tokens; with it, its wnids (repeats merged, unused entries
    dropped).
    """
    if raw is None:
        numbers = [token for token in tokens if numbered and token.isdigit()]
        if numbers:
            raise DataError(
                f"{where}: integer labels (e.g. {numbers[0]}) need `classes`, the class "
                "list they index"
            )
        classes = sorted(set(tokens))
    else:
        classes = list(dict.fromkeys(w for w in raw if w))
    position = {wnid: i for i, wnid in enumerate(classes)}

    def wnid(token: str) -> str | None:
        if raw is None or not numbered or not token.isdigit():
            return token
        value = int(token)
        return raw[value] if value < len(raw) else None

    lut = np.array([position.get(wnid(t) or "", -1) for t in tokens], dtype=np.int64)
    return classes, lut


@dataclass
class SourceIndex:
    """The samples of one source as flat arrays.

    Sample `i` is file `names[i]` in folder `folders[folder_ids[i]]` (a folder relative to
    the source's root, or a tar shard's path); its labels are `labels_of(i)`.

    Attributes:
        classes: the source's classes (wnids); labels index this list.
        folders: the folders (or shards) samples are in, `(F,)`.
        folder_ids: `(N,)` int32, each sample's folder.
        names: `(B,)` uint8, the UTF-8 file names of all samples, concatenated.
        name_ends: `(N,)` int64, where each name ends in `names`.
        labels: `(L,)` int32 class indices, or None (labels from label maps).
        label_ends: `(N,)` int64 ends of each sample's labels; None: one label each.
        members: `(N, 2)` int64 byte offset and size of each image in its tar shard, or
            None (files).
        stamps: `{path: [mtime_ns, size]}` of what the listing read; 0 = changed too
            close to the listing to be trusted.
        damaged: files whose damage lost samples (skipped with a `DataWarning`); an
            index with any is never cached, so that every run warns again.
    """

    classes: list[str]
    folders: list[str]
    folder_ids: np.ndarray
    names: np.ndarray
    name_ends: np.ndarray
    labels: np.ndarray | None
    label_ends: np.ndarray | None
    members: np.ndarray | None
    stamps: dict[str, list[int]]
    damaged: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.name_ends)

    def name(self, index: int) -> str:
        """File name of sample `index` (within its folder or shard)."""
        start = int(self.name_ends[index - 1]) if index else 0
        return self.names[start : int(self.name_ends[index])].tobytes().decode("utf-8")

    def folder(self, index: int) -> str:
        """Folder (relative to the root) or shard of sample `index`."""
        return self.folders[int(self.folder_ids[index])]

    def labels_of(self, index: int) -> tuple[int, ...] | None:
        """Class indices of sample `index`, or None for a source without stored labels."""
        return None if self.labels is None else labels_at(self.labels, self.label_ends, index)

    def arrays(self) -> dict[str, np.ndarray]:
        """The per-sample arrays by name (those present)."""
        fields = ("folder_ids", "names", "name_ends", "labels", "label_ends", "members")
        found = {name: getattr(self, name) for name in fields}
        return {name: value for name, value in found.items() if value is not None}

    @property
    def nbytes(self) -> int:
        """Bytes held by the per-sample arrays."""
        return sum(a.nbytes for a in self.arrays().values())

    def save(self, path: Path) -> None:
        """Write to `path` (.npz) atomically; drops a stale `.checked` mark beside it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.with_suffix(".checked").unlink(missing_ok=True)
        meta = {
            "version": INDEX_VERSION,
            "classes": self.classes,
            "folders": self.folders,
            "stamps": self.stamps,
        }
        encoded = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
        arrays: dict[str, Any] = {"meta": encoded, **self.arrays()}
        with atomic_path(path) as partial, partial.open("wb") as file:
            np.savez(file, **arrays)

    @classmethod
    def load(cls, path: Path) -> SourceIndex:
        """Read an index written by `save` (ValueError/OSError when unreadable)."""
        with np.load(path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
        meta = json.loads(arrays.pop("meta").tobytes().decode("utf-8"))
        if meta["version"] != INDEX_VERSION:
            raise ValueError(f"index version {meta['version']}, expected {INDEX_VERSION}")
        return cls(
            classes=meta["classes"],
            folders=meta["folders"],
            folder_ids=arrays["folder_ids"],
            names=arrays["names"],
            name_ends=arrays["name_ends"],
            labels=arrays.get("labels"),
            label_ends=arrays.get("label_ends"),
            members=arrays.get("members"),
            stamps=meta["stamps"],
        )


class IndexBuilder:
    """Collects a listing sample by sample (compactly) and builds its `SourceIndex`.

    Labels are added as tokens (wnids, or integers indexing the class list) and
    resolved to class indices by `build`.
    """

    def __init__(self) -> None:
        self.folders: dict[str, int] = {}
        self.stamps: dict[str, list[int]] = {}
        self.tokens: dict[str, int] = {}
        self._names = bytearray()
        self._name_ends = array("q")
        self._folder_ids = array("i")
        self._labels = array("i")
        self._label_ends = array("q")
        self._members = array("q")
        self._started = time.time_ns()

    def folder(self, name: str) -> int:
        """The id of folder (or shard) `name`, added on first use."""
        return self.folders.setdefault(name, len(self.folders))

    def stamp(self, path: str | Path) -> None:
        """Record the modification time and size of `path` (a folder or file listed)."""
        self.stamps[os.path.abspath(path)] = stamp(path, self._started)

    def add(
        self,
        folder: int,
        name: str,
        tokens: Iterable[str] = (),
        member: tuple[int, int] | None = None,
    ) -> None:
        """Add sample `name` of folder id `folder`, with label tokens and its tar member."""
        self._folder_ids.append(folder)
        self._names += name.encode("utf-8")
        self._name_ends.append(len(self._names))
        for token in tokens:
            self._labels.append(self.tokens.setdefault(token, len(self.tokens)))
        self._label_ends.append(len(self._labels))
        if member is not None:
            self._members.extend(member)

    def build(
        self,
        raw_classes: list[str | None] | None,
        where: str,
        numbered: bool = True,
        single: bool = False,
        join: Callable[[str, str], str] = os.path.join,
    ) -> SourceIndex:
        """The index, labels resolved as `resolve_samples` does; `join(folder, name)` names
        a sample in errors."""
        index = SourceIndex(
            classes=[],
            folders=list(self.folders),
            folder_ids=np.frombuffer(self._folder_ids, dtype=np.int32),
            names=np.frombuffer(self._names, dtype=np.uint8),
            name_ends=np.frombuffer(self._name_ends, dtype=np.int64),
            labels=None,
            label_ends=None,
            members=np.frombuffer(self._members, dtype=np.int64).reshape(-1, 2)
            if self._members
            else None,
            stamps=self.stamps,
        )
        index.classes, index.labels, index.label_ends = resolve_samples(
            np.frombuffer(self._labels, dtype=np.int32),
            np.frombuffer(self._label_ends, dtype=np.int64),
            list(self.tokens),
            raw_classes,
            where,
            lambda i: join(index.folder(i), index.name(i)),
            numbered,
            single,
        )
        if not self.tokens:
            index.labels = index.label_ends = None
        return index


def resolve_samples(
    token_ids: np.ndarray,
    ends: np.ndarray,
    tokens: list[str],
    raw_classes: list[str | None] | None,
    where: str,
    describe: Callable[[int], str],
    numbered: bool = True,
    single: bool = False,
) -> tuple[list[str], np.ndarray, np.ndarray | None]:
    """Classes, labels and label ends of samples whose labels are tokens.

    Args:
        token_ids: `(L,)` each label as a position in `tokens`.
        ends: `(N,)` where each sample's labels end in `token_ids`.
        tokens: the distinct label tokens (see `resolve_labels`).
        raw_classes, numbered: the class list and how tokens name classes.
        where, describe: the source and sample `i`'s name, for errors.
        single: every sample must have exactly one label (single-label sources).

    Returns:
        The classes, each sample's class indices sorted without repeats `(L',)` int32
        and their ends `(N,)` (None when every sample has exactly one). DataError names
        a sample whose labels are not classes, or that has not one label when `single`.
    """
    classes, lut = resolve_labels(tokens, raw_classes, where, numbered)
    labels = lut[token_ids]
    if (labels < 0).any():
        first = int(np.searchsorted(ends, int(np.argmax(labels < 0)), "right"))
        span = slice(int(ends[first - 1]) if first else 0, int(ends[first]))
        unknown = sorted({tokens[t] for t in token_ids[span][labels[span] < 0]})
        raise DataError(f"{where}: labels {unknown[:5]} of {describe(first)} are not in `classes`")
    labels, ends_or_none = canonical_labels(labels, ends)
    if single and ends_or_none is not None:
        first = int(np.argmax(np.diff(ends_or_none, prepend=0) != 1))
        raise DataError(
            f"{where}: {describe(first)} has {len(labels_at(labels, ends_or_none, first))} "
            "labels; a singlelabel source needs exactly one per sample (or use multilabel)"
        )
    return classes, labels, ends_or_none


def canonical_labels(labels: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Each sample's labels sorted without repeats: int32 `(L',)` and their ends `(N,)`,
    or None for the ends when every sample has exactly one label."""
    counts = np.diff(ends, prepend=0)
    if (counts == 1).all():
        return labels.astype(np.int32), None
    sample = np.repeat(np.arange(len(ends)), counts)
    order = np.lexsort((labels, sample))
    labels, sample = labels[order], sample[order]
    keep = np.ones(len(labels), dtype=bool)
    keep[1:] = (labels[1:] != labels[:-1]) | (sample[1:] != sample[:-1])
    labels, sample = labels[keep].astype(np.int32), sample[keep]
    counts = np.bincount(sample, minlength=len(ends))
    return labels, None if (counts == 1).all() else np.cumsum(counts)


def index_path(config: DataSourceConfig, index_dir: str | Path) -> Path:
    """Where the index of `config` is cached: `<index_dir>/<hash of its listing fields>.npz`."""
    fields: dict[str, Any] = {"version": INDEX_VERSION}
    for name in LISTING_FIELDS:
        value = getattr(config, name)
        is_path = name in ("images", "annotations", "labels_file") or (
            name == "classes" and isinstance(value, str)
        )
        fields[name] = os.path.abspath(value) if is_path and value else value
    key = hashlib.sha256(json.dumps(fields, sort_keys=True).encode("utf-8")).hexdigest()
    return Path(index_dir).expanduser() / f"{key[:32]}.npz"


def changed(stamps: dict[str, list[int]]) -> str | None:
    """The first stamped path whose modification time or size changed (or that is gone)."""
    for path, (mtime, size) in stamps.items():
        try:
            stat = os.stat(path)
        except OSError:
            return path
        if mtime == 0 or stat.st_mtime_ns != mtime or stat.st_size != size:
            return path
    return None


def load_index(path: Path, where: str) -> SourceIndex | None:
    """The index cached at `path`, or None when missing, out of date (logged) or damaged
    (empty, truncated, corrupt: a `DataWarning`, and the source is listed again)."""
    if not path.is_file():
        return None
    try:
        index = SourceIndex.load(path)
        stale = changed(index.stamps)
    except Exception as err:  # a damaged cache is never trusted, whatever numpy/zipfile raise
        warnings.warn(
            f"{where}: index cache {path} is damaged ({type(err).__name__}: {err}); listing "
            "the source again",
            DataWarning,
            stacklevel=2,
        )
        return None
    if stale is not None:
        log.info("%s: %s changed since it was indexed; listing the source again", where, stale)
        return None
    return index
