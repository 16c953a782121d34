"""Where the CA-Classifier's attention goes: its mass inside the true region of the label.

For a weak (image-level) label `l` of an image whose true mask is known, the
CA attention `A (h, w)` (exactly as training computes it, `CAClassifierLoss.attention`)
puts a share `sum_p A(p) r(p) / sum_p A(p)` of its mass on the region of `l`, where
`r(p)` is the fraction of patch `p` covered by `l`. Attention that ignores the image
gets the region's share of the image, `mean_p r(p)` (chance).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ...modeling.model import LarvSegModel
from ...pipeline.preprocess import normalize, resize_to_model
from ..data.dataset import SourceDataset
from ..data.formats import IGNORE_INDEX
from .attention import CAClassifierLoss
from .memory_bank import MemoryBank


@dataclass(frozen=True)
class AttentionShare:
    """Mean over (image, label) pairs whose label bank is ready.

    Attributes:
        pairs: pairs measured.
        attention: share of attention mass inside the label's true region.
        area: the region's share of the image (what attention blind to the image gets).
        novel_pairs, novel_attention, novel_area: the same over pairs of novel labels.
    """

    pairs: int
    attention: float
    area: float
    novel_pairs: int
    novel_attention: float
    novel_area: float

    def format_table(self) -> str:
        """The shares in percent, over all pairs and over those of novel labels."""
        rows = [
            ("all", self.pairs, self.attention, self.area),
            ("novel", self.novel_pairs, self.novel_attention, self.novel_area),
        ]
        lines = [f"{'labels':<6}  {'pairs':>6}  {'attention':>9}  {'area (chance)':>13}"]
        lines += [f"{n:<6}  {p:>6}  {_pct(a):>9}  {_pct(r):>13}" for n, p, a, r in rows]
        return "\n".join(lines)


def region_fractions(
    target: torch.Tensor, labels: torch.Tensor, grid: tuple[int, int]
) -> torch.Tensor:
    """Fraction of each cell of a `grid` (h, w) over the image covered by each label:
    `(L, h, w)` float (area pooling; exact cells when the sides are multiples of it).

    target `(H, W)` class indices, labels `(L,)`.
    """
    masks = (target[None] == labels[:, None, None]).float()
    return F.adaptive_avg_pool2d(masks[:, None], grid)[:, 0]


def attention_items(
    dataset: SourceDataset, model: LarvSegModel, limit: int | None = None
) -> Iterator[dict[str, torch.Tensor]]:
    """The first `limit` (None: all) readable images of a source with label maps, as
    `attention_share` reads them: the image resized as `segment()` does (short side
    the model's `image_size`, sides whole patches) and normalised, with its target at
    the original size."""
    count = len(dataset) if limit is None else min(limit, len(dataset))
    config = model.config
    for index in range(count):
        item = dataset.read(index)
        if item is None or item[1] is None:
            continue
        pixels = resize_to_model(item[0], config.image_size, model.patch_size)
        yield {
            "image": normalize(pixels, config.mean, config.std),
            "target": torch.from_numpy(item[1]),
        }


@torch.inference_mode()
def attention_share(
    model: LarvSegModel,
    bank: MemoryBank,
    ca_loss: CAClassifierLoss,
    items: Iterable[dict[str, torch.Tensor]],
    class_ids: torch.Tensor,
    novel: torch.Tensor,
) -> AttentionShare:
    """Attention share of `model`'s CA-Classifier on multi-label images with true masks.

    Args:
        model: the cosine model being trained (switched to eval mode and back).
        bank: its memory bank (read only).
        ca_loss: the CA-Classifier loss whose `attention` training uses.
        items: `{"image": (3, H, W) normalised, H and W multiples of the patch size,
            "target": (H', W') source class indices, -1 = ignore}` (`attention_items`);
            the target may be larger or smaller than the image (its regions are pooled
            to the patch grid); the labels of an item are the classes present in its
            target, as for multi-label data.
        class_ids: `(C_s,)` model class index of each source class.
        novel: bool `(C_s,)`, True for novel source classes.
    """
    classifier = model.cosine_classifier
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    class_ids = class_ids.to(device)
    none = torch.zeros(0, device=device)
    inside, area, is_novel = [none], [none], [none.bool()]
    for item in items:
        target = item["target"].to(device)
        labels = torch.unique(target[target != IGNORE_INDEX])
        if labels.numel() == 0:
            continue
        pixels, cosine = classifier.cosine(
            model.forward_features(item["image"][None].to(device)), class_ids
        )
        attention, active = ca_loss.attention(pixels, cosine, labels[None], class_ids, bank)
        regions = region_fractions(target, labels, (attention.shape[1], attention.shape[2]))
        inside.append(((attention * regions).sum((1, 2)) / attention.sum((1, 2)))[active])
        area.append(regions.mean((1, 2))[active])
        is_novel.append(novel.to(device)[labels][active])
    shares, areas, novel_mask = torch.cat(inside), torch.cat(area), torch.cat(is_novel)
    model.train(was_training)

    def mean(values: torch.Tensor) -> float:
        return float(values.mean()) if values.numel() else float("nan")

    return AttentionShare(
        pairs=int(shares.numel()),
        attention=mean(shares),
        area=mean(areas),
        novel_pairs=int(novel_mask.sum()),
        novel_attention=mean(shares[novel_mask]),
        novel_area=mean(areas[novel_mask]),
    )


def _pct(value: float) -> str:
    return "-" if math.isnan(value) else f"{100 * value:.2f}%"  # NaN: no pair
