"""ONNX export of a larvseg network, and running the exported file inside larvseg.

The exported graph is the network alone: a normalised batch `pixel_values`
`(batch, 3, p * rows, p * cols)` -> `logits` `(batch, C, rows, cols)` (`p` the patch
size), with dynamic batch, height and width, the names of its dimensions. Resizing,
normalisation, sliding windows and the large-vocabulary decoding stay in larvseg:
`OnnxNetwork` runs the file with onnxruntime wherever larvseg's prediction path
takes a network (`larvseg.pipeline.predict.predict_labels`).

The file carries the model's `config.json` and patch size as metadata, so it is
all `OnnxNetwork` needs. Needs the `onnx` extra (onnx, onnxscript for torch's
exporter, onnxruntime).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from timm.layers import Conv2dSame

from ..atomic import atomic_files
from ..config import ModelConfig
from ..errors import BackboneError, CheckpointError, InputError
from ..extras import import_extra
from ..modeling.model import LarvSegModel
from ..pipeline.network import WholeNetwork

INPUT_NAME = "pixel_values"
OUTPUT_NAME = "logits"
CONFIG_KEY = "larvseg.config"
PATCH_SIZE_KEY = "larvseg.patch_size"
WINDOW_SIZE_KEY = "larvseg.window_size"
DEFAULT_OPSET = 18


def export_onnx(model: LarvSegModel, path: str | Path, opset: int = DEFAULT_OPSET) -> Path:
    """Export `model`'s forward pass (all classes) to an ONNX file at `path`.

    Uses torch's `torch.export`-based exporter (`torch.onnx.export(dynamo=True)`),
    which runs offline. Weights go into the file itself, or next to it as
    `<name>.data` when they exceed protobuf's 2 GB limit.

    Args:
        model: the network; exported from a float32 CPU copy in eval mode.
        path: the `.onnx` file to write (parent folders are created); written whole or
            not at all (`larvseg.atomic.atomic_files`).
        opset: the ONNX opset (default 18, the first with anti-aliased Resize, which
            the ViT's position-embedding interpolation needs).

    Returns:
        The path written.
    """
    import_extra("onnxscript", "onnx", "ONNX export")  # torch's exporter needs it
    onnx_ir = import_extra("onnx_ir", "onnx", "ONNX export")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    network = copy.deepcopy(model).to("cpu", torch.float32).eval()
    for module in network.modules():  # timm's fused attention does not export for all
        if hasattr(module, "fused_attn"):  # families (BEiT); the explicit form is the same
            setattr(module, "fused_attn", False)  # noqa: B010 (an nn.Module attribute)
    _fix_same_padding(network)
    p = model.patch_size
    window = model.window_size
    batch = torch.export.Dim("batch")
    if window is None:
        # a sample of batch 2 and a grid (2, 3) other than the pretrained grid, so that no
        # size is specialised (0/1 sizes, or the position embedding's own grid, would be)
        sample = torch.randn(2, 3, 2 * p, 3 * p)
        rows, cols = torch.export.Dim("rows"), torch.export.Dim("cols")
        dynamic_shapes: tuple[dict[int, Any], ...] = ({0: batch, 2: p * rows, 3: p * cols},)
        output_grid: list[str | int] = ["rows", "cols"]
    else:  # a fixed-size backbone (BEiT): windows of its one size, any batch
        sample = torch.randn(2, 3, window, window)
        dynamic_shapes = ({0: batch},)
        output_grid = [window // p, window // p]
    try:
        program = torch.onnx.export(
            network,
            (sample,),
            dynamo=True,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_shapes=dynamic_shapes,
            opset_version=opset,
            verbose=False,
        )
    except Exception as err:  # torch's exporter raises its own error types
        lines = [line.strip() for line in str(err).splitlines() if line.strip()] or [""]
        cause = next((line for line in lines if line.startswith("<class")), lines[0])
        raise BackboneError(
            f"torch's ONNX exporter cannot export {model.config.backbone}: "
            f"{type(err).__name__}: {cause[:300]} (ONNX export is tested for every larvseg family)"
        ) from err
    if program is None:  # only the legacy exporter returns None
        raise RuntimeError("torch.onnx.export(dynamo=True) returned no program")
    # name the output's dimensions as the input's (the exporter numbers them)
    program.model.graph.outputs[0].shape = onnx_ir.Shape(
        ["batch", model.config.num_classes, *output_grid]
    )
    program.model.metadata_props[CONFIG_KEY] = json.dumps(model.config.to_dict())
    program.model.metadata_props[PATCH_SIZE_KEY] = str(p)
    if window is not None:
        program.model.metadata_props[WINDOW_SIZE_KEY] = str(window)
    with atomic_files(path.parent, path.name) as staging:
        # torch still moves weights over 2 GB out, to <name>.data beside the file
        program.save(staging / path.name, external_data=False)
    return path


class _FixedPadConv(torch.nn.Module):
    """A `Conv2dSame` with a fixed padding `(left, right, top, bottom)` in place of the one
    it computes from each input's size."""

    def __init__(self, conv: Conv2dSame, padding: tuple[int, int, int, int]) -> None:
        super().__init__()
        self.conv, self.padding = conv, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv = self.conv
        x = F.pad(x, self.padding)
        return F.conv2d(x, conv.weight, conv.bias, conv.stride, 0, conv.dilation, conv.groups)


def _fix_same_padding(network: torch.nn.Module) -> None:
    """Give timm's TensorFlow-"SAME" convolutions (`Conv2dSame`, EfficientNetV2's strided
    convolutions) in `network` a fixed padding.

    `Conv2dSame` pads by an amount computed from each input's size, which torch's exporter
    carries as symbolic expressions nested one level deeper per layer (a tiny EfficientNetV2
    did not export in 7 minutes). The exported graph takes sizes that are multiples of the
    patch size (the network's total stride), so each of these convolutions sees a size that
    is a multiple of its stride, where TF's padding is the constant `(k - 1) * d + 1 - s`,
    split with the smaller half before: the same numbers, exported in seconds.
    """
    for name, module in list(network.named_modules()):
        if isinstance(module, Conv2dSame):
            height, width = (
                max((k - 1) * d + 1 - s, 0)
                for k, s, d in zip(module.kernel_size, module.stride, module.dilation, strict=True)
            )
            padding = (width // 2, width - width // 2, height // 2, height - height // 2)
            network.set_submodule(name, _FixedPadConv(module, padding))


class OnnxNetwork(WholeNetwork):
    """An exported larvseg network run by onnxruntime: a `DenseNetwork` for larvseg's
    prediction path (`predict_labels`), with the config and patch size read from the file.

    `network(x)`: normalised `(B, 3, H, W)` float32 -> logits `(B, C, H / p, W / p)`,
    float32 on the CPU.

    Args:
        path: an `.onnx` file written by `export_onnx` (or `larvseg export`).
        providers: onnxruntime execution providers (default: the CPU).
        threads: intra-op threads (default: onnxruntime's choice).
    """

    def __init__(
        self,
        path: str | Path,
        providers: list[str] | None = None,
        threads: int | None = None,
    ) -> None:
        ort = import_extra("onnxruntime", "onnx", "Running an ONNX model")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        if not Path(path).is_file():
            raise CheckpointError(f"{path}: no such ONNX file; write one with `larvseg export`")
        try:
            self.session: Any = ort.InferenceSession(
                str(path), options, providers=providers or ["CPUExecutionProvider"]
            )
        except Exception as err:  # onnxruntime raises its own exception types
            raise CheckpointError(f"{path}: onnxruntime cannot load it ({err})") from err
        metadata = self.session.get_modelmeta().custom_metadata_map
        if CONFIG_KEY not in metadata or PATCH_SIZE_KEY not in metadata:
            raise CheckpointError(
                f"{path} has no larvseg metadata ({CONFIG_KEY}, {PATCH_SIZE_KEY}); "
                "export the model with `larvseg export` or larvseg.export.onnx.export_onnx"
            )
        self._config = ModelConfig.from_dict(json.loads(metadata[CONFIG_KEY]))
        self._patch_size = int(metadata[PATCH_SIZE_KEY])
        window = metadata.get(WINDOW_SIZE_KEY)
        self._window_size = None if window is None else int(window)

    @property
    def config(self) -> ModelConfig:
        """The exported model's configuration (categories, input size, normalisation)."""
        return self._config

    @property
    def patch_size(self) -> int:
        """Side `p` of the patches, in pixels."""
        return self._patch_size

    @property
    def window_size(self) -> int | None:
        """The one window side of a fixed-size backbone's export (BEiT); None: any size."""
        return self._window_size

    @property
    def device(self) -> torch.device:
        """Inputs are read from, and logits returned on, the CPU."""
        return torch.device("cpu")

    def __call__(self, x: torch.Tensor, class_indices: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of all classes; `class_indices` is refused (the graph scores all of them,
        and a cosine model's scores over a subset differ from a slice of them)."""
        if class_indices is not None:
            raise InputError("an exported network scores all classes; pass class_indices=None")
        inputs = {INPUT_NAME: x.detach().to("cpu", torch.float32).numpy()}
        (logits,) = self.session.run([OUTPUT_NAME], inputs)
        return torch.from_numpy(logits)


def max_abs_difference(
    model: LarvSegModel, network: OnnxNetwork, shape: tuple[int, int, int, int], seed: int = 0
) -> float:
    """Largest absolute difference between `model`'s and `network`'s logits on one random
    normal input of `shape` `(B, 3, H, W)` (H, W multiples of the patch size)."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=generator)
    reference = copy.deepcopy(model).to("cpu", torch.float32).eval()
    with torch.inference_mode():
        expected = reference(x)
    return float((network(x) - expected).abs().max())
