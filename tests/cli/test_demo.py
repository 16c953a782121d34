"""`larvseg demo`: its options, and the message without the `demo` extra."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from larvseg.cli.main import build_parser, main


def test_demo_options_default_to_this_machine_only() -> None:
    args = build_parser().parse_args(["demo"])
    assert (args.host, args.port) == ("127.0.0.1", None)
    args = build_parser().parse_args(
        ["demo", "--model", "m/", "--host", "0.0.0.0", "--port", "9000"]
    )
    assert (args.model, args.host, args.port) == ("m/", "0.0.0.0", 9000)


def test_demo_without_gradio_says_which_extra_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "gradio", None)  # makes `import gradio` fail
    monkeypatch.delitem(sys.modules, "larvseg.demo.app", raising=False)
    assert main(["demo", "--model", str(tmp_path / "never_loaded")]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        "larvseg: larvseg's web demo needs the gradio package, which is not installed: "
        'pip install "larvseg[demo]"'
    )
