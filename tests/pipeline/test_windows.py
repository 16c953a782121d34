"""Sliding windows: placement, batching, averaging, denser strides and the logit budget."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from larvseg.errors import InputError
from larvseg.modeling.model import LarvSegModel
from larvseg.pipeline import windows
from larvseg.pipeline.network import Features
from larvseg.pipeline.windows import default_step, tile_windows, window_logits, window_starts


def test_window_starts_cover_and_end_at_the_border() -> None:
    assert window_starts(512, 512, 336) == [0]
    assert window_starts(400, 512, 336) == [0]
    assert window_starts(688, 512, 336) == [0, 176]
    assert window_starts(1200, 512, 336) == [0, 336, 672, 688]
    assert default_step(512, 16) == 336


def test_tile_windows_for_several_images() -> None:
    tiles = tile_windows([(64, 96), (64, 64)], window=64, step=32)
    assert [(w.image, w.top, w.left) for w in tiles] == [(0, 0, 0), (0, 0, 32), (1, 0, 0)]


@pytest.mark.parametrize("stride", [None, 16])
def test_single_window_at_the_patch_stride_is_a_direct_forward(
    cosine_model: LarvSegModel, stride: int | None
) -> None:
    x = torch.randn(1, 3, 64, 48)
    with torch.no_grad():
        direct = cosine_model(x)
    (logits,) = window_logits(cosine_model, [x], window=64, stride=stride)
    assert torch.equal(logits, direct[0].permute(1, 2, 0))


class PatchMean(torch.nn.Module):
    """A stand-in model: each cell's 'logit' is the mean of its p x p patch (independent of
    the window), at any stride; three 'classes' (the RGB channels)."""

    patch_size = 16
    config = SimpleNamespace(num_classes=3)

    def features(self, x: torch.Tensor, stride: int) -> Features:
        return Features(F.avg_pool2d(x, 16, stride))

    def classify(self, grid: torch.Tensor) -> torch.Tensor:
        return grid


@pytest.mark.parametrize("stride", [16, 8, 4])
def test_overlapping_windows_average_to_the_window_free_answer(stride: int) -> None:
    """Windows land on the right cells of the dense grid: cell i covers [i s, i s + p)."""
    model = PatchMean()
    images = [torch.randn(1, 3, 64, 112), torch.randn(1, 3, 64, 64), torch.randn(1, 3, 96, 80)]
    out = window_logits(model, images, 64, 32, stride=stride, batch_size=3)  # type: ignore[arg-type]
    for image, logits in zip(images, out, strict=True):
        expected = F.avg_pool2d(image, 16, stride)[0].permute(1, 2, 0)
        assert logits.shape == (
            (image.shape[2] - 16) // stride + 1,
            (image.shape[3] - 16) // stride + 1,
            3,
        )
        torch.testing.assert_close(logits, expected)


def test_logit_budget_splits_rows_without_changing_the_logits(
    cosine_model: LarvSegModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    images = [torch.randn(1, 3, 64, 96), torch.randn(1, 3, 80, 64)]
    full = window_logits(cosine_model, images, 64, stride=8, batch_size=4)
    shapes: list[torch.Size] = []
    cosine_model.classifier.register_forward_hook(lambda m, i, out: shapes.append(out.shape))
    budget = 2 * 7 * 5  # two rows of a 64-pixel window's 7 x 7 grid of 5 classes
    monkeypatch.setattr(windows, "LOGIT_BUDGET", budget)
    chunked = window_logits(cosine_model, images, 64, stride=8, batch_size=1)
    assert max(shape.numel() for shape in shapes) == budget
    for a, b in zip(full, chunked, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_windows_per_forward_follow_the_memory_budget(
    cosine_model: LarvSegModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five same-shaped 64-pixel windows (7 x 7 cells at stride 8, 5 classes): a budget of
    two and a half windows' bytes runs them 2 + 2 + 1, an explicit batch_size caps it
    further, and neither changes the logits."""
    images = [torch.randn(1, 3, 64, 96), torch.randn(1, 3, 64, 128)]
    full = window_logits(cosine_model, images, 64, 32, stride=8, batch_size=1)
    batches: list[int] = []
    cosine_model.classifier.register_forward_hook(lambda m, i, out: batches.append(len(out)))
    one_window = windows.window_bytes(7 * 7, 5)
    assert one_window == 49 * (5 * 10 + 49 * 64 + 65536)
    monkeypatch.setattr(windows, "CPU_MEMORY_BUDGET", one_window * 5 // 2)
    budgeted = window_logits(cosine_model, images, 64, 32, stride=8)
    assert batches == [2, 2, 1]
    batches.clear()
    capped = window_logits(cosine_model, images, 64, 32, stride=8, batch_size=1)
    assert batches == [1] * 5
    for a, b, c in zip(full, budgeted, capped, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
        assert torch.equal(a, c)


def test_the_cpu_budget_keeps_four_vit_b_21k_windows_per_forward() -> None:
    """The default path on a CPU batches as before: four 512-pixel windows of ViT-B/16
    with 21,843 classes (1,024 tokens each) fit the CPU budget, five do not."""
    one_window = windows.window_bytes(1024, 21843)
    budget = windows.memory_budget(torch.device("cpu"))
    assert 4 * one_window <= budget < 5 * one_window


def test_kept_classes_are_the_slice_of_all_logits(cosine_model: LarvSegModel) -> None:
    images = [torch.randn(1, 3, 64, 96)]
    keep = torch.tensor([4, 1])
    (full,) = window_logits(cosine_model, images, 64, 32, stride=8)
    (kept,) = window_logits(cosine_model, images, 64, 32, stride=8, keep=keep)
    assert torch.equal(kept, full[..., keep])


@pytest.mark.parametrize("stride", [3, 32, 0])
def test_stride_must_divide_the_patch(cosine_model: LarvSegModel, stride: int) -> None:
    with pytest.raises(InputError, match="divisor of the patch size 16"):
        window_logits(cosine_model, [torch.randn(1, 3, 64, 64)], 64, stride=stride)


def test_whole_images_keep_their_logits_without_a_copy() -> None:
    """Images that fit one window each keep views of their batch's logits (no copy of a
    21K-class grid); one batched with another image's windows gets its own copy, so the
    rest of the batch's logits are freed."""
    model = PatchMean()
    whole = window_logits(model, [torch.randn(1, 3, 64, 64) for _ in range(3)], 64)  # type: ignore[arg-type]
    storages = {logits.untyped_storage().data_ptr() for logits in whole}
    assert len(storages) == 1
    mixed = window_logits(
        model,  # type: ignore[arg-type]
        [torch.randn(1, 3, 64, 64), torch.randn(1, 3, 64, 96)],
        64,
        32,
        batch_size=3,
    )
    assert mixed[0].untyped_storage().nbytes() == mixed[0].numel() * 4
