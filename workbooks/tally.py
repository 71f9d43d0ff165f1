"""The tally workbook: every judged figure of a consolidation, traceable to its files.

``write_tally(c, path)`` writes one ``.xlsx`` (Vietnamese, Times New Roman, the
administrative-document header on every sheet, A4 landscape fitted to the page width with
the table header repeated on every printed page). Sheets:

==================  ===================================================================
Tổng quan           per phase: communes reported / expected, the top unit's targets met,
                    missed, without data; share of targets met by district (or, with no
                    district level, the best communes) as a table and a bar chart
Toàn tỉnh           the top unit's figures ("Toàn thành phố" … when the plan's scope is
                    not a province)
one per district    its own figures (only on phases that have a district level)
Cấp xã              every commune's figures, with the file each came from
Chỉ tiêu chưa đạt   every missed target, most serious first (the order is written on
                    the sheet)
Xếp hạng            units ranked within their level over the whole campaign, with how
                    each tie was broken
Chưa báo cáo        expected communes with no accepted report, per phase
Sửa đổi             values changed by a correction, cell by cell
Kết quả kiểm tra    every finding
Nguồn               every input and what became of it
==================  ===================================================================

Every table is an Excel table (filters, banding) under a frozen header row. Text taken from
inputs (unit names, file names, senders, messages quoting cells) is always stored as text:
a value such as ``=HYPERLINK(…)`` stays a string (shared-string cell, "quote prefix" style)
and never becomes a formula or a link.

Speed: openpyxl (without lxml) serialises about 40,000 cells a second, far too slow for a
national tally (10,000 communes × 15 indicators × 4 phases ≈ 600,000 rows). So openpyxl
writes the workbook's frame (header blocks, styles, tables, conditional formats, the chart,
print setup) and the rows below each header block are streamed straight into the sheet
XML, with a shared-string table, while the package is copied into the target file. Memory
stays flat: rows are produced one at a time from the consolidation.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import os
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.chart import BarChart, Reference
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.filters import AutoFilter
from openpyxl.worksheet.table import Table, TableColumn, TableStyleInfo

from logic.aggregate import ALL_PHASES, Result
from logic.numbers import format_vn
from logic.plan import COMPONENT_LABELS, Indicator, Plan, Target
from logic.targets import NOT_OCCURRED, target_text
from logic.text import safe_for_cell

from .layout import short_name
from .save import atomic_write
from .summary import (
    INPUT_STATES,
    LEVEL_LABELS,
    MISSED_ORDER_NOTE,
    PhaseOverview,
    missed_results,
    phase_label,
    phase_order,
    phase_overview,
    phase_tree_of,
    status_label,
    top_level_name,
)

if TYPE_CHECKING:
    from .consolidate import Consolidation

__all__ = ["SHEETS", "write_tally"]

FONT = "Times New Roman"
#: Fixed sheet names, in order (district sheets come after the top unit's sheet).
SHEETS = (
    "Tổng quan",
    "Toàn tỉnh",
    "Cấp xã",
    "Chỉ tiêu chưa đạt",
    "Xếp hạng",
    "Chưa báo cáo",
    "Sửa đổi",
    "Kết quả kiểm tra",
    "Nguồn",
)
#: Data rows per sheet at most; a longer table continues on "Cấp xã (2)", … (Excel's
#: limit is 1,048,576 rows, header block included).
MAX_TABLE_ROWS = 1_048_000
#: Communes shown in the overview chart when the tree has no district level.
CHART_TOP_COMMUNES = 20
HEADER_ROWS = 7  # the administrative header block, written by openpyxl
_FORMULA_START = ("=", "+", "-", "@")
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)

# --- styles ---------------------------------------------------------------------------

_THIN = Side(style="thin", color="000000")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
HEADER_FILL = "DDEBF7"


def _spec(
    size: float = 11,
    *,
    bold: bool = False,
    italic: bool = False,
    underline: bool = False,
    h: str = "left",
    v: str = "center",
    wrap: bool = False,
    border: bool = True,
    fill: str | None = None,
    fmt: str = "General",
) -> dict[str, Any]:
    return {
        "font": Font(
            name=FONT,
            size=size,
            bold=bold,
            italic=italic,
            underline="single" if underline else None,
        ),
        "align": Alignment(horizontal=h, vertical=v, wrap_text=wrap),
        "border": _BORDER if border else None,
        "fill": PatternFill(fill_type="solid", start_color=fill, end_color=fill) if fill else None,
        "fmt": fmt,
    }


_STYLES: dict[str, dict[str, Any]] = {
    # header block (openpyxl cells)
    "issuer": _spec(12, h="center", wrap=True, border=False),
    "unit": _spec(12, bold=True, h="center", wrap=True, border=False),
    "motto": _spec(12, bold=True, h="center", border=False),
    "motto2": _spec(13, bold=True, underline=True, h="center", border=False),
    "place_date": _spec(12, italic=True, h="center", border=False),
    "title": _spec(14, bold=True, h="center", wrap=True, border=False),
    "campaign": _spec(13, bold=True, h="center", wrap=True, border=False),
    "subtitle": _spec(12, italic=True, h="center", wrap=True, border=False),
    # streamed rows
    "note": _spec(11, italic=True, border=False),
    "section": _spec(12, bold=True, border=False),
    "header": _spec(11, bold=True, h="center", wrap=True, fill=HEADER_FILL),
    "text": _spec(),
    "wrap": _spec(wrap=True),
    "wrap_center": _spec(h="center", wrap=True),
    "code": _spec(h="center", fmt="@"),
    "center": _spec(h="center"),
    "status": _spec(bold=True, h="center"),
    "int": _spec(h="right", fmt="#,##0"),
    "num": _spec(h="right", fmt="#,##0"),  # integers; other numbers switch to "dec"
    "dec": _spec(h="right", fmt="#,##0.0#"),
    "pct": _spec(h="right", fmt="0.0%"),
    "pct_red": _spec(h="right", fmt='"Giảm "0.0%;"Tăng "0.0%;"Không đổi"'),
    "yesno": _spec(h="center", fmt='"Có";"Có";"Không"'),
    "date": _spec(h="center", fmt="dd/mm/yyyy"),
    "datetime": _spec(h="center", fmt="dd/mm/yyyy hh:mm"),
    "sign_title": _spec(12, bold=True, h="center", border=False),
    "sign_hint": _spec(12, italic=True, h="center", border=False),
}
#: Conditional formats of status words: word → (font colour, fill).
_STATUS_COLOURS = {
    "Đạt": ("006100", "C6EFCE"),
    "Không đạt": ("9C0006", "FFC7CE"),
    "Chưa có số liệu": ("3F3F3F", "D9D9D9"),
    "Bị từ chối": ("9C0006", "FFC7CE"),
    "Lỗi": ("9C0006", "FFC7CE"),
    "Cảnh báo": ("7F6000", "FFEB9C"),
}


class _Styles:
    """Cell-format ids (``s="…"``) registered in the workbook, one per (style, quote)."""

    def __init__(self, wb: Workbook):
        self._ws = wb.worksheets[0]
        self._ids: dict[tuple[str, bool], int] = {}

    def apply(self, cell: Any, key: str) -> None:
        spec = _STYLES[key]
        cell.font = spec["font"]
        cell.alignment = spec["align"]
        if spec["border"] is not None:
            cell.border = spec["border"]
        if spec["fill"] is not None:
            cell.fill = spec["fill"]
        cell.number_format = spec["fmt"]

    def register_all(self) -> None:
        """Register every style before the workbook's stylesheet is written."""
        for key in _STYLES:
            self.id(key)
            self.id(key, quote=True)
        self._frozen = True

    def id(self, key: str, quote: bool = False) -> int:
        k = (key, quote)
        sid = self._ids.get(k)
        if sid is None:
            if getattr(self, "_frozen", False):
                raise KeyError(f"style {key!r} registered after the stylesheet was written")
            cell = Cell(self._ws)  # detached: only registers the format in the workbook
            self.apply(cell, key)
            if quote:
                cell.quotePrefix = True
            sid = self._ids[k] = cell.style_id
        return sid


class _Fmt:
    """A value with its own style, overriding the column's (rates vs counts in one column)."""

    __slots__ = ("style", "value")

    def __init__(self, value: Any, style: str):
        self.value = value
        self.style = style


# --- the streamed part ----------------------------------------------------------------


@dataclass
class _Piece:
    """Consecutive rows streamed into a sheet at save time."""

    first_row: int
    styles: list[str]
    rows: Callable[[], Iterable[Sequence[Any]]]
    count: int
    height: float | None = None
    boxed: bool = False  # table rows: empty cells keep the table's borders
    wrap: tuple[tuple[int, float], ...] = ()  # (column, width) of wrapped columns: row heights


class _SharedStrings:
    def __init__(self) -> None:
        self.index: dict[str, tuple[int, bool]] = {}
        self.items: list[str] = []

    def add(self, text: str) -> tuple[int, bool]:
        """(index, needs a quote prefix) of ``text``, cleaned for a cell."""
        hit = self.index.get(text)
        if hit is None:
            clean = safe_for_cell(unicodedata.normalize("NFC", text))
            hit = (len(self.items), clean.startswith(_FORMULA_START))
            self.items.append(clean)
            self.index[text] = hit
        return hit

    def chunks(self) -> Iterator[str]:
        yield (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            f'uniqueCount="{len(self.items)}">'
        )
        batch = []
        for s in self.items:
            space = ' xml:space="preserve"' if s != s.strip() or "\n" in s else ""
            batch.append(f"<si><t{space}>{escape(s)}</t></si>")
            if len(batch) >= 2000:
                yield "".join(batch)
                batch.clear()
        batch.append("</sst>")
        yield "".join(batch)


def _serial(value: dt.date) -> float:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone().replace(tzinfo=None)
        delta = value - _EXCEL_EPOCH
        return delta.days + delta.seconds / 86400
    return float((value - _EXCEL_EPOCH.date()).days)


def _piece_xml(piece: _Piece, styles: _Styles, sst: _SharedStrings) -> Iterator[str]:
    """The ``<row>`` elements of a piece, a few thousand cells per chunk.

    The hot loop of a national tally (millions of cells): each column caches the XML after
    the cell reference (``" s="5" t="s"><v>12</v></c>``) for the texts and whole numbers it
    has seen, so a repeated value costs a dictionary lookup.
    """
    n = len(piece.styles)
    prefix = [f'<c r="{get_column_letter(i + 1)}' for i in range(n)]
    base = [styles.id(s) for s in piece.styles]
    numeric = [s == "num" for s in piece.styles]
    int_id, dec_id = styles.id("int"), styles.id("dec")
    caches: list[dict[Any, str]] = [{} for _ in range(n)]
    empties = [f'" s="{sid}"/>' for sid in base]
    fmt_caches: dict[str, dict[Any, str]] = {}
    boxed = piece.boxed
    r = piece.first_row
    written = 0
    ht = f' ht="{piece.height}" customHeight="1"' if piece.height else ""
    out: list[str] = []
    for values in piece.rows():
        if written >= piece.count:
            raise AssertionError("a table produced more rows than announced")
        rs = str(r)
        if piece.wrap:
            lines = max(_lines(values[j], width) for j, width in piece.wrap)
            ht = f' ht="{15 * lines + 2}" customHeight="1"' if lines > 1 else ""
        out.append(f'<row r="{rs}"{ht}>')
        for j, v in enumerate(values):
            t = type(v)
            if t is _Fmt:
                cache = fmt_caches.get(v.style)
                if cache is None:
                    cache = fmt_caches[v.style] = {}
                key, v = v.style, v.value
                t = type(v)
            else:
                cache, key = caches[j], None
            if t is float:
                if not math.isfinite(v):
                    if boxed:
                        out.append(prefix[j] + rs + empties[j])
                    continue
                if v.is_integer() and abs(v) < 1e15:
                    v, t = int(v), int
                else:
                    if key:
                        sid = dec_id if key == "num" else styles.id(key)
                    else:
                        sid = dec_id if numeric[j] else base[j]
                    out.append(f'{prefix[j]}{rs}" s="{sid}"><v>{v!r}</v></c>')
                    continue
            tail = cache.get(v) if t is str or t is int else None
            if tail is None:
                tail = _tail(v, t, key, j, piece, styles, sst, base, numeric, int_id)
                if tail is None:
                    if boxed:
                        out.append(prefix[j] + rs + empties[j])
                    continue
                if t is str or t is int:
                    cache[v] = tail
            out.append(prefix[j] + rs + tail)
        if boxed and len(values) < n:
            out.extend(prefix[j] + rs + empties[j] for j in range(len(values), n))
        out.append("</row>")
        r += 1
        written += 1
        if len(out) >= 8000:
            yield "".join(out)
            out.clear()
    if out:
        yield "".join(out)


def _lines(value: Any, width: float) -> int:
    """Lines a wrapped text takes in a column ``width`` characters wide (an estimate)."""
    if value is None:
        return 1
    text = value.value if type(value) is _Fmt else value
    if not isinstance(text, str):
        return 1
    per_line = max(width * 1.15, 1)
    return min(15, sum(max(1, math.ceil(len(part) / per_line)) for part in text.split("\n")))


def _tail(v, t, key, j, piece, styles, sst, base, numeric, int_id) -> str | None:
    """The XML of a cell after its reference; None for an empty cell."""
    column_key = piece.styles[j]
    sid = styles.id(key) if key else base[j]
    if v is None:
        return None
    if t is str:
        if not v:
            return None
        idx, quote = sst.add(v)
        if quote:
            style = key or column_key
            sid = styles.id("text" if style == "num" else style, quote=True)
        return f'" s="{sid}" t="s"><v>{idx}</v></c>'
    if t is int:
        if (key or column_key) == "num":
            sid = int_id
        return f'" s="{sid}"><v>{v}</v></c>'
    if t is bool:
        return f'" s="{sid}"><v>{int(v)}</v></c>'
    if isinstance(v, dt.date):
        return f'" s="{sid}"><v>{_serial(v)!r}</v></c>'
    if isinstance(v, int | float):
        return f'" s="{sid}"><v>{float(v)!r}</v></c>'
    idx, quote = sst.add(str(v))
    if quote:
        sid = styles.id(key or column_key, quote=True)
    return f'" s="{sid}" t="s"><v>{idx}</v></c>'


# --- sheets ---------------------------------------------------------------------------


@dataclass
class _Col:
    header: str
    width: float
    style: str = "text"


class _Sheet:
    """One sheet: openpyxl writes the header block, rows below it are streamed."""

    def __init__(self, book: _Book, title: str, ws: Any):
        self.book = book
        self.title = title
        self.ws = ws
        self.row = HEADER_ROWS + 1  # next free row
        self.pieces: list[_Piece] = []
        self.ncols = 1
        self.frozen = False
        self.widths: dict[int, float] = {}  # column → width: the widest table's wins

    # header block ------------------------------------------------------------------
    def header_block(self, ncols: int, unit_line: str, title: str, lines: Sequence[str]) -> None:
        """Issuer and unit top left, national motto top right, title and subtitles."""
        ws, st = self.ws, self.book.styles
        self.ncols = ncols = max(ncols, 6)
        left = max(2, round(ncols * 0.4))
        right = max(left + 1, ncols - max(2, round(ncols * 0.45)) + 1)
        L = get_column_letter

        def put(row: int, col: int, value: str, style: str, to_col: int) -> None:
            cell = ws.cell(row=row, column=col)
            _set_text(cell, value)
            st.apply(cell, style)
            if to_col > col:
                ws.merge_cells(f"{L(col)}{row}:{L(to_col)}{row}")

        plan = self.book.plan
        put(1, 1, (plan.issuer or "").upper(), "issuer", left)
        put(2, 1, unit_line.upper(), "unit", left)
        put(1, right, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "motto", ncols)
        put(2, right, "Độc lập - Tự do - Hạnh phúc", "motto2", ncols)
        today = self.book.today
        put(3, right, f"{self.book.place}, ngày {today:%d} tháng {today:%m} năm {today:%Y}",
            "place_date", ncols)  # fmt: skip
        put(5, 1, title, "title", ncols)
        for i, text in enumerate(list(lines)[:2]):
            put(6 + i, 1, text, "campaign" if i == 0 else "subtitle", ncols)
        issuer_lines = max(1, math.ceil(len(plan.issuer or "") / max(left * 12, 1)))
        ws.row_dimensions[1].height = min(15 * issuer_lines + 3, 80)
        ws.row_dimensions[6].height = 18 * min(3, max(1, math.ceil(len(lines[0]) / (ncols * 11))))
        ws.page_setup.orientation = "landscape"
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.print_options.horizontalCentered = True
        ws.page_margins.left = ws.page_margins.right = 0.4
        ws.page_margins.top = ws.page_margins.bottom = 0.5
        ws.oddFooter.center.text = "Trang &P / &N"
        ws.oddFooter.center.font = FONT

    # streamed rows ------------------------------------------------------------------
    def note(self, text: str, style: str = "note") -> None:
        self.pieces.append(_Piece(self.row, [style], lambda t=text: [[t]], 1))
        self.row += 1

    def blank(self, n: int = 1) -> None:
        self.row += n

    def table(
        self,
        name: str,
        cols: Sequence[_Col],
        count: int,
        rows: Callable[[], Iterable[Sequence[Any]]],
        *,
        status_cols: Sequence[str] = (),
        freeze: bool = True,
        print_titles: bool = True,
    ) -> tuple[int, int]:
        """An Excel table: header row, ``count`` data rows from ``rows()``.

        Returns (header row, last data row). An empty table gets one row saying so (Excel
        tables need a data row).
        """
        ws = self.ws
        header_row = self.row
        headers = [c.header for c in cols]
        lines = max(
            math.ceil(len(h) / max(c.width * 1.05, 1)) for h, c in zip(headers, cols, strict=True)
        )
        self.pieces.append(
            _Piece(header_row, ["header"] * len(cols), lambda: [headers], 1, 15.0 * lines + 4)
        )
        if count == 0:
            first = [("(không có)" if i == 0 else None) for i in range(len(cols))]
            rows, count = (lambda: [first]), 1
        first_data = header_row + 1
        last_row = header_row + count
        wrap = tuple((i, c.width) for i, c in enumerate(cols) if c.style.startswith("wrap"))
        self.pieces.append(
            _Piece(first_data, [c.style for c in cols], rows, count, boxed=True, wrap=wrap)
        )
        last = get_column_letter(len(cols))
        ref = f"A{header_row}:{last}{last_row}"
        table = Table(
            displayName=name,
            ref=ref,
            tableColumns=[TableColumn(id=i + 1, name=h) for i, h in enumerate(headers)],
            autoFilter=AutoFilter(ref=ref),
            tableStyleInfo=TableStyleInfo(
                name="TableStyleLight1", showRowStripes=True, showColumnStripes=False
            ),
        )
        ws.add_table(table)
        for i, c in enumerate(cols, start=1):
            self.widths[i] = max(c.width, self.widths.get(i, 0))
            ws.column_dimensions[get_column_letter(i)].width = self.widths[i]
        for header in status_cols:
            col = get_column_letter(headers.index(header) + 1)
            rng = f"{col}{first_data}:{col}{last_row}"
            for word, (font, fill) in _STATUS_COLOURS.items():
                ws.conditional_formatting.add(
                    rng,
                    CellIsRule(
                        operator="equal",
                        formula=[_quote_formula(word)],
                        font=Font(color=font),
                        fill=PatternFill(fill_type="solid", start_color=fill, end_color=fill),
                    ),
                )
        if freeze and not self.frozen:
            ws.freeze_panes = f"A{first_data}"
            if print_titles:
                ws.print_title_rows = f"{header_row}:{header_row}"
            self.frozen = True
        self.row = last_row + 1
        return header_row, last_row

    def signature(self) -> None:
        """ "NGƯỜI LẬP BIỂU" (left) and "THỦ TRƯỞNG ĐƠN VỊ" (right), after the table."""
        self.row += 1
        n = self.ncols
        left_to = max(2, n // 3)
        right_from = max(left_to + 2, n - max(2, n // 3) + 1)
        L = get_column_letter
        row = self.row
        for r, (a, b, style) in enumerate(
            [
                ("NGƯỜI LẬP BIỂU", "THỦ TRƯỞNG ĐƠN VỊ", "sign_title"),
                ("(Ký, ghi rõ họ tên)", "(Ký tên, đóng dấu)", "sign_hint"),
            ]
        ):
            values = [None] * n
            values[0], values[right_from - 1] = a, b
            self.pieces.append(_Piece(row + r, [style] * n, lambda v=values: [v], 1))
            self.ws.merged_cells.add(f"A{row + r}:{L(left_to)}{row + r}")
            self.ws.merged_cells.add(f"{L(right_from)}{row + r}:{L(n)}{row + r}")
        self.row += 2

    @property
    def extent(self) -> tuple[int, int]:
        last = max((p.first_row + p.count - 1 for p in self.pieces), default=HEADER_ROWS)
        cols = max([self.ncols, *(len(p.styles) for p in self.pieces)])
        return max(last, HEADER_ROWS), cols


def _set_text(cell: Any, value: str) -> None:
    """Store text as text: never a formula, never with characters a cell cannot hold."""
    text = safe_for_cell(unicodedata.normalize("NFC", value))
    cell.value = text
    if text.startswith(_FORMULA_START):
        cell.data_type = "s"
        cell.quotePrefix = True


def _quote_formula(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


class _Book:
    def __init__(self, c: Consolidation):
        self.c = c
        self.plan: Plan = c.plan
        self.wb = Workbook()
        self.styles = _Styles(self.wb)
        self.sheets: list[_Sheet] = []
        self.titles: set[str] = set()
        self.table_names: set[str] = set()
        self.today = dt.date.today()
        self.place = ""
        self.wb.properties.creator = "thidua"
        self.wb.properties.title = _clean(f"Tổng hợp thi đua – {c.plan.name}")[:250]

    def sheet(self, title: str) -> _Sheet:
        title = _unique_title(title, self.titles)
        ws = self.wb.worksheets[0] if not self.sheets else self.wb.create_sheet()
        ws.title = title
        sheet = _Sheet(self, title, ws)
        self.sheets.append(sheet)
        return sheet

    def save(self, path: Path) -> Path:
        self.styles.register_all()
        buf = io.BytesIO()
        self.wb.save(buf)
        parts = {s.ws.path.lstrip("/"): s for s in self.sheets if s.pieces}
        cells = sum(p.count * len(p.styles) for s in self.sheets for p in s.pieces)
        big = cells > 2_000_000

        def write(handle: IO[bytes]) -> None:
            sst = _SharedStrings()
            level = 1 if big else 6
            with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as out:
                for info in frame.infolist():
                    name = info.filename
                    data = frame.read(name)
                    if name in parts:
                        self._stream_sheet(out, name, data.decode("utf-8"), parts[name], sst,
                                           zip64=cells * 60 > 1_800_000_000)  # fmt: skip
                    elif name == "[Content_Types].xml":
                        out.writestr(name, _with_sst_type(data.decode("utf-8")))
                    elif name == "xl/_rels/workbook.xml.rels":
                        out.writestr(name, _with_sst_rel(data.decode("utf-8")))
                    else:
                        out.writestr(info, data)
                with out.open("xl/sharedStrings.xml", "w", force_zip64=True) as f:
                    for chunk in sst.chunks():
                        f.write(chunk.encode("utf-8"))

        with zipfile.ZipFile(buf) as frame:
            return atomic_write(path, write)

    def _stream_sheet(
        self,
        out: zipfile.ZipFile,
        name: str,
        xml: str,
        sheet: _Sheet,
        sst: _SharedStrings,
        zip64: bool,
    ) -> None:
        last_row, last_col = sheet.extent
        xml = re.sub(
            r'<dimension ref="[^"]*"\s*/>',
            f'<dimension ref="A1:{get_column_letter(last_col)}{last_row}"/>',
            xml,
            count=1,
        )
        end = xml.rfind("</sheetData>")
        if end < 0:
            m = re.search(r"<sheetData\s*/>", xml)
            assert m is not None, "openpyxl wrote a sheet without sheetData"
            head, tail = xml[: m.start()] + "<sheetData>", "</sheetData>" + xml[m.end() :]
        else:
            head, tail = xml[:end], xml[end:]
        tail = _ignore_text_numbers(tail, f"A1:{get_column_letter(last_col)}{last_row}")
        with out.open(name, "w", force_zip64=zip64) as f:
            f.write(head.encode("utf-8"))
            for piece in sorted(sheet.pieces, key=lambda p: p.first_row):
                for chunk in _piece_xml(piece, self.styles, sst):
                    f.write(chunk.encode("utf-8"))
            f.write(tail.encode("utf-8"))


def _ignore_text_numbers(tail: str, ref: str) -> str:
    """Silence Excel's "number stored as text" marks: codes such as "14755" are text."""
    if "<ignoredErrors" in tail:
        return tail
    # schema order: … headerFooter, rowBreaks, colBreaks, ignoredErrors, drawing, …, tableParts
    at = min(
        (
            i
            for i in (
                tail.find(t)
                for t in ("<drawing", "<legacyDrawing", "<tableParts", "<extLst", "</worksheet>")
            )
            if i >= 0
        ),
    )
    return (
        tail[:at]
        + f'<ignoredErrors><ignoredError sqref="{ref}" numberStoredAsText="1"/></ignoredErrors>'
        + tail[at:]
    )


_CT_SST = (
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
)
_REL_SST = (
    '<Relationship Id="rIdThiduaSst" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
)


def _with_sst_type(xml: str) -> str:
    if "sharedStrings" in xml:
        return xml
    end = xml.rfind("</Types>")
    return xml[:end] + _CT_SST + xml[end:]


def _with_sst_rel(xml: str) -> str:
    if "sharedStrings" in xml:
        return xml
    end = xml.rfind("</Relationships>")
    return xml[:end] + _REL_SST + xml[end:]


_BAD_TITLE = re.compile(r"[\[\]:*?/\\\x00-\x1f]")


def _unique_title(title: str, taken: set[str]) -> str:
    """A sheet name: ≤ 31 characters, none of []:*?/\\, not taken (case-insensitive)."""
    base = " ".join(_BAD_TITLE.sub(" ", _clean(title)).split()).strip("'") or "Trang"
    base = base[:31].strip()
    folded = {t.casefold() for t in taken}
    candidate, n = base, 1
    while candidate.casefold() in folded or candidate.casefold() == "history":
        n += 1
        suffix = f" ({n})"
        candidate = base[: 31 - len(suffix)].rstrip() + suffix
    taken.add(candidate)
    return candidate


def _clean(text: str | None) -> str:
    return safe_for_cell(unicodedata.normalize("NFC", str(text or "")))


# --- rows of results ------------------------------------------------------------------

_RESULT_COLS_HEAD = [
    _Col("Đợt", 13),
    _Col("Mã đơn vị", 10, "code"),
    _Col("Đơn vị", 24),
]
_RESULT_COLS_MID = [
    _Col("Mã chỉ tiêu", 10, "code"),
    _Col("Nội dung chỉ tiêu", 40),
    _Col("Tử số / Kỳ này / Số lượng", 13, "num"),
    _Col("Mẫu số / Cùng kỳ", 12, "num"),
]
_SHARE_COLS = [_Col("Số xã đạt", 9, "num"), _Col("Số xã báo cáo", 9, "num")]
_RESULT_COLS_TAIL = [
    _Col("Giá trị", 12, "num"),
    _Col("Chỉ tiêu", 16, "center"),
    _Col("Đánh giá", 15, "status"),
    _Col("Còn thiếu", 24),
    _Col("Ghi chú", 22),
    _Col("Báo cáo", 10, "center"),
    _Col("Tạm tính", 9, "center"),
]


class _Rows:
    """Turns results into table rows; caches per-indicator words."""

    def __init__(self, c: Consolidation, overview: list[PhaseOverview]):
        self.c = c
        self.plan = c.plan
        self.interim = {o.phase: o.interim for o in overview}
        self.inds: dict[str, Indicator] = {i.code: i for i in c.plan.indicators}
        self.order = phase_order(c)
        self.phase_labels = {p: phase_label(c.plan, p) for p in self.order}
        self._targets: dict[tuple, str] = {}
        self.trees = {p: phase_tree_of(c, p) for p in self.order}
        self._sources = _source_labels(c)
        self._source_cache: dict[tuple, str | None] = {}

    def value_style(self, r: Result, ind: Indicator | None) -> str:
        kind = r.kind
        if kind == "ratio" or kind == "all_of":
            return "pct"
        if kind == "reduction":
            return "pct_red"
        if r.level != "commune":
            if ind is not None and (kind == "yes_no" or r.level not in ind.level_targets):
                return "pct"
            return "num"
        return "yesno" if kind == "yes_no" else "num"

    def target_words(self, r: Result, ind: Indicator | None) -> str:
        t = r.target
        if t is None or ind is None:
            return ""
        key = (r.indicator, r.level, t.op, t.value, t.local, t.wording)
        hit = self._targets.get(key)
        if hit is None:
            hit = _target_words(ind, r.level, t)
            self._targets[key] = hit
        return hit

    def result_row(self, r: Result, *, commune: bool = False) -> list[Any]:
        ind = self.inds.get(r.indicator)
        comps = r.components
        v1 = v2 = None
        kind = r.kind
        if kind == "ratio":
            v1, v2 = comps.get("numerator"), comps.get("denominator")
        elif kind == "reduction":
            v1, v2 = comps.get("current"), comps.get("baseline")
        elif kind in ("count", "minimum"):
            v1 = comps.get("count")
        elif kind == "yes_no":
            v1 = comps.get("done")
        value = r.value
        if value is not None:
            value = _Fmt(_num(value), self.value_style(r, ind))
        missed = r.status == "missed"
        gap = None
        note = r.note
        if missed:
            gap = note or (_gap_words(r, ind) if r.gap else None)
            note = None
        elif note == NOT_OCCURRED and r.status == "not_applicable":
            note = None
        row = [
            self.phase_labels.get(r.phase, r.phase),
            r.unit,
            r.name or r.unit,
        ]
        if commune:
            row.append(self.parent_name(r))
        row += [r.indicator, ind.name if ind else r.indicator, _num(v1), _num(v2)]
        if not commune:
            row += [_num(comps.get("units_meeting")), _num(comps.get("units_reported"))]
        row += [
            value,
            self.target_words(r, ind),
            status_label(r),
            gap,
            note,
            f"{r.reported}/{r.expected}",
            "Có" if r.interim or self.interim.get(r.phase) else None,
        ]
        if commune:
            row.append(self.source_of(r))
        return row

    def parent_name(self, r: Result) -> str | None:
        if r.parent is None:
            return None
        tree = self.trees.get(r.phase)
        u = tree.units.get(r.parent) if tree is not None else None
        return u.name if u is not None else r.parent

    def source_of(self, r: Result) -> str | None:
        key = (r.phase, r.sources)
        if key in self._source_cache:
            return self._source_cache[key]
        phases = [p for p in self.order if p != ALL_PHASES] if r.phase == ALL_PHASES else [r.phase]
        labels = []
        for p in phases:
            for unit in r.sources or ():
                label = self._sources.get((unit, p))
                if label is None:
                    continue
                labels.append(
                    f"{self.phase_labels.get(p, p)}: {label}" if len(phases) > 1 else label
                )
        text = "; ".join(dict.fromkeys(labels)) or None
        self._source_cache[key] = text
        return text


def _source_labels(c: Consolidation) -> dict[tuple[str, str], str]:
    """(reporting unit, phase) → the file (and attachment or sheet) its figures came from."""
    out: dict[tuple[str, str], str] = {}
    for a in c.accepted:
        unit, phase = a.sheet.unit, a.sheet.phase
        if unit is None or phase is None:
            continue
        out[(unit, phase)] = _file_label(a.source.path, a.record.member)
    return out


def _file_label(path: str, member: str | None) -> str:
    name = Path(path).name or path
    return f"{name} › {member}" if member else name


def _num(x: Any) -> Any:
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return int(x)
    return x


def _target_words(ind: Indicator, level: str, t: Target) -> str:
    if (
        level != "commune"
        and ind.kind in ("count", "minimum", "yes_no")
        and (ind.kind == "yes_no" or level not in ind.level_targets)
        and t.value is not None
        and t.op == ">="
        and t.value <= 1
    ):
        if t.value >= 1:
            return "Tất cả các xã đạt"
        return f"≥ {_pct_words(t.value)} số xã đạt"
    text = target_text(ind, t)
    if t.wording and (t.wording.startswith("theo tiến độ") or t.wording == "cộng các đợt"):
        text = f"{text}, {t.wording}"
    return text


def _pct_words(x: float) -> str:
    return f"{format_vn(x * 100, 1, trim=True)}%"


def _gap_words(r: Result, ind: Indicator | None) -> str:
    unit = ind.unit if ind else ""
    return f"còn thiếu {format_vn(r.gap, 2, trim=True)} {unit}".strip()


# --- the workbook ---------------------------------------------------------------------


def write_tally(c: Consolidation, path: str | os.PathLike) -> Path:
    """Write the tally workbook of ``c`` to ``path`` atomically; return the path.

    Raises ``workbooks.save.FileLockedError`` (a ``ThiduaError`` with a Vietnamese message)
    when the target is open in Excel; the previous file is then left as it was.
    """
    book = _Book(c)
    overview = phase_overview(c)
    rows = _Rows(c, overview)
    order = rows.order
    top_tree = phase_tree_of(c, order[-1]) if order else phase_tree_of(c, c.plan.phases[-1].code)
    roots = top_tree.roots()
    top_unit = top_tree.units[roots[0]] if roots else None
    top_title = top_level_name(top_unit.level, top_unit.name) if top_unit else "Toàn tỉnh"
    top_name = top_unit.name if top_unit else ""
    book.place = short_name(top_name) if top_name else "……"
    campaign = _clean(c.plan.name)
    span = f"Từ {c.plan.start:%d/%m/%Y} đến {c.plan.end:%d/%m/%Y}"

    by_unit = _top_and_district_results(c, rows)
    _overview_sheet(book, c, rows, overview, campaign, span, top_name)
    _results_sheet(book, rows, top_title, "ToanDonVi", top_name, by_unit["top"], campaign, span)
    for code, (name, results) in by_unit["districts"].items():
        table = _unique_table_name(f"Huyen_{_table_id(code)}", book.table_names)
        _results_sheet(book, rows, name, table, name, results, campaign, span)
    _commune_sheets(book, c, rows, campaign, span, top_name)
    _missed_sheet(book, c, rows, campaign, span, top_name)
    _ranking_sheet(book, c, rows, campaign, top_name)
    _missing_sheet(book, c, rows, campaign, span, top_name)
    _changes_sheet(book, c, rows, campaign, span, top_name)
    _findings_sheet(book, c, rows, campaign, span, top_name)
    _sources_sheet(book, c, rows, campaign, span, top_name)
    return book.save(Path(path))


def _unique_table_name(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate.casefold() in taken:
        n += 1
        candidate = f"{name}_{n}"
    taken.add(candidate.casefold())
    return candidate


def _table_id(code: str) -> str:
    return re.sub(r"[^0-9A-Za-z_]", "_", code)[:200]


def _top_and_district_results(c: Consolidation, rows: _Rows) -> dict[str, Any]:
    tops = {p: set(t.roots()) for p, t in rows.trees.items()}
    top: list[Result] = []
    districts: dict[str, tuple[str, list[Result]]] = {}
    for r in c.evaluation.results:
        if r.phase in tops and r.unit in tops[r.phase]:
            top.append(r)
        elif r.level == "district":
            entry = districts.get(r.unit)
            if entry is None:
                entry = districts[r.unit] = (r.name or r.unit, [])
            entry[1].append(r)
    phase_index = {p: i for i, p in enumerate(rows.order)}
    top.sort(key=lambda r: phase_index.get(r.phase, 99))
    for _name, results in districts.values():
        results.sort(key=lambda r: phase_index.get(r.phase, 99))
    return {"top": top, "districts": districts}


def _results_sheet(
    book: _Book,
    rows: _Rows,
    title: str,
    table: str,
    unit_name: str,
    results: list[Result],
    campaign: str,
    span: str,
) -> None:
    sheet = book.sheet(title)
    # a short, printed report: long texts wrap (the commune table does not: it is for filtering)
    wrapped = {"Nội dung chỉ tiêu", "Còn thiếu", "Ghi chú", "Chỉ tiêu"}
    cols = [
        _Col(c.header, c.width, "wrap_center" if c.style == "center" else "wrap")
        if c.header in wrapped
        else c
        for c in _RESULT_COLS_HEAD + _RESULT_COLS_MID + _SHARE_COLS + _RESULT_COLS_TAIL
    ]
    sheet.header_block(
        len(cols), unit_name, f"KẾT QUẢ THỰC HIỆN CHỈ TIÊU THI ĐUA – {unit_name.upper()}",
        [campaign, span],
    )  # fmt: skip
    sheet.note(
        "Số liệu cộng từ các xã (trang “Cấp xã”, lọc theo cột “Cấp trên”); tệp gốc ở trang "
        "“Nguồn”. Tỷ lệ = tổng tử số / tổng mẫu số của các xã đã báo cáo (không lấy trung bình "
        "tỷ lệ). Báo cáo = số xã đã báo cáo / số xã phải báo cáo."
    )
    sheet.blank()
    sheet.table(
        table,
        cols,
        len(results),
        lambda: (rows.result_row(x) for x in results),
        status_cols=["Đánh giá"],
    )
    sheet.signature()


def _commune_sheets(
    book: _Book, c: Consolidation, rows: _Rows, campaign: str, span: str, top_name: str
) -> None:
    count = sum(1 for r in c.evaluation.results if r.level == "commune")
    cols = [
        *_RESULT_COLS_HEAD,
        _Col("Cấp trên", 22),
        *_RESULT_COLS_MID,
        *_RESULT_COLS_TAIL,
        _Col("Nguồn", 34),
    ]
    chunks = max(1, math.ceil(count / MAX_TABLE_ROWS))
    stream: dict[str, Iterator[list[Any]]] = {}

    def shared() -> Iterator[list[Any]]:
        it = stream.get("it")
        if it is None:
            it = stream["it"] = (
                rows.result_row(r, commune=True)
                for r in c.evaluation.results
                if r.level == "commune"
            )
        return it

    for i in range(chunks):
        n = min(MAX_TABLE_ROWS, count - i * MAX_TABLE_ROWS) if count else 0
        title = "Cấp xã" if i == 0 else f"Cấp xã ({i + 1})"
        sheet = book.sheet(title)
        sheet.header_block(len(cols), top_name, "KẾT QUẢ THỰC HIỆN CHỈ TIÊU THI ĐUA CẤP XÃ",
                           [campaign, span])  # fmt: skip
        sheet.note(
            "Mỗi dòng là số liệu một xã báo cáo; cột “Nguồn” là tệp (và tệp đính kèm hoặc trang) "
            "lấy số liệu, chi tiết ở trang “Nguồn”. Ở dòng “Cả đợt thi đua”, “Báo cáo” là số đợt "
            "đã báo cáo / số đợt."
        )
        sheet.blank()
        sheet.table(
            "CapXa" if i == 0 else f"CapXa_{i + 1}",
            cols,
            n,
            lambda n=n: _take(shared(), n),
            status_cols=["Đánh giá"],
        )


def _take(it: Iterator[Any], n: int) -> Iterator[Any]:
    for _ in range(n):
        try:
            yield next(it)
        except StopIteration:
            return


def _overview_sheet(
    book: _Book,
    c: Consolidation,
    rows: _Rows,
    overview: list[PhaseOverview],
    campaign: str,
    span: str,
    top_name: str,
) -> None:
    sheet = book.sheet("Tổng quan")
    cols = [
        _Col("Đợt", 16),
        _Col("Từ ngày", 12, "date"),
        _Col("Đến ngày", 12, "date"),
        _Col("Xã đã báo cáo", 11, "int"),
        _Col("Xã phải báo cáo", 11, "int"),
        _Col("Tỷ lệ báo cáo", 10, "pct"),
        _Col("Chỉ tiêu đạt", 10, "int"),
        _Col("Chỉ tiêu không đạt", 11, "int"),
        _Col("Chưa có số liệu", 10, "int"),
        _Col("Không áp dụng", 10, "int"),
        _Col("Tỷ lệ chỉ tiêu đạt", 11, "pct"),
        _Col("Tạm tính", 9, "center"),
    ]
    sheet.header_block(len(cols), top_name, "TỔNG HỢP KẾT QUẢ THỰC HIỆN CHỈ TIÊU THI ĐUA",
                       [campaign, span])  # fmt: skip
    counts = c.counts()
    states = ", ".join(f"{counts.get(k, 0)} {v.lower()}" for k, v in INPUT_STATES.items())
    sheet.note(
        f"Đầu vào: {sum(counts.values())} tệp/trang báo cáo ({states}; chi tiết ở trang “Nguồn”). "
        f"Chỉ tiêu đạt / không đạt tính cho {top_name or 'đơn vị tổng hợp'}."
    )
    sheet.blank()

    def phase_rows():
        for o in overview:
            yield [
                o.label,
                o.start,
                o.end,
                o.reported,
                o.expected,
                o.reported / o.expected if o.expected else None,
                o.met,
                o.missed,
                o.no_data,
                o.not_applicable,
                o.met / o.judged if o.judged else None,
                "Có" if o.interim else None,
            ]

    # a one-page overview: no header row repeated above the chart
    sheet.table("TongQuanDot", cols, len(overview), phase_rows, print_titles=False)
    sheet.blank()

    chart_phase = rows.order[-1] if rows.order else None
    if chart_phase is None:
        return
    stats = _unit_stats(c, chart_phase)
    tree = rows.trees[chart_phase]
    roots = set(tree.roots())
    districts = [u for code, u in tree.units.items() if u.level == "district" and code not in roots]
    phase_text = rows.phase_labels[chart_phase]
    if districts:
        units = districts
        what = f"Tỷ lệ chỉ tiêu đạt theo huyện – {phase_text}"
    else:
        communes = [u for u in tree.units.values() if u.level == "commune" and stats[u.code].judged]
        communes.sort(key=lambda u: (-(stats[u.code].share or 0), u.name))
        units = communes[:CHART_TOP_COMMUNES]
        what = f"{len(units)} xã có tỷ lệ chỉ tiêu đạt cao nhất – {phase_text}"
    sheet.note(what, "section")
    ucols = [
        _Col("Mã đơn vị", 16, "code"),
        _Col("Đơn vị", 12 + 12 + 2),
        _Col("Chỉ tiêu đạt", 11, "int"),
        _Col("Chỉ tiêu được đánh giá", 11, "int"),
        _Col("Tỷ lệ đạt", 10, "pct"),
    ]

    def unit_rows():
        for u in units:
            s = stats[u.code]
            yield [u.code, u.name, s.met, s.judged, s.share]

    header, last = sheet.table("TongQuanDonVi", ucols, len(units), unit_rows, freeze=False)
    if not units:
        return
    chart = BarChart()
    chart.type = "bar"
    chart.style = 10
    chart.title = None  # the section title above says what it is
    chart.gapWidth = 60
    chart.legend = None
    chart.y_axis.title = "Tỷ lệ chỉ tiêu đạt"
    chart.y_axis.number_format = "0%"
    chart.y_axis.scaling.min = 0
    chart.y_axis.scaling.max = 1
    chart.x_axis.scaling.orientation = "maxMin"
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    data = Reference(sheet.ws, min_col=5, min_row=header, max_row=last)
    cats = Reference(sheet.ws, min_col=2, min_row=header + 1, max_row=last)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(cats)
    # beside the unit table, so that the overview prints on one page
    chart.width = 16
    chart.height = max(7.5, min(3 + 0.5 * len(units), 40))
    sheet.ws.add_chart(chart, f"G{header - 1}")


@dataclass
class _Stat:
    met: int = 0
    missed: int = 0
    no_data: int = 0
    not_applicable: int = 0
    reported: int = 0
    expected: int = 0

    @property
    def judged(self) -> int:
        return self.met + self.missed

    @property
    def share(self) -> float | None:
        return self.met / self.judged if self.judged else None

    @property
    def completeness(self) -> float | None:
        return self.reported / self.expected if self.expected else None


def _unit_stats(c: Consolidation, phase: str) -> dict[str, _Stat]:
    stats: dict[str, _Stat] = {}
    for r in c.evaluation.results:
        if r.phase != phase:
            continue
        s = stats.get(r.unit)
        if s is None:
            s = stats[r.unit] = _Stat()
        setattr(s, r.status, getattr(s, r.status) + 1)
        if r.kind != "all_of":
            s.reported += r.reported
            s.expected += r.expected
    return _DefaultStats(stats)


class _DefaultStats(dict):
    def __missing__(self, key: str) -> _Stat:
        return _Stat()


def _missed_sheet(
    book: _Book, c: Consolidation, rows: _Rows, campaign: str, span: str, top_name: str
) -> None:
    missed = missed_results(c)
    cols = [
        _Col("Cấp", 11),
        _Col("Đợt", 13),
        _Col("Mã đơn vị", 10, "code"),
        _Col("Đơn vị", 24),
        _Col("Cấp trên", 22),
        _Col("Mã chỉ tiêu", 10, "code"),
        _Col("Nội dung chỉ tiêu", 40, "wrap"),
        _Col("Giá trị", 12, "num"),
        _Col("Chỉ tiêu", 16, "wrap_center"),
        _Col("Còn thiếu", 26, "wrap"),
        _Col("Mức thiếu", 10, "pct"),
        _Col("Báo cáo", 10, "center"),
        _Col("Tạm tính", 9, "center"),
    ]
    sheet = book.sheet("Chỉ tiêu chưa đạt")
    sheet.header_block(len(cols), top_name, "CÁC CHỈ TIÊU CHƯA ĐẠT", [campaign, span])
    sheet.note(MISSED_ORDER_NOTE)
    sheet.blank()
    inds = rows.inds

    def gen():
        for r, s in missed:
            ind = inds.get(r.indicator)
            value = _Fmt(_num(r.value), rows.value_style(r, ind)) if r.value is not None else None
            yield [
                LEVEL_LABELS.get(r.level, r.level),
                rows.phase_labels.get(r.phase, r.phase),
                r.unit,
                r.name or r.unit,
                rows.parent_name(r),
                r.indicator,
                ind.name if ind else r.indicator,
                value,
                rows.target_words(r, ind),
                r.note or (_gap_words(r, ind) if r.gap else None),
                s,
                f"{r.reported}/{r.expected}",
                "Có" if r.interim or rows.interim.get(r.phase) else None,
            ]

    sheet.table("ChuaDat", cols, len(missed), gen)


# --- ranking --------------------------------------------------------------------------


@dataclass
class _Ranked:
    level: str
    code: str
    name: str
    parent: str | None
    stat: _Stat
    rank: int = 0
    why: str | None = None

    @property
    def share_key(self) -> Fraction | None:
        return Fraction(self.stat.met, self.stat.judged) if self.stat.judged else None


def ranking(c: Consolidation) -> list[_Ranked]:
    """Districts, then communes, ranked within their level over the whole campaign.

    Phase ``"all"`` when present, else the last phase. Order: share of targets met (met /
    judged) descending, then fewer missed, then higher completeness (Σ reported / Σ expected
    of the unit's figures); units with no judged target last. Equal on all three: same rank.
    """
    order = phase_order(c)
    if not order:
        return []
    phase = order[-1]
    tree = phase_tree_of(c, phase)
    roots = set(tree.roots())
    stats = _unit_stats(c, phase)
    out: list[_Ranked] = []
    for level in ("district", "commune"):
        units = [u for code, u in tree.units.items() if u.level == level and code not in roots]
        items = []
        for u in units:
            parent = tree.units.get(u.parent) if u.parent else None
            items.append(
                _Ranked(level, u.code, u.name, parent.name if parent else None, stats[u.code])
            )

        def key(x: _Ranked):
            share = x.share_key
            comp = x.stat.completeness or 0.0
            return (share is None, -(share or 0), x.stat.missed, -comp)

        items.sort(key=lambda x: (*key(x), x.name, x.code))
        prev_key, rank = None, 0
        for i, x in enumerate(items, start=1):
            k = key(x)
            if k != prev_key:
                rank = i
                prev_key = k
            x.rank = rank
        _explain_ties(items)
        out.extend(items)
    return out


def _explain_ties(items: list[_Ranked]) -> None:
    groups: dict[Fraction | None, list[_Ranked]] = {}
    for x in items:
        groups.setdefault(x.share_key, []).append(x)
    for share, group in groups.items():
        if share is None:
            for x in group:
                x.why = "chưa có chỉ tiêu nào được đánh giá"
            continue
        if len(group) < 2:
            continue
        for i, x in enumerate(group):
            others = [y for y in group[:4] if y is not x][:3]  # big ties: name three
            names = ", ".join(y.name for y in others)
            if len(group) - 1 > 3:
                names += f" và {len(group) - 4} đơn vị khác"
            head = f"bằng tỷ lệ chỉ tiêu đạt ({x.stat.met}/{x.stat.judged}) với {names}"
            if i > 0:
                x.why = f"{head}; {_behind(x, group[i - 1])}"
            else:
                x.why = f"{head}; {_ahead(x, group[1])}"


def _ahead(x: _Ranked, y: _Ranked) -> str:
    if x.stat.missed != y.stat.missed:
        return f"ít chỉ tiêu không đạt hơn {y.name} ({x.stat.missed} so với {y.stat.missed})"
    cx, cy = x.stat.completeness or 0.0, y.stat.completeness or 0.0
    if cx != cy:
        return f"cùng số chỉ tiêu không đạt, số liệu đầy đủ hơn {y.name} ({_pct_words(cx)} so với {_pct_words(cy)})"
    return f"bằng nhau về mọi tiêu chí với {y.name}: đồng hạng"


def _behind(x: _Ranked, y: _Ranked) -> str:
    if x.stat.missed != y.stat.missed:
        return f"nhiều chỉ tiêu không đạt hơn {y.name} ({x.stat.missed} so với {y.stat.missed})"
    cx, cy = x.stat.completeness or 0.0, y.stat.completeness or 0.0
    if cx != cy:
        return f"cùng số chỉ tiêu không đạt, số liệu kém đầy đủ hơn {y.name} ({_pct_words(cx)} so với {_pct_words(cy)})"
    return f"bằng nhau về mọi tiêu chí với {y.name}: đồng hạng"


def _ranking_sheet(
    book: _Book, c: Consolidation, rows: _Rows, campaign: str, top_name: str
) -> None:
    ranked = ranking(c)
    phase = rows.order[-1] if rows.order else None
    cols = [
        _Col("Cấp", 11),
        _Col("Hạng", 7, "int"),
        _Col("Mã đơn vị", 10, "code"),
        _Col("Đơn vị", 24),
        _Col("Cấp trên", 22),
        _Col("Chỉ tiêu đạt", 10, "int"),
        _Col("Chỉ tiêu được đánh giá", 11, "int"),
        _Col("Tỷ lệ đạt", 10, "pct"),
        _Col("Chỉ tiêu không đạt", 11, "int"),
        _Col("Chưa có số liệu", 10, "int"),
        _Col("Mức đầy đủ số liệu", 11, "pct"),
        _Col("Giải thích", 60, "wrap"),
    ]
    sheet = book.sheet("Xếp hạng")
    label = rows.phase_labels.get(phase, "") if phase else ""
    sheet.header_block(len(cols), top_name, "XẾP HẠNG ĐƠN VỊ THEO KẾT QUẢ THỰC HIỆN CHỈ TIÊU",
                       [campaign, f"Số liệu: {label}"])  # fmt: skip
    sheet.note(
        "Xếp hạng trong từng cấp theo tỷ lệ chỉ tiêu đạt (số chỉ tiêu đạt / số chỉ tiêu được "
        "đánh giá); bằng nhau thì đơn vị ít chỉ tiêu không đạt hơn xếp trên, rồi đơn vị có số liệu "
        "đầy đủ hơn (tổng số đã báo cáo / phải báo cáo); bằng nhau mọi tiêu chí thì đồng hạng."
    )
    sheet.blank()

    def gen():
        for x in ranked:
            s = x.stat
            yield [
                LEVEL_LABELS.get(x.level, x.level),
                x.rank,
                x.code,
                x.name,
                x.parent,
                s.met,
                s.judged,
                s.share,
                s.missed,
                s.no_data,
                s.completeness,
                x.why,
            ]

    sheet.table("XepHang", cols, len(ranked), gen)


# --- bookkeeping sheets ---------------------------------------------------------------


def _missing_sheet(
    book: _Book, c: Consolidation, rows: _Rows, campaign: str, span: str, top_name: str
) -> None:
    cols = [
        _Col("Đợt", 13),
        _Col("Mã đơn vị", 10, "code"),
        _Col("Đơn vị", 26),
        _Col("Mã cấp trên", 11, "code"),
        _Col("Đơn vị cấp trên", 26),
        _Col("Thư điện tử", 30),
    ]
    missing = c.evaluation.missing
    sheet = book.sheet("Chưa báo cáo")
    sheet.header_block(len(cols), top_name, "CÁC ĐƠN VỊ CHƯA BÁO CÁO", [campaign, span])
    sheet.note("Các xã phải báo cáo nhưng chưa có báo cáo nào được dùng, theo từng đợt.")
    sheet.blank()

    def gen():
        for unit, phase in missing:
            tree = rows.trees.get(phase) or phase_tree_of(c, phase)
            u = tree.units.get(unit)
            parent = tree.units.get(u.parent) if u is not None and u.parent else None
            yield [
                rows.phase_labels.get(phase) or phase_label(c.plan, phase),
                unit,
                u.name if u else unit,
                parent.code if parent else (u.parent if u else None),
                parent.name if parent else None,
                ", ".join(u.email) if u and u.email else None,
            ]

    sheet.table("ChuaBaoCao", cols, len(missing), gen)


def _changes_sheet(
    book: _Book, c: Consolidation, rows: _Rows, campaign: str, span: str, top_name: str
) -> None:
    cols = [
        _Col("Đợt", 13),
        _Col("Mã đơn vị", 10, "code"),
        _Col("Đơn vị", 24),
        _Col("Mã chỉ tiêu", 10, "code"),
        _Col("Nội dung chỉ tiêu", 36),
        _Col("Thành phần", 24),
        _Col("Ô", 7, "center"),
        _Col("Số cũ", 11, "num"),
        _Col("Số mới", 11, "num"),
        _Col("Chênh lệch", 11, "num"),
        _Col("Bản cũ", 30),
        _Col("Bản mới", 30),
    ]
    sheet = book.sheet("Sửa đổi")
    sheet.header_block(len(cols), top_name, "SỐ LIỆU THAY ĐỔI KHI ĐƠN VỊ GỬI LẠI BÁO CÁO",
                       [campaign, span])  # fmt: skip
    sheet.note(
        "Bản mới (gửi sau) được dùng; bản cũ ghi ở trang “Nguồn” với trạng thái “Bị thay thế”."
    )
    sheet.blank()
    names = _unit_names(c)

    def gen():
        for ch in c.changes:
            ind = rows.inds.get(ch.indicator)
            comp = (
                ind.label(ch.component)
                if ind and ch.component in ind.components
                else (COMPONENT_LABELS.get(ch.component, ch.component))
            )
            diff = None
            if ch.old is not None and ch.new is not None:
                diff = _num(ch.new - ch.old)
            yield [
                rows.phase_labels.get(ch.phase) or phase_label(c.plan, ch.phase),
                ch.unit,
                names.get(ch.unit, ch.unit),
                ch.indicator,
                ind.name if ind else ch.indicator,
                comp,
                ch.cell,
                _num(ch.old),
                _num(ch.new),
                diff,
                ch.old_source,
                ch.new_source,
            ]

    sheet.table("SuaDoi", cols, len(c.changes), gen)


def _unit_names(c: Consolidation) -> dict[str, str]:
    names: dict[str, str] = {}
    for u in c.roster.units:
        names[u.code] = u.name  # the latest record wins: today's name
    return names


def _findings_sheet(
    book: _Book, c: Consolidation, rows: _Rows, campaign: str, span: str, top_name: str
) -> None:
    cols = [
        _Col("Mức độ", 10, "status"),
        _Col("Mã lỗi", 20),
        _Col("Tệp", 30),
        _Col("Tệp đính kèm/Trang", 26),
        _Col("Ô", 7, "center"),
        _Col("Đơn vị", 22),
        _Col("Đợt", 10),
        _Col("Nội dung", 60, "wrap"),
        _Col("Cách sửa", 45, "wrap"),
    ]
    sheet = book.sheet("Kết quả kiểm tra")
    sheet.header_block(len(cols), top_name, "KẾT QUẢ KIỂM TRA BÁO CÁO", [campaign, span])
    sheet.note(
        "Lỗi: số liệu không dùng được (tệp hoặc ô bị bỏ qua); Cảnh báo: vẫn dùng nhưng cần xem lại."
    )
    sheet.blank()
    names = _unit_names(c)

    def gen():
        for f in c.findings:
            where = f.member
            if f.sheet and f.sheet != f.member and not (f.member or "").endswith(f.sheet):
                where = f"{f.member} › {f.sheet}" if f.member else f.sheet
            yield [
                "Lỗi" if f.severity == "error" else "Cảnh báo",
                f.code,
                f.path,
                where,
                f.cell,
                names.get(f.unit, f.unit) if f.unit else None,
                phase_label(c.plan, f.phase) if f.phase else None,
                f.message,
                f.hint,
            ]

    sheet.table("KiemTra", cols, len(c.findings), gen, status_cols=["Mức độ"])


def _sources_sheet(
    book: _Book, c: Consolidation, rows: _Rows, campaign: str, span: str, top_name: str
) -> None:
    cols = [
        _Col("Tệp", 34),
        _Col("Tệp đính kèm/Trang", 28),
        _Col("Người gửi", 24),
        _Col("Thời điểm nhận", 16, "datetime"),
        _Col("Ngày báo cáo", 12, "date"),
        _Col("Mã đơn vị", 10, "code"),
        _Col("Đơn vị", 22),
        _Col("Đợt", 10),
        _Col("Trạng thái", 13, "status"),
        _Col("Lý do", 40, "wrap"),
        _Col("SHA-256", 20),
    ]
    sheet = book.sheet("Nguồn")
    sheet.header_block(len(cols), top_name, "CÁC TỆP ĐẦU VÀO", [campaign, span])
    sheet.note(
        "Mọi tệp, thư và tệp đính kèm đã xem xét; mỗi tệp hoặc trang báo cáo một dòng. "
        "SHA-256 là dấu vân tay của tệp, để đối chiếu đúng tệp đã dùng."
    )
    sheet.blank()
    names = _unit_names(c)

    def gen():
        for rec in c.inputs:
            yield [
                rec.path,
                rec.member,
                rec.sender,
                rec.received,
                rec.report_date,
                rec.unit,
                names.get(rec.unit, None) if rec.unit else None,
                phase_label(c.plan, rec.phase) if rec.phase else None,
                INPUT_STATES.get(rec.status, rec.status),
                rec.reason,
                rec.sha256,
            ]

    sheet.table("Nguon", cols, len(c.inputs), gen, status_cols=["Trạng thái"])
