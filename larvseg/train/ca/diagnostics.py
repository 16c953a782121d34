"""Where the CA-Classifier's attention goes: its mass inside the true region of the label.

For a weak (image-level) label `l` of an image whose true mask is known, the
CA attention `A (h, w)` (exactly as training computes it, `CAClassifierLoss.attention`)
puts a share `sum_p A(p) r(p) / sum_p A(p)` of its mass on the region of `l`, where
`r(p)` is the fraction of patch `p` covered by `l`. Attention that ignores the image
gets the region's share of the image, `mean_p r(p)` (chance).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ...evaluation.labelmaps import IGNORE_INDEX
from ...modeling.model import LarvSegModel
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


def region_fractions(target: torch.Tensor, labels: torch.Tensor, patch: int) -> torch.Tensor:
    """Fraction of each patch covered by each label: `(L, h, w)` float.

    target `(H, W)` class indices (H, W multiples of `patch`), labels `(L,)`.
    """
    masks = (target[None] == labels[:, None, None]).float()
    return F.avg_pool2d(masks[:, None], patch)[:, 0]


@torch.inference_mode()
def attention_share(
    model: LarvSegModel,
    bank: MemoryBank,
    ca_loss: CAClassifierLoss,
    items: list[dict[str, torch.Tensor]],
    class_ids: torch.Tensor,
    novel: torch.Tensor,
) -> AttentionShare:
    """Attention share of `model`'s CA-Classifier on multi-label images with true masks.

    Args:
        model: the cosine model being trained (switched to eval mode and back).
        bank: its memory bank (read only).
        ca_loss: the CA-Classifier loss whose `attention` training uses.
        items: `{"image": (3, H, W) normalised, "target": (H, W) source class indices,
            -1 = ignore}`, H and W multiples of the patch size; the labels of an item
            are the classes present in its target, as for multi-label data.
        class_ids: `(C_s,)` model class index of each source class.
        novel: bool `(C_s,)`, True for novel source classes.
    """
    classifier = model.cosine_classifier
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    inside, area, is_novel = [], [], []
    for item in items:
        target = item["target"].to(device)
        labels = torch.unique(target[target != IGNORE_INDEX])
        pixels, cosine = classifier.cosine(
            model.forward_features(item["image"][None].to(device)), class_ids.to(device)
        )
        attention, active = ca_loss.attention(
            pixels, cosine, labels[None], class_ids.to(device), bank
        )
        regions = region_fractions(target, labels, model.patch_size)
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
