"""How every larvseg command talks and ends: messages, exit codes, errors, closed pipes.

A command's own results go to stdout (`print`). Everything else reaches the user as
one line on stderr: library messages logged under the `larvseg` logger (`PROG: message`
at INFO and above, on rank 0 of a `torchrun` job; warnings and errors of the other
ranks as `PROG (rank N): ...`), a warning (`PROG: warning: message`, when it is
raised), and a `LarvSegError` (bad input: a file, a checkpoint, a synset, a config
key), which becomes `PROG: message` and exit code 2, never a traceback. Output piped
into a command that stops reading (`larvseg vocab search moth | head`) ends quietly;
Ctrl-C ends it with one line `PROG: interrupted` and exit code 130 (128 + SIGINT).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterator

from ..errors import LarvSegError

USAGE_ERROR = 2
"""Exit code of a command stopped by bad input (argparse uses 2 for bad flags too)."""
INTERRUPTED = 130
"""Exit code of a command stopped by Ctrl-C (128 + SIGINT)."""

LOGGER = "larvseg"
"""The logger every larvseg module logs under (`logging.getLogger(__name__)`)."""


class LineHandler(logging.Handler):
    """Each record as one line `PROG: message` on stderr (`PROG: warning: message` for
    a warning), written above a running tqdm bar instead of through it."""

    def __init__(self, prog: str, level: int) -> None:
        super().__init__(level)
        self.prog = prog

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        try:
            kind = "warning: " if record.levelno == logging.WARNING else ""
            tqdm.write(f"{self.prog}: {kind}{record.getMessage()}", file=sys.stderr)
        except Exception:  # logging's contract: a bad record must not raise
            self.handleError(record)


@contextlib.contextmanager
def command_logging(prog: str) -> Iterator[None]:
    """Show the `larvseg` logger's records while a command runs: INFO and above on rank 0
    (`RANK`, as torchrun sets it), warnings and errors tagged with the rank elsewhere."""
    rank = int(os.environ.get("RANK", "0") or 0)
    if rank == 0:
        handler = LineHandler(prog, logging.INFO)
    else:
        handler = LineHandler(f"{prog} (rank {rank})", logging.WARNING)
    logger = logging.getLogger(LOGGER)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def run_command(prog: str, command: Callable[[], int]) -> int:
    """Run `command` and return its exit code; `LarvSegError` -> message and 2."""
    try:
        with warnings.catch_warnings(), command_logging(prog):
            warnings.showwarning = lambda message, *_, **__: print(
                f"{prog}: warning: {message}", file=sys.stderr
            )
            code = command()
        sys.stdout.flush()
    except LarvSegError as err:
        print(f"{prog}: {one_line(str(err))}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        # the reader went away: send the rest of our output nowhere, as Python's docs advise
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return code


def one_line(message: str) -> str:
    """`message` on one line: line breaks and the indentation after them become "; "
    (torch's and other libraries' messages embedded in larvseg's span several lines)."""
    return "; ".join(part.strip() for part in message.splitlines() if part.strip())
