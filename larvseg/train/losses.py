"""Training losses: per-pixel segmentation CE, the image-level loss and the CA-Classifier.

Conventions (one forward of one data source, feature resolution, stride 16):
`logits (B, C', h, w)` and raw `cosine (B, C', h, w)` over the source's scored
classes (column j = scored class j), unit pixel embeddings `pixels (B, d, h, w)`,
image-level `labels (B, L)` int64 column indices padded with -1, and
`class_ids (C',)` the model class index of each scored column.

Every (image, label) pair is a "pair"; pairs are enumerated by `label_pairs` in
row-major order of `labels` (image by image, column by column), and every function
taking per-pair tensors `(P, ...)` uses that order.

The image-level losses (method.md sections 2 and 3) are computed at feature
resolution: the logits map is average-pooled at stride 16, not after bilinear
upsampling (the two differ only at the borders, method.md 4b).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..classifier import SCORE_NORM_EPS
from .memory_bank import MemoryBank
from .transforms import IGNORE_INDEX

BankUpdate = tuple[torch.Tensor, torch.Tensor]


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


def _mean_over_pairs(losses: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Mean of per-pair losses `(P,)`; a graph-attached 0 when there is no pair."""
    return losses.mean() if losses.numel() else logits.sum() * 0


def image_label_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """L_cls (method.md section 2): mean over (image, label) pairs, scalar.

    logits `(B, C', h, w)` are average-pooled at feature resolution; for the pair
    (image, l) the image's other present labels are ignored and CE has target `l`.
    """
    image_index, label = label_pairs(labels)
    pooled = logits.flatten(2).mean(dim=2)[image_index]
    losses = pair_label_losses(pooled, label, other_labels(labels, logits.shape[1]))
    return _mean_over_pairs(losses, logits)


def standardise(x: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    """`(x - mean) / (std + eps)` over `dims` (population std, eps 1e-5)."""
    mean = x.mean(dim=dims, keepdim=True)
    std = x.std(dim=dims, keepdim=True, unbiased=False)
    return (x - mean) / (std + SCORE_NORM_EPS)


def select_background(
    cosine: torch.Tensor,
    labels: torch.Tensor,
    ready: torch.Tensor,
    *,
    single_label: bool,
    topk: int = 5,
    score_threshold: float = 0.35,
    diff_threshold: float = 2.0,
) -> torch.Tensor:
    """Background classes of every pair (method.md section 3), bool `(P, C')`.

    Multi-label data: the image's other labels. Single-label data: classes whose
    mean of the top-`topk` pixel cosine scores exceeds `score_threshold`, minus the
    pair's label, whose score map differs from the label's map by a mean squared
    difference over pixels above `diff_threshold`, both maps standardised over
    pixels (for such maps the difference is `2 - 2 corr`, so 2.0 means "negatively
    correlated"). Only classes with `ready (C',)` banks count. With class sampling,
    candidates are the scored (sampled) classes only.

    cosine `(B, C', h, w)` raw scores, labels `(B, L)` padded with -1.
    """
    num_classes = cosine.shape[1]
    if not single_label:
        return other_labels(labels, num_classes) & ready
    image_index, label = label_pairs(labels)
    maps = cosine.detach().float().flatten(2)[image_index]
    k = min(topk, maps.shape[2])
    confident = maps.topk(k, dim=2).values.mean(dim=2) > score_threshold
    z = standardise(maps, (2,))
    own = z[torch.arange(label.numel(), device=z.device), label]
    different = (z - own[:, None]).square().mean(dim=2) > diff_threshold
    return confident & different & ready & ~F.one_hot(label, num_classes).bool()


def _pair_dot(
    pixels: torch.Tensor, image_index: torch.Tensor, vectors: torch.Tensor
) -> torch.Tensor:
    """`pixels[image_index[p]] . vectors[p]` per pixel, `(P, h, w)`, fp32."""
    maps = torch.einsum("bdhw,pd->bphw", pixels.float(), vectors.float())
    return maps[image_index, torch.arange(image_index.numel(), device=maps.device)]


def attention_maps(
    pixels: torch.Tensor,
    image_index: torch.Tensor,
    fg_means: torch.Tensor,
    class_means: torch.Tensor,
    bg_mask: torch.Tensor,
) -> torch.Tensor:
    """CA attention `A = sigmoid(standardise_over_pixels(s_fg - s_bg))`, `(P, h, w)`.

    pixels `(B, d, h, w)` unit embeddings, image_index `(P,)`, fg_means `(P, d)` the
    bank mean of each pair's label, class_means `(C', d)` bank means of the scored
    classes, bg_mask `(P, C')` background classes. `s_fg = f . fg_mean` (the average
    cosine to the whole bank, compact identity); `s_bg` is the mean over background
    classes of `f . their mean` = `f . (mean of their means)`; no background:
    `s_bg = 1 - s_fg`. Everything at feature resolution, fp32.
    """
    mask = bg_mask.float()
    num_bg = mask.sum(dim=1)
    bg_vectors = (mask @ class_means.float()) / num_bg.clamp(min=1)[:, None]
    s_fg = _pair_dot(pixels, image_index, fg_means)
    s_bg = torch.where(
        (num_bg > 0)[:, None, None], _pair_dot(pixels, image_index, bg_vectors), 1 - s_fg
    )
    return torch.sigmoid(standardise(s_fg - s_bg, (1, 2)))


def ca_auxiliary_loss(
    logits: torch.Tensor, attention: torch.Tensor, labels: torch.Tensor, active: torch.Tensor
) -> torch.Tensor:
    """L_aux (method.md section 3), scalar.

    For each pair, the logits `(B, C', h, w)` of its image times its attention
    `(P, h, w)` (broadcast over classes) go through exactly the image-level loss of
    its label (other present labels ignored). Pairs with `active (P,)` False (label
    bank still warming up) contribute zero; the mean is over all pairs.
    """
    image_index, label = label_pairs(labels)
    weighted = logits[image_index] * attention[:, None].to(logits.dtype)
    losses = pair_label_losses(weighted, label, other_labels(labels, logits.shape[1]))
    return _mean_over_pairs(torch.where(active, losses, torch.zeros_like(losses)), logits)


class CAClassifierLoss:
    """The CA-Classifier's auxiliary loss and this batch's (unapplied) bank update.

    `__call__` reads the bank but never writes it: it returns the update computed
    from this batch (model class ids `(P,)`, compact entries `(P, d)`: mean of the
    normalised detached features of the top-K pixels of `cosine[:, l]`), and the
    training engine applies it after gathering all ranks' updates, so the bank is
    updated after its scores are computed and every DDP rank holds the same bank.
    The attention is computed from detached features: it weights the pixels, it is
    not trained.

    Args:
        score_threshold: background rule, mean top-`top5` cosine above this.
        diff_threshold: background rule, standardised map difference above this.
        top5: pixels averaged for the background score rule.
    """

    def __init__(
        self, *, score_threshold: float = 0.35, diff_threshold: float = 2.0, top5: int = 5
    ) -> None:
        self.score_threshold = score_threshold
        self.diff_threshold = diff_threshold
        self.top5 = top5

    def attention(
        self,
        pixels: torch.Tensor,
        cosine: torch.Tensor,
        labels: torch.Tensor,
        class_ids: torch.Tensor,
        bank: MemoryBank,
        *,
        single_label: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(attention `(P, h, w)` of every pair, active `(P,)`: its label's bank is ready).

        pixels `(B, d, h, w)` unit embeddings (detached here), cosine `(B, C', h, w)`
        raw scores, labels `(B, L)` padded with -1, class_ids `(C',)` model class index
        of each scored column. Pairs in `label_pairs` order.
        """
        image_index, label = label_pairs(labels)
        ready = bank.ready(class_ids)
        means = bank.mean(class_ids)
        background = select_background(
            cosine,
            labels,
            ready,
            single_label=single_label,
            topk=self.top5,
            score_threshold=self.score_threshold,
            diff_threshold=self.diff_threshold,
        )
        attention = attention_maps(pixels.detach(), image_index, means[label], means, background)
        return attention, ready[label]

    def __call__(
        self,
        pixels: torch.Tensor,
        cosine: torch.Tensor,
        logits: torch.Tensor,
        labels: torch.Tensor,
        class_ids: torch.Tensor,
        bank: MemoryBank,
        *,
        single_label: bool,
    ) -> tuple[torch.Tensor, BankUpdate]:
        """(L_aux scalar, pending bank update `(class ids (P,), entries (P, d))`).

        pixels `(B, d, h, w)`, cosine and logits `(B, C', h, w)`, labels `(B, L)`,
        class_ids `(C',)` model class index of each scored column.
        """
        image_index, label = label_pairs(labels)
        if label.numel() == 0:
            return logits.sum() * 0, (class_ids[label], pixels.new_zeros(0, bank.dim).float())
        attention, active = self.attention(
            pixels, cosine, labels, class_ids, bank, single_label=single_label
        )
        loss = ca_auxiliary_loss(logits, attention, labels, active)
        entries = bank.entries_from_topk(pixels, cosine[image_index, label], image_index)
        return loss, (class_ids[label], entries)
