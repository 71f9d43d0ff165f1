"""The classic Windows add-in: its ribbon wiring, its configuration, and the folder
consolidation only it has (run here on the remote engine's book: no Excel on Linux)."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import importlib.util
import re
import tempfile
import zipfile
from pathlib import Path

import pytest

from addin import buttons, classic
from addin.state import StateError

ROOT = Path(__file__).resolve().parents[2]
PYCACHE = Path(tempfile.gettempdir()) / "thidua-test-pycache-classic"
FOLDER = ROOT / "addin" / "classic"
PLAN_ID = "uong-bi-2024"


def test_every_ribbon_button_runs_an_existing_python_function():
    ribbon = (FOLDER / "customUI.xml").read_text("utf-8")
    actions = re.findall(r'onAction="RibbonThiDua\.(\w+)"', ribbon)
    vba = (FOLDER / "RibbonThiDua.bas").read_bytes()
    assert vba.isascii() and b"\r\n" in vba  # what the VBA editor imports
    subs = dict(re.findall(r"Sub (\w+)\(control As IRibbonControl\)\r\n    ([^\r]+)", vba.decode()))
    assert sorted(actions) == sorted(subs)
    called = []
    for line in subs.values():
        m = re.fullmatch(r'RunPython "import ([\w.]+); \1\.(\w+)\(\)"', line)
        if m is None:
            assert line == "ImportPythonUDFsToAddin"  # the "Nạp hàm TD_" button
            continue
        module = importlib.import_module(m.group(1))
        assert callable(getattr(module, m.group(2)))
        called.append(m.group(2))
    macros = [n for n in buttons.__all__ if n.endswith("_macro")]
    assert sorted(called) == sorted([*macros, "tong_hop_thu_muc_macro"])


def test_the_configuration_names_the_udf_module():
    lines = (FOLDER / "myaddin.conf").read_text("ascii").splitlines()
    conf = dict(line.strip('"').split('","') for line in lines)
    assert conf["UDF MODULES"] == "addin.udfs"
    assert conf["INTERPRETER_WIN"].endswith(r"\.venv\Scripts\pythonw.exe")
    assert importlib.util.find_spec(conf["UDF MODULES"]) is not None


def test_the_add_in_is_what_xlwings_quickstart_and_our_ribbon_make(tmp_path, monkeypatch):
    """Rebuilt here (quickstart runs without Excel): the committed .xlam has not drifted."""
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    monkeypatch.setenv("PYTHONPYCACHEPREFIX", str(PYCACHE))
    spec = importlib.util.spec_from_file_location(
        "build_classic_addin", ROOT / "scripts" / "build_classic_addin.py"
    )
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    rebuilt = build.build(tmp_path / "thidua.xlam")
    assert rebuilt.read_bytes() == (FOLDER / "thidua.xlam").read_bytes()
    with zipfile.ZipFile(rebuilt) as z:
        assert z.read("customUI/customUI.xml") == (FOLDER / "customUI.xml").read_bytes()
        assert "xl/vbaProject.bin" in z.namelist()


def test_readme_walks_through_the_install():
    text = (FOLDER / "README.md").read_text("utf-8")
    for step in (
        "uv sync",
        "myaddin.conf",
        "RibbonThiDua.bas",
        "Trust access to the",
        "Nạp hàm TD_",
    ):
        assert step in text


# --- Tổng hợp thư mục --------------------------------------------------------------------


@pytest.fixture
def folder(tmp_path, plan_and_roster) -> Path:
    from workbooks.template import write_template

    plan, roster = plan_and_roster(PLAN_ID)
    d = tmp_path / "hop-thu"
    d.mkdir()
    day = dt.date(2025, 2, 3)
    for code, num in (("06808", 8), ("06811", 9)):
        write_template(
            plan, roster, code, "1", d / f"bao-cao-{code}.xlsx", report_date=day,
            values={"CT01": {"numerator": num, "denominator": 10}},
        )  # fmt: skip
    (d / "ghi-chu.txt").write_text("không phải báo cáo")
    (d / "~$bao-cao-06808.xlsx").write_bytes(b"lock file of an open workbook")
    return d


def _book(path: Path, book_payload):
    """The book the remote engine builds from what Office.js sends (same API as COM's)."""
    import xlwings as xw

    return xw.Book(json=book_payload(path))


def test_folder_consolidation_writes_the_tally_next_to_the_reports(folder, book_payload):
    from openpyxl import load_workbook

    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    book = _book(folder / "bao-cao-06808.xlsx", book_payload)
    path = classic.do_tong_hop_thu_muc(book, folder, use_cache=False, workers=1)
    assert path == folder / "tong-hop-uong-bi-2024.xlsx"
    sheets = load_workbook(path, read_only=True).sheetnames
    assert "Nguồn" in sheets and "Kết quả kiểm tra" in sheets
    (alert,) = [a for a in book.json()["actions"] if a["func"] == "alert"]
    assert alert["args"][0].startswith(
        "Đã đọc 2 tệp trong thư mục “hop-thu”: 2 báo cáo dùng được, 0 bị từ chối"
    )
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    assert {k: v for k, v in after.items() if k in before} == before  # inputs untouched


def test_folder_without_reports_is_a_vietnamese_error(tmp_path, folder, book_payload):
    empty = tmp_path / "trong"
    empty.mkdir()
    book = _book(folder / "bao-cao-06808.xlsx", book_payload)
    with pytest.raises(StateError, match="không có tệp báo cáo nào"):
        classic.do_tong_hop_thu_muc(book, empty, use_cache=False, workers=1)
