"""Every benchmark, script and example compiles, and each name it imports from larvseg
exists: a renamed or removed function fails here, not when someone next runs the script.

The names are resolved statically (`ast`), so the check needs none of the scripts'
heavy dependencies and runs no script.
"""

from __future__ import annotations

import ast
import py_compile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "larvseg"
SCRIPTS = sorted(
    p for folder in ("benchmarks", "scripts", "examples") for p in (REPO / folder).glob("*.py")
)


def module_path(module: str) -> Path | None:
    """The file of `larvseg.a.b` (a module or a package's `__init__.py`), or None."""
    base = REPO.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _top_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """The statements of a module body, with those inside `if`/`try` blocks."""
    found: list[ast.stmt] = []
    for node in body:
        found.append(node)
        if isinstance(node, ast.If):
            found += _top_level(node.body) + _top_level(node.orelse)
        elif isinstance(node, ast.Try):
            found += _top_level(node.body) + _top_level(node.orelse)
            found += _top_level([s for h in node.handlers for s in h.body])
    return found


def defined_names(module: str) -> set[str]:
    """The names `from module import NAME` can take: what the module defines or imports at
    top level, its submodules, and the keys of a lazy `_EXPORTS` table."""
    path = module_path(module)
    assert path is not None
    names: set[str] = set()
    for node in _top_level(ast.parse(path.read_text(encoding="utf-8")).body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
            if any(isinstance(t, ast.Name) and t.id == "_EXPORTS" for t in targets):
                assert isinstance(node.value, ast.Dict)
                names.update(ast.literal_eval(k) for k in node.value.keys if k is not None)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    if path.name == "__init__.py":
        names.update(p.stem for p in path.parent.glob("*.py"))
        names.update(p.parent.name for p in path.parent.glob("*/__init__.py"))
    return names


def unresolved_imports(script: Path) -> list[str]:
    """`module.NAME` for each larvseg import of `script` (anywhere in it) that names a
    module or an attribute that does not exist."""
    missing = []
    for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names if a.name.split(".")[0] == "larvseg"]
            missing += [m for m in modules if module_path(m) is None]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "larvseg":
            module = node.module or ""
            if module_path(module) is None:
                missing.append(module)
                continue
            names = defined_names(module)
            missing += [f"{module}.{a.name}" for a in node.names if a.name not in names]
    return missing


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_script_compiles_and_its_larvseg_imports_exist(script: Path, tmp_path: Path) -> None:
    py_compile.compile(str(script), cfile=str(tmp_path / "x.pyc"), doraise=True)
    assert unresolved_imports(script) == []


def test_the_checker_finds_a_removed_name_and_a_missing_module(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from larvseg import LarvSeg, Segmentation, NoSuchName\n"
        "from larvseg.pipeline import image, predict\n"
        "def main():\n"
        "    from larvseg.train.toy.experiment import run_toy, with_data_root\n"
        "    import larvseg.no_such_module\n"
        "    from larvseg.gone import thing\n"
    )
    assert unresolved_imports(bad) == [
        "larvseg.NoSuchName",
        "larvseg.train.toy.experiment.with_data_root",
        "larvseg.no_such_module",
        "larvseg.gone",
    ]


def test_the_checker_rejects_a_file_that_does_not_compile(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def main(:\n    pass\n")
    with pytest.raises(py_compile.PyCompileError):
        py_compile.compile(str(bad), cfile=str(tmp_path / "x.pyc"), doraise=True)


def test_every_folder_has_scripts() -> None:
    assert {p.parent.name for p in SCRIPTS} == {"benchmarks", "scripts", "examples"}
