"""How every larvseg command ends: exit codes, error messages and closed pipes.

A `LarvSegError` (bad input: a file, a checkpoint, a synset, a config key) becomes
one line `PROG: message` on stderr and exit code 2, never a traceback; a warning is
one line `PROG: warning: message` on stderr, when it is raised; output piped into a
command that stops reading (`larvseg vocab search moth | head`) ends quietly.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable

from ..errors import LarvSegError

USAGE_ERROR = 2
"""Exit code of a command stopped by bad input (argparse uses 2 for bad flags too)."""


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
        print(f"{prog}: {err}", file=sys.stderr)
        return USAGE_ERROR
    except BrokenPipeError:
        # the reader went away: send the rest of our output nowhere, as Python's docs advise
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return code
