"""``logic/`` stays pure: no workbook libraries, no data-frame stack, no file system.

The add-in imports ``logic`` in xlwings Lite (no compiled readers there) and every front end
feeds it plain data, so a stray ``import openpyxl`` or ``open(...)`` in the core is a bug.
Two checks: importing every module in a fresh interpreter loads none of those packages
(catches indirect imports), and a static walk over the source finds no import of them nor
of file-system modules, and no file I/O call (catches imports inside functions).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOGIC = ROOT / "logic"
SOURCES = sorted(LOGIC.glob("*.py"))

# workbook readers/writers and the data-frame stack belong in workbooks/ and addin/
HEAVY = {"openpyxl", "xlwings", "python_calamine", "pandas", "numpy"}
# file system, processes and network: I/O belongs to the adapters
IO_MODULES = {
    "os", "pathlib", "shutil", "tempfile", "glob", "io", "subprocess", "socket",
    "urllib", "http", "requests", "httpx", "sqlite3", "pickle", "shelve", "importlib",
}  # fmt: skip
IO_METHODS = {"read_text", "write_text", "read_bytes", "write_bytes", "mkdir", "unlink"}


def test_the_modules_are_all_checked():
    names = {p.stem for p in SOURCES}
    assert {"plan", "roster", "aggregate", "targets", "findings", "checks", "numbers"} <= names


def test_importing_logic_loads_no_workbook_or_dataframe_package():
    modules = ["logic"] + [f"logic.{p.stem}" for p in SOURCES if p.stem != "__init__"]
    code = (
        f"import {', '.join(modules)}; import sys; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {sorted(HEAVY)!r}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def _offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""] if node.level == 0 else []
        else:
            names = []
        for name in names:
            if name.split(".")[0] in HEAVY | IO_MODULES:
                found.append(f"{path.name}:{node.lineno} import {name}")
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id in {"open", "__import__", "exec", "eval"}:
                found.append(f"{path.name}:{node.lineno} {f.id}(…)")
            elif isinstance(f, ast.Attribute) and f.attr in IO_METHODS:
                found.append(f"{path.name}:{node.lineno} .{f.attr}(…)")
    return found


@pytest.mark.parametrize("path", SOURCES, ids=[p.name for p in SOURCES])
def test_no_io_or_heavy_import_in_the_source(path):
    assert _offences(path) == []


def test_the_static_check_can_fail(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import os\n"
        "def f(p):\n"
        "    from openpyxl import load_workbook\n"
        "    with open(p) as fh:\n"
        "        return fh.read(), p.read_text()\n",
        encoding="utf-8",
    )
    assert _offences(bad) == [
        "bad.py:1 import os",
        "bad.py:3 import openpyxl",
        "bad.py:4 open(…)",
        "bad.py:5 .read_text(…)",
    ]
