"""Write tests/pipeline/data/decode_reference.npz: decoder inputs and the outputs of the
decoder on PYTHONPATH (generated once with larvseg 0.2.0's CPU decoder, so that
tests/pipeline/test_decode_reference.py holds later decoders to it bit for bit).

    PYTHONPATH=/path/to/larvseg-0.2.0 python scripts/make_decode_reference.py PHOTO PHOTO
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import timm
import torch
import torch.nn.functional as F
from PIL import Image

from larvseg.pipeline.labeling import ItemAssignment, label_pixels

OUT = Path(__file__).resolve().parents[1] / "tests" / "pipeline" / "data" / "decode_reference.npz"


def smooth_logits(h: int, w: int, classes: int, seed: int) -> torch.Tensor:
    """Spatially smooth logits plus a little noise (neighbouring patches agree)."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randn(1, classes, 2, 3, generator=g)
    fine = F.interpolate(coarse, (h, w), mode="bilinear", align_corners=False)[0]
    return fine.permute(1, 2, 0).contiguous() + 0.3 * torch.randn(h, w, classes, generator=g)


def photo_logits(path: str) -> tuple[torch.Tensor, tuple[int, int]]:
    """Logits `(h, w, 1000)` of a tiny random-weight ViT over the photo's patches at 96 px
    short side, and a quarter of the photo's size."""
    torch.manual_seed(0)
    model: Any = timm.create_model(
        "vit_tiny_patch16_224", num_classes=1000, depth=1, embed_dim=32, num_heads=2
    ).eval()
    image = Image.open(path).convert("RGB")
    width, height = image.size
    scale = 96 / min(width, height)
    size = (round(width * scale) // 16 * 16, round(height * scale) // 16 * 16)
    x = torch.from_numpy(np.asarray(image.resize(size), dtype=np.float32) / 127.5 - 1)
    with torch.inference_mode():
        model.set_input_size(img_size=(size[1], size[0]))
        tokens = model.forward_features(x.permute(2, 0, 1)[None])[:, model.num_prefix_tokens :]
        logits = model.head(tokens)[0]
    return logits.reshape(size[1] // 16, size[0] // 16, 1000), (height // 4, width // 4)


def main() -> None:
    g = torch.Generator().manual_seed(0)
    with_unassigned = torch.randint(-1, 5, (40,), generator=g)
    cases: list[tuple[str, torch.Tensor, torch.Tensor, int, str, tuple[int, int], int | None, int]]
    cases = [
        (
            "smooth",
            smooth_logits(8, 10, 1000, 0),
            torch.arange(1000),
            1000,
            "closed",
            (128, 150),
            8,
            1,
        ),
        (
            "exact",
            torch.randn(5, 7, 70, generator=g),
            torch.arange(70),
            70,
            "closed",
            (37, 50),
            None,
            1,
        ),
        (
            "span2_open",
            torch.randn(7, 9, 40, generator=g),
            with_unassigned,
            5,
            "open",
            (61, 83),
            8,
            2,
        ),
    ]
    closed_logits = torch.randn(7, 9, int((with_unassigned >= 0).sum()), generator=g)
    cases.append(("closed_subset", closed_logits, with_unassigned, 5, "closed", (61, 83), 8, 2))
    groups = torch.randint(-1, 12, (1000,), generator=g)
    for i, path in enumerate(sys.argv[1:]):
        logits, size = photo_logits(path)
        cases.append((f"photo{i}", logits, torch.arange(1000), 1000, "closed", size, 8, 1))
        cases.append((f"photo{i}_open", logits, groups, 12, "open", size, 8, 1))
    arrays: dict[str, Any] = {}
    for name, logits, assignment, num_items, mode, size, k, span in cases:
        items = ItemAssignment(assignment, num_items, mode)
        labels, scores = label_pixels(logits, items, size, k, span)
        arrays |= {
            f"{name}/logits": logits.numpy(),
            f"{name}/assignment": assignment.numpy(),
            f"{name}/setup": np.array([num_items, size[0], size[1], -1 if k is None else k, span]),
            f"{name}/mode": np.array(mode),
            f"{name}/labels": labels,
            f"{name}/scores": scores,
        }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **arrays)
    print(f"{OUT}: {len(cases)} cases, {OUT.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
