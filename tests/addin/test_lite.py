"""The xlwings Lite export: a self-contained main.py that runs without this project."""

from __future__ import annotations

import ast
import json
from importlib import metadata
from pathlib import Path

import pytest

from addin.lite import LiteExportError, collect_modules, export_lite

ROOT = Path(__file__).resolve().parents[2]

UDF = "TD_ECHO_SUM"
UDF_ARGS = ([[1, 2], [3, None]],)
UDF_RESULT = [[6.0]]
SCRIPT = "hello"

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
    assert not names & {"addin.serve", "addin.lite"}


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
    main.{UDF}([["không phải số"]])
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
    assert standalone["value"] == UDF_RESULT[0][0]
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


def test_main_serves_the_lite_protocol_like_the_server(
    exported, python_runner, clean_env, make_udf_body, book_payload, server, tmp_path
):
    """With xlwings' Office.js decorators on (as in Lite), main.py answers like the server."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = "Báo cáo"
    wb.active["A1"] = "Chỉ tiêu"
    xlsx = tmp_path / "bao-cao.xlsx"
    wb.save(xlsx)
    cases = tmp_path / "cases.json"
    cases.write_text(
        json.dumps({"udf": make_udf_body(UDF, *UDF_ARGS), "book": book_payload(xlsx)}), "utf-8"
    )
    body = f"""
import asyncio
import xlwings as xw, xlwings.server
main = load_main()
cases = json.loads(Path({str(cases)!r}).read_text("utf-8"))
meta = xlwings.server.custom_functions_meta(main)
result = asyncio.run(xlwings.server.custom_functions_call(cases["udf"], main))
book = asyncio.run(xlwings.server.custom_scripts_call(
    main, {SCRIPT!r}, typehint_to_value={{xw.Book: xw.Book(json=cases["book"])}}))
print(json.dumps({{
    "functions": sorted(f["name"] for f in meta["functions"]),
    "scripts": sorted(m["function_name"] for m in xlwings.server.custom_scripts_meta(main)),
    "result": result,
    "actions": book.json()["actions"],
}}))
"""
    env = clean_env(XLWINGS_ON_SERVER="true", XLWINGS_LICENSE_KEY="noncommercial")
    out = python_runner(_script(body, exported[0]), env=env)

    server_functions = server.request("GET", "/xlwings/custom-functions-meta").json()["functions"]
    assert out["functions"] == sorted(f["name"] for f in server_functions)
    server_scripts = server.request("GET", "/xlwings/custom-scripts-meta").json()
    assert out["scripts"] == sorted(m["function_name"] for m in server_scripts)
    assert {"result": out["result"]} == server.call_udf(UDF, *UDF_ARGS).json()
    assert out["actions"] == server.call_script(SCRIPT, book_payload(xlsx)).json()["actions"]


def _tree(tmp_path: Path, udfs: str) -> Path:
    for package in ("logic", "addin"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "logic" / "core.py").write_text("import pydantic\nX = 1\n")
    (tmp_path / "addin" / "udfs.py").write_text(udfs)
    (tmp_path / "addin" / "buttons.py").write_text("import xlwings as xw\n")
    return tmp_path


@pytest.mark.parametrize(
    "udfs",
    [
        "import workbooks.reader\n",
        "def f():\n    from xlwings_server.config import settings\n",
        "from logic import missing_module\nfrom logic.nowhere import x\n",
    ],
    ids=["workbooks", "xlwings-server-lazily", "missing"],
)
def test_export_refuses_what_cannot_run_in_lite(tmp_path, udfs):
    with pytest.raises(LiteExportError):
        export_lite(tmp_path / "out", root=_tree(tmp_path, udfs))


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
