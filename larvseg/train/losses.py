"""Training losses: per-pixel segmentation CE and the image-level loss L_cls.

Conventions (one forward of one data source, feature resolution, stride 16):
`logits (B, C', h, w)` over the source's scored classes (column j = scored class j)
and image-level `labels (B, L)` int64 column indices padded with -1.

Every (image, label) pair is a "pair"; pairs are enumerated by `label_pairs` in
row-major order of `labels` (image by image, column by column), and every function
taking per-pair tensors `(P, ...)` uses that order. The CA-Classifier's loss, built
on these, is in `larvseg.train.ca.attention`.

The image-level losses (docs/method.md) are computed at feature resolution: the
logits map is average-pooled at stride 16, not after bilinear upsampling (the two
differ only at the borders).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..evaluation.labelmaps import IGNORE_INDEX


def segmentation_loss(
    logits: torch.Tensor, target: torch.Tensor, ignore_index: int = IGNORE_INDEX
) -> torch.Tensor:
    """Per-pixel cross-entropy, mean over non-ignored pixels.

    logits `(B, C', h, w)` are bilinearly upsampled (align_corners=False) to the size
    of target `(B, H, W)` (class indices, `ignore_index` (-1) = ignore). Returns a scalar;
    0 (still attached to the graph) when every pixel is ignored.
    """
    upsampled = F.interpolate(logits, size=target.shape[-2:], mode="bilinear", align_corners=False)
    total = F.cross_entropy(upsampled, target.long(), ignore_index=ignore_index, reduction="sum")
    return total / (target != ignore_index).sum().clamp(min=1)


def label_pairs(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(image index `(P,)`, label column `(P,)`) of every valid entry of labels `(B, L)`."""
    image_index, position = torch.nonzero(labels >= 0, as_tuple=True)
    return image_index, labels[image_index, position]


def other_labels(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Bool `(P, C')`: the labels present on each pair's image, except the pair's own."""
    image_index, label = label_pairs(labels)
    present = torch.zeros(labels.shape[0], num_classes, dtype=torch.bool, device=labels.device)
    present[image_index, label] = True
    others = present[image_index]
    others[torch.arange(label.numel(), device=labels.device), label] = False
    return others


def pair_label_losses(
    pair_logits: torch.Tensor, label: torch.Tensor, ignored: torch.Tensor
) -> torch.Tensor:
    """Image-level CE of each pair, `(P,)`.

    pair_logits `(P, C', h, w)` (or already pooled `(P, C')`) are average-pooled over
    pixels; the `ignored (P, C')` classes are dropped (set to -inf: neither target nor
    negative), then cross-entropy with target `label (P,)`.
    """
    scores = pair_logits.flatten(2).mean(dim=2) if pair_logits.dim() == 4 else pair_logits
    scores = scores.float().masked_fill(ignored, float("-inf"))
    return F.cross_entropy(scores, label, reduction="none")


def mean_over_pairs(losses: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Mean of per-pair losses `(P,)`; a graph-attached 0 when there is no pair."""
    return losses.mean() if losses.numel() else logits.sum() * 0


def image_label_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """L_cls (docs/method.md): mean over (image, label) pairs, scalar.

    logits `(B, C', h, w)` are average-pooled at feature resolution; for the pair
    (image, l) the image's other present labels are ignored and CE has target `l`.
    """
    image_index, label = label_pairs(labels)
    pooled = logits.flatten(2).mean(dim=2)[image_index]
    losses = pair_label_losses(pooled, label, other_labels(labels, logits.shape[1]))
    return mean_over_pairs(losses, logits)
