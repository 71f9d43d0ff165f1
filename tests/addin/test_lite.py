"""The xlwings Lite export: a self-contained main.py that runs without this project."""

from __future__ import annotations

import ast
import sys
from importlib import metadata
from pathlib import Path

import pytest

from addin.lite import LiteExportError, _imports, collect_modules, export_lite

ROOT = Path(__file__).resolve().parents[2]

UDF = "TD_TY_LE"
UDF_ARGS = ([[8], [0]], [[10], [0]])
UDF_RESULT = [[0.8], ["Không phát sinh"]]
UDF_BAD_ARGS = ([[1], [2]], [[1], [2], [3]])  # ranges of different sizes
SCRIPT = "kiem_tra_bao_cao"

# Loads main.py the way a fresh interpreter without this project would: the project
# root is taken off sys.path first, so every local module must come from main.py.
LOAD_MAIN = r"""
import importlib.util, json, os, sys
from pathlib import Path
root = Path(ROOT).resolve()
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != root]
sys.path_importer_cache.clear()
assert importlib.util.find_spec("logic") is None, "the project is still importable"
def load_main():
    spec = importlib.util.spec_from_file_location("main", MAIN)
    main = importlib.util.module_from_spec(spec)
    sys.modules["main"] = main
    spec.loader.exec_module(main)
    return main
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return export_lite(tmp_path_factory.mktemp("lite"))


def _script(body: str, main: Path) -> str:
    prelude = LOAD_MAIN.replace("ROOT", repr(str(ROOT))).replace("MAIN", repr(str(main)))
    return prelude + body


def test_export_writes_main_and_requirements(exported):
    main_py, requirements = exported
    assert [main_py.name, requirements.name] == ["main.py", "requirements.txt"]
    ast.parse(main_py.read_text("utf-8"))
    lines = [
        line for line in requirements.read_text("utf-8").splitlines() if not line.startswith("#")
    ]
    assert f"xlwings=={metadata.version('xlwings')}" in lines
    assert "pydantic" in lines  # built by Pyodide: never pinned
    assert not any(
        line.startswith(("openpyxl", "xlwings-server", "python-calamine")) for line in lines
    )


def test_main_embeds_all_of_logic_and_the_entry_modules(exported):
    tree = ast.parse(exported[0].read_text("utf-8"))
    sources = next(
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and node.targets[0].id == "_THIDUA_SOURCES"
    )
    names = {key.value for key in sources.keys}
    logic = {
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in (ROOT / "logic").rglob("*.py")
    }
    assert logic <= names
    assert {"addin", "addin.udfs", "addin.buttons"} <= names
    assert {"workbooks", "workbooks.layout", "workbooks.locate"} <= names
    assert not names & {"addin.serve", "addin.lite", "addin.runtime", "addin.classic"}
    assert not {n for n in names if n.startswith("workbooks.")} - {
        "workbooks.layout",
        "workbooks.locate",
    }


@pytest.fixture(scope="module")
def standalone(exported, python_runner) -> dict:
    """What main.py does in a fresh interpreter without the project and server mode."""
    body = f"""
import traceback
main = load_main()
import logic.findings
old = sys.modules["logic.findings"]
out = {{
    "value": main.{UDF}(*{UDF_ARGS!r}),
    "script": callable(main.{SCRIPT}),
    "origin": logic.findings.__file__,
    "server": "xlwings_server" in sys.modules,
    "on_server": os.environ.get("XLWINGS_ON_SERVER"),
}}
try:
    main.{UDF}(*{UDF_BAD_ARGS!r})
except Exception:
    out["traceback"] = traceback.format_exc()
load_main()
import logic.findings
out["reloaded"] = sys.modules["logic.findings"] is not old
out["hooks"] = sum(type(f).__name__ == "_ThiduaEmbeddedModules" for f in sys.meta_path)
print(json.dumps(out))
"""
    return python_runner(_script(body, exported[0]))


def test_main_runs_without_the_project_and_without_server_mode(standalone):
    assert standalone["value"] == UDF_RESULT
    assert standalone["script"] is True
    assert standalone["origin"] == "<thidua>/logic/findings.py"
    assert standalone["server"] is False
    assert standalone["on_server"] is None


def test_running_main_again_reloads_the_embedded_modules(standalone):
    assert standalone["reloaded"] is True
    assert standalone["hooks"] == 1


def test_traceback_shows_embedded_source(standalone):
    assert 'File "<thidua>/addin/udfs.py"' in standalone["traceback"]
    assert "raise xw.XlwingsError(" in standalone["traceback"]


def _tree(tmp_path: Path, udfs: str, layout: str = "from logic import core\n") -> Path:
    for package in ("logic", "addin", "workbooks"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "logic" / "core.py").write_text("import pydantic\nX = 1\n")
    (tmp_path / "addin" / "udfs.py").write_text(udfs)
    (tmp_path / "addin" / "buttons.py").write_text("import xlwings as xw\n")
    (tmp_path / "workbooks" / "layout.py").write_text(layout)
    (tmp_path / "workbooks" / "locate.py").write_text("import re\nfrom logic.core import X\n")
    (tmp_path / "workbooks" / "reader.py").write_text("import openpyxl\n")
    (tmp_path / "workbooks" / "template.py").write_text("from .layout import *\n")
    return tmp_path


@pytest.mark.parametrize(
    ("udfs", "layout"),
    [
        ("import workbooks.reader\n", ""),
        ("from workbooks import template\n", ""),
        ("def f():\n    from workbooks.template import write_template\n", ""),
        ("from workbooks.layout import X\n", "import openpyxl\nX = 1\n"),
        ("from workbooks.layout import X\n", "from .reader import *\nX = 1\n"),
        ("def f():\n    from xlwings_server.config import settings\n", ""),
        ("from logic import missing_module\nfrom logic.nowhere import x\n", ""),
    ],
    ids=[
        "workbooks-reader",
        "workbooks-template-from-import",
        "workbooks-template-lazily",
        "layout-imports-openpyxl",
        "layout-imports-reader",
        "xlwings-server-lazily",
        "missing",
    ],
)
def test_export_refuses_what_cannot_run_in_lite(tmp_path, udfs, layout):
    with pytest.raises(LiteExportError):
        export_lite(tmp_path / "out", root=_tree(tmp_path, udfs, layout or "X = 1\n"))


def test_the_two_pure_workbooks_modules_are_embedded(tmp_path):
    udfs = "from workbooks.layout import X\nfrom workbooks import locate\n"
    names = {
        m.name
        for m in collect_modules(root=_tree(tmp_path, udfs, "from logic import core\nX = 1\n"))
    }
    assert {"workbooks", "workbooks.layout", "workbooks.locate", "logic.core"} <= names
    assert not names & {"workbooks.reader", "workbooks.template"}


def test_the_project_s_layout_and_locate_import_only_logic_and_the_standard_library():
    for name in ("workbooks.layout", "workbooks.locate"):
        module = next(m for m in collect_modules() if m.name == name)
        tops = {n.split(".")[0] for n, level in _imports(module) if not level}
        assert tops <= {"logic", "__future__"} | set(sys.stdlib_module_names), (name, tops)


def test_type_checking_imports_and_relative_imports(tmp_path):
    udfs = (
        "from typing import TYPE_CHECKING\n"
        "from logic import core\n"
        "if TYPE_CHECKING:\n"
        "    import workbooks\n"
    )
    root = _tree(tmp_path, udfs)
    (root / "addin" / "helper.py").write_text("from .udfs import *\n")
    (root / "addin" / "buttons.py").write_text("from . import helper\n")
    names = [m.name for m in collect_modules(root=root)]
    assert set(names) == {
        "logic",
        "logic.core",
        "addin",
        "addin.udfs",
        "addin.buttons",
        "addin.helper",
    }
    assert names.index("logic.core") < names.index("addin.udfs") < names.index("addin.helper")
