"""The public surface: `from larvseg import NAME` for every name of the lazy table, and
`__all__`, the type checkers' imports and `dir(larvseg)` all say the same."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import larvseg

INIT = Path(larvseg.__file__)


def _type_checking_imports() -> set[str]:
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    (block,) = [
        n for n in tree.body if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test)
    ]
    return {
        a.asname or a.name for n in block.body if isinstance(n, ast.ImportFrom) for a in n.names
    }


def test_all_is_the_lazy_table_and_the_type_checkers_see_the_same_names() -> None:
    assert larvseg.__all__ == sorted(larvseg._EXPORTS)
    assert _type_checking_imports() == set(larvseg._EXPORTS)
    assert set(larvseg._EXPORTS) <= set(dir(larvseg))


@pytest.mark.parametrize("name", sorted(larvseg._EXPORTS))
def test_every_public_name_is_the_object_its_module_defines(name: str) -> None:
    module = importlib.import_module(f"larvseg.{larvseg._EXPORTS[name]}")
    assert getattr(larvseg, name) is getattr(module, name)


def test_the_documented_types_are_public() -> None:
    for name in ("PredictOptions", "FileResult", "SenseWarning", "InputError", "ItemAssignment"):
        assert name in larvseg.__all__
    with pytest.raises(AttributeError, match="no attribute 'predict_labels'"):
        larvseg.predict_labels  # noqa: B018 - internal: larvseg.pipeline.predict


def test_import_larvseg_and_a_light_name_load_no_torch() -> None:
    code = "import sys, larvseg; larvseg.Vocabulary; larvseg.SenseWarning; larvseg.InputError; "
    code += "print(sorted(m for m in ('torch', 'timm') if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
