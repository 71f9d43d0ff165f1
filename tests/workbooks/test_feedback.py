"""Annotated copies: the clerk opens the copy and sees what to fix, where."""

from __future__ import annotations

import datetime as dt
import hashlib
import zipfile
from pathlib import Path

import openpyxl
import pytest

from logic.findings import finding
from workbooks.feedback import ERROR_FILL, FEEDBACK_SHEET, WARNING_FILL, write_feedback
from workbooks.plans import load
from workbooks.reader import read_workbook
from workbooks.rosters import load_roster
from workbooks.template import write_template

SHEET = "Hàm Rồng"


@pytest.fixture(scope="module")
def plan():
    return load("thanh-hoa-2024")


@pytest.fixture(scope="module")
def roster():
    return load_roster("thanh-hoa")


@pytest.fixture
def report(plan, roster, tmp_path) -> Path:
    """A report with an error (negative), a warning (text number) and a formula."""
    values = {
        "CT01": {"current": -2, "baseline": 5},
        "CT03": {"numerator": "1.234", "denominator": 2000},
    }
    path = write_template(
        plan, roster, "14755", "1", tmp_path / "ham-rong.xlsx",
        report_date=dt.date(2025, 1, 25), values=values,
    )  # fmt: skip
    wb = openpyxl.load_workbook(path)
    wb.worksheets[0]["F20"] = "=1+1"
    wb.save(path)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fill_of(cell) -> str:
    return cell.fill.start_color.rgb[-6:]


def test_annotated_copy(report, plan, roster, tmp_path):
    before = digest(report)
    read = read_workbook(report, name=report.name, plan=plan, roster=roster)
    findings = read.findings + [f for s in read.sheets for f in s.findings]
    out = write_feedback(report, findings, tmp_path / "out" / "ham-rong-kiem-tra.xlsx")
    assert digest(report) == before  # the input is never modified

    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames[0] == FEEDBACK_SHEET
    assert wb.active.title == FEEDBACK_SHEET
    ws = wb[SHEET]
    assert fill_of(ws["F17"]) == ERROR_FILL  # negative
    assert fill_of(ws["F19"]) == WARNING_FILL  # "1.234" read as 1234
    assert fill_of(ws["F20"]) == ERROR_FILL  # formula without a result
    assert "số âm" in ws["F17"].comment.text.lower()
    assert "Cách sửa:" in ws["F17"].comment.text
    assert ws["F17"].value == -2  # the values stay as sent
    assert ws["F20"].value == "=1+1"

    sheet = wb[FEEDBACK_SHEET]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("Mức độ", "Mã lỗi", "Trang", "Ô", "Nội dung", "Cách sửa")
    assert len(rows) == 1 + len(findings)
    assert [r[0] for r in rows[1:]] == sorted(
        (r[0] for r in rows[1:]), key=lambda x: x != "Lỗi"
    )  # errors first
    by_cell = {(r[1], r[3]) for r in rows[1:]}
    assert {("value_negative", "F17"), ("value_text_number", "F19")} <= by_cell
    assert ("formula_no_cache", "F20") in by_cell
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:F{len(rows)}"
    assert sheet["A1"].font.name == "Times New Roman" and sheet["A1"].font.bold
    assert sheet["E2"].font.name == "Times New Roman"
    link = next(c for c in sheet["D"][1:] if c.value == "F17")
    assert link.hyperlink.location == f"'{SHEET}'!F17"


def test_text_from_inputs_stays_text(report, tmp_path):
    evil = '=HYPERLINK("http://example.invalid","Bấm vào đây")'
    f = finding("value_not_number", sheet=SHEET, cell="F21", indicator="CT05", value="x")
    forged = f.__class__(**{**f.to_dict(), "message": evil, "hint": "+1", "sheet": "=Trang"})
    out = write_feedback(report, [f, forged], tmp_path / "x.xlsx")
    with zipfile.ZipFile(out) as z:
        xml = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml  # no formula anywhere in the findings sheet
    ws = openpyxl.load_workbook(out)[FEEDBACK_SHEET]
    values = [c.value for row in ws.iter_rows() for c in row]
    assert evil in values and "+1" in values and "=Trang" in values


def test_no_findings(report, tmp_path):
    out = write_feedback(report, [], tmp_path / "x.xlsx")
    ws = openpyxl.load_workbook(out)[FEEDBACK_SHEET]
    assert ws["E2"].value == "Không phát hiện lỗi nào."


def test_macros_are_dropped(report, tmp_path):
    """An .xlsm's copy is a plain .xlsx: the macros are neither run nor kept."""
    src = tmp_path / "macro.xlsm"
    with zipfile.ZipFile(report) as zin, zipfile.ZipFile(src, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "[Content_Types].xml":
                data = data.replace(
                    b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                    b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
                ).replace(
                    b"<Default ",
                    b'<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/><Default ',
                    1,
                )
            zout.writestr(item, data)
        zout.writestr("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0 not really vba")
    out = write_feedback(src, [], tmp_path / "macro-kiem-tra.xlsx")
    with zipfile.ZipFile(out) as z:
        assert "xl/vbaProject.bin" not in z.namelist()
        assert b"macroEnabled" not in z.read("[Content_Types].xml")
    assert SHEET in openpyxl.load_workbook(out).sheetnames


def test_refused_file_gets_the_list_only(tmp_path):
    bad = tmp_path / "bao-cao.xlsx"
    bad.write_bytes(b"<html>not a workbook</html>")
    f = finding("file_not_workbook", path=str(bad), what="HTML")
    out = write_feedback(bad, [f], tmp_path / "bao-cao-kiem-tra.xlsx")
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == [FEEDBACK_SHEET]
    assert wb[FEEDBACK_SHEET]["B2"].value == "file_not_workbook"


def test_never_overwrites_the_input(report):
    with pytest.raises(ValueError):
        write_feedback(report, [], report)


def test_from_bytes_and_checked_again(report, tmp_path):
    """A feedback copy can be checked again: its findings sheet is replaced, not doubled."""
    f = finding("value_negative", sheet=SHEET, cell="F17", indicator="CT01", value=-2)
    first = write_feedback(report.read_bytes(), [f], tmp_path / "a.xlsx", name=report.name)
    second = write_feedback(first, [f, f], tmp_path / "b.xlsx")
    wb = openpyxl.load_workbook(second)
    assert wb.sheetnames.count(FEEDBACK_SHEET) == 1
    assert wb[FEEDBACK_SHEET].max_row == 3


@pytest.mark.libreoffice
def test_ods_input_becomes_an_xlsx_copy(report, plan, roster, tmp_path, soffice):
    [ods] = soffice.convert(report, "ods", tmp_path / "lo")
    read = read_workbook(ods, name=ods.name, plan=plan, roster=roster)
    findings = [f for s in read.sheets for f in s.findings]
    assert ("value_negative", "F17") in [(f.code, f.cell) for f in findings]
    out = write_feedback(ods, findings, tmp_path / "ham-rong-kiem-tra.xlsx")
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == [FEEDBACK_SHEET, SHEET, "Hướng dẫn"]  # hidden sheets are left out
    ws = wb[SHEET]
    assert ws["F17"].value == -2
    assert ws["C10"].value == "14755" and ws["C10"].data_type == "s"
    assert fill_of(ws["F17"]) == ERROR_FILL
    assert ws["F17"].comment is not None
