"""Training logs on rank 0: progress on stderr, a JSON-lines file and (optionally) TensorBoard.

Progress is a tqdm bar on a terminal; when stderr is a file or a pipe it is one plain
line per logged step instead (logged under `larvseg`, as every other message), so a
redirected log holds no carriage returns.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from tqdm import tqdm

from ..errors import TrainConfigError

log = logging.getLogger(__name__)


class TrainLogger:
    """Rank-0 logger. `log(iteration, values)` every `log_every` iterations.

    Writes `train_log.jsonl` in `output_dir` (one JSON object per logged step with
    the iteration, lr, every loss term, it/s and elapsed seconds; one per evaluation
    with its metrics), shows progress (loss terms, lr, it/s, ETA) and mirrors scalars
    to TensorBoard when asked.

    Args:
        output_dir: where the log files go.
        start, total: the iteration training starts at, and the last one.
        enabled: log at all (rank 0 only).
        tensorboard: also write TensorBoard scalars to `output_dir/tensorboard`.
        interactive: progress as a tqdm bar; None = when stderr is a terminal.
    """

    def __init__(
        self,
        output_dir: Path,
        start: int,
        total: int,
        enabled: bool,
        tensorboard: bool,
        interactive: bool | None = None,
    ) -> None:
        self.enabled = enabled
        self.start_time = time.perf_counter()
        self.last_time = self.start_time
        self.start, self.total = start, total
        self.last_iteration = start
        self.bar: tqdm | None = None
        self.writer: Any = None
        self.jsonl: Any = None
        if not enabled:
            return
        output_dir.mkdir(parents=True, exist_ok=True)
        self.jsonl = open(output_dir / "train_log.jsonl", "a", encoding="utf-8")  # noqa: SIM115
        if sys.stderr.isatty() if interactive is None else interactive:
            self.bar = tqdm(total=total, initial=start, desc="train", dynamic_ncols=True)
        if tensorboard:
            self.writer = _tensorboard_writer(output_dir / "tensorboard")

    def log(self, iteration: int, values: dict[str, float]) -> None:
        """Record `values` (loss terms, lr) after `iteration` iterations."""
        if self.jsonl is None:  # not rank 0
            return
        now = time.perf_counter()
        rate = (iteration - self.last_iteration) / max(now - self.last_time, 1e-9)
        self.last_time, self.last_iteration = now, iteration
        elapsed = now - self.start_time
        self._record({"iteration": iteration, **values, "it_per_s": rate, "elapsed_s": elapsed})
        self._scalars(iteration, values)
        if self.bar is not None:
            self.bar.set_postfix({k: _short(v) for k, v in values.items()}, refresh=False)
            self.bar.update(iteration - self.bar.n)
            return
        average = (iteration - self.start) / max(elapsed, 1e-9)
        eta = tqdm.format_interval((self.total - iteration) / max(average, 1e-9))
        terms = " | ".join(f"{k} {_short(v)}" for k, v in values.items())
        self.message(f"train {iteration}/{self.total} | {terms} | {rate:.2f} it/s | eta {eta}")

    def log_eval(self, iteration: int, values: dict[str, float | None]) -> None:
        """Record evaluation results after `iteration` iterations (None = undefined)."""
        if self.jsonl is None:
            return
        self._record({"iteration": iteration, **values})
        self._scalars(iteration, {k: v for k, v in values.items() if v is not None})

    def message(self, text: str) -> None:
        """Log `text` (rank 0 only); a command shows it above the bar if there is one."""
        if self.enabled:
            log.info("%s", text)

    def _record(self, record: dict[str, Any]) -> None:
        self.jsonl.write(json.dumps(record) + "\n")
        self.jsonl.flush()

    def _scalars(self, iteration: int, values: dict[str, float]) -> None:
        if self.writer is not None:
            for key, value in values.items():
                self.writer.add_scalar(key, value, iteration)

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
