"""Fault injection: larvseg commands run in subprocesses, paused at a hook, killed with real
signals, run as an unprivileged user (for permission faults even when the tests run as root),
over files built here."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import REPO
from tests.train.data.conftest import (  # noqa: F401  (the data writers, as fixtures here too)
    image_source,
    write_hf_dataset,
    write_shards,
)

NOBODY = 65534
HOOK = """
import io, os, sys, time
from PIL import Image
pause_at, ready = int(os.environ["PAUSE_AT_SAVE"]), os.environ["PAUSE_READY"]
original, saves = Image.Image.save, [0]
def slow_save(self, fp, format=None, **params):
    # write the first half, then wait to be killed: a real half-written file on disk
    saves[0] += 1
    buffer = io.BytesIO()
    original(self, buffer, format=format or "PNG", **params)
    data = buffer.getvalue()
    with open(fp, "wb") as file:
        file.write(data[: len(data) // 2])
        file.flush()
        if saves[0] == pause_at:
            open(ready, "w").close()
            time.sleep(120)
        file.write(data[len(data) // 2 :])
Image.Image.save = slow_save
from larvseg.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def make_images(folder: Path, names: list[str], size: int = 48) -> None:
    """Small random RGB images `folder/<name>` (any Pillow suffix)."""
    rng = np.random.default_rng(0)
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / name)


def larvseg(*args: str, user: bool = False, **kwargs) -> subprocess.CompletedProcess[str]:
    """Run `python -m larvseg ARGS` (as an unprivileged user with `user` when root)."""
    return subprocess.run(
        [*unprivileged(user), sys.executable, "-m", "larvseg", *args],
        capture_output=True,
        text=True,
        env=environment(),
        timeout=600,
        check=False,
        **kwargs,
    )


def unprivileged(user: bool) -> list[str]:
    """The command prefix that drops root (permissions bind every other user already)."""
    if not user or os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot test permission faults")
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


def environment() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    env["HOME"] = env["XDG_CACHE_HOME"] = tempfile.gettempdir()
    return env


def error_lines(stderr: str) -> list[str]:
    """The lines larvseg printed about errors (progress bars left out)."""
    return [line for line in stderr.splitlines() if line.startswith(("larvseg", "Traceback"))]


class Paused:
    """`larvseg ARGS` in a subprocess, paused in the middle of its `pause_at`-th PNG write."""

    def __init__(self, tmp: Path, pause_at: int, *args: str) -> None:
        self.ready = tmp / "paused"
        env = {**environment(), "PAUSE_AT_SAVE": str(pause_at), "PAUSE_READY": str(self.ready)}
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOOK, *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_until_paused(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                raise AssertionError(f"never paused: {self.process.communicate()[1][-2000:]}")
            time.sleep(0.1)

    def signal(self, number: signal.Signals) -> tuple[int, str]:
        """Send `number`; the exit code and stderr."""
        self.process.send_signal(number)
        _, err = self.process.communicate(timeout=120)
        return self.process.returncode, err


@pytest.fixture()
def world_tmp() -> Iterator[Path]:
    """A folder every user may enter and write (for runs as an unprivileged user)."""
    folder = Path(tempfile.mkdtemp(prefix="larvseg-faults-"))
    folder.chmod(0o777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture()
def shared_checkpoint(timm_checkpoint: Path, world_tmp: Path) -> Path:
    """The tiny timm checkpoint, copied where an unprivileged user can read it."""
    folder = world_tmp / "model"
    shutil.copytree(timm_checkpoint, folder)
    for path in [folder, *folder.iterdir()]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return folder
