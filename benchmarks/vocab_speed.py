"""Seconds a user waits for `larvseg vocab` and for a mistyped synset, before and after.

Each command runs as a user runs it, `python -m larvseg ...` in a fresh process (the
interpreter's start-up and every import included), on this checkout and, with
`--reference CHECKOUT` (another revision, e.g. `/work/main` or
`git worktree add --detach /tmp/main-ref main`), on that one, alternately, in the same
run. A mistyped synset is timed until its error, in `larvseg segment` with a tiny
random timm ViT (1,000 ImageNet classes) written once into a temporary folder.

    python benchmarks/vocab_speed.py [--reference /work/main] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import timm
from PIL import Image
from timm.models import save_for_hf

REPO = Path(__file__).resolve().parents[1]
TINY_VIT: dict[str, Any] = {"depth": 1, "embed_dim": 32, "num_heads": 2}


def commands(folder: Path) -> dict[str, list[str]]:
    """Label -> arguments of `python -m larvseg`."""
    image, model = folder / "photo.png", folder / "model"
    return {
        "larvseg vocab search moth": ["vocab", "search", "moth"],
        "larvseg vocab search dog": ["vocab", "search", "dog"],
        "larvseg vocab show dog.n.01": ["vocab", "show", "dog.n.01"],
        "larvseg segment ... --vocab dgo.n.01 (until its error)": [
            "segment",
            str(image),
            "--model",
            str(model),
            "--vocab",
            "dgo.n.01",
            "-o",
            str(folder / "out"),
        ],
    }


def write_inputs(folder: Path) -> None:
    """A random 64x64 photo and a tiny random timm ViT in the hub's layout."""
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(folder / "photo.png")
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, **TINY_VIT)
    save_for_hf(model, str(folder / "model"), model_args=TINY_VIT, safe_serialization=True)


def seconds(checkout: Path, args: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of `python -m larvseg ARGS` run from
    `checkout` (its code). CPU seconds are what an idle machine's wall time would be
    close to, on a machine shared with other jobs."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "larvseg", *args],
        cwd=checkout,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, help="a checkout of the code before")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    checkouts = {"now": REPO}
    if args.reference is not None:
        checkouts = {"before": args.reference.resolve(), **checkouts}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_inputs(folder)
        times: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for _ in range(args.repeats):  # alternate, so that load on the machine hits both
            for label, argv in commands(folder).items():
                for code, checkout in checkouts.items():
                    times.setdefault((label, code), []).append(seconds(checkout, argv))
    print(f"median of {args.repeats} fresh processes; seconds, wall (CPU: user + system)")
    ratio_head = " | before / now (CPU) |" if len(checkouts) > 1 else " |"
    header = "| command | " + " | ".join(checkouts) + ratio_head
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for label in commands(Path(".")):
        walls = [statistics.median(w for w, _ in times[(label, code)]) for code in checkouts]
        cpus = [statistics.median(c for _, c in times[(label, code)]) for code in checkouts]
        cells = [f"{w:.2f} ({c:.2f})" for w, c in zip(walls, cpus, strict=True)]
        ratio = f" | {cpus[0] / cpus[-1]:.1f}x" if len(cpus) > 1 else ""
        print(f"| `{label}` | " + " | ".join(cells) + ratio + " |")


if __name__ == "__main__":
    main()
