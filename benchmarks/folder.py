"""Many images: `larvseg segment FOLDER` against a Python loop over `segment()`.

Writes 64 photos of 640x480 (the shared real photos, resized, cycled) as JPEG files,
then segments them with ViT-B/16 over 21,843 classes (random weights, the default
model's 224 size) two ways, with the same model and the same torch threads, both
writing every image's outputs (labels PNG, overlay PNG, JSON):

- loop: `for path in files: segmenter.segment(path).save(...)`;
- folder: the `larvseg segment` command in this process (decoding in DataLoader
  workers, windows of several images per forward, outputs written as they finish);
  its images/s is the one it records in its summary (model loading excluded).

    python benchmarks/folder.py [--threads 2] [--images 64] [--workers 0 2] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from inference import PHOTO, build_segmenter
from PIL import Image

from larvseg.cli.main import main as larvseg_main


def write_photos(folder: Path, count: int) -> list[Path]:
    """`count` 640x480 JPEG photos in `folder`."""
    sources = sorted(PHOTO.parent.glob("*.JPEG"))
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        if sources:
            photo = Image.open(sources[i % len(sources)]).convert("RGB")
        else:
            photo = Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
        path = folder / f"photo_{i:03d}.jpg"
        photo.resize((640, 480), Image.Resampling.BILINEAR).save(path, quality=90)
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds; best kept")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "photos").mkdir()
        paths = write_photos(root / "photos", args.images)
        segmenter = build_segmenter(None, image_size=224)
        segmenter.save_pretrained(root / "model")
        rates: dict[str, list[float]] = {}
        for round_ in range(args.rounds):  # alternating, so load drifts hit every path alike
            start = time.perf_counter()
            for path in paths:
                segmenter.segment(path).save(root / "loop" / path.stem)
            rate = args.images / (time.perf_counter() - start)
            rates.setdefault("Python loop over segment()", []).append(rate)
            for workers in args.workers:
                out = root / f"folder-{workers}-{round_}"
                command = ["segment", str(root / "photos"), "--model", str(root / "model")]
                command += ["--device", "cpu", "-o", str(out), "--workers", str(workers)]
                command += ["--batch-size", str(args.batch_size)]
                if larvseg_main(command) != 0:
                    raise SystemExit("larvseg segment failed")
                summary = json.loads((out / "larvseg-summary.json").read_text())
                label = (
                    f"larvseg segment FOLDER (--workers {workers}, --batch-size {args.batch_size})"
                )
                rates.setdefault(label, []).append(summary["images_per_second"])
        rows = [(label, max(values)) for label, values in rates.items()]
    print(
        f"\n{args.images} photos of 640x480, ViT-B/16 over 21,843 classes at 224, "
        f"{args.threads} torch threads, outputs written, best of {args.rounds} alternating rounds"
    )
    print("| path | images/s | vs loop |")
    print("|---|---|---|")
    for label, rate in rows:
        print(f"| {label} | {rate:.2f} | {rate / rows[0][1]:.2f}x |")


if __name__ == "__main__":
    main()
