"""Does the CA-Classifier beat the baseline on novel classes? The toy benchmark, measured.

For every seed: generate the toy dataset (`larvseg.train.toy.generate`, seeded), then train
and evaluate the packaged configurations `toy/{supervised,baseline,larvseg}` with that seed, and
print mIoU all / base / novel (mean +- sample std over seeds) plus the CA attention
diagnostic per training phase. Finished runs are kept in OUT/runs/<method>-seed<N>/
result.json and reused, so an interrupted experiment continues where it stopped.

    python benchmarks/toy_experiment.py --out runs/toy_experiment            # 3 seeds
    python benchmarks/toy_experiment.py --out /tmp/smoke --smoke             # seconds
"""

from __future__ import annotations

import argparse
import contextlib
import math
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import torch

from larvseg.train.toy.experiment import (
    PHASES,
    SMOKE_OVERRIDES,
    SMOKE_SPEC,
    ToyRunResult,
    load_result,
    phase_end,
    run_toy,
    save_result,
)
from larvseg.train.toy.generate import ToySpec, generate

METHODS = ("supervised", "baseline", "larvseg")


def _run_dir(out: Path, method: str, seed: int) -> Path:
    """Where one (method, seed) run writes its model, log and result.json."""
    return out / "runs" / f"{method}-seed{seed}"


def _run(method: str, seed: int, out: Path, overrides: tuple[str, ...], threads: int) -> str:
    """Train and evaluate one (method, seed) in this process; returns the result path."""
    torch.set_num_threads(threads)
    run_dir = _run_dir(out, method, seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    with (
        open(run_dir / "log.txt", "w", encoding="utf-8") as log,
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
    ):
        result = run_toy(
            f"toy/{method}",
            out / f"data-seed{seed}",
            run_dir,
            seed=seed,
            overrides=overrides,
        )
    save_result(result, run_dir / "result.json")
    return str(run_dir / "result.json")


def _spread(values: list[float]) -> str:
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return "-"
    std = statistics.stdev(finite) if len(finite) > 1 else 0.0
    return f"{statistics.fmean(finite):5.1f} ± {std:4.1f}"


def print_tables(results: list[ToyRunResult], seeds: list[int]) -> None:
    """The mIoU table (mean ± std over seeds, per-seed novel) and the attention table."""
    by_method = {m: [r for r in results if r.method == m] for m in METHODS}
    print(f"\nmIoU (%) on the validation scenes, mean ± sample std over seeds {seeds}")
    print("| method | all | base | novel | novel per seed | minutes per run |")
    print("|---|---|---|---|---|---|")
    for method, runs in by_method.items():
        if not runs:
            continue
        cells = [_spread([r.miou[k] for r in runs]) for k in ("all", "base", "novel")]
        per_seed = " / ".join(f"{r.miou['novel']:.1f}" for r in runs)
        minutes = statistics.fmean(r.seconds for r in runs) / 60
        print(f"| {method} | {' | '.join(cells)} | {per_seed} | {minutes:.1f} |")
    ca_runs = [r for r in results if r.attention]
    if not ca_runs:
        return
    print("\nCA attention on the weak multi-label scenes: share of attention mass inside the")
    print("true region of the supervised label vs the region's share of the image (chance)")
    print("| method | phase | iteration | all labels: attention / chance | novel labels: same |")
    print("|---|---|---|---|---|")
    for method in METHODS:
        runs = [r for r in ca_runs if r.method == method]
        for phase, share in PHASES:
            shares = [r.attention[phase] for r in runs if phase in r.attention]
            if not shares:
                continue
            every = (
                f"{_spread([100 * s.attention for s in shares])} / "
                f"{_spread([100 * s.area for s in shares])}"
            )
            novel = (
                f"{_spread([100 * s.novel_attention for s in shares])} / "
                f"{_spread([100 * s.novel_area for s in shares])}"
            )
            iteration = phase_end(share, runs[0].iterations)
            print(f"| {method} | {phase} | {iteration} | {every} | {novel} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/toy_experiment"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--jobs", type=int, default=2, help="runs at once (threads split)")
    parser.add_argument(
        "--set",
        dest="overrides",
        nargs="+",
        default=[],
        help="config overrides for every run, e.g. optim.iterations=600",
    )
    parser.add_argument("--smoke", action="store_true", help="tiny data, a few iterations")
    args = parser.parse_args()
    spec_args = SMOKE_SPEC if args.smoke else {}
    overrides = (*(SMOKE_OVERRIDES if args.smoke else ()), *args.overrides)
    for seed in args.seeds:
        generate(args.out / f"data-seed{seed}", ToySpec(seed=seed, **spec_args), progress=False)
    todo: list[tuple[str, int, Path]] = []
    done: list[tuple[str, int, Path]] = []
    for seed in args.seeds:
        for method in args.methods:
            path = _run_dir(args.out, method, seed) / "result.json"
            (done if path.is_file() else todo).append((method, seed, path))
    todo.sort(key=lambda run: (run[0] == "supervised", run[1]))  # the comparison first
    threads = max(1, torch.get_num_threads() // args.jobs)
    print(f"{len(done)} runs already done, {len(todo)} to run, {args.jobs} at a time")
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
        futures = {
            pool.submit(_run, method, seed, args.out, overrides, threads): (method, seed)
            for method, seed, _ in todo
        }
        for future, (method, seed) in futures.items():
            result = load_result(future.result())
            print(f"{method} seed {seed}: mIoU {result.miou} in {result.seconds / 60:.1f} min")
    results = [load_result(path) for _, _, path in sorted(done + todo, key=lambda t: t[1])]
    print(f"\ncommand: python benchmarks/toy_experiment.py {' '.join(sys.argv[1:])}")
    print_tables(results, args.seeds)


if __name__ == "__main__":
    main()
