"""Training logs: a progress bar, a JSONL file and (optionally) TensorBoard, on rank 0."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from tqdm import tqdm

from ..errors import TrainConfigError


class TrainLogger:
    """Rank-0 logger. `log(iteration, values)` every `log_every` iterations.

    Writes `train_log.jsonl` in `output_dir` (one JSON object per logged step with
    the iteration, lr, every loss term, it/s and elapsed seconds), updates a tqdm bar
    (loss terms, lr, it/s, ETA) and mirrors scalars to TensorBoard when asked.
    """

    def __init__(
        self, output_dir: Path, start: int, total: int, enabled: bool, tensorboard: bool
    ) -> None:
        self.enabled = enabled
        self.start_time = time.perf_counter()
        self.last_time = self.start_time
        self.last_iteration = start
        self.bar: tqdm | None = None
        self.writer: Any = None
        self.jsonl: Any = None
        if not enabled:
            return
        output_dir.mkdir(parents=True, exist_ok=True)
        self.jsonl = open(output_dir / "train_log.jsonl", "a", encoding="utf-8")  # noqa: SIM115
        self.bar = tqdm(total=total, initial=start, desc="train", dynamic_ncols=True)
        if tensorboard:
            self.writer = _tensorboard_writer(output_dir / "tensorboard")

    def log(self, iteration: int, values: dict[str, float]) -> None:
        """Record `values` (loss terms, lr) after `iteration` iterations."""
        if self.jsonl is None or self.bar is None:  # not rank 0
            return
        now = time.perf_counter()
        rate = (iteration - self.last_iteration) / max(now - self.last_time, 1e-9)
        self.last_time, self.last_iteration = now, iteration
        record = {
            "iteration": iteration,
            **values,
            "it_per_s": rate,
            "elapsed_s": now - self.start_time,
        }
        self.jsonl.write(json.dumps(record) + "\n")
        self.jsonl.flush()
        self.bar.set_postfix({k: _short(v) for k, v in values.items()}, refresh=False)
        self.bar.update(iteration - self.bar.n)
        if self.writer is not None:
            for key, value in values.items():
                self.writer.add_scalar(key, value, iteration)

    def message(self, text: str) -> None:
        """A line above the bar (rank 0 only)."""
        if self.enabled:
            tqdm.write(text)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.jsonl is not None:
            self.jsonl.close()
        if self.writer is not None:
            self.writer.close()

    def __enter__(self) -> TrainLogger:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _short(value: float) -> str:
    return f"{value:.2e}" if abs(value) < 1e-2 and value != 0 else f"{value:.4f}"


def _tensorboard_writer(folder: Path) -> Any:
    """A TensorBoard `SummaryWriter` in `folder`; needs the `tensorboard` package."""
    try:
        from torch.utils.tensorboard import SummaryWriter  # optional: the training extra
    except ImportError as err:
        raise TrainConfigError(
            'tensorboard: true needs the tensorboard package: pip install "larvseg[training]"'
        ) from err
    return SummaryWriter(str(folder))
