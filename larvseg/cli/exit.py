"""How every larvseg command ends: exit codes, error messages and closed pipes.

A `LarvSegError` (bad input: a file, a checkpoint, a synset, a config key) becomes
one line `PROG: message` on stderr and exit code 2, never a traceback; a warning is
one line `PROG: warning: message` on stderr, when it is raised; output piped into a
command that stops reading (`larvseg vocab search moth | head`) ends quietly; Ctrl-C
ends it with one line `PROG: interrupted` and exit code 130 (128 + SIGINT, as shells do).
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable

from ..errors import LarvSegError

USAGE_ERROR = 2
"""Exit code of a command stopped by bad input (argparse uses 2 for bad flags too)."""
INTERRUPTED = 130
"""Exit code of a command stopped by Ctrl-C (128 + SIGINT)."""


def run_command(prog: str, command: Callable[[], int]) -> int:
    """Run `command` and return its exit code; `LarvSegError` -> message and 2."""
    try:
        with warnings.catch_warnings():
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
