"""The CA attention diagnostic of any run: `larvseg-train diagnose SOURCE`.

A training checkpoint (`OUTPUT_DIR/checkpoints/iter_*.pt`) holds the model and its
memory bank; this loads both and measures, on a source whose true masks are known,
how much of the CA-Classifier's attention for each label falls inside that label's
true region (`larvseg.train.ca.diagnostics`). Images of any size are resized as
`segment()` resizes them (short side `image_size`, sides whole patches).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ...distributed import resolve_device
from ...errors import EvaluationError
from ...vocab.table import missing_wnids, wnid_positions
from ..ca.diagnostics import AttentionShare, attention_items, attention_share
from ..config import DataSourceConfig, TrainConfig
from ..data.dataset import build_dataset
from ..errors import TrainConfigError
from ..evaluation.runner import base_classes
from .checkpoint import find_checkpoint, load_checkpoint, model_from_state
from .trainer import ca_classifier


@dataclass(frozen=True)
class AttentionReport:
    """The attention share of one checkpoint on one source."""

    source: str
    checkpoint: str
    iteration: int
    share: AttentionShare

    def __str__(self) -> str:
        return (
            f"CA attention share on {self.source!r}, {self.checkpoint} (iteration "
            f"{self.iteration}); pairs = (image, label) whose label's bank is ready\n"
            + self.share.format_table()
        )


def diagnose_attention(
    config: TrainConfig,
    source_name: str,
    checkpoint: str | Path | None = None,
    *,
    max_images: int | None = None,
    device: str | torch.device | None = None,
) -> AttentionReport:
    """Attention share of a training checkpoint's CA-Classifier on a source with masks.

    Args:
        config: the run's configuration: `source_name` is looked up in its
            `data.sources` and `data.eval_sources`; its base classes (`data.base_classes`,
            else its segmentation sources' classes) are base, the others novel.
        source_name: a source with label maps (`annotations`); the labels of an
            image are the classes present in its map, as for multi-label data.
        checkpoint: a training state file or run folder (its latest); default
            `config.output_dir`. The CA settings are the checkpoint's own.
        max_images: measure the first this many images (None: all).
        device: "auto" (default: CUDA when available, else CPU), "cpu", "cuda:N", ...
    """
    source = _masked_source(config, source_name)
    path = find_checkpoint(checkpoint if checkpoint is not None else config.output_dir)
    state = load_checkpoint(path)
    if state.get("bank") is None:
        raise EvaluationError(
            f"{path} holds no memory bank: that run trained without the CA-Classifier "
            "(ca.enabled false, or no image-level source with aux_weight > 0)"
        )
    device = resolve_device(device)
    model = model_from_state(state).to(device)
    bank, ca_loss = ca_classifier(TrainConfig.from_dict(state["config"]).ca, model)
    bank.load_state_dict(state["bank"])
    bank.to(device)
    dataset = build_dataset(source, model.config.mean, model.config.std, train=False)
    positions = wnid_positions(model.config.categories, dataset.classes)
    missing = missing_wnids(positions, dataset.classes)
    if missing:
        raise EvaluationError(
            f"data source {source_name!r}: classes {missing[:5]} (of {len(missing)}) are not "
            f"classes of the model in {path}"
        )
    base = base_classes(config).wnids
    novel = torch.tensor([wnid not in base for wnid in dataset.classes])
    items = attention_items(dataset, model, max_images)
    share = attention_share(model, bank, ca_loss, items, torch.from_numpy(positions), novel)
    return AttentionReport(source_name, str(path), int(state["iteration"]), share)


def _masked_source(config: TrainConfig, name: str) -> DataSourceConfig:
    """The source called `name`, which must have label maps."""
    sources = {s.name: s for s in [*config.data.sources, *config.data.eval_sources]}
    if name not in sources:
        raise TrainConfigError(
            f"diagnose {name!r}: no source of that name in data.sources or "
            f"data.eval_sources (there are: {', '.join(sources) or 'none'})"
        )
    source = sources[name]
    if not source.annotations:
        raise TrainConfigError(
            f"diagnose {name!r}: the source has no label maps (`annotations`); "
            "the diagnostic needs the true masks of its images"
        )
    return source
