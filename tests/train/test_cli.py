"""`larvseg-train` as a program: cheap --help, the missing extra, one error path, the
subcommands and the old flag forms."""

from __future__ import annotations

import argparse
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from larvseg.cli.main import build_parser as build_larvseg_parser
from larvseg.train.cli import build_parser, main, old_form


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
        for argv in (["--help"], ["eval", "--help"], ["--config", "x.yaml", "--help"]):
            try:
                main(argv)
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
        sys.exit(main(["fit", "--config", "run.yaml"]))
        """
    )
    assert result.returncode == 2
    assert 'pip install "larvseg[training]"' in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_input_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fit", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert main(["fit", "--set", "optim.lr=fast"]) == 2
    assert main(["eval", "--set", "output_dir=x", "-k", "-1"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3 and all(line.startswith("larvseg-train: ") for line in lines)
    assert "missing.yaml" in lines[0] and "optim.lr" in lines[1]
    assert lines[2] == "larvseg-train: k=-1 must be a positive whole number"


def test_old_flag_forms_map_to_the_subcommands() -> None:
    assert old_form(["--config", "r.yaml", "--resume"]) == (
        ["fit", "--config", "r.yaml", "--resume"],
        "larvseg-train without a command is now `larvseg-train fit`",
    )
    argv, note = old_form(["--config", "r.yaml", "--eval-only", "--json", "e.json"])
    assert argv == ["eval", "--config", "r.yaml", "--json", "e.json"] and "eval" in str(note)
    for diagnose in (["--diagnose-attention", "val"], ["--diagnose-attention=val"]):
        argv, note = old_form(["--config", "r.yaml", *diagnose, "--max-images", "2"])
        assert argv == ["diagnose", "val", "--config", "r.yaml", "--max-images", "2"]
        assert "larvseg-train diagnose SOURCE" in str(note)
    for new in (["fit", "--config", "r.yaml"], ["eval"], ["--help"], []):
        assert old_form(new) == (new, None)


def test_an_old_form_runs_with_a_future_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(tmp_path / "missing.yaml"), "--eval-only"]) == 2
    warning, error = capsys.readouterr().err.splitlines()
    assert warning == (
        "larvseg-train: warning: larvseg-train --eval-only is now `larvseg-train eval`; "
        "the old form goes in the next release"
    )
    assert error.startswith("larvseg-train: configuration error: ") and "missing.yaml" in error


def _prediction_flags(parser: argparse.ArgumentParser) -> set[str]:
    return {
        flag
        for action in parser._actions
        for flag in action.option_strings
        if flag not in ("-h", "--help")
    }


def test_train_eval_takes_every_prediction_option_of_larvseg_eval() -> None:
    def subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
        (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        return commands.choices[name]

    ours = _prediction_flags(subparser(build_parser(), "eval"))
    theirs = _prediction_flags(subparser(build_larvseg_parser(), "eval"))
    expected = {"--size", "--window", "--window-step", "--stride", "--batch-size", "-k"}
    assert expected | {"--bf16", "--device", "--model"} <= theirs
    # all of larvseg eval's but the dataset choice (a configuration names its sources)
    assert theirs - ours == {"--dataset", "--root", "--model", "--split", "--limit"}


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
    with pytest.raises(SystemExit) as stop:
        main(["--list-configs"])
    assert stop.value.code == 0
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
    assert main(["eval", "--config", "larvseg_c171"]) == 2
    err = capsys.readouterr().err
    assert "config 'larvseg_c171': no such file, and no packaged configuration" in err
    assert "toy/supervised (larvseg-train --list-configs)" in err
