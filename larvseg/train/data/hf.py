"""Hugging Face datasets as an image-level source (`format: hf`), memory-mapped Arrow on disk.

`images` is a folder written by `datasets.Dataset.save_to_disk` (one split; a
`DatasetDict` folder holds one such folder per split). Its `image` column (an `Image`
feature: encoded bytes or a file path) holds the pictures and its `label` (or `labels`)
column their labels: integers (a `ClassLabel`, whose names are the classes unless
`classes` is given, which they then index), wnids, or lists of either (multilabel).
Arrow is random access, so no index file is written: the labels column is read once
(without the images) and samples are read by row.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ...errors import DataError, ImageError
from ...evaluation.labelmaps import read_class_list
from ...pipeline.image import load_image
from .formats import decode_image, extra_module
from .index import DataWarning, labels_at, resolve_samples

if TYPE_CHECKING:
    from ..config import DataSourceConfig

IMAGE_COLUMN = "image"
STATE_FILE, INFO_FILE = "state.json", "dataset_info.json"  # save_to_disk's metadata
LABEL_COLUMNS = ("label", "labels")


def _open(folder: str, where: str, bad_samples: Literal["skip", "fail"]) -> Any:
    """The `datasets.Dataset` saved in `folder`; DataError for anything else, naming the
    damaged file of a damaged one (see `_open_damaged`)."""
    datasets = extra_module("datasets", where)
    try:
        dataset = datasets.load_from_disk(folder)
    except FileNotFoundError as err:
        raise DataError(
            f"{where}: {folder} is not a dataset written by save_to_disk ({err}); convert one "
            "with datasets.load_dataset(...).save_to_disk(folder)"
        ) from err
    except (OSError, ValueError) as err:  # a damaged Arrow file (ArrowInvalid) or JSON metadata
        dataset = _open_damaged(datasets, Path(folder), where, bad_samples, err)
    if isinstance(dataset, datasets.DatasetDict):
        raise DataError(
            f"{where}: {folder} holds the splits {list(dataset)}; point `images` at one of "
            f"them, e.g. {Path(folder) / next(iter(dataset))}"
        )
    return dataset


def _open_damaged(
    datasets: Any, folder: Path, where: str, bad_samples: Literal["skip", "fail"], err: Exception
) -> Any:
    """Find what `load_from_disk` could not read: a metadata file (DataError naming it) or
    Arrow files (DataError naming the first; with `bad_samples="skip"`, the others are
    read and a `DataWarning` counts the files skipped and the rows read)."""
    again = "write it again with save_to_disk"
    parsed = {}
    for name in (STATE_FILE, INFO_FILE):
        try:
            parsed[name] = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError) as bad:
            raise DataError(
                f"{where}: {folder / name} is damaged ({_describe(bad)}); {again}"
            ) from bad
    try:
        files = [str(entry["filename"]) for entry in parsed[STATE_FILE]["_data_files"]]
    except (KeyError, TypeError) as bad:
        raise DataError(
            f"{where}: {folder / STATE_FILE} does not list the Arrow files ({_describe(bad)}); "
            f"{again}"
        ) from bad
    good, damaged = [], {}
    for name in files:
        try:
            good.append(datasets.Dataset.from_file(str(folder / name)))
        except (OSError, ValueError) as bad:
            damaged[name] = _describe(bad)
    if not damaged:
        raise DataError(
            f"{where}: the dataset in {folder} is damaged ({_describe(err)}); {again}"
        ) from err
    first = next(iter(damaged))
    message = (
        f"{where}: {len(damaged)} of the {len(files)} Arrow files of {folder} are damaged, "
        f"e.g. {folder / first} ({damaged[first]})"
    )
    if bad_samples == "fail" or not good:
        raise DataError(
            f"{message}; {again}"
            + (", or set data.bad_samples: skip to read the others" if good else "")
        ) from err
    dataset = datasets.concatenate_datasets(good)
    warnings.warn(
        f"{message}; skipped (data.bad_samples: skip): {len(dataset)} rows read from the others",
        DataWarning,
        stacklevel=3,
    )
    return dataset


def _describe(err: Exception) -> str:
    """An exception as `Type: message` on one line (pyarrow's messages name the file)."""
    return f"{type(err).__name__}: {' '.join(str(err).split())}"


def _class_names(feature: Any) -> list[str | None] | None:
    """The names of a `ClassLabel` feature (or of the items of a list of them), else None."""
    item = getattr(feature, "feature", None)
    names = getattr(feature, "names", None) or getattr(item, "names", None)
    return list(names) if names else None


class HFSamples:
    """The samples of a `format: hf` source: rows of a memory-mapped Arrow dataset."""

    def __init__(
        self, config: DataSourceConfig, where: str, bad_samples: Literal["skip", "fail"] = "fail"
    ) -> None:
        pa, compute = extra_module("pyarrow", where), extra_module("pyarrow.compute", where)
        datasets = extra_module("datasets", where)
        self.folder = config.images
        dataset = _open(config.images, where, bad_samples)
        columns = [c for c in LABEL_COLUMNS if c in dataset.column_names]
        if IMAGE_COLUMN not in dataset.column_names or not columns:
            raise DataError(
                f"{where}: {config.images} has columns {dataset.column_names}; expected "
                f"{IMAGE_COLUMN!r} and one of {list(LABEL_COLUMNS)}"
            )
        try:
            column = dataset.data.column(columns[0]).combine_chunks()
        except (OSError, ValueError) as err:
            raise DataError(
                f"{where}: cannot read the labels of {config.images} ({_describe(err)}); write "
                "the dataset again with save_to_disk"
            ) from err
        if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
            counts = compute.list_value_length(column).fill_null(0).to_numpy()
            values = compute.list_flatten(column)
        else:
            counts, values = np.ones(len(column), dtype=np.int64), column
        if values.null_count:
            raise DataError(f"{where}: column {columns[0]!r} of {config.images} has empty labels")
        encoded = compute.dictionary_encode(values)
        raw = read_class_list(config.classes, where) or _class_names(dataset.features[columns[0]])
        self.classes, self.label_values, self.label_ends = resolve_samples(
            encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64),
            np.cumsum(counts),
            [str(v) for v in encoded.dictionary.to_pylist()],
            raw,
            where,
            self.path,
            single=config.kind == "singlelabel",
        )
        image = datasets.Image(decode=False)
        self.dataset = dataset.cast_column(IMAGE_COLUMN, image).select_columns([IMAGE_COLUMN])

    def __len__(self) -> int:
        return len(self.dataset)

    def path(self, index: int) -> str:
        """`<folder>[<row>]` of sample `index`."""
        return f"{self.folder}[{index}]"

    def labels(self, index: int) -> tuple[int, ...]:
        return labels_at(self.label_values, self.label_ends, index)

    def label_map(self, index: int) -> None:
        """Hugging Face sources have no label maps."""
        return None

    def _cell(self, index: int) -> dict[str, Any]:
        try:
            cell = self.dataset[index][IMAGE_COLUMN]
        except (OSError, ValueError) as err:  # the row's Arrow data is damaged
            raise ImageError(f"{self.path(index)}: cannot read the row ({_describe(err)})") from err
        if not cell or not (cell.get("bytes") or cell.get("path")):
            raise ImageError(f"{self.path(index)}: the row has no image")
        return cell

    def image(self, index: int) -> np.ndarray:
        """`(H, W, 3)` uint8 RGB pixels of sample `index`; ImageError when unreadable."""
        cell = self._cell(index)
        if cell.get("bytes"):
            return decode_image(cell["bytes"], self.path(index))
        return load_image(cell["path"], name=self.path(index))

    def check(self, index: int) -> None:
        """DataError when row `index` has no image (neither bytes nor a path)."""
        try:
            self._cell(index)
        except ImageError as err:
            raise DataError(str(err)) from err
