"""Dense classifiers: per-patch class scores from a feature grid.

Both classifiers map features `(B, D, h, w)` to logits `(B, C', h, w)` where `C'`
is the number of classes scored (all `C`, or the subset `class_indices`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

SCORE_NORM_EPS = 1e-5


def standardize(x: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    """`(x - mean) / (std + eps)` over `dims` (population std, eps `SCORE_NORM_EPS`).

    The classifier standardises each pixel's scores over classes (dim 1); the
    CA-Classifier standardises each score map over pixels.
    """
    mean = x.mean(dim=dims, keepdim=True)
    std = x.std(dim=dims, keepdim=True, unbiased=False)
    return (x - mean) / (std + SCORE_NORM_EPS)


class CosineClassifier(nn.Module):
    """LarvSeg's one-layer cosine classifier with per-pixel score normalisation.

    `S = normalize(F Pp) . normalize(E Pc)^T` (cosine in [-1, 1]), then each pixel's
    scores over the scored classes are standardised and mapped by `gamma * z + beta`
    (docs/method.md).

    Args:
        in_dim: backbone width `D`.
        embed_dim: embedding width `d`.
        num_classes: number of classes `C`.
    """

    def __init__(self, in_dim: int, embed_dim: int, num_classes: int) -> None:
        super().__init__()
        scale = embed_dim**-0.5
        self.class_embed = nn.Parameter(torch.randn(num_classes, embed_dim) * 0.02)
        self.patch_proj = nn.Parameter(torch.randn(in_dim, embed_dim) * scale)
        self.class_proj = nn.Parameter(torch.randn(embed_dim, embed_dim) * scale)
        self.gamma = nn.Parameter(torch.ones(()))
        self.beta = nn.Parameter(torch.zeros(()))

    @property
    def num_classes(self) -> int:
        return int(self.class_embed.shape[0])

    def embed_pixels(self, features: torch.Tensor) -> torch.Tensor:
        """Unit-norm pixel embeddings: features `(B, D, h, w)` -> `(B, d, h, w)`."""
        projected = torch.einsum("bdhw,de->behw", features, self.patch_proj.to(features.dtype))
        return F.normalize(projected, dim=1)

    def embed_classes(self, class_indices: torch.Tensor | None = None) -> torch.Tensor:
        """Unit-norm class embeddings `(C', d)` of all classes or of `class_indices`."""
        embed = self.class_embed if class_indices is None else self.class_embed[class_indices]
        return F.normalize(embed @ self.class_proj, dim=1)

    def cosine(
        self, features: torch.Tensor, class_indices: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Pixel embeddings `(B, d, h, w)` and raw cosine scores `S` `(B, C', h, w)`."""
        pixels = self.embed_pixels(features)
        classes = self.embed_classes(class_indices).to(pixels.dtype)
        return pixels, torch.einsum("behw,ce->bchw", pixels, classes)

    def normalize_scores(self, cosine: torch.Tensor) -> torch.Tensor:
        """Per-pixel standardisation over the class dim, then `gamma * z + beta`.

        cosine `(B, C', h, w)` -> logits `(B, C', h, w)`.
        """
        return standardize(cosine, (1,)) * self.gamma + self.beta

    def forward(
        self, features: torch.Tensor, class_indices: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self.normalize_scores(self.cosine(features, class_indices)[1])


class LinearClassifier(nn.Module):
    """A classification head (pre-logits norm + linear layer) applied to every location.

    `norm` and `head` are the norm after the pooling (a GAP ViT's `fc_norm`, ConvNeXt's
    head norm, or an identity) and the linear layer of the source model's head (an
    `nn.Linear`, or BiT's 1x1 `nn.Conv2d`), so the logits of a location equal timm's head
    applied to that location's features as if they were the pooled vector.
    """

    def __init__(self, norm: nn.Module, head: nn.Linear | nn.Conv2d) -> None:
        super().__init__()
        self.norm = norm
        self.head = head

    @property
    def num_classes(self) -> int:
        return int(self.head.weight.shape[0])

    def forward(
        self, features: torch.Tensor, class_indices: torch.Tensor | None = None
    ) -> torch.Tensor:
        tokens = self.norm(features.permute(0, 2, 3, 1))
        weight, bias = self.head.weight.flatten(1), self.head.bias
        if class_indices is not None:
            weight = weight[class_indices]
            bias = None if bias is None else bias[class_indices]
        return F.linear(tokens, weight, bias).permute(0, 3, 1, 2)
