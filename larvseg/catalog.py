"""The public timm classifiers larvseg runs as dense segmenters out of the box.

`CHECKPOINTS` lists hub ids a user can pass to `LarvSeg.from_pretrained` (or
`--model`), with what each is and what it costs on a CPU; `larvseg models` prints it.
The costs are measured by `benchmarks/families.py` (random weights of the same
architecture, one 512x512 image at size 512, all categories, 2 threads).
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import DEFAULT_MODEL, PAPER_INIT

TOY_MIOU: dict[str, tuple[float, float, str]] = {
    "class token": (9.3, 1.1, "class-token ViT"),
    "mean": (23.1, 3.0, "BiT CNN"),
    "mean + norm": (23.1, 7.5, "GAP ViT; 31.7 ± 9.6 with registers"),
}
"""What `benchmarks/training_free.py` measures for each pooling: dense mIoU (mean, std over
3 seeds, and the toy model) of small classifiers of matched size trained on image-level
toy labels only, at stride p, without preselection (docs/toy-benchmark.md)."""


@dataclass(frozen=True)
class Checkpoint:
    """A public classifier on the Hugging Face hub.

    Attributes:
        hub_id: the id to load (`timm/<architecture>.<pretrained tag>`).
        classes: categories of its head (21,843 / 21,841 ImageNet-21K/22K, 11,821
            ImageNet-12K, 1,000 ImageNet-1K).
        pooling: what its head was trained on: "class token", "mean" (the mean of the
            location features: the dense head is a class activation map) or "mean + norm"
            (a norm after the mean).
        params_m: parameters, millions.
        cpu_seconds: seconds per 512x512 image on 2 CPU threads (None: not measured).
        peak_rss_mib: peak resident memory of that run, MiB (None: not measured).
    """

    hub_id: str
    classes: int
    pooling: str
    params_m: float
    cpu_seconds: float | None = None
    peak_rss_mib: float | None = None

    @property
    def architecture(self) -> str:
        """timm's architecture name (the id without `timm/` and the pretrained tag)."""
        return self.hub_id.removeprefix("timm/").split(".", 1)[0]


CHECKPOINTS: tuple[Checkpoint, ...] = (
    Checkpoint(DEFAULT_MODEL, 21841, "mean + norm", 102.6, 2.26, 1636),
    Checkpoint(PAPER_INIT, 21843, "class token", 102.6, 1.27, 1351),
    Checkpoint("timm/vit_small_patch16_224.augreg_in21k", 21843, "class token", 30.1, 0.47, 1041),
    Checkpoint("timm/vit_large_patch16_224.augreg_in21k", 21843, "class token", 325.7, 4.07, 2214),
    Checkpoint(
        "timm/vit_base_patch16_clip_224.laion2b_ft_in12k", 11821, "class token", 94.9, 1.28, 1274
    ),
    Checkpoint(
        "timm/deit3_base_patch16_224.fb_in22k_ft_in1k", 1000, "class token", 86.6, 1.2, 1184
    ),
    Checkpoint("timm/vit_medium_patch16_gap_240.sw_in12k", 11821, "mean", 44.4, 0.63, 1060),
    Checkpoint(
        "timm/vit_medium_patch16_reg4_gap_256.sbb_in12k", 11821, "mean + norm", 44.4, 0.6, 1059
    ),
    Checkpoint(
        "timm/eva02_base_patch14_448.mim_in22k_ft_in22k", 21841, "mean + norm", 103.1, 1.99, 1363
    ),
    Checkpoint("timm/swin_base_patch4_window7_224.ms_in22k", 21841, "mean", 109.1, 1.25, 1406),
    Checkpoint("timm/convnext_tiny.fb_in22k", 21841, "mean + norm", 44.6, 0.33, 1132),
    Checkpoint("timm/convnext_base.fb_in22k", 21841, "mean + norm", 110.0, 1.14, 1377),
    Checkpoint("timm/resnetv2_50x1_bit.goog_in21k", 21843, "mean", 68.3, 0.37, 1161),
    Checkpoint("timm/tf_efficientnetv2_s.in21k", 21843, "mean", 48.2, 0.25, 1073),
)
"""The table of docs/weights.md, in its order."""


def checkpoint_table() -> str:
    """`CHECKPOINTS` as a Markdown table (what `larvseg models` prints)."""
    lines = [
        "| hub id | classes | pooling | params (M) | CPU s / 512x512 image | peak RSS (MiB) "
        "| toy mIoU of the pooling |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in CHECKPOINTS:
        seconds = "-" if c.cpu_seconds is None else f"{c.cpu_seconds:.2f}"
        rss = "-" if c.peak_rss_mib is None else f"{c.peak_rss_mib:.0f}"
        default = " (default)" if c.hub_id == DEFAULT_MODEL else ""
        lines.append(
            f"| {c.hub_id}{default} | {c.classes:,} | {c.pooling} | {c.params_m:.1f} | "
            f"{seconds} | {rss} | {_toy(c.pooling)} |"
        )
    return "\n".join(lines)


def _toy(pooling: str) -> str:
    """The toy experiment's mIoU of a pooling, as the table shows it."""
    mean, std, model = TOY_MIOU[pooling]
    return f"{mean:.1f} ± {std:.1f} ({model})"
