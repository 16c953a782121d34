"""The CA-Classifier: background rule, attention maps, the auxiliary loss L_aux.

For every (image, label) pair of an image-level source, the attention says which
pixels the label belongs to, from the pixel embeddings' average cosine to the
memory bank of the label (foreground) and of the image's background categories;
L_aux is the image-level loss of the label on the attention-weighted logits
(docs/method.md). Conventions are those of `larvseg.train.losses`, plus raw cosine
scores `cosine (B, C', h, w)`, unit pixel embeddings `pixels (B, d, h, w)` and
`class_ids (C',)`, the model class index of each scored column.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...modeling.classifier import standardize
from ..losses import label_pairs, mean_over_pairs, other_labels, pair_label_losses
from .memory_bank import MemoryBank

BankUpdate = tuple[torch.Tensor, torch.Tensor]
"""A pending bank update: model class ids `(P,)` and compact entries `(P, d)`."""


def select_background(
    cosine: torch.Tensor,
    labels: torch.Tensor,
    ready: torch.Tensor,
    *,
    topk: int = 5,
    score_threshold: float = 0.35,
    diff_threshold: float = 2.0,
) -> torch.Tensor:
    """Background classes of every pair (docs/method.md), bool `(P, C')`.

    An image with several labels: its other labels. An image with a single label
    (single-label data, or a multi-label image that has one): the classes whose mean
    of the top-`topk` pixel cosine scores exceeds `score_threshold`, minus the pair's
    label, whose score map differs from the label's map by a mean squared difference
    over pixels above `diff_threshold`, both maps standardised over pixels (for such
    maps the difference is `2 - 2 corr`, so 2.0 means "negatively correlated"). Only
    classes with `ready (C',)` banks count. With class sampling, candidates are the
    scored (sampled) classes only.

    cosine `(B, C', h, w)` raw scores, labels `(B, L)` padded with -1.
    """
    num_classes = cosine.shape[1]
    others = other_labels(labels, num_classes)
    image_index, label = label_pairs(labels)
    maps = cosine.detach().float().flatten(2)[image_index]
    k = min(topk, maps.shape[2])
    confident = maps.topk(k, dim=2).values.mean(dim=2) > score_threshold
    z = standardize(maps, (2,))
    own = z[torch.arange(label.numel(), device=z.device), label]
    different = (z - own[:, None]).square().mean(dim=2) > diff_threshold
    by_scores = confident & different & ~F.one_hot(label, num_classes).bool()
    several = others.any(dim=1, keepdim=True)
    return torch.where(several, others, by_scores) & ready


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
    return torch.sigmoid(standardize(s_fg - s_bg, (1, 2)))


def ca_auxiliary_loss(
    logits: torch.Tensor, attention: torch.Tensor, labels: torch.Tensor, active: torch.Tensor
) -> torch.Tensor:
    """L_aux (docs/method.md), scalar.

    For each pair, the logits `(B, C', h, w)` of its image times its attention
    `(P, h, w)` (broadcast over classes) go through exactly the image-level loss of
    its label (other present labels ignored). Pairs with `active (P,)` False (label
    bank still warming up) contribute zero; the mean is over all pairs.
    """
    image_index, label = label_pairs(labels)
    weighted = logits[image_index] * attention[:, None].to(logits.dtype)
    losses = pair_label_losses(weighted, label, other_labels(labels, logits.shape[1]))
    return mean_over_pairs(torch.where(active, losses, torch.zeros_like(losses)), logits)


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
        score_threshold: background rule, mean top-`background_topk` cosine above this.
        diff_threshold: background rule, standardised map difference above this.
        background_topk: pixels averaged for the background score rule.
    """

    def __init__(
        self,
        *,
        score_threshold: float = 0.35,
        diff_threshold: float = 2.0,
        background_topk: int = 5,
    ) -> None:
        self.score_threshold = score_threshold
        self.diff_threshold = diff_threshold
        self.background_topk = background_topk

    def attention(
        self,
        pixels: torch.Tensor,
        cosine: torch.Tensor,
        labels: torch.Tensor,
        class_ids: torch.Tensor,
        bank: MemoryBank,
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
            topk=self.background_topk,
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
    ) -> tuple[torch.Tensor, BankUpdate]:
        """(L_aux scalar, pending bank update `(class ids (P,), entries (P, d))`).

        pixels `(B, d, h, w)`, cosine and logits `(B, C', h, w)`, labels `(B, L)`,
        class_ids `(C',)` model class index of each scored column.
        """
        image_index, label = label_pairs(labels)
        if label.numel() == 0:
            return logits.sum() * 0, (class_ids[label], pixels.new_zeros(0, bank.dim).float())
        attention, active = self.attention(pixels, cosine, labels, class_ids, bank)
        loss = ca_auxiliary_loss(logits, attention, labels, active)
        entries = bank.entries_from_topk(pixels, cosine[image_index, label], image_index)
        return loss, (class_ids[label], entries)
