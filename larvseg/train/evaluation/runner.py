"""Evaluation (method.md section 4): single scale, sliding windows, no CRF.

Each normalised image is resized (short side to `short_side`, bilinear), scored by overlapping
`window x window` crops (both default to the model's `image_size`, 512 for the paper's
models; stride 2/3 of the window), the logits of the evaluated classes are upsampled bilinearly
to the original label size and the argmax is compared with the label map. Metrics
are in `metrics.py`: mIoU over all, base and novel classes, pixel accuracy.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..hub import load_model
from ..inference import sliding_window_logits
from ..model import LarvSegModel
from ..preprocess import model_input_size
from ..wordnet_table import WordNetTable
from .config import TrainConfig
from .data import DataSourceConfig, build_dataset, read_class_list
from .metrics import ConfusionMatrix, EvalResult
from .transforms import IGNORE_INDEX

STRIDE_RATIO = 2 / 3  # mmseg's 341 for 512 windows; rounded down to whole patches
UPSAMPLE_CHUNK = 32  # classes upsampled to label resolution at once


class EvaluationError(ValueError):
    """Evaluation inputs that do not fit together; the message names the input."""


class EvalDataset(Protocol):
    """What `evaluate` reads, as `build_dataset(..., train=False)` gives it.

    Item `i`: `{"image": (3, H, W) float32 normalised, "target": (H, W) int64 class
    indices, `IGNORE_INDEX` (-1) = ignore}`, or None for an unreadable image (skipped).
    """

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> dict[str, Any] | None: ...


def upsampled_argmax(logits: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Exact argmax of bilinearly upsampled logits, upsampling a few classes at a time.

    Args:
        logits: `(K, h, w)` float logits at feature resolution.
        size: `(H, W)` output size.

    Returns:
        `(H, W)` int64 on the logits' device, equal to
        `F.interpolate(logits[None], size, mode="bilinear")[0].argmax(0)` (ties go to the
        lowest index), in `O(UPSAMPLE_CHUNK * H * W)` memory.
    """
    best = torch.full(size, -torch.inf, device=logits.device)
    index = torch.zeros(size, dtype=torch.long, device=logits.device)
    for start in range(0, logits.shape[0], UPSAMPLE_CHUNK):
        chunk = F.interpolate(
            logits[None, start : start + UPSAMPLE_CHUNK].float(),
            size=size,
            mode="bilinear",
            align_corners=False,
        )[0]
        values, indices = chunk.max(dim=0)
        better = values > best
        best = torch.where(better, values, best)
        index = torch.where(better, indices + start, index)
    return index


def base_flags(wnids: Sequence[str], base: set[str] | Sequence[bool]) -> list[bool]:
    """Base flag of each evaluated class, from a set of base wnids or one flag per class."""
    if isinstance(base, (set, frozenset)):
        return [wnid in base for wnid in wnids]
    flags = [bool(b) for b in base]
    if len(flags) != len(wnids):
        raise EvaluationError(f"base has {len(flags)} flags for {len(wnids)} evaluated classes")
    return flags


def synset_names(wnids: Sequence[str]) -> list[str]:
    """Synset names ("dog.n.01") from the packaged WordNet table; "" where unknown."""
    table = WordNetTable.packaged()
    return [table.records[table.rows[w]].name if w in table.rows else "" for w in wnids]


@torch.inference_mode()
def predict(
    model: LarvSegModel,
    image: torch.Tensor,
    size: tuple[int, int],
    class_ids: torch.Tensor,
    *,
    short_side: int,
    window: int,
    stride: int | None = None,
    full_vocabulary: bool = False,
) -> torch.Tensor:
    """Predicted evaluated-class index `(H, W)` int64 of one normalised image `(3, H0, W0)`.

    `size` is the label size `(H, W)` the logits are upsampled to; stride None = 2/3 of
    the window. With `full_vocabulary`
    the cosine scores are normalised over all model classes, then subset to `class_ids`;
    otherwise only `class_ids` are scored (and normalised among themselves).
    """
    p = model.patch_size
    stride = max(p, int(stride or window * STRIDE_RATIO) // p * p)
    device = next(model.parameters()).device
    model_size = model_input_size(int(image.shape[-2]), int(image.shape[-1]), short_side, p)
    x = image.reshape(1, 3, *image.shape[-2:]).to(device)
    x = F.interpolate(x, size=model_size, mode="bilinear", align_corners=False)
    if full_vocabulary:
        logits = sliding_window_logits(model, x, window, stride)[:, class_ids.to(device)]
    else:
        logits = sliding_window_logits(model, x, window, stride, class_ids.to(device))
    return upsampled_argmax(logits[0], size).cpu()


def evaluate(
    model: LarvSegModel,
    dataset: EvalDataset,
    class_ids: torch.Tensor,
    base: set[str] | Sequence[bool],
    *,
    short_side: int | None = None,
    window: int | None = None,
    stride: int | None = None,
    full_vocabulary: bool = False,
    ignore_index: int = IGNORE_INDEX,
    device: str | torch.device = "cpu",
    progress: bool = True,
    name: str = "",
) -> EvalResult:
    """mIoU (all / base / novel), pixel accuracy and per-class IoU of `model` on `dataset`.

    Args:
        model: the model; put in eval mode on `device`.
        dataset: items `{"image": (3, H, W) normalised, "target": (H, W) ints}` (None:
            skipped); target value `k` is evaluated class `k`, `ignore_index` is not counted.
        class_ids: `(K,)` int64 model class index of each evaluated class.
        base: the base wnids, or one flag per evaluated class.
        short_side: images are resized so their short side is this (bilinear, on the
            normalised image, as mmseg resizes before normalising); None = the
            model's `image_size`.
        window: sliding-window side in pixels (a multiple of the patch size); None =
            the model's `image_size`.
        stride: window step in pixels (rounded down to whole patches); None = 2/3 of
            the window.
        full_vocabulary: normalise scores over all model classes, then subset
            (method.md section 1); default: over the evaluated classes only (the
            paper's setting, where the model's vocabulary is the dataset's).
        ignore_index: target value of unlabelled pixels (`IGNORE_INDEX`, -1).
        device: where the model runs.
        progress: show a tqdm bar.
        name: dataset name shown in the result.
    """
    categories = model.config.categories
    short_side = short_side or model.config.image_size
    window = window or model.config.image_size
    class_ids = torch.as_tensor(class_ids, dtype=torch.long).flatten()
    if class_ids.numel() == 0:
        raise EvaluationError("class_ids is empty: nothing to evaluate")
    if int(class_ids.min()) < 0 or int(class_ids.max()) >= len(categories):
        raise EvaluationError(f"class_ids must lie in [0, {len(categories)}) (the model's classes)")
    if window % model.patch_size:
        raise EvaluationError(f"window {window} is not a multiple of the patch {model.patch_size}")
    wnids = [categories[i] for i in class_ids.tolist()]
    flags = base_flags(wnids, base)
    model.eval().to(device)
    confusion = ConfusionMatrix(len(wnids), ignore_index)
    skipped = 0
    for index in tqdm(range(len(dataset)), desc=f"eval {name}".strip(), disable=not progress):
        item = dataset[index]
        if item is None:
            skipped += 1
            continue
        target = item["target"]
        pred = predict(
            model,
            item["image"],
            (int(target.shape[0]), int(target.shape[1])),
            class_ids,
            short_side=short_side,
            window=window,
            stride=stride,
            full_vocabulary=full_vocabulary,
        )
        confusion.update(pred, target)
    return EvalResult.from_confusion(
        confusion, wnids, flags, synset_names(wnids), dataset=name, skipped=skipped
    )


@dataclass(frozen=True)
class EvalReport:
    """The results of every evaluated data source, in configuration order."""

    results: list[EvalResult]

    def __str__(self) -> str:
        return "\n\n".join(result.format_table() for result in self.results)

    def to_json(self, indent: int | None = 2) -> str:
        """`{source name: EvalResult.to_dict()}` as JSON text."""
        return json.dumps({r.dataset: r.to_dict() for r in self.results}, indent=indent)


def model_class_ids(categories: Sequence[str], wnids: Sequence[str], source: str) -> torch.Tensor:
    """`(K,)` model class index of each of a source's classes (matched by wnid)."""
    index = {wnid: i for i, wnid in enumerate(categories)}
    missing = [w for w in wnids if w not in index]
    if missing:
        raise EvaluationError(
            f"evaluation source {source!r}: {len(missing)} of its classes are not categories of "
            f"the model: {', '.join(missing[:10])}{', ...' if len(missing) > 10 else ''}"
        )
    return torch.tensor([index[w] for w in wnids], dtype=torch.long)


def base_wnids(training: Sequence[DataSourceConfig]) -> set[str]:
    """Every wnid of the class lists of the training segmentation sources (no file scan)."""
    base: set[str] = set()
    for source in training:
        classes = read_class_list(source.classes, f"data source {source.name!r}")
        if classes is None:
            raise EvaluationError(
                f"data source {source.name!r}: segmentation sources need `classes` "
                "(label value -> wnid) to tell base classes from novel ones"
            )
        base.update(w for w in classes if w)
    return base


def run_evaluation(
    config: TrainConfig,
    checkpoint: str | None = None,
    *,
    sources: Sequence[DataSourceConfig] | None = None,
    short_side: int | None = None,
    window: int | None = None,
    stride: int | None = None,
    full_vocabulary: bool = False,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> EvalReport:
    """Evaluate a trained model on segmentation data (what `larvseg-train --eval-only` runs).

    Args:
        config: the training configuration; its segmentation sources define the base
            classes (every wnid with masks in training).
        checkpoint: model folder or hub id; default `OUTPUT_DIR/model`.
        sources: the data to evaluate on; default the configuration's segmentation
            sources (read without augmentation, at original resolution).
        short_side, window, stride, full_vocabulary: as in `evaluate`.
        device: default CUDA when available, else CPU.
        progress: show a progress bar per source.
    """
    model = load_model(checkpoint or str(Path(config.output_dir) / "model"))
    mean, std = model.config.mean, model.config.std
    training = [s for s in config.data.sources if s.kind == "segmentation"]
    base = base_wnids(training)
    sources = training if sources is None else list(sources)
    if not sources:
        raise EvaluationError(
            "nothing to evaluate: the configuration has no segmentation source in data.sources"
        )
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    results = []
    for source in sources:
        dataset = build_dataset(source, mean, std, train=False)
        class_ids = model_class_ids(model.config.categories, dataset.classes, source.name)
        results.append(
            evaluate(
                model,
                dataset,
                class_ids,
                base,
                short_side=short_side,
                window=window,
                stride=stride,
                full_vocabulary=full_vocabulary,
                device=device,
                progress=progress,
                name=source.name,
            )
        )
    return EvalReport(results)
