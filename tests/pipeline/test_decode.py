"""Large-vocabulary decoding equals full bilinear upsampling + argmax."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from larvseg.pipeline.decode import bilinear_taps, upsample, upsampled_argmax, upsampled_gather


def full_upsample(logits: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Reference: (h, w, K) -> (K, H, W) with torch's bilinear interpolation."""
    return F.interpolate(logits.permute(2, 0, 1)[None], size, mode="bilinear", align_corners=False)[
        0
    ]


def smooth_logits(h: int, w: int, classes: int, seed: int) -> torch.Tensor:
    """Spatially smooth logits, as a real image gives: neighbouring patches agree."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randn(1, classes, 2, 3, generator=g)
    fine = F.interpolate(coarse, (h, w), mode="bilinear", align_corners=False)[0]
    return fine.permute(1, 2, 0).contiguous() + 0.01 * torch.randn(h, w, classes, generator=g)


@pytest.mark.parametrize(("in_size", "out_size"), [(4, 37), (5, 5), (1, 3), (7, 3), (32, 512)])
def test_bilinear_taps_reproduce_interpolate(in_size: int, out_size: int) -> None:
    values = torch.randn(in_size)
    i0, i1, w1 = bilinear_taps(in_size, out_size)
    ours = values[i0] * (1 - w1) + values[i1] * w1
    ref = F.interpolate(values[None, None], out_size, mode="linear", align_corners=False)[0, 0]
    torch.testing.assert_close(ours, ref, atol=1e-6, rtol=0)


@pytest.mark.parametrize(("h", "w", "size"), [(4, 6, (37, 61)), (1, 1, (3, 3)), (3, 9, (100, 17))])
def test_argmax_is_exact_when_every_class_is_a_candidate(
    h: int, w: int, size: tuple[int, int]
) -> None:
    logits = torch.randn(h, w, 12, generator=torch.Generator().manual_seed(h * w))
    ours = upsampled_argmax(logits, size, k=12)
    assert torch.equal(ours, full_upsample(logits, size).argmax(0))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_argmax_matches_full_upsampling_on_smooth_logits(seed: int) -> None:
    logits = smooth_logits(8, 10, 3000, seed)
    ours = upsampled_argmax(logits, (128, 150), k=8)
    assert torch.equal(ours, full_upsample(logits, (128, 150)).argmax(0))


def test_gather_reads_the_upsampled_map_of_each_pixel() -> None:
    g = torch.Generator().manual_seed(0)
    maps = torch.rand(5, 7, 9, generator=g)
    index = torch.randint(0, 9, (40, 33), generator=g)
    ref = full_upsample(maps, (40, 33)).gather(0, index[None])[0]
    torch.testing.assert_close(upsampled_gather(maps, index), ref, atol=1e-6, rtol=0)


def test_gather_with_log_normalizer_reads_softmax_probabilities() -> None:
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(4, 6, 30, generator=g)
    index = torch.randint(0, 30, (21, 17), generator=g)
    expected = upsampled_gather(logits.softmax(-1), index)
    ours = upsampled_gather(logits, index, logits.logsumexp(-1))
    torch.testing.assert_close(ours, expected, atol=1e-6, rtol=0)


def test_exact_argmax_without_k() -> None:
    torch.manual_seed(0)
    logits = torch.randn(5, 7, 70)  # more classes than one upsampling chunk
    full = F.interpolate(
        logits.permute(2, 0, 1)[None], size=(37, 50), mode="bilinear", align_corners=False
    )
    assert torch.equal(upsampled_argmax(logits, (37, 50), k=None), full[0].argmax(0))


@pytest.mark.parametrize(
    ("cells", "patch", "stride", "out_size"), [(7, 16, 8, 100), (13, 8, 2, 31)]
)
def test_dense_grid_taps_put_each_cell_at_its_patch_centre(
    cells: int, patch: int, stride: int, out_size: int
) -> None:
    """Known answer: a map holding each cell's centre (`i s + p / 2` model pixels) read
    back at output pixel `y` is that pixel's centre in model pixels, clamped to the
    first and last cell centres (bilinear interpolation of a linear function is exact)."""
    model_size = (cells - 1) * stride + patch
    centres = torch.arange(cells, dtype=torch.float32) * stride + patch / 2
    i0, i1, w1 = bilinear_taps(cells, out_size, span=patch // stride)
    ours = centres[i0] * (1 - w1) + centres[i1] * w1
    pixel = (torch.arange(out_size, dtype=torch.float32) + 0.5) * model_size / out_size
    torch.testing.assert_close(ours, pixel.clamp(patch / 2, centres[-1].item()))


def test_dense_grid_upsampling_argmax_and_gather_agree() -> None:
    """At span 2 the candidate decoding, the exact argmax and the gather all read the same
    upsampled maps (`upsample`, the separable taps)."""
    logits = smooth_logits(9, 11, 40, seed=5)
    size, span = (61, 47), 2
    full = upsample(logits.permute(2, 0, 1)[None], size, span)[0]
    assert torch.equal(upsampled_argmax(logits, size, k=None, span=span), full.argmax(0))
    assert torch.equal(upsampled_argmax(logits, size, k=40, span=span), full.argmax(0))
    index = full.argmax(0)
    expected = full.gather(0, index[None])[0]
    torch.testing.assert_close(upsampled_gather(logits, index, span=span), expected)
