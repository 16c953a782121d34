"""Data-layer start at ImageNet-21K scale: source index vs listing every start.

Writes synthetic single-label trees (tiny 8x8 PNGs spread over 21,841 class folders,
the ImageNet-21K count) and measures, each in a fresh process, the start of the data
layer: building the source (`build_dataset`), the up-front check `data.validate:
auto` asks for, and reading one sample. Rows:

- previous: the listing before the index (a `Path` and a labels tuple per sample,
  `sorted(folder.iterdir())`) plus its eager check (every image's existence), at
  every start; the reference of the ratios;
- no index: the compact listing, without a cache (`data.index_dir: null`);
- first start: listing and writing the index;
- second start: loading the index (every folder's time and size compared).

RSS growth is the peak RSS (`ru_maxrss`) of the start minus the RSS after imports;
two tree sizes show it grows linearly with the images. Every figure is the best
(lowest) of `--repeats` starts. Files are in the page cache (just written), as on a
second start of a real run.

Usage: python benchmarks/data_scale.py [--images 200000] [--classes 21841] [--repeats 3]
                                       [--root DIR]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

MODES = ("previous", "no index", "first start", "second start")
MIB = 2**20


def write_tree(root: Path, images: int, classes: int) -> None:
    """`images` tiny PNGs over `classes` folders `n<8 digits>/`, round robin."""
    variants = []
    for value in range(16):
        buffer = io.BytesIO()
        Image.fromarray(np.full((8, 8, 3), value * 16, np.uint8)).save(buffer, format="PNG")
        variants.append(buffer.getvalue())
    folders = [root / f"n{c:08d}" for c in range(classes)]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    for i in range(images):
        (folders[i % classes] / f"{i:08d}.png").write_bytes(variants[i % 16])
    then = time.time() - 3600  # written "an hour ago": an index built now trusts the folders
    for path in [root, *folders]:
        os.utime(path, (then, then))


@dataclass(frozen=True)
class PreviousSample:
    """A sample as the listing kept it before the index: Python objects per sample."""

    image: Path
    label_map: Path | None = None
    labels: tuple[int, ...] | None = None


def previous_start(root: Path) -> int:
    """The listing and eager check of a single-label tree before the index; sample count."""
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    index = {p.name: i for i, p in enumerate(folders)}
    samples = [
        PreviousSample(path, labels=(index[folder.name],))
        for folder in folders
        for path in sorted(folder.iterdir())
        if path.suffix.lower() in (".png", ".jpg", ".jpeg")
    ]
    with ThreadPoolExecutor(8) as pool:
        missing = sum(not ok for ok in pool.map(Path.is_file, (s.image for s in samples)))
    if missing:
        raise SystemExit(f"{missing} images missing")
    return len(samples)


def start(mode: str, root: Path, index_dir: Path) -> tuple[int, int]:
    """One start of the data layer on the tree `root`: sample count and index bytes."""
    from larvseg.train.config import DataSection, DataSourceConfig
    from larvseg.train.data.dataset import build_dataset

    if mode == "previous":
        return previous_start(root), 0
    config = DataSourceConfig("in21k", "singlelabel", str(root))
    directory = None if mode == "no index" else index_dir
    dataset = build_dataset(config, (0.5,) * 3, (0.5,) * 3, index_dir=directory)
    if DataSection().check_upfront(len(dataset)):
        dataset.validate()
    if dataset[(0, 0)] is None:
        raise SystemExit("the first sample did not read")
    return len(dataset), dataset.store.index.nbytes  # type: ignore[attr-defined]


def child(mode: str, root: Path, index_dir: Path) -> None:
    """One start in this (fresh) process, after a warm-up start on a 2-image tree (imports,
    lazy module loads); prints a JSON line."""
    with tempfile.TemporaryDirectory() as warm:
        write_tree(Path(warm) / "tree", 2, 2)
        for warm_mode in ("previous", "no index"):
            start(warm_mode, Path(warm) / "tree", Path(warm) / "index")
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    began = time.perf_counter()
    count, index_bytes = start(mode, root, index_dir)
    seconds = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": seconds, "peak": peak, "growth": peak - baseline,
                      "count": count, "index_bytes": index_bytes}))  # fmt: skip


def run_child(mode: str, root: Path, index_dir: Path) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", mode, "--root", str(root)]
    done = subprocess.run(
        [*command, "--index-dir", str(index_dir)], capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise SystemExit(f"{mode} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200_000)
    parser.add_argument("--classes", type=int, default=21_841)
    parser.add_argument("--repeats", type=int, default=3, help="best of this many starts")
    parser.add_argument("--root", type=Path, default=None, help="keep the trees here")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--index-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.root, args.index_dir)
        return
    work = args.root or Path(tempfile.mkdtemp(prefix="larvseg-data-scale-"))
    header = (
        f"{'images':>8} {'start':<13} {'seconds':>8} {'x prev':>7} {'peak RSS MiB':>12} "
        f"{'growth MiB':>10} {'B/image':>8} {'index B/image':>13} {'index file MiB':>14}"
    )
    lines, growth = [], {}
    try:
        for images in (args.images // 4, args.images):
            root = work / f"tree_{images}"
            if not root.is_dir():
                began = time.perf_counter()
                write_tree(root, images, args.classes)
                print(f"wrote {images:,} images in {time.perf_counter() - began:.0f} s", flush=True)
            index_dir = work / f"index_{images}"
            best: dict[str, dict[str, float]] = {}
            for _ in range(args.repeats):
                for mode in MODES:
                    if mode == "first start":
                        shutil.rmtree(index_dir, ignore_errors=True)
                    got = run_child(mode, root, index_dir)
                    kept = best.setdefault(mode, got)
                    best[mode] = {key: min(value, kept[key]) for key, value in got.items()}
            reference = best["previous"]["seconds"]
            for mode, got in best.items():
                files = list(index_dir.glob("*.npz"))
                cached = files and mode in ("first start", "second start")
                size = files[0].stat().st_size / MIB if cached else 0.0
                lines.append(
                    f"{images:>8,} {mode:<13} {got['seconds']:>8.2f} "
                    f"{reference / got['seconds']:>6.1f}x {got['peak'] / MIB:>12.0f} "
                    f"{got['growth'] / MIB:>10.1f} {got['growth'] / got['count']:>8.0f} "
                    f"{got['index_bytes'] / got['count']:>13.1f} {size:>14.1f}"
                )
                print(lines[-1], flush=True)
                growth[mode, images] = got["growth"]
    finally:
        if args.root is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\ndata layer start, single-label trees over {args.classes:,} class folders")
    print(f"(best of {args.repeats}; x prev: speed-up over the previous listing + eager check;")
    print(" B/image: RSS growth per image; index B/image: in-memory index arrays per image)")
    print(header)
    print("\n".join(lines))
    small, large = args.images // 4, args.images
    slopes = ", ".join(
        f"{mode} {(growth[mode, large] - growth[mode, small]) / (large - small):.0f}"
        for mode in MODES
    )
    print(f"RSS growth per added image ({small:,} -> {large:,} images), bytes: {slopes}")


if __name__ == "__main__":
    main()
