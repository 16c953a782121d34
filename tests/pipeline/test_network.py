"""`WholeNetwork`: a network that only runs whole meets the two-level contract."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from larvseg.errors import InputError
from larvseg.pipeline.network import WholeNetwork
from larvseg.pipeline.windows import window_logits


class PatchMeanWhole(WholeNetwork):
    """Runs whole: each cell's 'logit' is the mean of its 16 x 16 patch (3 'classes')."""

    config = SimpleNamespace(num_classes=3)

    @property
    def patch_size(self) -> int:
        return 16

    def __call__(self, x: torch.Tensor, class_indices: torch.Tensor | None = None) -> torch.Tensor:
        return F.avg_pool2d(x, 16)


def test_whole_network_runs_through_the_windows_at_its_patch_size() -> None:
    image = torch.randn(1, 3, 64, 112)
    (logits,) = window_logits(PatchMeanWhole(), [image], 64, 32)  # type: ignore[arg-type]
    torch.testing.assert_close(logits, F.avg_pool2d(image, 16)[0].permute(1, 2, 0))


def test_whole_network_refuses_other_strides_and_image_logits() -> None:
    network = PatchMeanWhole()
    with pytest.raises(InputError, match="stride 8: this network runs at its patch size 16"):
        network.features(torch.randn(1, 3, 32, 32), 8)
    with pytest.raises(InputError, match="no image-level logits"):
        network.image_logits(network.features(torch.randn(1, 3, 32, 32), 16))
