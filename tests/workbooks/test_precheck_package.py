"""What python-calamine is handed after the pre-check: the checked parts only, and the very
bytes the pre-check scanned (the parts it inflated are not inflated a second time)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from python_calamine import SheetVisibleEnum

from tests.hostile import sheet_xml, write_zip, xlsx_parts
from workbooks.isolate import run_isolated
from workbooks.precheck import precheck

FAR = [("A1", "Hướng dẫn"), ("XFD1048576", 1)]


def two_sheets(tmp_path: Path, report: str | None = None) -> Path:
    """A report and an instructions sheet holding a cell no reader survives."""
    report = report or sheet_xml([("A1", "Mã"), ("B2", 5)])
    parts = xlsx_parts({"Báo cáo": report, "Hướng dẫn": sheet_xml(FAR)})
    return write_zip(tmp_path / "x.xlsx", parts)


def report_only(sheet: str) -> bool:
    return sheet != "Hướng dẫn"


def bypass_the_guard(path: str) -> str:
    """In a child: ask calamine itself (not the checked wrapper) for the unmeasured sheet."""
    result = precheck(Path(path).read_bytes(), "x.xlsx", sheets=report_only)
    book = result.workbook.open_calamine()
    raw = book._book  # the CalamineWorkbook behind the wrapper
    try:
        raw.get_sheet_by_name("Hướng dẫn").to_python()
    except Exception as e:  # the part is not in the package calamine was given
        return type(e).__name__
    return "read"


def test_calamine_is_not_even_given_a_sheet_not_measured(tmp_path):
    # had the far cell reached calamine, the child would have been aborted
    result = run_isolated(bypass_the_guard, str(two_sheets(tmp_path)))
    assert (result.findings, result.value) == ([], "WorksheetNotFound")


def test_calamine_reads_the_checked_sheet_and_lists_every_sheet(tmp_path):
    result = precheck(two_sheets(tmp_path).read_bytes(), "x.xlsx", sheets=report_only)
    book = result.workbook.open_calamine()
    assert book.sheet_names == ["Báo cáo", "Hướng dẫn"]
    visible = SheetVisibleEnum.Visible
    assert [m.visible == visible for m in book.sheets_metadata] == [True, True]
    assert book.get_sheet_by_name("Báo cáo").to_python() == [["Mã", ""], ["", 5.0]]


def test_a_sheet_cut_short_is_not_handed_on_as_whole(tmp_path):
    # a deflate stream that ends early: calamine gets the stream as it is, and fails on it
    cells = [(f"A{i}", f"giá trị {i}") for i in range(1, 400)]
    path = two_sheets(tmp_path, sheet_xml(cells))
    data = path.read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        info = zf.getinfo("xl/worksheets/sheet1.xml")
    start = info.header_offset + 30 + len(info.filename)
    damaged = bytearray(data)
    cut = start + info.compress_size // 2
    damaged[cut : start + info.compress_size] = bytes(start + info.compress_size - cut)
    result = precheck(bytes(damaged), "x.xlsx", sheets=report_only)
    # the pre-check measured what inflates of it (a reader cannot see more) and let it by
    assert result.ok and result.sheet_extents["Báo cáo"][0] < 399
    book = result.workbook.open_calamine()
    with pytest.raises(Exception, match="deflate"):  # never half a sheet read as whole
        book.get_sheet_by_name("Báo cáo").to_python()


def test_the_package_holds_every_other_part_unchanged(tmp_path):
    parts = xlsx_parts({"Báo cáo": sheet_xml([("A1", "Mã")]), "Hướng dẫn": sheet_xml(FAR)})
    parts["docProps/core.xml"] = "<cp:coreProperties xmlns:cp='urn:cp'/>"
    parts["xl/theme/theme1.xml"] = "<a:theme xmlns:a='urn:a'/>"
    parts["xl/comments1.xml"] = "<comments/>"
    data = write_zip(tmp_path / "x.xlsx", parts).read_bytes()
    book = precheck(data, "x.xlsx", sheets=report_only).workbook
    from workbooks.precheck import _slim_package

    slim = _slim_package(book.data, book._members, book._unmeasured)
    with zipfile.ZipFile(io.BytesIO(data)) as zf, zipfile.ZipFile(io.BytesIO(slim)) as out:
        assert out.testzip() is None  # every CRC as the input declared it
        kept = {i.filename: i for i in out.infolist()}
        # no sheet not measured, nothing no cell value depends on; any other part kept
        left_out = {"xl/worksheets/sheet2.xml", "docProps/core.xml", "xl/theme/theme1.xml"}
        assert set(kept) == set(zf.namelist()) - left_out
        assert "xl/comments1.xml" in kept
        for name in kept:
            assert out.read(name) == zf.read(name), name
        # the measured sheet was inflated by the pre-check: stored, not compressed again
        assert kept["xl/worksheets/sheet1.xml"].compress_type == zipfile.ZIP_STORED


# --- the styles part, cut to the number formats --------------------------------------------


def formatted_workbook(path: Path) -> Path:
    """Every kind of number format python-calamine tells dates by, among fonts, fills,
    borders and alignments (what the cut styles part leaves out)."""
    import datetime as dt

    import openpyxl
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Báo cáo"
    formats = [
        "General", "0", "0.00", "0%", "0.0%", "dd/mm/yyyy", "mm-dd-yy", "d-mmm-yy",
        "h:mm", "[h]:mm:ss", "yyyy-mm-dd hh:mm", '"Giảm "0.0%', "#,##0", "@", "mmss.0",
    ]  # fmt: skip
    for i, fmt in enumerate(formats, start=1):
        for j, value in enumerate([45678.25, 3, dt.date(2025, 1, 28), "chữ"], start=1):
            cell = ws.cell(row=i, column=j, value=value)
            cell.number_format = fmt
            cell.font = Font(name="Times New Roman", bold=i % 2 == 0, size=10 + i)
            cell.fill = PatternFill("solid", fgColor="FFFF00" if j % 2 else "00FFFF")
            cell.border = Border(left=Side(style="thin"), bottom=Side(style="double"))
            cell.alignment = Alignment(horizontal="center", wrap_text=j == 3)
    wb.save(path)
    return path


def grids(data: bytes) -> tuple[list, list]:
    """The sheet as calamine reads it from the original bytes, and through the pre-check."""
    from python_calamine import CalamineWorkbook

    direct = CalamineWorkbook.from_filelike(io.BytesIO(data))
    result = precheck(data, "x.xlsx", sheets=lambda s: True)
    checked = result.workbook.open_calamine()
    return (
        direct.get_sheet_by_name("Báo cáo").to_python(),
        checked.get_sheet_by_name("Báo cáo").to_python(),
    )


def test_numbers_dates_and_times_read_as_from_the_original(tmp_path):
    data = formatted_workbook(tmp_path / "x.xlsx").read_bytes()
    direct, checked = grids(data)
    assert checked == direct
    # the cut part is in use: the dates are dates, the percentages numbers
    assert {type(row[2]).__name__ for row in checked} >= {"date", "float"}


def _restyle(data: bytes, change) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            part = zin.read(info)
            zout.writestr(info, change(part) if info.filename == "xl/styles.xml" else part)
    return out.getvalue()


STYLE_CHANGES = {
    "comment": lambda p: p.replace(
        b"<cellXfs", b"<!-- <cellXfs count='1'><xf/></cellXfs> --><cellXfs"
    ),
    "prefixed": lambda p: p.replace(b"<xf ", b"<x:xf xmlns:x='urn:x' ", 1),
    "extension": lambda p: p.replace(b"</xf>", b"<extLst/></xf>", 1),
    "child-of-xf": lambda p: p.replace(b"<alignment", b"<numFmt numFmtId='14'/><alignment", 1),
    "single-quotes": lambda p: p.replace(b'numFmtId="164"', b"numFmtId='164'"),
}


@pytest.mark.parametrize("change", sorted(STYLE_CHANGES))
def test_unusual_styles_read_as_from_the_original(tmp_path, change):
    data = _restyle(formatted_workbook(tmp_path / "x.xlsx").read_bytes(), STYLE_CHANGES[change])
    direct, checked = grids(data)
    assert checked == direct
