"""ONNX export: onnxruntime matches PyTorch, the file is self-describing, and larvseg's own
pipeline runs it (the documented example gives `segment()`'s result)."""

from __future__ import annotations

import json
import runpy
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from larvseg.cli.main import main
from larvseg.config import ModelConfig
from larvseg.errors import BackboneError, CheckpointError, InputError, MissingExtraError
from larvseg.export.onnx import OnnxNetwork, export_onnx, max_abs_difference
from larvseg.modeling.model import LarvSegModel
from larvseg.segmenter import LarvSeg

ort = pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.slow  # each export traces the model with torch.export (~10 s)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "onnx_inference.py"
WNIDS = ["n02084071", "n02121808", "n01503061", "n03791053", "n12102133"]
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def model(tiny_cosine_config: Callable[..., ModelConfig]) -> LarvSegModel:
    """A tiny cosine ViT over 5 real wnids, random weights."""
    torch.manual_seed(0)
    return LarvSegModel(tiny_cosine_config(WNIDS)).eval()


@pytest.fixture(scope="module")
def exported(model: LarvSegModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx(model, tmp_path_factory.mktemp("onnx") / "sub" / "model.onnx")


@pytest.mark.parametrize("shape", [(1, 3, 64, 64), (2, 3, 96, 160)])
def test_onnxruntime_matches_pytorch(
    model: LarvSegModel, exported: Path, shape: tuple[int, ...]
) -> None:
    session = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    x = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    (logits,) = session.run(["logits"], {"pixel_values": x.numpy()})
    with torch.inference_mode():
        expected = model(x).numpy()
    assert logits.shape == expected.shape == (shape[0], 5, shape[2] // 16, shape[3] // 16)
    difference = float(np.abs(logits - expected).max())
    print(f"ONNX parity {shape}: max abs difference {difference:.2e}")
    assert difference < TOLERANCE


def test_batch_height_and_width_are_dynamic(exported: Path) -> None:
    session = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    [pixels], [logits] = session.get_inputs(), session.get_outputs()
    assert (pixels.name, pixels.shape) == ("pixel_values", ["batch", 3, "16*rows", "16*cols"])
    assert (logits.name, logits.shape) == ("logits", ["batch", 5, "rows", "cols"])


def test_the_file_carries_the_config(model: LarvSegModel, exported: Path) -> None:
    network = OnnxNetwork(exported)
    assert network.config == model.config
    assert network.patch_size == 16
    assert network.device == torch.device("cpu")
    # the model's native grid (224 / 16 = 14) and a single patch run too
    assert max_abs_difference(model, network, (1, 3, 224, 224)) < TOLERANCE
    assert max_abs_difference(model, network, (3, 3, 16, 16)) < TOLERANCE
    with pytest.raises(InputError, match="scores all classes"):
        network(torch.zeros(1, 3, 16, 16), torch.tensor([0, 1]))


def test_the_example_runs_larvsegs_pipeline_on_the_onnx_model(
    model: LarvSegModel,
    exported: Path,
    real_images: list[Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    photo = real_images[5]  # an Eskimo dog
    vocab = ["dog.n.01", "bird.n.01", "grass.n.01"]
    argv = [str(EXAMPLE), str(exported), str(photo), "--vocab", *vocab, "--out"]
    monkeypatch.setattr(sys, "argv", [*argv, str(tmp_path / "onnx")])
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    assert "wrote labels" in capsys.readouterr().out
    LarvSeg(model, device="cpu").segment(photo, vocab=vocab).save(tmp_path / "torch")
    onnx_json = json.loads((tmp_path / "onnx.json").read_text())
    torch_json = json.loads((tmp_path / "torch.json").read_text())
    assert onnx_json["categories"] == torch_json["categories"]
    width, height = Image.open(photo).size
    assert (onnx_json["height"], onnx_json["width"]) == (height, width)
    onnx_labels = np.asarray(Image.open(tmp_path / "onnx_labels.png"))
    torch_labels = np.asarray(Image.open(tmp_path / "torch_labels.png"))
    assert (onnx_labels == torch_labels).mean() > 0.999


def test_larvseg_segment_runs_an_exported_file(
    model: LarvSegModel, exported: Path, sample_photo: Path, tmp_path: Path
) -> None:
    """`larvseg segment IMG --model exported.onnx` gives the PyTorch model's result."""
    vocab = ["dog.n.01", "bird.n.01", "grass.n.01"]
    argv = ["segment", str(sample_photo), "--model", str(exported), "--vocab", *vocab]
    assert main([*argv, "-o", str(tmp_path / "onnx")]) == 0
    reference = LarvSeg(model, device="cpu").segment(sample_photo, vocab=vocab)
    reference.save(tmp_path / "torch" / sample_photo.stem)
    onnx_out, torch_out = (
        tmp_path / "onnx" / sample_photo.stem,
        tmp_path / "torch" / sample_photo.stem,
    )
    onnx_json = json.loads(Path(f"{onnx_out}.json").read_text())
    assert (
        onnx_json["categories"] == json.loads(Path(f"{torch_out}.json").read_text())["categories"]
    )
    onnx_labels = np.asarray(Image.open(f"{onnx_out}_labels.png"))
    torch_labels = np.asarray(Image.open(f"{torch_out}_labels.png"))
    assert onnx_labels.shape == (300, 451)
    assert (onnx_labels == torch_labels).mean() > 0.999
    loaded = LarvSeg.from_pretrained(exported)
    assert isinstance(loaded.model, OnnxNetwork) and loaded.device == torch.device("cpu")
    with pytest.raises(InputError, match="runs in float32"):
        LarvSeg.from_pretrained(exported, dtype="bf16")
    with pytest.raises(InputError, match="has no checkpoint to save"):
        loaded.save_pretrained(tmp_path / "ckpt")


def test_an_onnx_file_without_the_extra_says_what_to_install(
    exported: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(MissingExtraError, match=r'pip install "larvseg\[onnx\]"'):
        LarvSeg.from_pretrained(exported)


def test_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no such ONNX file"):
        OnnxNetwork(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a protobuf")
    with pytest.raises(CheckpointError, match="onnxruntime cannot load it"):
        OnnxNetwork(tmp_path / "junk.onnx")
    onnx = pytest.importorskip("onnx")
    identity = onnx.helper.make_node("Identity", ["pixel_values"], ["logits"])
    tensor = onnx.helper.make_tensor_value_info("pixel_values", onnx.TensorProto.FLOAT, [1])
    output = onnx.helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, [1])
    graph = onnx.helper.make_graph([identity], "plain", [tensor], [output])
    opset = onnx.helper.make_opsetid("", 18)
    plain = onnx.helper.make_model(graph, ir_version=10, opset_imports=[opset])
    onnx.save(plain, tmp_path / "plain.onnx")
    with pytest.raises(CheckpointError, match="no larvseg metadata"):
        OnnxNetwork(tmp_path / "plain.onnx")


def test_export_without_the_extra_says_what_to_install(
    model: LarvSegModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnxscript", None)
    with pytest.raises(MissingExtraError, match=r'pip install "larvseg\[onnx\]"'):
        export_onnx(model, tmp_path / "model.onnx")


def test_a_fixed_size_backbone_exports_at_its_window(sample_photo: Path, tmp_path: Path) -> None:
    """BEiT (the default model's family) runs at 224x224 only: the file takes that size and
    any batch, and larvseg's sliding windows over it give the PyTorch model's result."""
    import timm

    kwargs = {"depth": 1, "embed_dim": 32, "num_heads": 2}
    torch.manual_seed(0)
    timm_model = timm.create_model("beitv2_base_patch16_224", num_classes=1000, **kwargs)
    timm.models.save_for_hf(
        timm_model, tmp_path / "beit", model_args=kwargs, safe_serialization=True
    )
    model = LarvSegModel.from_pretrained(tmp_path / "beit")
    exported = export_onnx(model, tmp_path / "beit.onnx")
    network = OnnxNetwork(exported)
    assert network.window_size == model.window_size == 224
    session = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    [pixels], [logits] = session.get_inputs(), session.get_outputs()
    assert (pixels.shape, logits.shape) == (["batch", 3, 224, 224], ["batch", 1000, 14, 14])
    assert max_abs_difference(model, network, (3, 3, 224, 224)) < TOLERANCE
    vocab = ["dog.n.01", "cat.n.01", "bird.n.01"]
    onnx_seg = LarvSeg.from_pretrained(exported).segment(sample_photo, vocab=vocab)
    torch_seg = LarvSeg(model, device="cpu").segment(sample_photo, vocab=vocab)
    assert onnx_seg.labels.shape == torch_seg.labels.shape == (300, 451)
    assert (onnx_seg.labels == torch_seg.labels).mean() > 0.999


def test_an_exporter_failure_is_one_backbone_error(
    model: LarvSegModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """torch's exporter fails with pages of text: one line naming the backbone and the
    cause, and no file."""

    def fail(*args: object, **kwargs: object) -> None:
        raise ValueError(
            "Failed to decompose the FX graph.\n## Exception summary\n"
            "<class 'ValueError'>: Cannot view a tensor\n(see above)"
        )

    monkeypatch.setattr(torch.onnx, "export", fail)
    with pytest.raises(BackboneError) as err:
        export_onnx(model, tmp_path / "x.onnx")
    assert str(err.value) == (
        f"torch's ONNX exporter cannot export {model.config.backbone}: ValueError: "
        "<class 'ValueError'>: Cannot view a tensor "
        "(ONNX export is tested for every larvseg family)"
    )
    assert not (tmp_path / "x.onnx").exists()


@pytest.mark.parametrize("family", ["convnext", "bit", "swin", "efficientnetv2"])
def test_feature_map_families_export(family: str, tmp_path: Path) -> None:
    """CNNs and Swin (stride-32 feature maps; EfficientNetV2 with TensorFlow's "SAME"
    padding, fixed in the exported copy) export with dynamic batch and size, and onnxruntime
    gives PyTorch's logits at even and odd grids."""
    from tests.modeling.test_families import _save

    _, folder = _save(family, tmp_path / family)
    model = LarvSegModel.from_pretrained(folder)
    network = OnnxNetwork(export_onnx(model, tmp_path / f"{family}.onnx"))
    p = model.patch_size
    generator = torch.Generator().manual_seed(0)
    for shape in ((2, 3, 4 * p, 6 * p), (1, 3, 7 * p, 5 * p)):
        x = torch.randn(shape, generator=generator)
        with torch.inference_mode():
            expected = model(x)
        torch.testing.assert_close(network(x), expected, rtol=1e-4, atol=1e-4)
