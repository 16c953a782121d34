"""Inference speed and memory: ViT-B/16 with 21,843 classes (random weights).

On CPU (the default) it prints, for a 512x512 image, the backbone time, the floor
(backbone + head matmul), `LarvSeg.segment()` time, their ratio and peak RSS, in fp32
and under bf16 autocast; the same for an 8000x6000 image; and how many label pixels
bf16 and fp32 agree on. Each measurement runs in a fresh process so its peak RSS is
its own.

With `--device cuda` it prints throughput instead (images/s at 512x512, a batch of
images per forward): the network in fp32, then under bf16 autocast, with timm's SDPA
attention (F.scaled_dot_product_attention) instead of the explicit softmax, with
channels-last inputs, optionally `torch.compile`d, and the whole `segment()` path
(`predict_labels`, decoding on the device) with all 21,843 classes (`vocab=None`) and
with ADE-150's synsets as the vocabulary, each with the share of its time spent outside
the network (`outside_share`). One image is
about 250 GFLOP (1,024 tokens), so TFLOP/s = images/s / 4. `--throughput` prints that
table on any device (a smoke test on CPU: `--throughput --batch 1 --iters 1`).

`--compare CHECKOUT` adds, in the same run, the latency rows of another larvseg checkout
(e.g. the previous release) and whether its labels equal this one's pixel for pixel.

    python benchmarks/inference.py [--repeats 5] [--threads 2] [--compare /path/to/main]
    python benchmarks/inference.py --device cuda [--batch 64] [--iters 20] [--compile]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from timing import interleaved_medians, median_seconds

REPO = Path(__file__).resolve().parents[1]
PHOTO = REPO.parent / "shared" / "data" / "real-images" / "n02109961_Eskimo_dog.JPEG"
SIZES = {"512x512": (512, 512), "8000x6000": (6000, 8000)}


def make_image(height: int, width: int) -> np.ndarray:
    """A real photo resized to (height, width), or smooth noise where the photo is absent."""
    from PIL import Image

    if PHOTO.is_file():
        photo = Image.open(PHOTO).convert("RGB")
    else:
        rng = np.random.default_rng(0)
        photo = Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8))
    return np.asarray(photo.resize((width, height), Image.Resampling.BILINEAR))


def build_segmenter(
    dtype: str | None, image_size: int = 512, backbone: str = "vit_base_patch16_224"
):
    """ViT-B/16 (or `backbone`) with a random 21,843-class linear head (the default model's
    shape) on CPU."""
    import torch
    from timm.data import ImageNetInfo

    from larvseg import LarvSeg, LarvSegModel, ModelConfig
    from larvseg.modeling.classifier import LinearClassifier

    torch.manual_seed(0)
    config = ModelConfig(
        backbone=backbone,
        classifier="linear",
        categories=list(ImageNetInfo("imagenet-21k-goog").label_names()),
        image_size=image_size,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
    )
    model = LarvSegModel(config)
    assert isinstance(model.classifier, LinearClassifier)
    torch.nn.init.normal_(model.classifier.head.weight, std=0.02)
    return LarvSeg(model, device="cpu", dtype=dtype)


GFLOP_PER_IMAGE = 250  # ViT-B/16 at 512x512 (1,024 tokens) with a 21,843-class head


def set_sdpa(model, enabled: bool) -> None:
    """Switch timm's attention blocks between SDPA and the explicit softmax."""
    for module in model.modules():
        if hasattr(module, "fused_attn"):
            module.fused_attn = enabled


def throughput_rows(device: str, batch: int, iters: int, compile_model: bool) -> list[tuple]:
    """(variant, images/s, share outside the network or None) of the network and of
    `predict_labels` at 512x512."""
    import torch

    from larvseg.pipeline.predict import PredictOptions, predict_labels
    from larvseg.pipeline.windows import autocast_context

    segmenter = build_segmenter(None)
    model = segmenter.model.to(device)
    dev = torch.device(device)
    x = torch.randn(batch, 3, 512, 512, device=dev)

    def rate(fn, inputs, dtype) -> float:
        def step() -> None:
            with torch.inference_mode(), autocast_context(dev, dtype):
                fn(inputs)
            if dev.type == "cuda":
                torch.cuda.synchronize()

        return batch / median_seconds(step, iters, warmup=True)

    rows: list[tuple[str, float, float | None]] = []
    variants = [
        ("fp32, explicit attention", None, False, False),
        ("bf16 autocast, explicit attention", torch.bfloat16, False, False),
        ("bf16 + SDPA", torch.bfloat16, True, False),
        ("bf16 + SDPA + channels-last", torch.bfloat16, True, True),
    ]
    for name, dtype, sdpa, channels_last in variants:
        set_sdpa(model, sdpa)
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        model = model.to(memory_format=fmt)
        rows.append((name, rate(model, x.contiguous(memory_format=fmt), dtype), None))
    if compile_model:
        compiled = torch.compile(model)
        x_last = x.contiguous(memory_format=torch.channels_last)
        rate_compiled = rate(compiled, x_last, torch.bfloat16)
        rows.append(("bf16 + SDPA + channels-last + torch.compile", rate_compiled, None))
    set_sdpa(model, True)
    model = model.to(memory_format=torch.contiguous_format)
    network = rows[2][1]  # bf16 + SDPA: the forward and head the segment path runs
    images = [make_image(512, 512)] * batch
    options = PredictOptions(size=512, batch_size=batch, autocast_dtype=torch.bfloat16)
    for name, items in vocabularies(segmenter):
        run = functools.partial(predict_labels, model, images, items, options)
        seconds = median_seconds(run, iters, True)
        path_rate = batch / seconds
        share = outside_share(path_rate, network)
        rows.append((f"segment path, bf16 + SDPA, {name}", path_rate, share))
    return rows


def outside_share(path_rate: float, network_rate: float) -> float:
    """Share of the segment path's time spent outside the network's forward and head
    (input transfer, windows, decoding, results to the CPU)."""
    return 1 - path_rate / network_rate


def vocabularies(segmenter) -> list[tuple[str, Any]]:
    """`vocab=None` (all 21,843 classes) and ADE-150's synsets found among them."""
    from larvseg.vocab.benchmarks import wnids

    known = {c.wnid for c in segmenter.categories}
    ade = [w for w in wnids("ade-150") if w in known]
    return [
        ("vocab=None", segmenter.resolve_vocab(None)[0]),
        (f"{len(ade)} ADE-150 synsets", segmenter.resolve_vocab(ade)[0]),
    ]


def worker(size_name: str, dtype: str | None, repeats: int, threads: int, labels_out: str) -> None:
    import torch

    from larvseg.pipeline.preprocess import normalize
    from larvseg.pipeline.windows import autocast_context

    torch.set_num_threads(threads)
    segmenter = build_segmenter(dtype)
    model = segmenter.model
    image = make_image(*SIZES[size_name])
    result: dict[str, float | None] = {"backbone": None, "floor": None}
    if size_name == "512x512":
        x = normalize(image, model.config.mean, model.config.std)[None]

        def backbone() -> None:
            with torch.inference_mode(), autocast_context(x.device, segmenter.autocast_dtype):
                model.backbone(x)

        def floor() -> None:
            with torch.inference_mode(), autocast_context(x.device, segmenter.autocast_dtype):
                model.classifier(model.backbone(x))

        # timed in turns, so that a drift in the machine's load weighs on the ratio's
        # numerator and denominator alike
        result |= interleaved_medians(
            {
                "backbone": backbone,
                "floor": floor,
                "segment": lambda: segmenter.segment(image, size=512),
            },
            repeats,
        )
    else:
        result["segment"] = median_seconds(
            lambda: segmenter.segment(image, size=512), 1, warmup=True
        )
    labels = segmenter.segment(image, size=512)
    wnids = np.array([c.wnid for c in labels.categories] + [""])
    np.save(labels_out, wnids[labels.labels])
    result["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(json.dumps(result))


def run_worker(
    size: str, dtype: str, repeats: int, threads: int, labels_out: str, checkout: Path = REPO
) -> dict:
    """One measurement in a fresh process, importing larvseg from `checkout`."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        size,
        dtype,
        str(repeats),
        str(threads),
        labels_out,
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def fmt(value: float | None, unit: str = "s") -> str:
    return "-" if value is None else f"{value:.3f} {unit}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu (latency table) or cuda[:N]")
    parser.add_argument("--throughput", action="store_true", help="throughput table on any device")
    parser.add_argument("--batch", type=int, default=64, help="images per forward (throughput)")
    parser.add_argument("--iters", type=int, default=20, help="timed batches (throughput)")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    parser.add_argument("--compare", type=Path, help="another larvseg checkout to time alike")
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES))
    parser.add_argument("--dtypes", nargs="+", choices=["fp32", "bf16"], default=["fp32", "bf16"])
    parser.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        size, dtype, repeats, threads, out = args.worker
        worker(size, None if dtype == "fp32" else dtype, int(repeats), int(threads), out)
        return
    if args.throughput or args.device != "cpu":
        import torch

        torch.set_num_threads(args.threads)
        rows = throughput_rows(args.device, args.batch, args.iters, args.compile)
        name = torch.cuda.get_device_name(args.device) if "cuda" in args.device else "CPU"
        print(
            f"ViT-B/16, 21,843 classes, 512x512, {name}, batch {args.batch}, "
            f"median of {args.iters} batches; TFLOP/s at {GFLOP_PER_IMAGE} GFLOP per image"
        )
        print("| variant | images/s | TFLOP/s | vs fp32 | time outside the network |")
        print("|---|---|---|---|---|")
        for variant, rate, outside in rows:
            tflops = rate * GFLOP_PER_IMAGE / 1000
            share = "-" if outside is None else f"{outside:.0%}"
            print(f"| {variant} | {rate:.1f} | {tflops:.1f} | {rate / rows[0][1]:.2f}x | {share} |")
        return
    checkouts = {"this": REPO} | ({"compare": args.compare.resolve()} if args.compare else {})
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            labels = {}
            for dtype in args.dtypes:
                for name, checkout in checkouts.items():  # alternating: load drifts hit both
                    out = f"{tmp}/{size}_{dtype}_{name}.npy"
                    res = run_worker(size, dtype, args.repeats, args.threads, out, checkout)
                    labels[dtype, name] = np.load(out)
                    rows.append((size, f"{dtype} {name}", res))
            if len(args.dtypes) == 2:
                agree = float((labels["fp32", "this"] == labels["bf16", "this"]).mean())
                rows.append((size, "note", f"bf16 vs fp32 label agreement: {agree:.4f} of pixels"))
            if args.compare:
                same = all(
                    np.array_equal(labels[d, "this"], labels[d, "compare"]) for d in args.dtypes
                )
                rows.append((size, "note", f"labels equal to {args.compare}'s: {same}"))
    print(f"ViT-B/16, 21,843 classes, {args.threads} threads, median of {args.repeats}")
    if args.compare:
        print(f"this = {REPO}, compare = {args.compare.resolve()}")
    header = (
        f"{'image':<10} {'run':<13} {'backbone':>10} {'floor':>10} {'segment':>10} "
        f"{'seg/floor':>9} {'peak RSS':>10}"
    )
    print(header)
    print("-" * len(header))
    for size, run, res in rows:
        if run == "note":
            print(f"{size:<10} {res}")
            continue
        ratio = res["segment"] / res["floor"] if res["floor"] else None
        print(
            f"{size:<10} {run:<13} {fmt(res['backbone']):>10} {fmt(res['floor']):>10} "
            f"{fmt(res['segment']):>10} {('-' if ratio is None else f'{ratio:.3f}'):>9} "
            f"{fmt(res['peak_rss_gb'], 'GB'):>10}"
        )


if __name__ == "__main__":
    main()
