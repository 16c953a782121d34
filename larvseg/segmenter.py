"""`LarvSeg`: the user-facing segmenter (load, segment, save)."""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import torch

from .config import DEFAULT_MODEL, ModelConfig
from .distributed import resolve_device
from .errors import InputError
from .modeling.model import LarvSegModel
from .pipeline.image import ImageFile, ImageInput, describe_input, load_image
from .pipeline.labeling import ItemAssignment, assign_items
from .pipeline.loader import FailedImage, LoadedImage, load_batches
from .pipeline.network import DenseNetwork
from .pipeline.predict import PredictOptions, check_count, input_transform, predict_labels
from .result import Segmentation
from .vocab.vocabulary import Category, Vocabulary

HALF_DTYPES = {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp16": torch.float16}


def resolve_dtype(dtype: str | torch.dtype | None) -> torch.dtype | None:
    """None/float32 -> None (full precision); "bf16"/torch.bfloat16 (or fp16) -> that dtype."""
    if dtype is None or dtype in (torch.float32, "fp32", "float32"):
        return None
    if isinstance(dtype, str):
        if dtype not in HALF_DTYPES:
            raise InputError(f"dtype={dtype!r} is not one of fp32, bf16, fp16")
        return HALF_DTYPES[dtype]
    if dtype not in (torch.bfloat16, torch.float16):
        raise InputError(f"dtype={dtype} is not float32, bfloat16 or float16")
    return dtype


@dataclass(frozen=True)
class FileResult:
    """One file of `LarvSeg.segment_files`: its segmentation, or why it has none."""

    file: ImageFile
    segmentation: Segmentation | None
    error: str | None


class LarvSeg:
    """Large-vocabulary semantic segmenter over WordNet categories.

    Args:
        model: the network: a `LarvSegModel`, or another `DenseNetwork` such as an
            exported model run by onnxruntime (`larvseg.export.onnx.OnnxNetwork`),
            which stays on its own device.
        device: "auto", "cpu", "cuda", "cuda:1", ... (a `LarvSegModel` only)
        dtype: None (fp32) or torch.bfloat16 / "bf16" to run under autocast; the
            weights stay in float32.
    """

    def __init__(
        self,
        model: LarvSegModel | DenseNetwork,
        device: str | torch.device = "auto",
        dtype: str | torch.dtype | None = None,
    ) -> None:
        self.autocast_dtype = resolve_dtype(dtype)
        self.model: LarvSegModel | DenseNetwork
        if isinstance(model, LarvSegModel):
            self.device = resolve_device(device)
            self.model = model.eval().to(self.device)
        else:
            self.device, self.model = model.device, model

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | Path = DEFAULT_MODEL,
        device: str | torch.device = "auto",
        dtype: str | torch.dtype | None = None,
    ) -> LarvSeg:
        """Load a larvseg checkpoint or a timm ImageNet classifier from a folder or the hub,
        or an exported `.onnx` file.

        `name_or_path` is a local folder or a Hugging Face hub id (downloaded through
        huggingface_hub's cache; `HF_HUB_OFFLINE=1` uses the cache only). A timm classifier
        such as the default `timm/vit_base_patch16_224.augreg_in21k` becomes a dense
        classifier: its head applied to every patch token. A file ending in `.onnx`
        (written by `larvseg export`) runs with onnxruntime on the CPU whatever
        `device` says (the `onnx` extra), in float32, through the same preprocessing
        and decoding.
        """
        if str(name_or_path).endswith(".onnx"):
            from .export.onnx import OnnxNetwork  # needs the onnx extra

            if resolve_dtype(dtype) is not None:
                raise InputError(f"{name_or_path} runs in float32: drop dtype (--bf16)")
            return cls(OnnxNetwork(name_or_path))
        return cls(LarvSegModel.from_pretrained(name_or_path), device=device, dtype=dtype)

    def save_pretrained(self, save_directory: str | Path) -> None:
        """Write `config.json` + `model.safetensors` (loadable by `from_pretrained`)."""
        self._checkpoint_model().save_pretrained(save_directory)

    def push_to_hub(self, repo_id: str, **kwargs: Any) -> str:
        """Upload the checkpoint (and a model card) to the Hugging Face hub; `kwargs` go to
        `huggingface_hub.HfApi.upload_folder` (see `LarvSegModel.push_to_hub`)."""
        return str(self._checkpoint_model().push_to_hub(repo_id, **kwargs))

    def _checkpoint_model(self) -> LarvSegModel:
        if not isinstance(self.model, LarvSegModel):
            raise InputError(
                f"a {type(self.model).__name__} has no checkpoint to save; save the "
                "LarvSegModel it was exported from"
            )
        return self.model

    @property
    def config(self) -> ModelConfig:
        """The model's `ModelConfig`."""
        return self.model.config

    @functools.cached_property
    def vocabulary(self) -> Vocabulary:
        """The model's categories as a `Vocabulary` (resolution, hyponyms, search)."""
        return Vocabulary(self.model.config.categories)

    @property
    def categories(self) -> list[Category]:
        """The model's categories in class-index order."""
        return self.vocabulary.categories

    def resolve_vocab(
        self, vocab: Sequence[Any] | None, mode: str = "closed"
    ) -> tuple[ItemAssignment, list[Category]]:
        """The class -> item mapping for `vocab` (None = every model category is an item)
        and the items; raises `VocabularyError` for an unusable vocabulary."""
        return assign_items(self.vocabulary, vocab, mode)

    @overload
    def segment(
        self,
        image: ImageInput,
        vocab: Sequence[Any] | None = ...,
        mode: str = ...,
        *,
        size: int | None = ...,
        window: int | None = ...,
        window_step: int | None = ...,
        stride: int | None = ...,
        batch_size: int | None = ...,
        k: int | None = ...,
        preselect: int | None = ...,
    ) -> Segmentation: ...

    @overload
    def segment(
        self,
        image: list[ImageInput],
        vocab: Sequence[Any] | None = ...,
        mode: str = ...,
        *,
        size: int | None = ...,
        window: int | None = ...,
        window_step: int | None = ...,
        stride: int | None = ...,
        batch_size: int | None = ...,
        k: int | None = ...,
        preselect: int | None = ...,
    ) -> list[Segmentation]: ...

    def segment(
        self,
        image: ImageInput | list[ImageInput],
        vocab: Sequence[Any] | None = None,
        mode: str = "closed",
        *,
        size: int | None = None,
        window: int | None = None,
        window_step: int | None = None,
        stride: int | None = None,
        batch_size: int | None = None,
        k: int | None = 8,
        preselect: int | None = None,
    ) -> Segmentation | list[Segmentation]:
        """Segment one image (or a list of images) into WordNet categories.

        Args:
            image: a path, a file's bytes, PIL image, numpy array (HxW, HxWx3, HxWx4;
                uint8, uint16 or float in [0, 1]) or a CHW torch tensor; or a list of them.
            vocab: what to segment: synset names ("dog.n.01"), wnids ("n02084071"), nltk
                Synsets or plain words; each covers itself and all its hyponyms among the
                model's categories. None = all model categories.
            mode: "closed": every pixel gets one of `vocab`; "open": decide over all
                categories and mark pixels won by a category under no item of `vocab` as
                unlabeled (-1).
            size: short side in pixels the image is resized to (default the model's
                `image_size`); larger inputs are covered by `size x size` sliding windows.
            window, window_step: the sliding windows' side (default `size`) and step
                (default 2/3 of the window), multiples of the patch size.
            stride: patch-embedding stride in pixels, a divisor of the patch size `p`
                (default `p`): at `p / 2` the network embeds overlapping patches every
                `p / 2` pixels and decides on a 4 times denser grid, without retraining,
                for about 4-16 times the compute.
            batch_size: at most this many windows per forward pass (the windows of all
                images in a list batch together); None = as many as the device's memory
                holds: half the free CUDA memory, 1.5 GiB on a CPU (four 512-pixel windows
                of ViT-B/16 with 21K classes).
            k: decoding candidates per patch; None = the exact argmax of the upsampled
                logits.
            preselect: only the image's top `preselect` categories by the network's
                image-level logits (class token or pooled features; each sliding
                window's, united per image) compete at each pixel; in open mode pixels
                won by another category are unlabeled. None (default): all compete.

        Raises `InputError` for a bad option (see `PredictOptions`).

        Returns:
            A `Segmentation` (a list of them for a list input) at the input's resolution.
        """
        images = image if isinstance(image, list) else [image]
        assignment, items = self.resolve_vocab(vocab, mode)
        arrays = [load_image(x) for x in images]
        options = PredictOptions(
            size=size,
            window=window,
            window_step=window_step,
            stride=stride,
            batch_size=batch_size,
            k=k,
            autocast_dtype=self.autocast_dtype,
            preselect=preselect,
        )
        predictions = predict_labels(self.model, arrays, assignment, options)
        results = [
            Segmentation.from_items(
                labels, scores, items, arr, self.vocabulary, source=describe_input(src)
            )
            for arr, (labels, scores), src in zip(arrays, predictions, images, strict=True)
        ]
        return results if isinstance(image, list) else results[0]

    def segment_files(
        self,
        files: Iterable[str | os.PathLike[str] | ImageFile],
        vocab: Sequence[Any] | None = None,
        mode: str = "closed",
        *,
        size: int | None = None,
        window: int | None = None,
        window_step: int | None = None,
        stride: int | None = None,
        k: int | None = 8,
        images_per_batch: int = 8,
        windows_per_pass: int = 8,
        num_workers: int | None = None,
        batch_size: int | None = None,
        preselect: int | None = None,
    ) -> Iterator[FileResult]:
        """Segment many image files, decoding them in worker processes while the model runs.

        Files are read `images_per_batch` at a time by `num_workers` DataLoader workers
        (decode, resize, normalise); the windows of a batch's images run together,
        `windows_per_pass` per forward pass. Results come in file order, each as soon as
        its batch is decoded; an unreadable file gives a result with its error instead
        of stopping the run.

        Args:
            files: paths (`str` or `os.PathLike`, `~` expanded; a result's `file.name` is
                the stem) or `ImageFile`s (a path and the name its outputs get, as
                `larvseg segment` makes them for folders).
            vocab, mode, size, window, window_step, stride, k, preselect: as in
                `segment()`.
            images_per_batch: files decoded together.
            windows_per_pass: windows per forward pass (`segment()`'s `batch_size`).
            num_workers: decoding processes; None = 2 beside a GPU, none beside a CPU
                model, whose cores they would take.
            batch_size: deprecated (FutureWarning): sets both `images_per_batch` and
                `windows_per_pass`, as it did before.

        Yields:
            A `FileResult` per file.
        """
        if batch_size is not None:
            warnings.warn(
                "segment_files(batch_size=...) is deprecated: use images_per_batch (files "
                "decoded together) and windows_per_pass (windows per forward pass)",
                FutureWarning,
                stacklevel=2,
            )
            images_per_batch = windows_per_pass = batch_size
        check_count("images_per_batch", images_per_batch)
        check_count("windows_per_pass", windows_per_pass)
        if num_workers is None:
            num_workers = 2 if self.device.type == "cuda" else 0
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise InputError(f"num_workers={num_workers!r} must be 0 or more")
        options = PredictOptions(
            size=size,
            window=window,
            window_step=window_step,
            stride=stride,
            batch_size=windows_per_pass,
            k=k,
            autocast_dtype=self.autocast_dtype,
            preselect=preselect,
        )
        assignment, items = self.resolve_vocab(vocab, mode)
        return self._segment_files(
            [f if isinstance(f, ImageFile) else ImageFile.from_path(f) for f in files],
            assignment,
            items,
            options,
            images_per_batch,
            num_workers,
        )

    def _segment_files(
        self,
        files: list[ImageFile],
        assignment: ItemAssignment,
        items: list[Category],
        options: PredictOptions,
        images_per_batch: int,
        num_workers: int,
    ) -> Iterator[FileResult]:
        transform = input_transform(self.model, options.size)
        loader = load_batches(
            files, transform, images_per_batch=images_per_batch, num_workers=num_workers
        )
        for batch in loader:
            ready = [b for b in batch if isinstance(b, LoadedImage)]
            images, inputs = [b.image for b in ready], [b.input for b in ready]
            predictions = iter(
                predict_labels(self.model, images, assignment, options, inputs=inputs)
                if ready
                else []
            )
            for b in batch:
                if isinstance(b, FailedImage):
                    yield FileResult(b.file, None, b.error)
                    continue
                labels, scores = next(predictions)
                result = Segmentation.from_items(
                    labels, scores, items, b.image, self.vocabulary, source=str(b.file.path)
                )
                yield FileResult(b.file, result, None)
