"""Sliding windows: placement, batching and averaging."""

from __future__ import annotations

import torch

from larvseg.modeling.model import LarvSegModel
from larvseg.pipeline.windows import (
    default_stride,
    tile_windows,
    window_logits,
    window_starts,
)


def test_window_starts_cover_and_end_at_the_border() -> None:
    assert window_starts(512, 512, 336) == [0]
    assert window_starts(400, 512, 336) == [0]
    assert window_starts(688, 512, 336) == [0, 176]
    assert window_starts(1200, 512, 336) == [0, 336, 672, 688]
    assert default_stride(512, 16) == 336


def test_tile_windows_for_several_images() -> None:
    windows = tile_windows([(64, 96), (64, 64)], window=64, stride=32)
    assert [(w.image, w.top, w.left) for w in windows] == [(0, 0, 0), (0, 0, 32), (1, 0, 0)]


def test_single_window_equals_a_direct_forward(cosine_model: LarvSegModel) -> None:
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        direct = cosine_model(x)
    (logits,) = window_logits(cosine_model, [x], window=64)
    torch.testing.assert_close(logits, direct[0].permute(1, 2, 0))


class PatchMean(torch.nn.Module):
    """A stand-in model: each patch's 'logit' is the mean of its pixels (window-independent)."""

    patch_size = 16

    def forward(self, x: torch.Tensor, class_indices: torch.Tensor | None = None) -> torch.Tensor:
        return torch.nn.functional.avg_pool2d(x, 16)


def test_overlapping_windows_average_to_the_window_free_answer() -> None:
    model = PatchMean()
    images = [torch.randn(1, 3, 64, 112), torch.randn(1, 3, 64, 64)]
    out = window_logits(model, images, window=64, stride=32, batch_size=3)  # type: ignore[arg-type]
    for image, logits in zip(images, out, strict=True):
        expected = torch.nn.functional.avg_pool2d(image, 16)[0].permute(1, 2, 0)
        torch.testing.assert_close(logits, expected)
