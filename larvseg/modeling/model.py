"""The segmentation network (ViT backbone + dense classifier) and its one loader.

`LarvSegModel.from_pretrained` is the only code path that turns a checkpoint (a
local folder, a Hugging Face hub id, a larvseg or a timm repository) into a model;
`LarvSeg.from_pretrained` and training's warm start both go through it.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import __version__, hub
from ..config import DEFAULT_MODEL, ModelConfig
from ..errors import BackboneError, CheckpointError, ConfigError, InputError
from .backbone import ViTBackbone
from .classifier import CosineClassifier, LinearClassifier
from .features import Features
from .map_backbone import MapBackbone
from .timm_convert import (
    checkpoint_config,
    create_timm_model,
    is_timm_config,
    split_timm_classifier,
    timm_family,
    timm_state_dict,
)


class LarvSegModel(nn.Module):
    """A timm backbone plus a cosine or linear dense classifier.

    The cosine classifier (LarvSeg's, trained by `larvseg-train`) sits on a ViT; a timm
    classifier's own head (linear) is applied to every location of the final feature
    map of any family in `timm_convert.FAMILIES` (ViTs, BEiT, Swin, ConvNeXt, BiT,
    EfficientNetV2).

    `forward(x)`: normalised batch `(B, 3, H, W)` (H, W multiples of `patch_size`)
    -> logits `(B, C, H / p, W / p)` over all `C = config.num_classes` categories.

    Args:
        config: the architecture and vocabulary (random weights; load trained ones
            with `from_pretrained`).
        init_weights: False skips timm's initialisation of the backbone (for weights
            that are loaded next).
    """

    def __init__(self, config: ModelConfig, *, init_weights: bool = True) -> None:
        super().__init__()
        self.config = config
        classifier: CosineClassifier | LinearClassifier
        self.backbone: ViTBackbone | MapBackbone
        self.timm_prefixes: dict[str, str]  # timm tensor names -> ours (`timm_state_dict`)
        name, kwargs = config.backbone, config.backbone_kwargs
        if config.classifier == "linear":
            net = create_timm_model(name, kwargs, config.num_classes, init_weights=init_weights)
            self.backbone, classifier, self.timm_prefixes = split_timm_classifier(net, name)
        else:
            family = timm_family(name)
            if not family.trainable:
                raise BackboneError(
                    f"{name!r} is a {family.name} model: the cosine classifier (training) "
                    "needs a ViT-family backbone; other families are inference-only"
                )
            self.backbone = ViTBackbone(
                create_timm_model(name, kwargs, 0, init_weights=init_weights)
            )
            width = self.backbone.width
            classifier = CosineClassifier(width, config.embed_dim or width, config.num_classes)
            self.timm_prefixes = {}
        self.classifier = classifier

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path = DEFAULT_MODEL) -> LarvSegModel:
        """Load a larvseg checkpoint or a timm classifier (made dense) from a folder or the hub.

        `name_or_path` is a local folder (a `Path`, `local-dir:FOLDER`, or a name that
        looks like a path) or a Hugging Face hub id `owner/name` (`hf-hub:` forces it;
        downloaded through huggingface_hub's cache, `HF_HUB_OFFLINE=1` uses the cache
        only); `hub.checkpoint_source` decides. A timm classifier's head becomes a
        per-patch linear classifier with the same weights.

        Returns:
            The model in eval mode on CPU, float32.

        Raises:
            CheckpointError: missing, unreadable or mismatched files; the message names
                the checkpoint and says what to do.
        """
        source = str(name_or_path)
        raw = hub.read_config(name_or_path)
        model = cls.skeleton(checkpoint_config(raw, source))
        state = hub.read_weights(name_or_path)
        if is_timm_config(raw):
            state = timm_state_dict(state, model.timm_prefixes)
        try:  # the model takes the read tensors as its parameters: no second copy
            model.load_state_dict(state, strict=True, assign=True)
        except RuntimeError as err:
            raise CheckpointError(
                f"the weights of {source!r} do not match its config.json: {err}"
            ) from err
        return model.float().eval()

    @classmethod
    def skeleton(cls, config: ModelConfig) -> LarvSegModel:
        """The network of `config` with unallocated (meta) weights, for
        `load_state_dict(..., assign=True)`: no random initialisation, no memory.

        A backbone with non-persistent buffers (computed at construction, absent from
        checkpoints) is built on CPU instead, so that those buffers are real.
        """
        with torch.device("meta"):
            model = cls(config, init_weights=False)
        saved = model.state_dict().keys()
        if any(name not in saved for name, _ in model.named_buffers()):
            return cls(config, init_weights=False)
        return model

    def save_pretrained(self, save_directory: str | Path) -> Path:
        """Write `config.json` (with this larvseg's version) + `model.safetensors`, loadable by
        `from_pretrained`."""
        config = replace(self.config, larvseg_version=__version__).to_dict()
        return hub.write_checkpoint(save_directory, config, self.state_dict())

    def push_to_hub(self, repo_id: str, **kwargs: Any) -> str:
        """Upload the checkpoint (and a model card) to the Hugging Face hub.

        `kwargs` go to `huggingface_hub.HfApi.upload_folder` (`commit_message`,
        `revision`, ...; `token` and `private` also apply to creating the repository).
        Returns the commit URL.
        """
        with tempfile.TemporaryDirectory() as folder:
            self.save_pretrained(folder)
            return hub.upload_checkpoint(folder, repo_id, **kwargs)

    @property
    def patch_size(self) -> int:
        """Side `p` of the backbone's square patches (a ViT) or output stride (a feature-map
        backbone), in pixels."""
        return self.backbone.patch_size

    @property
    def window_size(self) -> int | None:
        """The one window side the backbone runs at (BEiT), None for any."""
        return self.backbone.fixed_size

    @property
    def device(self) -> torch.device:
        """The device of the weights."""
        return next(self.parameters()).device

    @property
    def cosine_classifier(self) -> CosineClassifier:
        """The cosine classifier; `ConfigError` for a linear (timm) model, which training
        and the CA-Classifier cannot use."""
        if not isinstance(self.classifier, CosineClassifier):
            raise ConfigError(
                "this model has a linear (timm) classifier; training and the CA-Classifier need "
                "a cosine model (larvseg-train converts one with model.init)"
            )
        return self.classifier

    def forward_features(self, x: torch.Tensor, stride: int | None = None) -> torch.Tensor:
        """Patch features `(B, D, h, w)` of a normalised batch `(B, 3, H, W)`: `h = H / p`,
        or `(H - p) / stride + 1` at a `stride` dividing `p` (see `ViTBackbone`)."""
        return self.backbone(x, stride)

    def features(self, x: torch.Tensor, stride: int | None = None) -> Features:
        """Patch features (as `forward_features`) and the image-level vector `(B, D)`:
        timm's pooled vector for a timm classifier, the mean patch feature for a cosine
        model (its classifier is trained on patches)."""
        features = self.backbone.features(x, stride)
        if isinstance(self.classifier, CosineClassifier):
            return Features(features.grid, features.grid.mean(dim=(2, 3)))
        return features

    def classify(self, grid: torch.Tensor, classes: torch.Tensor | None = None) -> torch.Tensor:
        """Logits `(B, C, h, w)` of all classes at each location of `grid` `(B, D, h, w)`, or
        those of `classes` `(C',)` only: a linear head scores just them, the cosine
        classifier normalises over all classes first (`(B, C', h, w)` either way)."""
        if classes is None:
            return self.classifier(grid)
        if isinstance(self.classifier, CosineClassifier):
            return self.classifier(grid)[:, classes]
        return self.classifier(grid, classes)

    def image_logits(self, features: Features) -> torch.Tensor:
        """Image-level logits `(B, C)`: the classifier applied to `features.image`, as timm's
        head scores the image for a timm classifier."""
        if features.image is None:
            raise InputError("these features carry no image-level vector")
        return self.classifier(features.image[:, :, None, None])[:, :, 0, 0]

    def forward(
        self,
        x: torch.Tensor,
        class_indices: torch.Tensor | None = None,
        *,
        stride: int | None = None,
    ) -> torch.Tensor:
        """Logits `(B, C', h, w)` over all classes or over `class_indices` `(C',)`; `h, w`
        as in `forward_features`."""
        return self.classifier(self.backbone(x, stride), class_indices)
