"""Many images on one machine: a Python loop, `larvseg segment FOLDER`, and Ray Data.

Writes `--images` photos of 640x480 (the shared real photos, resized, cycled) as JPEG
files, then segments them with ViT-B/16 (or `--backbone`) over 21,843 classes (random
weights, the default model's 224 size) four ways, each writing every image's labels:

- loop: `for path in files: segmenter.segment(path).save(...)` (model loaded before);
- folder: `larvseg segment FOLDER` in this process (its own images/s, model loading
  excluded, as it records in its summary);
- Ray, 1 and 2 workers: `read_binary_files` -> `map_batches(Segmenter, concurrency=N)`
  -> `write_parquet`, on a local Ray instance started beforehand; each worker gets
  `threads / N` CPUs (Ray sets its torch threads to that; one more logical CPU is
  left for the read and write tasks). Timed from building the
  dataset to the last Parquet file: actor start and model loading included.

    python benchmarks/scale.py [--threads 2] [--images 32] [--batch-size 8] [--backbone NAME]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from folder import write_photos
from inference import build_segmenter

from larvseg.cli.main import main as larvseg_main


def ray_rate(
    photos: Path, model: Path, out: Path, workers: int, threads: int, batch_size: int
) -> float:
    """Images/s of Ray Data with `workers` Segmenter actors, writing Parquet to `out`."""
    import ray

    from larvseg.integrations.ray import Segmenter

    count = len(list(photos.glob("*.jpg")))
    start = time.perf_counter()
    ds = ray.data.read_binary_files(str(photos), include_paths=True)
    ds = ds.map_batches(
        Segmenter,
        fn_constructor_kwargs={"model": str(model), "device": "cpu"},
        concurrency=workers,
        num_cpus=threads // workers,
        batch_size=batch_size,
    )
    ds.write_parquet(str(out))
    seconds = time.perf_counter() - start
    rows = ray.data.read_parquet(str(out)).count()
    if rows != count:
        raise SystemExit(f"Ray wrote {rows} rows for {count} photos")
    return count / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--backbone", default="vit_base_patch16_224", help="timm ViT name")
    args = parser.parse_args()
    import ray

    torch.set_num_threads(args.threads)
    rows: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "photos").mkdir()
        paths = write_photos(root / "photos", args.images)
        segmenter = build_segmenter(None, image_size=224, backbone=args.backbone)
        segmenter.save_pretrained(root / "model")

        start = time.perf_counter()
        for path in paths:
            segmenter.segment(path).save(root / "loop" / path.stem)
        rows.append(("Python loop over segment()", args.images / (time.perf_counter() - start)))

        out = root / "folder"
        command = ["segment", str(root / "photos"), "--model", str(root / "model")]
        command += ["--device", "cpu", "-o", str(out), "--batch-size", str(args.batch_size)]
        if larvseg_main(command) != 0:
            raise SystemExit("larvseg segment failed")
        summary = json.loads((out / "larvseg-summary.json").read_text())
        rows.append(
            (
                f"larvseg segment FOLDER (--batch-size {args.batch_size})",
                summary["images_per_second"],
            )
        )

        # one logical CPU more than the workers take, for the read and write tasks (with
        # every CPU held by an actor, they could never be scheduled)
        ray.init(num_cpus=args.threads + 1, include_dashboard=False, log_to_driver=False)
        ray.data.DataContext.get_current().enable_progress_bars = False
        for workers in (1, 2):
            rate = ray_rate(
                root / "photos",
                root / "model",
                root / f"ray{workers}",
                workers,
                args.threads,
                args.batch_size,
            )
            rows.append((f"Ray Data, {workers} worker(s) x {args.threads // workers} CPU(s)", rate))
        ray.shutdown()
    print(
        f"\n{args.images} photos of 640x480, {args.backbone} over 21,843 classes at 224, "
        f"{args.threads} CPUs, labels written"
    )
    print("| path | images/s | vs loop |")
    print("|---|---|---|")
    for label, rate in rows:
        print(f"| {label} | {rate:.2f} | {rate / rows[0][1]:.2f}x |")


if __name__ == "__main__":
    main()
