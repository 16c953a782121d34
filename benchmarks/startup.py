"""Start-up time of the commands: how long `larvseg ... --help` and friends take, and
which heavy packages each imports, for this checkout and (with --before) another one.

Each command runs in a fresh interpreter (`python -m ...` with PYTHONPATH set to the
checkout), timed in turns with the other checkout's run and with a bare interpreter
(`python -c pass`, the reference), median of --repeats rounds.

    python benchmarks/startup.py --before /path/to/an/older/checkout
"""

from __future__ import annotations

import argparse
import functools
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from timing import interleaved_medians

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "timm", "numpy", "PIL", "tqdm", "nltk", "yaml")
COMMANDS = {
    "larvseg --help": ["-m", "larvseg", "--help"],
    "larvseg segment --help": ["-m", "larvseg", "segment", "--help"],
    "larvseg eval --help": ["-m", "larvseg", "eval", "--help"],
    "larvseg vocab --help": ["-m", "larvseg", "vocab", "--help"],
    "larvseg vocab show dog.n.01": ["-m", "larvseg", "vocab", "show", "dog.n.01"],
    "larvseg-train --help": ["-m", "larvseg.train.cli", "--help"],
}


def run(checkout: Path | None, args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ}
    if checkout is not None:
        env["PYTHONPATH"] = str(checkout)
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, check=False
    )


def heavy_imports(checkout: Path, args: list[str]) -> str:
    """The heavy top-level packages `args` imports (from `python -X importtime`)."""
    err = run(checkout, ["-X", "importtime", *args]).stderr
    names = {line.rpartition("|")[2].strip() for line in err.splitlines() if "|" in line}
    return ", ".join(m for m in HEAVY if m in names) or "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, help="another checkout to compare with")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    checkouts = {"now": REPO} if args.before is None else {"before": args.before, "now": REPO}
    bare = interleaved_medians({"bare": lambda: run(None, ["-c", "pass"])}, args.repeats)["bare"]
    print(f"bare interpreter (python -c pass): {bare:.3f} s; median of {args.repeats} rounds")
    header = [f"{name} s" for name in checkouts] + [f"{name} imports" for name in checkouts]
    if args.before is not None:
        header.insert(2, "now / before")
    print("| command | " + " | ".join(header) + " |")
    print("|---" * (len(header) + 1) + "|")
    for command, argv in COMMANDS.items():
        fns: dict[str, Callable[[], object]] = {
            name: functools.partial(run, path, argv) for name, path in checkouts.items()
        }
        seconds = interleaved_medians(fns, args.repeats)
        cells = [f"{seconds[name]:.3f}" for name in checkouts]
        if args.before is not None:
            cells.append(f"{seconds['now'] / seconds['before']:.2f}")
        cells += [heavy_imports(path, argv) for path in checkouts.values()]
        print(f"| {command} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
