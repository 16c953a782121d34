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


def seconds(checkout: Path, args: list[str]) -> float:
    """Wall seconds of `python -m larvseg ARGS` run from `checkout` (its code)."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "larvseg", *args],
        cwd=checkout,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


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
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.repeats):  # alternate, so that load on the machine hits both
            for label, argv in commands(folder).items():
                for code, checkout in checkouts.items():
                    times.setdefault((label, code), []).append(seconds(checkout, argv))
    print(f"median of {args.repeats} fresh processes, wall seconds")
    header = (
        "| command | "
        + " | ".join(checkouts)
        + (" | before / now |" if len(checkouts) > 1 else " |")
    )
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for label in commands(Path(".")):
        medians = [statistics.median(times[(label, code)]) for code in checkouts]
        ratio = f" | {medians[0] / medians[-1]:.1f}x" if len(medians) > 1 else ""
        print(f"| `{label}` | " + " | ".join(f"{m:.2f}" for m in medians) + ratio + " |")


if __name__ == "__main__":
    main()
