"""One run of the toy benchmark: train a packaged `toy/` configuration on a generated dataset,
measure the CA attention share during training, evaluate mIoU all / base / novel.

`benchmarks/toy_experiment.py` runs every method for several seeds and prints the
table; docs/toy-benchmark.md describes the benchmark.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ...atomic import write_text
from ...dataclass_io import read_dataclass, to_plain
from ...evaluation.runner import evaluate
from ...vocab.table import wnid_positions
from ..ca.diagnostics import AttentionShare, attention_items, attention_share
from ..config import DataSourceConfig
from ..data.dataset import build_dataset
from ..engine.trainer import Trainer
from ..errors import TrainConfigError
from ..schema import load_config
from .generate import read_manifest

PHASES = (("early", 0.1), ("middle", 0.5), ("end", 1.0))
"""Training phases (share of the iterations) after which the attention is measured."""

DIAGNOSTIC_IMAGES = 64


def phase_end(share: float, iterations: int) -> int:
    """The iteration at which a phase ending at `share` of `iterations` stops (>= 1)."""
    return max(1, round(share * iterations))


SMOKE_SPEC = {
    "num_base": 3,
    "num_novel": 2,
    "image_size": 32,
    "base_images": 6,
    "scene_images": 6,
    "object_images": 3,
    "val_images": 4,
}
"""`ToySpec` arguments of the smoke version: a tiny dataset."""

SMOKE_OVERRIDES = (
    "optim.iterations=6",
    "ca.bank_size=2",
    "ca.topk=2",
    "model.image_size=32",
    "model.backbone_kwargs.depth=1",
    "model.backbone_kwargs.img_size=32",
    *(f"data.sources.{i}.{key}" for i in range(3) for key in ("crop_size=32", "batch_size=2")),
)
"""Config overrides of the smoke version: a 1-block ViT, 6 iterations, 2-entry banks."""


@dataclass(frozen=True)
class ToyRunResult:
    """What one run measured.

    Attributes:
        miou: `{"all", "base", "novel"}` mIoU (%) on the validation scenes.
        attention: `{phase: AttentionShare}` of the CA attention on the weak scenes
            (empty when the run has no CA-Classifier).
        seconds: wall time of training plus evaluation.
    """

    method: str
    seed: int
    iterations: int
    miou: dict[str, float]
    attention: dict[str, AttentionShare]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return to_plain(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ToyRunResult:
        """Read back what `to_dict` wrote."""
        return read_dataclass(cls, data, error=TrainConfigError)


def _scene_masks(root: Path) -> DataSourceConfig:
    """The weak multi-label scenes read with their true masks (diagnostic only)."""
    return DataSourceConfig(
        name="scenes_with_masks",
        kind="segmentation",
        images=str(root / "scenes" / "images"),
        annotations=str(root / "scenes" / "annotations"),
        classes=str(root / "classes.txt"),
        image_suffix=".png",
    )


def run_toy(
    config_file: str | Path,
    data_root: str | Path,
    output_dir: str | Path,
    *,
    seed: int,
    overrides: tuple[str, ...] = (),
) -> ToyRunResult:
    """Train `config_file` (a file, or a packaged name such as "toy/larvseg") on the toy data
    under `data_root`.

    Trains with `seed` into `output_dir`, stopping after each of PHASES to measure the
    CA attention share on the first DIAGNOSTIC_IMAGES weak scenes (when the run has a
    CA-Classifier), then evaluates on the validation scenes with base/novel taken
    from the dataset's manifest. `overrides` are `--set` style `key=value` strings.
    """
    root = Path(data_root)
    start = time.perf_counter()
    config = load_config(
        config_file, [f"seed={seed}", f"output_dir={output_dir}", *overrides], data_root=str(root)
    )
    _, classes = read_manifest(root)
    novel_wnids = {c.wnid for c in classes if c.role == "novel"}
    trainer = Trainer(config)
    model = trainer.model
    mean, std = model.config.mean, model.config.std
    scenes = build_dataset(_scene_masks(root), mean, std, train=False)
    items = list(attention_items(scenes, model, DIAGNOSTIC_IMAGES))
    scene_ids = torch.from_numpy(wnid_positions(model.config.categories, scenes.classes))
    scene_novel = torch.tensor([w in novel_wnids for w in scenes.classes])
    ca_loss = trainer.forward.ca_loss
    attention = {}
    total = config.optim.iterations
    for phase, share in PHASES:
        trainer.train(stop_at=phase_end(share, total))
        if trainer.bank is not None and ca_loss is not None:
            attention[phase] = attention_share(
                model, trainer.bank, ca_loss, items, scene_ids, scene_novel
            )
    val = config.data.eval_sources[0]
    dataset = build_dataset(val, mean, std, train=False)
    base = [w not in novel_wnids for w in dataset.classes]
    result = evaluate(model, dataset, base, progress=False, name=val.name)
    miou = {"all": result.miou, "base": result.miou_base, "novel": result.miou_novel}
    return ToyRunResult(
        method=Path(config_file).stem,
        seed=seed,
        iterations=total,
        miou={k: float("nan") if v is None else 100 * v for k, v in miou.items()},
        attention=attention,
        seconds=time.perf_counter() - start,
    )


def save_result(result: ToyRunResult, path: str | Path) -> None:
    """Write a run's result as JSON (atomically, `larvseg.atomic`)."""
    write_text(path, json.dumps(result.to_dict(), indent=2) + "\n")


def load_result(path: str | Path) -> ToyRunResult:
    """Read a result written by `save_result`."""
    return ToyRunResult.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
