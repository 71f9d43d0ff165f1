"""Annotated copies of checked workbooks: what is wrong, shown where it is.

``write_feedback`` writes a COPY of the input (the input is never touched): every cell a
finding points at is filled (red: error, yellow: warning) and carries a comment with the
Vietnamese message and how to fix it; a first sheet "Kết quả kiểm tra" lists every finding
(Mức độ, Mã lỗi, Trang, Ô, Nội dung, Cách sửa) with a link to the cell.

.xlsx/.xlsm inputs are copied with openpyxl (macros are dropped: never ``keep_vba``; the
copy is an .xlsx). .xls/.ods inputs, which openpyxl cannot open, become a new workbook
holding their sheets' values. A file the pre-check refused gets only the findings sheet.
Text from inputs is written as text, never as a formula.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from logic.findings import Finding
from logic.text import safe_for_cell

from .precheck import precheck
from .reader import FEEDBACK_SHEET
from .save import save_workbook

__all__ = ["FEEDBACK_SHEET", "SEVERITY_LABELS", "feedback_name", "write_feedback"]

SEVERITY_LABELS = {"error": "Lỗi", "warning": "Cảnh báo"}
FONT = "Times New Roman"
ERROR_FILL = "FFC7CE"  # Excel's "bad" red
WARNING_FILL = "FFEB9C"  # Excel's "neutral" yellow
HEADER_FILL = "D9E1F2"
HEADERS = ("Mức độ", "Mã lỗi", "Trang", "Ô", "Nội dung", "Cách sửa")
WIDTHS = (11, 24, 20, 8, 70, 55)


def write_feedback(
    src: str | os.PathLike | bytes,
    findings: Iterable[Finding],
    out_path: str | os.PathLike,
    *,
    name: str | None = None,
) -> Path:
    """Write an annotated copy of ``src`` (a path or the file's bytes) to ``out_path``.

    ``findings`` are those of that file (``sheet``/``cell`` say where to mark). Saved
    atomically; raises ``ValueError`` if ``out_path`` is the input itself and
    ``workbooks.save.SaveError`` if it cannot be written.
    """
    from openpyxl import Workbook

    findings = list(findings)
    out = Path(out_path)
    if isinstance(src, bytes):
        data = src
    else:
        source = Path(src)
        if out.exists() and source.exists() and out.resolve() == source.resolve():
            raise ValueError("the feedback copy must not overwrite its input")
        data = source.read_bytes()
        name = name or source.name
    pre = precheck(data, name or out.name)
    wb = None
    if pre.ok and pre.workbook is not None:
        try:
            if pre.kind in ("xlsx", "xlsm"):
                wb = pre.workbook.open_openpyxl(read_only=False, data_only=False)
            else:
                wb = _from_calamine(pre.workbook)
        except BaseException as e:  # a file only calamine reads, or none: the list still helps
            # python-calamine's Rust panics (an .xls date cell holding -1e12) arrive as
            # pyo3's PanicException, a BaseException
            if not isinstance(e, Exception) and type(e).__name__ != "PanicException":
                raise
            wb = None
    if wb is None:
        wb = Workbook()
        wb.remove(wb.active)
    _mark_cells(wb, findings)
    _findings_sheet(wb, findings)
    return save_workbook(wb, out)


# --- marking cells ------------------------------------------------------------------------


def _mark_cells(wb: Any, findings: list[Finding]) -> None:
    from openpyxl.comments import Comment
    from openpyxl.styles import PatternFill

    by_cell: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        if f.sheet and f.cell and f.sheet in wb.sheetnames and f.sheet != FEEDBACK_SHEET:
            by_cell.setdefault((f.sheet, f.cell), []).append(f)
    for (sheet, ref), items in by_cell.items():
        ws = wb[sheet]
        try:
            cell = ws[ref]
        except (ValueError, KeyError, IndexError):
            continue
        if not hasattr(cell, "column"):  # a range, not a cell
            continue
        worst = "error" if any(f.severity == "error" for f in items) else "warning"
        color = ERROR_FILL if worst == "error" else WARNING_FILL
        target = _anchor(ws, cell)
        target.fill = PatternFill("solid", start_color=color, end_color=color)
        text = "\n\n".join(
            f"[{SEVERITY_LABELS.get(f.severity, f.severity)}] {f.message}"
            + (f"\nCách sửa: {f.hint}" if f.hint else "")
            for f in items
        )
        lines = sum(1 + len(line) // 45 for line in text.splitlines())
        target.comment = Comment(
            safe_for_cell(text)[:30000],
            "thidua",
            width=330,
            height=min(600, 20 + 16 * lines),
        )


def _anchor(ws: Any, cell: Any) -> Any:
    """The writable cell for ``cell``: the top-left of its merged range, if any."""
    from openpyxl.cell.cell import MergedCell

    if not isinstance(cell, MergedCell):
        return cell
    for rng in ws.merged_cells.ranges:
        if cell.coordinate in rng:
            return ws.cell(rng.min_row, rng.min_col)
    return cell


# --- the findings sheet -------------------------------------------------------------------


def _findings_sheet(wb: Any, findings: list[Finding]) -> None:
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.worksheet.hyperlink import Hyperlink

    if FEEDBACK_SHEET in wb.sheetnames:  # a feedback copy checked again
        wb.remove(wb[FEEDBACK_SHEET])
    ws = wb.create_sheet(FEEDBACK_SHEET, 0)
    for other in wb.worksheets:
        other.sheet_view.tabSelected = False
    ws.sheet_view.tabSelected = True
    wb.active = 0
    thin = Side(style="thin", color="A6A6A6")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    body_font = Font(name=FONT, size=12)
    wrap = Alignment(wrap_text=True, vertical="top")
    for col, (title, width) in enumerate(zip(HEADERS, WIDTHS, strict=True), start=1):
        c = ws.cell(1, col)
        _text(c, title)
        c.font = Font(name=FONT, size=12, bold=True)
        c.fill = PatternFill("solid", start_color=HEADER_FILL, end_color=HEADER_FILL)
        c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        c.border = border
        ws.column_dimensions[c.column_letter].width = width
    ordered = sorted(findings, key=lambda f: (f.severity != "error",))  # errors first, stable
    if not ordered:
        c = ws.cell(2, 5)
        _text(c, "Không phát hiện lỗi nào.")
        c.font = body_font
    for row, f in enumerate(ordered, start=2):
        values = (
            SEVERITY_LABELS.get(f.severity, f.severity),
            f.code,
            f.sheet or "",
            f.cell or "",
            f.message,
            f.hint,
        )
        for col, value in enumerate(values, start=1):
            c = ws.cell(row, col)
            _text(c, value)
            c.font = body_font
            c.alignment = wrap
            c.border = border
        level = ws.cell(row, 1)
        color = ERROR_FILL if f.severity == "error" else WARNING_FILL
        level.fill = PatternFill("solid", start_color=color, end_color=color)
        if f.sheet and f.cell and f.sheet in wb.sheetnames:
            link = ws.cell(row, 4)
            quoted = f.sheet.replace("'", "''")
            link.hyperlink = Hyperlink(ref=link.coordinate, location=f"'{quoted}'!{f.cell}")
            link.font = Font(name=FONT, size=12, color="0563C1", underline="single")
    last = max(2, len(ordered) + 1)
    ws.auto_filter.ref = f"A1:F{last}"
    ws.freeze_panes = "A2"
    ws.print_title_rows = "1:1"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def _text(cell: Any, value: Any) -> None:
    """Store text as text: a leading "=" from an input never becomes a formula."""
    text = safe_for_cell(str(value or ""))
    cell.value = text
    cell.data_type = "s"
    if text[:1] in ("=", "+", "-", "@"):
        cell.quotePrefix = True


# --- .xls / .ods: a new workbook with the values ------------------------------------------


def _from_calamine(checked: Any) -> Any:
    import datetime as dt

    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    book = checked.open_calamine()
    try:
        from python_calamine import SheetTypeEnum, SheetVisibleEnum

        for info in book.sheets_metadata:
            if info.typ != SheetTypeEnum.WorkSheet or info.visible != SheetVisibleEnum.Visible:
                continue
            src = book.get_sheet_by_name(info.name)
            ws = wb.create_sheet(_title(info.name, wb.sheetnames))
            r0, c0 = src.start or (0, 0)
            for i, row in enumerate(src.to_python()):
                for j, v in enumerate(row):
                    if v is None or v == "":
                        continue
                    cell = ws.cell(r0 + i + 1, c0 + j + 1)
                    if isinstance(v, str):
                        _text(cell, v)
                    elif isinstance(v, dt.time | dt.timedelta):
                        _text(cell, str(v))
                    else:
                        cell.value = v
                        if isinstance(v, dt.date):
                            cell.number_format = "dd/mm/yyyy"
    finally:
        book.close()
    return wb


def _title(name: str, taken: list[str]) -> str:
    title = "".join(" " if c in "[]:*?/\\" else c for c in name)[:31] or "Trang"
    n = 2
    while title in taken:
        title = f"{title[:28]}({n})"
        n += 1
    return title


def feedback_name(path: str | os.PathLike) -> str:
    """The feedback copy's file name: ``bao-cao.xlsm`` → ``bao-cao-kiem-tra.xlsx``."""
    return f"{Path(path).stem}-kiem-tra.xlsx"
