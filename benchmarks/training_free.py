"""Which classifier family makes the best dense segmenter without pixel labels? The toy, measured.

Pretrains five small classifiers of matched size on image-level labels only (toy
images that each show one class's texture, `larvseg.train.toy.textures`): a class-token
ViT, a GAP ViT, a GAP ViT with 4 registers and two dilated CNNs, a BiT-style ResNetV2
and a ConvNeXt (output stride 8, so their grid matches the ViTs' patch 8). Each is
saved with `timm.models.save_for_hf` (safetensors + label_names) and segments multi-class toy scenes
(`larvseg.train.toy.generate`'s validation scenes, 2-4 classes each, never seen with
pixel labels) through larvseg's own loader and evaluation (`LarvSeg.from_pretrained`,
`evaluate`: closed mode over the toy classes, mIoU). Varied per classifier:

- stride: the patch-embedding stride, p = 8 and p / 2 = 4 (ViTs only);
- preselect K: only the top-K classes of the classifier's own image-level prediction
  compete at each location (`PredictOptions.preselect`; None = all classes);
- last block: as trained, or the training-free change of CLIP dense-prediction work
  (ClearCLIP: last block without its residual and MLP, query-query attention;
  "qq+kk": with query-query plus key-key attention, as SCLIP's correlative attention),
  patched onto the loaded model's timm ViT for the run (it also changes the class
  token or mean that preselection reads).

    nice -n 10 python benchmarks/training_free.py --out runs/training-free --seeds 0 1 2

Prints the classifiers (parameters, held-out accuracy, training time) and one
markdown table of mIoU mean +- std over the seeds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np
import timm
import torch
import torch.nn.functional as F
from PIL import Image
from timm.models import save_for_hf
from torch import nn
from tqdm import tqdm

from larvseg.evaluation.runner import evaluate
from larvseg.modeling.model import LarvSegModel
from larvseg.pipeline.predict import PredictOptions
from larvseg.train.seeding import derive_seed, seed_sequence
from larvseg.train.toy.generate import ToySpec, generate, toy_classes
from larvseg.train.toy.textures import paint

SIZE, PATCH = 64, 8
MEAN = STD = (0.5, 0.5, 0.5)
VIT = {"img_size": SIZE, "patch_size": PATCH, "embed_dim": 64, "depth": 4, "num_heads": 2}
FAMILIES: dict[str, tuple[str, dict[str, Any]]] = {
    "ViT class token": ("vit_tiny_patch16_224", {**VIT, "global_pool": "token"}),
    "ViT GAP": ("vit_tiny_patch16_224", {**VIT, "global_pool": "avg", "class_token": False}),
    "ViT GAP + 4 registers": (
        "vit_tiny_patch16_224",
        {
            **VIT,
            "global_pool": "avg",
            "class_token": False,
            "reg_tokens": 4,
            "no_embed_class": True,
        },
    ),
    "BiT ResNetV2 (dilated, OS 8)": (
        "resnetv2_18",
        {
            "layers": [1, 1, 1, 1],
            "channels": [16, 32, 64, 96],
            "stem_chs": 16,
            "output_stride": PATCH,
        },
    ),
    "ConvNeXt (dilated, OS 8)": (
        "convnext_atto",
        {"dims": [24, 48, 96, 96], "depths": [1, 1, 1, 1], "output_stride": PATCH},
    ),
}
"""Family -> (timm model name, model_args): parameter counts within 20% of each other."""

VARIANTS = {"none": "as trained", "qq": "ClearCLIP (qq)", "qq+kk": "qq + kk"}
"""Last-block variants: command-line key -> name in the table."""


@dataclass(frozen=True)
class Classifier:
    """A trained classifier, saved for `LarvSeg.from_pretrained`."""

    family: str
    seed: int
    folder: Path
    params: int
    accuracy: float
    seconds: float


def single_class_images(
    seed: int, split: int, per_class: int, patterns: list[Any]
) -> tuple[torch.Tensor, torch.Tensor]:
    """`(N, 3, S, S)` normalised images, each one class's texture over the whole image,
    and their labels `(N,)`; drawn from the toy's textures, one generator per image."""
    images, labels = [], []
    region = np.zeros((SIZE, SIZE), dtype=np.int64)
    for label, pattern in enumerate(patterns):
        for i in range(per_class):
            rng = np.random.default_rng(seed_sequence(seed, "single", split, label, i))
            images.append(paint(region, [pattern], rng))
            labels.append(label)
    pixels = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255.0
    return (pixels - 0.5) / 0.5, torch.tensor(labels)


def create(family: str, num_classes: int) -> nn.Module:
    """A family's timm classifier, random weights."""
    name, kwargs = FAMILIES[family]
    return timm.create_model(name, pretrained=False, num_classes=num_classes, **kwargs)


def train(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, epochs: int, seed: int
) -> float:
    """Train `model` on image-level labels (AdamW, one-cycle, label smoothing); seconds."""
    torch.manual_seed(seed)
    batch = 32
    steps = epochs * ((len(images) + batch - 1) // batch)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, 2e-3, total_steps=steps)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    start = time.perf_counter()
    for _ in range(epochs):
        for index in torch.randperm(len(images), generator=generator).split(batch):
            loss = F.cross_entropy(model(images[index]), labels[index], label_smoothing=0.1)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    return time.perf_counter() - start


@torch.inference_mode()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy of `model` (eval mode) on single-class images."""
    model.eval()
    return float((model(images).argmax(1) == labels).float().mean())


def save(model: Any, family: str, folder: Path, wnids: list[str]) -> Path:
    """The classifier in the hub's timm layout: config.json (label_names) + safetensors."""
    model.pretrained_cfg = {
        **model.pretrained_cfg,
        "input_size": [3, SIZE, SIZE],
        "mean": MEAN,
        "std": STD,
    }
    save_for_hf(
        model,
        str(folder),
        model_config={"label_names": wnids},
        model_args=FAMILIES[family][1],
        safe_serialization=True,
    )
    return folder


class ToyScenes:
    """The toy's validation scenes as an `EvalDataset` (targets index `classes`)."""

    def __init__(self, root: Path, classes: list[str]) -> None:
        self.classes = classes
        self.images = sorted((root / "val" / "images").glob("*.png"))
        self.root = root

    def __len__(self) -> int:
        return len(self.images)

    def read(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        path = self.images[index]
        target = np.asarray(Image.open(self.root / "val" / "annotations" / path.name))
        return np.asarray(Image.open(path).convert("RGB")), target.astype(np.int64)


def last_block_forward(block: Any, mode: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The training-free last block: attention output only (no residual, no MLP), with
    query-query (`mode` "qq") or query-query plus key-key ("qq+kk") attention."""
    attn = block.attn

    def forward(x: torch.Tensor, **_: Any) -> torch.Tensor:
        batch, tokens = x.shape[:2]
        y = block.norm1(x)
        qkv = attn.qkv(y).reshape(batch, tokens, 3, attn.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        q, k = attn.q_norm(q), attn.k_norm(k)
        weights = (q @ q.transpose(-2, -1) * attn.scale).softmax(-1)
        if mode == "qq+kk":
            weights = weights + (k @ k.transpose(-2, -1) * attn.scale).softmax(-1)
        out = (weights @ v).transpose(1, 2).reshape(batch, tokens, -1)
        return block.ls1(attn.proj(attn.norm(out)))

    return forward


@contextlib.contextmanager
def last_block(vit: Any, variant: str) -> Iterator[None]:
    """Run `vit` with its last block replaced by `variant` (a VARIANTS key) inside the block."""
    if variant == "none":
        yield
        return
    block = vit.blocks[-1]
    block.forward = last_block_forward(block, variant)
    try:
        yield
    finally:
        del block.forward  # back to the class's forward


def vit_of(network: Any) -> Any:
    """The timm ViT inside a loaded larvseg model, None for a CNN."""
    backbone = getattr(network, "backbone", None)
    vit = getattr(backbone, "vit", None)
    return vit if vit is not None and hasattr(vit, "blocks") else None


def run_seed(
    seed: int, out: Path, args: argparse.Namespace
) -> tuple[list[Classifier], dict[tuple[str, int, int | None, str], float]]:
    """Train every family at `seed`, evaluate every setting; mIoU per setting."""
    torch.set_num_threads(args.threads)
    spec = ToySpec(
        seed=seed,
        image_size=SIZE,
        base_images=1,
        scene_images=1,
        object_images=1,
        val_images=args.scenes,
    )
    classes = toy_classes(spec)
    wnids = [c.wnid for c in classes]
    patterns = [c.pattern for c in classes]
    data = generate(out / f"scenes-seed{seed}", spec, progress=False)
    dataset = ToyScenes(data, wnids)
    train_x, train_y = single_class_images(seed, 0, args.per_class, patterns)
    test_x, test_y = single_class_images(seed, 1, 40, patterns)
    trained: list[Classifier] = []
    results: dict[tuple[str, int, int | None, str], float] = {}
    for family in args.families:
        torch.manual_seed(derive_seed(seed, family))
        model = create(family, len(wnids))
        seconds = train(model, train_x, train_y, args.epochs, derive_seed(seed, family, "order"))
        acc = accuracy(model, test_x, test_y)
        folder = save(model, family, out / f"{family.split()[0]}-{len(trained)}-seed{seed}", wnids)
        params = sum(p.numel() for p in model.parameters())
        trained.append(Classifier(family, seed, folder, params, acc, seconds))
        network = LarvSegModel.from_pretrained(folder)  # the one loader, CPU float32
        vit = vit_of(network)
        strides = [PATCH, PATCH // 2] if vit is not None else [PATCH]
        variants = args.variants if vit is not None else ["none"]
        settings = [(s, k, v) for s in strides for k in [None, *args.preselect] for v in variants]
        for stride, k, variant in tqdm(settings, desc=f"{family} seed {seed}", leave=False):
            with last_block(vit, variant):
                result = evaluate(
                    network,
                    dataset,
                    [True] * len(wnids),
                    PredictOptions(stride=stride, preselect=k),
                    progress=False,
                    readers=0,
                )
            results[(family, stride, k, variant)] = 100 * result.miou
        print(
            f"seed {seed} {family}: {params:,} parameters, held-out accuracy {100 * acc:.1f}%, "
            f"trained in {seconds:.0f} s, mIoU as trained at stride {PATCH}: "
            f"{results[(family, PATCH, None, 'none')]:.1f}",
            flush=True,
        )
    return trained, results


def mean_std(values: list[float]) -> str:
    """`mean ± std` (sample std over seeds; 0 for one seed)."""
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.1f} ± {std:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for data and checkpoints")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--per-class", type=int, default=80, help="training images per class")
    parser.add_argument("--scenes", type=int, default=40, help="validation scenes per seed")
    parser.add_argument("--preselect", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--families", nargs="+", choices=list(FAMILIES), default=list(FAMILIES))
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=["none", "qq"])
    parser.add_argument("--threads", type=int, default=1, help="torch threads per seed")
    parser.add_argument("--jobs", type=int, default=1, help="seeds run at a time (processes)")
    args = parser.parse_args()
    start = time.perf_counter()
    classifiers: list[Classifier] = []
    results: dict[tuple[str, int, int | None, str], list[float]] = {}
    with ProcessPoolExecutor(args.jobs) as pool:
        runs = list(pool.map(run_seed, args.seeds, repeat(args.out), repeat(args)))
    for trained, scores in runs:
        classifiers += trained
        for key, value in scores.items():
            results.setdefault(key, []).append(value)
    print(
        f"\n{len(args.seeds)} seeds, {args.epochs} epochs on {14 * args.per_class} single-class "
        f"{SIZE}x{SIZE} images, {args.scenes} scenes per seed, {args.jobs} seed(s) at a time, "
        f"{args.threads} thread(s) each, "
        f"{time.perf_counter() - start:.0f} s in all\n"
    )
    print("| classifier | timm model | parameters | held-out accuracy | training s |")
    print("|---|---|---|---|---|")
    for family in args.families:
        name = FAMILIES[family][0]
        own = [c for c in classifiers if c.family == family]
        acc = mean_std([100 * c.accuracy for c in own])
        secs = statistics.fmean(c.seconds for c in own)
        row = f"| {family} | {name} | {own[0].params:,} | {acc} | {secs:.0f} |"
        print(row)
    print("\n| classifier | stride | preselect | last block | mIoU |")
    print("|---|---|---|---|---|")
    for (family, stride, k, variant), values in results.items():
        name = VARIANTS[variant]
        print(f"| {family} | {stride} | {k or '-'} | {name} | {mean_std(values)} |")
    summary = {" / ".join(map(str, key)): values for key, values in results.items()}
    (args.out / "results.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
