"""Training losses on constructed inputs with hand-computed answers."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from larvseg.evaluation.labelmaps import IGNORE_INDEX
from larvseg.train.losses import image_label_loss, segmentation_loss


def ce(scores: list[float], target: int) -> float:
    return -scores[target] + math.log(sum(math.exp(s) for s in scores))


def map_with_mean(means: list[float], h: int = 2, w: int = 3) -> torch.Tensor:
    """`(C, h, w)` maps that vary over pixels but average to `means`."""
    ripple = torch.arange(h * w, dtype=torch.float32).reshape(h, w)
    ripple = ripple - ripple.mean()
    return torch.stack([m + 0.1 * (i + 1) * ripple for i, m in enumerate(means)])


def test_image_label_loss_hand_computed() -> None:
    logits = map_with_mean([1.0, 2.0, 0.5])[None].requires_grad_()
    labels = torch.tensor([[0, 1, -1]])
    expected = (ce([1.0, 0.5], 0) + ce([2.0, 0.5], 0)) / 2  # other present label dropped
    loss = image_label_loss(logits, labels)
    assert math.isclose(float(loss.detach()), expected, rel_tol=1e-6)
    without_exclusion = (ce([1.0, 2.0, 0.5], 0) + ce([1.0, 2.0, 0.5], 1)) / 2
    assert abs(expected - without_exclusion) > 0.1
    loss.backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


def test_image_label_loss_mean_over_pairs_of_batch() -> None:
    logits = torch.stack([map_with_mean([1.0, 2.0, 0.5]), map_with_mean([0.0, -1.0, 3.0])])
    labels = torch.tensor([[0, 1], [2, -1]])
    expected = (ce([1.0, 0.5], 0) + ce([2.0, 0.5], 0) + ce([0.0, -1.0, 3.0], 2)) / 3
    assert math.isclose(float(image_label_loss(logits, labels)), expected, rel_tol=1e-6)


def test_image_label_loss_without_labels_is_attached_zero() -> None:
    logits = torch.randn(2, 3, 2, 2, requires_grad=True)
    loss = image_label_loss(logits, torch.full((2, 2), -1))
    assert float(loss.detach()) == 0 and loss.requires_grad


def test_segmentation_loss_matches_cross_entropy_and_ignores_minus_1() -> None:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 4, 3, 5, generator=generator, requires_grad=True)
    target = torch.randint(0, 4, (2, 12, 20), generator=generator)
    target[0, :4] = IGNORE_INDEX
    upsampled = F.interpolate(logits, size=(12, 20), mode="bilinear", align_corners=False)
    expected = F.cross_entropy(upsampled, target, ignore_index=-1)
    torch.testing.assert_close(segmentation_loss(logits, target), expected)
    ignored = segmentation_loss(logits, torch.full((2, 12, 20), IGNORE_INDEX))
    assert float(ignored.detach()) == 0 and ignored.requires_grad
