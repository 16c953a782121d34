"""The forward pass of one training iteration over a mixed batch: every source, every loss term.

The whole multi-source forward is one `nn.Module.forward`, so DistributedDataParallel
sees exactly one forward per backward. Each source is scored over its own classes,
or, with class sampling (docs/method.md), over the classes present in its batch plus
`num_sample_class` random others, with its targets remapped into that sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ...evaluation.labelmaps import IGNORE_INDEX
from ...modeling.model import LarvSegModel
from ..ca.attention import BankUpdate, CAClassifierLoss
from ..ca.memory_bank import MemoryBank
from ..losses import image_label_loss, segmentation_loss

Batch = dict[str, Any]


@dataclass(frozen=True)
class SourceSpec:
    """What the forward pass needs to know about one data source.

    Attributes:
        name: source name (the key of its batch and the prefix of its loss terms).
        kind: "segmentation", "multilabel" or "singlelabel".
        class_ids: model class index of each source class, `(C_s,)` long.
        loss_weight: weight of the main loss (L_seg or L_cls).
        aux_weight: weight of the CA auxiliary loss (image-level sources).
        sample: whether this source scores a sample of its classes each step.
    """

    name: str
    kind: str
    class_ids: torch.Tensor
    loss_weight: float
    aux_weight: float
    sample: bool

    @property
    def image_level(self) -> bool:
        return self.kind != "segmentation"


def sample_classes(
    batch: Batch, spec: SourceSpec, extra: int, generator: torch.Generator
) -> tuple[torch.Tensor, Batch]:
    """Source-class indices to score `(C',)` and the batch with targets remapped into them.

    Without sampling: all source classes, batch unchanged. With it: the sorted classes
    present in the batch, then `extra` others drawn with `generator`; ignored target
    pixels (`IGNORE_INDEX`) and label padding (-1) stay -1.
    """
    num = spec.class_ids.numel()
    if not spec.sample:
        return torch.arange(num), batch
    key = "labels" if spec.image_level else "target"
    values = batch[key]
    valid = values >= 0 if spec.image_level else values != IGNORE_INDEX
    present = torch.unique(values[valid]).cpu()
    absent = torch.ones(num, dtype=torch.bool)
    absent[present] = False
    order = torch.randperm(num, generator=generator)
    others = order[absent[order]][:extra]
    local = torch.cat([present, others])
    lookup = torch.full((num,), -1, dtype=torch.long)
    lookup[local] = torch.arange(local.numel())
    lookup = lookup.to(values.device)
    remapped = torch.where(valid, lookup[values.clamp(min=0, max=num - 1)], values)
    return local, {**batch, key: remapped}


class MultiSourceForward(nn.Module):
    """`forward(batches, classes, bank)` -> (loss terms, bank updates) of one iteration.

    Args:
        model: the cosine LarvSegModel being trained.
        sources: one `SourceSpec` per source, in config order.
        ca_loss: the CA-Classifier loss, or None when CA is off.
        autocast: run the forward under bf16 autocast (CUDA only).
    """

    def __init__(
        self,
        model: LarvSegModel,
        sources: list[SourceSpec],
        ca_loss: CAClassifierLoss | None,
        autocast: bool,
    ) -> None:
        super().__init__()
        self.model = model
        self.sources = sources
        self.ca_loss = ca_loss
        self.autocast = autocast

    def forward(
        self, batches: dict[str, Batch], classes: dict[str, torch.Tensor], bank: MemoryBank | None
    ) -> tuple[dict[str, torch.Tensor], list[BankUpdate]]:
        """Unweighted loss terms `{"<source>/<seg|cls|aux>": scalar}` and pending bank
        updates `[(model class ids (P,), entries (P, d))]` (not applied).

        `classes[name]` are the source-class indices scored for that source `(C',)`.
        """
        classifier = self.model.cosine_classifier
        terms: dict[str, torch.Tensor] = {}
        updates: list[BankUpdate] = []
        device_type = batches[self.sources[0].name]["image"].device.type
        for source in self.sources:
            batch = batches[source.name]
            model_ids = source.class_ids.to(batch["image"].device)[classes[source.name]]
            with torch.autocast(device_type, torch.bfloat16, enabled=self.autocast):
                features = self.model.forward_features(batch["image"])
                pixels, cosine = classifier.cosine(features, model_ids)
                logits = classifier.normalize_scores(cosine)
            if not source.image_level:
                terms[f"{source.name}/seg"] = segmentation_loss(logits.float(), batch["target"])
                continue
            labels = batch["labels"]
            terms[f"{source.name}/cls"] = image_label_loss(logits.float(), labels)
            if self.ca_loss is not None and bank is not None and source.aux_weight > 0:
                aux, update = self.ca_loss(
                    pixels.float(),
                    cosine.float(),
                    logits.float(),
                    labels,
                    model_ids,
                    bank,
                )
                terms[f"{source.name}/aux"] = aux
                updates.append(update)
        return terms, updates

    def weights(self) -> dict[str, float]:
        """The weight of every loss term name `forward` can return."""
        out: dict[str, float] = {}
        for source in self.sources:
            if source.image_level:
                out[f"{source.name}/cls"] = source.loss_weight
                out[f"{source.name}/aux"] = source.aux_weight
            else:
                out[f"{source.name}/seg"] = source.loss_weight
        return out
