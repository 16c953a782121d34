"""Does a denser decision grid help a trained model, without retraining? The toy, measured.

Evaluates one trained toy model (docs/toy-benchmark.md; patch 8) on its validation
scenes at several patch-embedding strides, through the evaluation's own path
(`evaluate(..., options=PredictOptions(stride=S))`), and prints mIoU all / base /
novel and seconds per image for each, with the patch stride as the reference.

    python benchmarks/toy_experiment.py --out runs/toy --seeds 0 --methods larvseg
    python benchmarks/toy_stride.py --run runs/toy/runs/larvseg-seed0 --data runs/toy/data-seed0
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from larvseg.evaluation.runner import evaluate
from larvseg.modeling.model import LarvSegModel
from larvseg.pipeline.predict import PredictOptions
from larvseg.train.data.dataset import build_dataset
from larvseg.train.schema import load_config
from larvseg.train.toy.generate import read_manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="a toy run folder (with model/)")
    parser.add_argument("--data", type=Path, required=True, help="its toy dataset")
    parser.add_argument("--strides", type=int, nargs="+", default=[8, 4, 2])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = LarvSegModel.from_pretrained(args.run / "model")
    config = load_config(args.run / "config.yaml", data_root=str(args.data))
    _, classes = read_manifest(args.data)
    novel = {c.wnid for c in classes if c.role == "novel"}
    val = config.data.eval_sources[0]
    dataset = build_dataset(val, model.config.mean, model.config.std, train=False)
    base = [wnid not in novel for wnid in dataset.classes]
    rows = []
    for stride in args.strides:
        start = time.perf_counter()
        result = evaluate(
            model, dataset, base, options=PredictOptions(stride=stride), progress=False
        )
        seconds = (time.perf_counter() - start) / len(dataset)
        rows.append((stride, result, seconds))
    p, size = model.patch_size, model.config.image_size
    print(
        f"toy model {args.run} (patch {p}, {size}x{size} windows), {len(dataset)} validation "
        f"scenes, {args.threads} thread(s)"
    )
    print("| stride | grid | mIoU all | base | novel | s / image | time vs patch stride |")
    print("|---|---|---|---|---|---|---|")
    reference = next((s for stride, _, s in rows if stride == p), None)
    for stride, result, seconds in rows:
        cells = (size - p) // stride + 1
        ratio = "-" if reference is None else f"{seconds / reference:.1f}x"
        novel_miou = "-" if result.miou_novel is None else f"{100 * result.miou_novel:.1f}"
        base_miou = "-" if result.miou_base is None else f"{100 * result.miou_base:.1f}"
        print(
            f"| {stride} | {cells}x{cells} | {100 * result.miou:.1f} | {base_miou} | "
            f"{novel_miou} | {seconds:.4f} | {ratio} |"
        )


if __name__ == "__main__":
    main()
