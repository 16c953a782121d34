"""`larvseg-train` as a program: cheap --help, the missing extra, one error path."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from larvseg.train.cli import main


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=False
    )


def test_help_and_config_reading_do_not_import_torch() -> None:
    result = run_python(
        """
        import sys
        from larvseg.train.schema import load_config
        load_config(None, ["optim.lr=0.01"])
        from larvseg.train.cli import main
        try:
            main(["--help"])
        except SystemExit as stop:
            assert stop.code == 0
        print(sorted(m for m in ("torch", "timm", "PIL") if m in sys.modules))
        """
    )
    assert result.returncode == 0, result.stderr
    assert "ca.background_topk = 5" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_missing_training_extra_says_what_to_install() -> None:
    result = run_python(
        """
        import sys
        sys.modules["yaml"] = None  # as if PyYAML were not installed
        from larvseg.train.cli import main
        sys.exit(main(["--config", "run.yaml"]))
        """
    )
    assert result.returncode == 2
    assert 'pip install "larvseg[training]"' in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_input_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(tmp_path / "missing.yaml")]) == 2
    assert main(["--set", "optim.lr=fast"]) == 2
    assert main(["--set", "output_dir=x", "--checkpoint", "model"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3 and all(line.startswith("larvseg-train: ") for line in lines)
    assert "missing.yaml" in lines[0] and "optim.lr" in lines[1] and "--eval-only" in lines[2]


def test_packaged_configs_are_listed_and_found_by_name_from_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from larvseg.train.packaged import packaged_configs, resolve_config
    from larvseg.train.schema import load_config

    shipped = packaged_configs()
    assert list(shipped) == [
        "larvseg_c171_i21k",
        "larvseg_c171_wa150",
        "larvseg_c171_wa150_i124",
        "larvseg_c171_wa847_i585",
        "toy/baseline",
        "toy/larvseg",
        "toy/supervised",
    ]
    assert main(["--list-configs"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listed[1:]] == list(shipped)
    assert listed[2].endswith(
        'LarvSeg, C171 + WA150 (paper Table 1: "LarvSeg | C171 + WA", A-150 columns).'
    )
    monkeypatch.chdir(tmp_path)  # no configs/ folder here
    for name in ("toy/larvseg", "toy/larvseg.yaml", "configs/toy/larvseg.yaml"):
        assert resolve_config(name) == shipped["toy/larvseg"]
    assert load_config("larvseg_c171_i21k").data.allow_uncovered
    own = tmp_path / "toy" / "larvseg.yaml"  # a file of that name wins over the package's
    own.parent.mkdir()
    own.write_text("seed: 7\n", encoding="utf-8")
    assert resolve_config("toy/larvseg.yaml").resolve() == own
    assert load_config("toy/larvseg.yaml").seed == 7
    assert main(["--config", "larvseg_c171", "--eval-only"]) == 2
    err = capsys.readouterr().err
    assert "config 'larvseg_c171': no such file, and no packaged configuration" in err
    assert "toy/supervised (larvseg-train --list-configs)" in err
