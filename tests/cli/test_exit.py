"""How commands talk and end: logged messages and warnings as `PROG: ...` lines,
LarvSegError -> one line and exit 2; a closed pipe ends quietly."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import warnings

import pytest

from larvseg.cli.exit import run_command
from larvseg.errors import ImageError, LarvSegError


def test_larvseg_error_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    def fail() -> int:
        raise ImageError("photo.jpg: not an image")

    assert run_command("larvseg", fail) == 2
    assert capsys.readouterr().err == "larvseg: photo.jpg: not an image\n"
    assert run_command("larvseg", lambda: 1) == 1


def test_warnings_are_one_line_when_raised(capsys: pytest.CaptureFixture[str]) -> None:
    def warn() -> int:
        warnings.warn("source 'c': 1 listed class never occurs", UserWarning, stacklevel=1)
        print("after", file=sys.stderr)
        return 0

    assert run_command("larvseg-train", warn) == 0
    expected = "larvseg-train: warning: source 'c': 1 listed class never occurs\nafter\n"
    assert capsys.readouterr().err == expected


def _logs() -> int:
    log = logging.getLogger("larvseg.train.data.index")  # any module's logger
    log.info("seg: 3 samples listed")
    log.debug("not shown")
    log.warning("seg: index is unreadable")
    log.error("failed a.jpg: truncated")
    logging.getLogger("elsewhere").warning("another library's warning")
    return 0


def test_logged_messages_are_prog_lines_on_stderr(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RANK", raising=False)
    before = logging.getLogger("larvseg").handlers[:]
    assert run_command("larvseg-train", _logs) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines()[:3] == [
        "larvseg-train: seg: 3 samples listed",
        "larvseg-train: warning: seg: index is unreadable",
        "larvseg-train: failed a.jpg: truncated",
    ]
    assert logging.getLogger("larvseg").handlers == before  # removed when the command ends
    logging.getLogger("larvseg.x").info("after the command")
    assert "after the command" not in capsys.readouterr().err


def test_only_rank_0_shows_info_other_ranks_tag_their_warnings(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RANK", "1")
    assert run_command("larvseg", _logs) == 0
    assert capsys.readouterr().err.splitlines()[:2] == [
        "larvseg (rank 1): warning: seg: index is unreadable",
        "larvseg (rank 1): failed a.jpg: truncated",
    ]


def test_other_errors_are_not_swallowed() -> None:
    def crash() -> int:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        run_command("larvseg", crash)


def test_output_piped_into_head_ends_quietly() -> None:
    result = subprocess.run(
        f"'{sys.executable}' -m larvseg vocab search a --limit 5000 | head -n 1",
        shell=True,
        capture_output=True,
        text=True,
        check=False,
    )
    assert len(result.stdout.splitlines()) == 1
    assert result.stderr == ""


@pytest.mark.parametrize(
    "command",
    [["larvseg", "vocab", "search", "moth"], ["larvseg.train.cli", "--list-configs"]],
    ids=["larvseg vocab search", "larvseg-train --list-configs"],
)
def test_output_into_a_pipe_closed_before_it_is_written_ends_quietly(command: list[str]) -> None:
    """The reader is gone before the first write (the race `| grep -q` loses when stdout is
    unbuffered): no traceback, exit 1."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [sys.executable, "-m", *command],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    finally:
        os.close(write_end)
    assert result.stderr == ""
    assert result.returncode == 1


def test_every_error_class_is_a_larvseg_error() -> None:
    from larvseg import errors
    from larvseg.train import errors as train_errors
    from larvseg.train.toy.generate import ToySpecError

    classes = [
        value
        for module in (errors, train_errors)
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, Exception)
    ]
    assert len(classes) >= 13
    assert all(issubclass(cls, LarvSegError) for cls in [*classes, ToySpecError])
