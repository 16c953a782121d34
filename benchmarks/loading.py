"""Loading speed and memory: `LarvSegModel.from_pretrained` of a local ViT-B/16 21K folder.

Builds (once, under --cache) ViT-B/16 with 21,843 classes and random weights in two
layouts: timm's hub layout (`timm.models.save_for_hf`) and a larvseg folder. Each
load runs in a fresh process, which prints its peak RSS after the imports, the wall
time of `from_pretrained` and its peak RSS after it. With `--reference CHECKOUT` (a
checkout of another revision, e.g. `git worktree add --detach /tmp/main-ref main`)
the same is measured on that code, in the same run, for a before/after table.

    python benchmarks/loading.py [--reference /tmp/main-ref] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LAYOUTS = ("timm", "larvseg")
TARGET_RSS = 1.3  # peak RSS of from_pretrained above the imports, in weight bytes
TARGET_SECONDS = 1.5


def peak_rss_bytes() -> int:
    """This process's peak resident set size so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def worker(folder: str, threads: int) -> None:
    """In a fresh process: imports, then one timed `from_pretrained`; prints JSON."""
    import huggingface_hub  # noqa: F401  (every import a load needs, before measuring)
    import safetensors.torch  # noqa: F401
    import timm  # noqa: F401
    import torch

    from larvseg.modeling.model import LarvSegModel

    torch.set_num_threads(threads)
    imports = peak_rss_bytes()
    start = time.perf_counter()
    model = LarvSegModel.from_pretrained(folder)
    seconds = time.perf_counter() - start
    weights = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    print(
        json.dumps(
            {"seconds": seconds, "imports": imports, "peak": peak_rss_bytes(), "weights": weights}
        )
    )


def build_folders(cache: Path) -> dict[str, Path]:
    """ViT-B/16 21K with random weights in timm's hub layout and as a larvseg folder."""
    folders = {layout: cache / f"vit_base_patch16_224_21k_{layout}" for layout in LAYOUTS}
    if all((f / "model.safetensors").is_file() for f in folders.values()):
        return folders
    import timm
    import torch
    from timm.models import save_for_hf

    from larvseg.modeling.model import LarvSegModel

    torch.manual_seed(0)
    vit = timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=21843)
    save_for_hf(vit, str(folders["timm"]), safe_serialization=True)
    LarvSegModel.from_pretrained(folders["timm"]).save_pretrained(folders["larvseg"])
    return folders


def measure(checkout: Path, folder: Path, threads: int) -> dict[str, float]:
    """One load of `folder` by the larvseg of `checkout`, in a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    cmd = [sys.executable, __file__, "--worker", str(folder), str(threads)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/larvseg-loading-bench"))
    parser.add_argument("--reference", type=Path, help="checkout measured as 'before'")
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per cell")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], int(args.worker[1]))
        return
    folders = build_folders(args.cache)
    checkouts = {"this": REPO}
    if args.reference:
        checkouts = {"reference": args.reference.resolve(), **checkouts}
    rows = []
    for layout, folder in folders.items():
        measure(REPO, folder, args.threads)  # page cache warm for every version alike
        for name, checkout in checkouts.items():
            runs = [measure(checkout, folder, args.threads) for _ in range(args.repeats)]
            rows.append((name, layout, runs))
    weights = rows[0][2][0]["weights"]
    print(
        f"from_pretrained of a local ViT-B/16 21,843-class folder ({weights / 2**20:.0f} MiB of "
        f"weights), {args.threads} threads, fresh process per load, median of {args.repeats}"
    )
    print(f"targets: peak RSS <= imports + {TARGET_RSS}x weights, wall <= {TARGET_SECONDS} s")
    header = (
        f"{'code':<10} {'layout':<8} {'wall s':>7} {'imports MiB':>12} {'peak MiB':>9} "
        f"{'+MiB':>6} {'+/weights':>9} {'wall vs ref':>11}"
    )
    print(header)
    print("-" * len(header))
    reference = {layout: runs for name, layout, runs in rows if name == "reference"}
    for name, layout, runs in rows:
        wall = statistics.median(r["seconds"] for r in runs)
        imports = statistics.median(r["imports"] for r in runs)
        added = statistics.median(r["peak"] - r["imports"] for r in runs)
        ratio = "-"
        if layout in reference:
            ratio = f"{wall / statistics.median(r['seconds'] for r in reference[layout]):.2f}x"
        print(
            f"{name:<10} {layout:<8} {wall:>7.2f} {imports / 2**20:>12.0f} "
            f"{(imports + added) / 2**20:>9.0f} {added / 2**20:>6.0f} {added / weights:>9.2f} "
            f"{ratio:>11}"
        )


if __name__ == "__main__":
    main()
