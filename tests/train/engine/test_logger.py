"""Training logs: plain lines when stderr is not a terminal, a tqdm bar when it is."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from larvseg.cli.exit import command_logging
from larvseg.train.engine.logger import TrainLogger
from larvseg.train.engine.trainer import Trainer


def test_redirected_training_log_has_plain_lines(
    run_config: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with command_logging("larvseg-train"):
        Trainer(run_config(tmp_path, iterations=2, checkpoint_every=2)).train()
    out, err = capsys.readouterr()  # captured: stderr is not a terminal
    assert "\r" not in out + err
    prefix = "larvseg-train: train "
    lines = [
        line.removeprefix("larvseg-train: ") for line in err.splitlines() if line.startswith(prefix)
    ]
    assert [line.split(" | ")[0] for line in lines] == ["train 1/2", "train 2/2"]
    number = r"\d+\.\d{4}"
    pattern = (
        rf"train 2/2 \| loss {number} \| seg/seg {number} \| .* \| lr .+ \| [\d.]+ it/s"
        r" \| eta 00:00"
    )
    assert re.fullmatch(pattern, lines[1]), lines[1]
    records = [json.loads(line) for line in (tmp_path / "out" / "train_log.jsonl").open()]
    assert [r["iteration"] for r in records] == [1, 2]


def test_terminal_gets_a_progress_bar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with (
        command_logging("larvseg-train"),
        TrainLogger(tmp_path, 0, 4, enabled=True, tensorboard=False, interactive=True) as logger,
    ):
        logger.log(2, {"loss": 1.5})
        logger.message("a note")
    err = capsys.readouterr().err
    assert "\r" in err and "train:  50%" in err and "loss=1.5000" in err
    assert "larvseg-train: a note\n" in err and "train 2/4 |" not in err


def test_messages_go_to_the_larvseg_logger_on_rank_0_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="larvseg")
    with TrainLogger(tmp_path, 0, 4, enabled=True, tensorboard=False, interactive=False) as main:
        main.log(2, {"loss": 1.5})
        main.message("a note")
    with TrainLogger(tmp_path, 0, 4, enabled=False, tensorboard=False) as other:
        other.log(2, {"loss": 1.5})
        other.message("not shown")
    assert [r.name for r in caplog.records] == ["larvseg.train.engine.logger"] * 2
    assert caplog.messages[0].startswith("train 2/4 | loss 1.5000 |")
    assert caplog.messages[1] == "a note"
