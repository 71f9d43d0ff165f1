"""The tally workbook: every judged figure of a consolidation, traceable to its files.

``write_tally(c, path)`` writes one ``.xlsx`` (Vietnamese, Times New Roman, the
administrative-document header on every sheet, A4 landscape fitted to the page width with
the table header repeated on every printed page). Sheets:

==================  ===================================================================
Tổng quan           per phase: communes reported / expected, the top unit's targets met,
                    missed, without data; what each sheet holds; share of targets met by
                    district (by province nationally; with no district level, the best
                    communes) as a table and a bar chart
Toàn tỉnh           the top unit's figures ("Toàn thành phố" … when the plan's scope is
                    not a province); nationally "Cấp tỉnh": every province's figures
one per district    its own figures (only on phases that have a district level);
                    nationally one per province instead: the province's figures, then
                    each of its districts' as a group of rows that folds away
Cấp xã              every commune's figures, with the file each came from
Chỉ tiêu chưa đạt   every missed target, most serious first (the order is written on
                    the sheet)
Xếp hạng            units ranked within their level over the whole campaign, with how
                    each tie was broken (nationally the provinces too)
Chưa báo cáo        expected communes with no accepted report, per phase
Sửa đổi             values changed by a correction, cell by cell
Kết quả kiểm tra    every finding
Nguồn               every input and what became of it
==================  ===================================================================

"Nationally" (:func:`is_national`): the tree has several provinces with districts below
(the 2024 roster of the country: 63 provinces, 696 districts); a sheet per district would
make 700 sheets nobody could find their way through.

Every table is an Excel table (filters, banding) under a frozen header row. Text taken from
inputs (unit names, file names, senders, messages quoting cells) is always stored as text:
a value such as ``=HYPERLINK(…)`` stays a string (shared-string cell, "quote prefix" style)
and never becomes a formula or a link.

Speed (a national tally: 195,000 results, 300,000 rows, 180 MB of XML, in about a second
and a half on 2 cores): the whole package is written by this module, without openpyxl
(importing it, and numpy through it, cost every ``thidua consolidate`` half a second); the
stylesheet, theme, document properties and chart are what openpyxl would write, byte for
byte (``tests/workbooks/test_tally_parts.py`` compares). A table row is the row number joined between cached XML fragments of its
cells (:class:`_Column`), the biggest tables go straight from results to fragments
(:meth:`_Rows.commune_fragments`), and the zip compression runs on a second thread
(:class:`_Zip`; zlib releases the GIL). Memory stays flat: rows are produced a thousand
at a time from the consolidation and compressed as they come.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import gc
import math
import os
import queue
import re
import sys
import threading
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from operator import getitem
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from logic.aggregate import ALL_PHASES, Result
from logic.numbers import format_vn
from logic.plan import COMPONENT_LABELS, Indicator, Plan, Target
from logic.targets import NOT_OCCURRED, STATUS_LABELS, target_text
from logic.text import EXCEL_CELL_MAX, safe_for_cell

from .layout import col_letter, short_name
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
    top_level_name,
)

if TYPE_CHECKING:
    from logic.roster import Tree

    from .consolidate import Consolidation

__all__ = ["NATIONAL_NAME", "SHEETS", "is_national", "write_tally"]

FONT = "Times New Roman"
#: Fixed sheet names, in order (district sheets come after the top unit's sheet; nationally
#: "Cấp tỉnh" stands for "Toàn tỉnh", followed by the provinces' sheets).
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
HEADER_ROWS = 7  # the administrative header block
#: Cells from which a workbook is compressed on a second thread, at zlib level 2 (below:
#: in line, level 6; the thread and the level only pay on big workbooks).
THREADED_CELLS = 200_000
_FORMULA_START = ("=", "+", "-", "@")
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)

# --- styles ---------------------------------------------------------------------------

HEADER_FILL = "DDEBF7"


@dataclass(frozen=True)
class _Spec:
    """A cell format: font (Times New Roman), alignment, thin border, solid fill, number format."""

    size: float = 11
    bold: bool = False
    italic: bool = False
    underline: bool = False
    h: str = "left"
    v: str = "center"
    wrap: bool = False
    border: bool = True
    fill: str | None = None
    fmt: str = "General"


_STYLES: dict[str, _Spec] = {
    # header block
    "issuer": _Spec(12, h="center", wrap=True, border=False),
    "unit": _Spec(12, bold=True, h="center", wrap=True, border=False),
    "motto": _Spec(12, bold=True, h="center", border=False),
    "motto2": _Spec(13, bold=True, underline=True, h="center", border=False),
    "place_date": _Spec(12, italic=True, h="center", border=False),
    "title": _Spec(14, bold=True, h="center", wrap=True, border=False),
    "campaign": _Spec(13, bold=True, h="center", wrap=True, border=False),
    "subtitle": _Spec(12, italic=True, h="center", wrap=True, border=False),
    # streamed rows
    "note": _Spec(11, italic=True, border=False),
    "guide": _Spec(11, border=False),
    "section": _Spec(12, bold=True, border=False),
    "header": _Spec(11, bold=True, h="center", wrap=True, fill=HEADER_FILL),
    "text": _Spec(),
    "wrap": _Spec(wrap=True),
    "wrap_center": _Spec(h="center", wrap=True),
    "code": _Spec(h="center", fmt="@"),
    "center": _Spec(h="center"),
    "status": _Spec(bold=True, h="center"),
    "int": _Spec(h="right", fmt="#,##0"),
    "num": _Spec(h="right", fmt="#,##0"),  # integers; other numbers switch to "dec"
    "dec": _Spec(h="right", fmt="#,##0.0#"),
    "pct": _Spec(h="right", fmt="0.0%"),
    "pct_red": _Spec(h="right", fmt='"Giảm "0.0%;"Tăng "0.0%;"Không đổi"'),
    "yesno": _Spec(h="center", fmt='"Có";"Có";"Không"'),
    "date": _Spec(h="center", fmt="dd/mm/yyyy"),
    "datetime": _Spec(h="center", fmt="dd/mm/yyyy hh:mm"),
    "sign_title": _Spec(12, bold=True, h="center", border=False),
    "sign_hint": _Spec(12, italic=True, h="center", border=False),
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
#: Built-in number formats (ECMA-376 18.8.30) among those used: no ``<numFmt>`` of their own.
_BUILTIN_FORMATS = {"General": 0, "#,##0": 3, "@": 49}


class _Styles:
    """Cell-format ids (``s="…"``), conditional-format ids (``dxfId``) and the stylesheet.

    The stylesheet is the one openpyxl writes for these formats, byte for byte (a test
    compares): same order of fonts, fills, borders, number formats and cell formats, equal
    formats sharing one id. Written here so that a tally does not import openpyxl (and
    numpy through it: half a second of every ``thidua consolidate``).
    """

    def __init__(self) -> None:
        self._ids: dict[tuple[str, bool], int] = {}
        self._xfs: dict[tuple, int] = {(0, 0, 0, 0, None, False): 0}
        self._fonts: dict[tuple, int] = {None: 0}  # 0: the default font (Calibri 11)
        self._fills: dict[str | None, int] = {None: 0, "gray125": 1}
        self._formats: dict[str, int] = dict(_BUILTIN_FORMATS)
        self._custom: list[str] = []
        self._dxfs: dict[tuple[str, str], int] = {}
        self._frozen = False

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
            if self._frozen:
                raise KeyError(f"style {key!r} registered after the stylesheet was written")
            s = _STYLES[key]
            font = self._fonts.setdefault((s.size, s.bold, s.italic, s.underline), len(self._fonts))
            fill = self._fills.setdefault(s.fill, len(self._fills)) if s.fill else 0
            fmt = self._formats.get(s.fmt)
            if fmt is None:
                fmt = self._formats[s.fmt] = 164 + len(self._custom)
                self._custom.append(s.fmt)
            xf = (fmt, font, fill, int(s.border), (s.h, s.v, s.wrap), quote)
            sid = self._ids[k] = self._xfs.setdefault(xf, len(self._xfs))
        return sid

    def dxf(self, font: str, fill: str) -> int:
        """The differential format (font colour, solid fill) of a conditional format."""
        k = (font, fill)
        hit = self._dxfs.get(k)
        if hit is None:
            if self._frozen:
                raise KeyError(f"format {k!r} registered after the stylesheet was written")
            hit = self._dxfs[k] = len(self._dxfs)
        return hit

    def xml(self) -> str:
        """``xl/styles.xml``, as openpyxl writes it."""
        fmts = "".join(
            f'<numFmt numFmtId="{i}" formatCode="{escape(f, _ATTR)}" />'
            for i, f in enumerate(self._custom, 164)
        )
        fonts = [_DEFAULT_FONT]
        for size, bold, italic, underline in list(self._fonts)[1:]:
            b = '<b val="1" />' if bold else ""
            i = '<i val="1" />' if italic else ""
            u = '<u val="single" />' if underline else ""
            fonts.append(f'<font><name val="{FONT}" />{b}{i}<sz val="{size:g}" />{u}</font>')
        fills = [
            "<fill><patternFill /></fill>",
            '<fill><patternFill patternType="gray125" /></fill>',
        ]
        fills += [_solid_fill(f) for f in list(self._fills)[2:]]
        xfs = []
        for fmt, font, fill, border, align, quote in self._xfs:
            head = f'<xf numFmtId="{fmt}" fontId="{font}" fillId="{fill}" borderId="{border}" '
            tail = f'pivotButton="0" quotePrefix="{int(quote)}" xfId="0"'
            if align is None:
                xfs.append(f"{head}{tail} />")
                continue
            h, v, wrap = align
            wrapped = ' wrapText="1"' if wrap else ""
            xfs.append(
                f'{head}applyAlignment="1" {tail}><alignment horizontal="{h}" vertical="{v}"'
                f"{wrapped} /></xf>"
            )
        dxfs = "".join(
            f'<dxf><font><color rgb="00{font}" /></font>{_solid_fill(fill)}</dxf>'
            for font, fill in self._dxfs
        )
        return (
            f'<styleSheet xmlns="{_NS_MAIN}"><numFmts count="{len(self._custom)}">{fmts}'
            f'</numFmts><fonts count="{len(fonts)}">{"".join(fonts)}</fonts>'
            f'<fills count="{len(fills)}">{"".join(fills)}</fills><borders count="2">'
            "<border><left /><right /><top /><bottom /><diagonal /></border><border>"
            + "".join(
                f'<{side} style="thin"><color rgb="00000000" /></{side}>'
                for side in ("left", "right", "top", "bottom")
            )
            + '</border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" '
            f'fillId="0" borderId="0" /></cellStyleXfs><cellXfs count="{len(xfs)}">'
            f'{"".join(xfs)}</cellXfs><cellStyles count="1"><cellStyle name="Normal" '
            f'xfId="0" builtinId="0" hidden="0" /></cellStyles><dxfs count="{len(self._dxfs)}">'
            f'{dxfs}</dxfs><tableStyles count="0" defaultTableStyle="TableStyleMedium9" '
            'defaultPivotStyle="PivotStyleLight16" /><colors><indexedColors>'
            + "".join(f'<rgbColor rgb="00{c}" />' for c in _INDEXED_COLOURS.split())
            + "</indexedColors></colors></styleSheet>"
        )


def _solid_fill(colour: str) -> str:
    return (
        f'<fill><patternFill patternType="solid"><fgColor rgb="00{colour}" />'
        f'<bgColor rgb="00{colour}" /></patternFill></fill>'
    )


_DEFAULT_FONT = (
    '<font><name val="Calibri" /><family val="2" /><color theme="1" /><sz val="11" />'
    '<scheme val="minor" /></font>'
)
#: The legacy palette (ECMA-376 18.8.27) that openpyxl writes into every stylesheet.
_INDEXED_COLOURS = """
    000000 FFFFFF FF0000 00FF00 0000FF FFFF00 FF00FF 00FFFF 000000 FFFFFF FF0000 00FF00
    0000FF FFFF00 FF00FF 00FFFF 800000 008000 000080 808000 800080 008080 C0C0C0 808080
    9999FF 993366 FFFFCC CCFFFF 660066 FF8080 0066CC CCCCFF 000080 FF00FF FFFF00 00FFFF
    800080 800000 008080 0000FF 00CCFF CCFFFF CCFFCC FFFF99 99CCFF FF99CC CC99FF FFCC99
    3366FF 33CCCC 99CC00 FFCC00 FF9900 FF6600 666699 969696 003366 339966 003300 333300
    993300 993366 333399 333333
"""


#: ``xl/theme/theme1.xml``: the Office theme as openpyxl writes it (``openpyxl.writer.theme``),
#: zlib-compressed (a test compares).
_THEME = (
    "eNrtWltz2jgUfu+v0Hhn9m2LjW0CbWkn5tJ227SZhO1OH4URWI1seSSRhH+/RzYQyzaGdkmT7oYHjCV937no6BzJ"
    "5tWb25ihayIk5Unfcp7b1pvXz17hFyoiMUHQmcgXuG9FSqUvWi0ZQjOWz3lKEuibcxFjBbdi0ZoJfEOTRcxabdvu"
    "tGJMEwslOCZ96/N8TkOCJprSev0MoQ3/iMFXoqRuy1pDJi7DTHIRaeX92YjZlbO5y+7lSg6YQNeY9S2QP+M3E3Kr"
    "LMSwVNDRt+zsY7W2HC2DBCiY2kdZoBtnH5OuQJBp2DbpxGK65XPGXu9kWNambWjTAB+NRoORU5ZehOMwBI86uym8"
    "cdcJShqUQFuaBk0Gtm97tTRVbdzdNL0gCPxeHY1bofF203TtjnfarqPxKjR+g2+C08GgU0fjV2g6u2nGJ72OV0vT"
    "KdBEjCZXu0l01JYDzYAAYM7Zu2aWLrB0S9FvonTLdtltF+KcJ2rPSozxNy7GMM6QzrCiCVKrlMxxCLgBjqeC4jsN"
    "slEEF4aU+kK5u0+rhWQoaKr61p8phhRzN/b3327H4/bwZXZ13Zco/2HrBtcOvPX1JL8O3Px6On7ZJOQdThYlIUFv"
    "6Gjs4MSzMyGng1EmJPAdfx+ZLJH5QTfQWG/su/uwqoTt+EEm92SYG9np2CN97Z0OvUauU4GnRa4JjYlEn8gNuuAx"
    "OLVJDTIVPwidRJgaUBwBpAkxUpGB+LTCrBEQEHO2vgjI342It8tvhj2XkVgq2oT4EMUG4oxzFnDRbPsHrUbR9mWy"
    "2KOXWBYBFxhfN6o1KMXWaJnC8qWNQgYRMUw5ZxBkeEESopDu41eENOG/UmrMzxkNBZd8rtBXigJMmx05oVNVj35H"
    "Y5joFd4TTYZHz76ggLNGgUNybUJgbWPWKIQwYxbe4qXCcbNVOGZFyEesokZDLlciNCZOKgimBWEcjWZEykbwZ7Ey"
    "TPqAIbM3R9YZW8UmRCh61Qj5iDkvQob8ahDhOG22iyZREfReXsFKweicq2b9uLmG9T1MLE72R9QXStQPJqe/6CKq"
    "D0bdsxRmCa3UPl0PaXJQPWQUCuJTPXzM9fAUdizse6rgXsB/tPYN8TI5J7DOn0rfU+l7Kn2PqPTtzUjfWfDM4pYf"
    "IzdHxLtTY7zv0DinjF2qFSMfpVknJdg5G0PvXWvenvFtz7NpBD8Ns1q1WEAuBM4akeDqb6qiywinoJNjlSQspKHL"
    "thWlXMIx3DK7ditVHpc/5qLg8myQbz6GMvmwOuOzfJxr1w/MDN3ILanb0vruNMHVoo9lhnvyUGY4OeOR7HD8A+3w"
    "j2BH3lIKM705hK0h5DvQptPOrYPliRmZ6TAtBfkmnB9fjMsIz8g6yJ3DvOq4x46O7r8PjoIdPfeh7DhGlBcN8Q41"
    "xH+QMLf3hXlWaWqKhqZNaisJS9ANGO63fQuFOO1bcziDwc84BXlSF1jMFknfCpUoL5PaInS480uu3+HRkuPtumE7"
    "3b6j3GW0qZBqiGWUE2ejyt5lSY2r2r6np+R+fdW6byvcrvOrWpHf1UQ4mc9JqGqjvNBVEp331OV7vlREXEazGzRl"
    "S3GBwTtevhxnVMKWsL25EZDJvfVKNStLfWYqv7eoSWD5mxOWRnhdV7u7801OV10RW/3Ls1Bj8l1zyUf35Tv3J/rO"
    "f/LdY/XdOneQhLiziiNCOBUJjHRy6FtcqIhDuUsjGo4FHKbqTAQvIEhm2gGI6Tf02jPkulQ4t+/xMv6KWAYHOnVB"
    "F0hQKMIqEoScq7W/v0+q067d1mcJbC2kkiGrvtAeSmvcMyXXhE10Mu/oabJQtClO1bxr4HcEbKnZzK3Txfh/exb1"
    "7J94+DFM8I55hvOaznCFjVjvoaw98ma+feC0tf173MynWEVIf8F+ioqQEativt6vT/gFrDu0ffCBIJv80V2n9m3j"
    "FHzUrVqlZWsRv8oJ+C4ku/av/HikEGvuobFm248y1vyaUPN/NNJ0W129yA6nceEpqG6o/LNN74Cm30DDIZnjJVOy"
    "tW4lt0rgwea/N8AKHVuG18/+AeWiX+A="
)


# --- the streamed part ----------------------------------------------------------------


@dataclass
class _Piece:
    """Consecutive rows streamed into a sheet at save time."""

    first_row: int
    styles: list[str]
    rows: Callable[[], Iterable[Sequence[Any]]]
    count: int
    height: float | None = None
    boxed: bool = False  # table rows: every cell written, empty ones keep the table's borders
    wrap: tuple[tuple[int, float], ...] = ()  # (column, width) of wrapped columns: row heights
    outline: int = 0  # outline (grouping) level of the rows
    #: instead of ``rows``: the rows already as cell fragments (see :class:`_Column`), each
    #: list starting with ``_Cells.opening(…)``; for the biggest tables
    render: Callable[[_Cells], Iterable[list[str]]] | None = None


class _SharedStrings:
    def __init__(self) -> None:
        self.index: dict[str, tuple[int, bool]] = {}
        self.items: list[str] = []

    def add(self, text: str) -> tuple[int, bool]:
        """(index, needs a quote prefix) of ``text``, cleaned for a cell."""
        hit = self.index.get(text)
        if hit is None:
            clean = unicodedata.normalize("NFC", text)
            if not clean.isprintable() or len(clean) > EXCEL_CELL_MAX:  # a quick scan first
                clean = safe_for_cell(clean)
            hit = (len(self.items), clean.startswith(_FORMULA_START))
            self.items.append(clean)
            self.index[text] = hit
        return hit

    def chunks(self) -> Iterator[str]:
        yield f'{_XML_DECL}<sst xmlns="{_NS_MAIN}" uniqueCount="{len(self.items)}">'
        # a batch escaped in one go: NUL cannot be in a cell (safe_for_cell), so it splits;
        # every text keeps its spaces ("preserve" where not needed means the same)
        si = '<si><t xml:space="preserve">'
        for i in range(0, len(self.items), 4000):
            batch = escape("\0".join(self.items[i : i + 4000]))
            yield si + batch.replace("\0", "</t></si>" + si) + "</t></si>"
        yield "</sst>"


def _serial(value: dt.date) -> float:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone().replace(tzinfo=None)
        delta = value - _EXCEL_EPOCH
        return delta.days + delta.seconds / 86400
    return float((value - _EXCEL_EPOCH.date()).days)


class _Column(dict):
    """One column of a table piece: value → the XML of its cell after the reference.

    The XML held is the cell's tail (``" s="5" t="s"><v>12</v></c>``) followed by the
    opening of the next cell (``<c r="F``) or ``</row>``, so that a row is the row number
    joined between the fragments of its cells: ``rs.join(["<row r=\"", "\"><c r=\"A",
    *fragments])``. Values repeat (unit names, indicators, statuses, small counts, rates of
    small numbers): each is rendered once (``__missing__``), up to ``_KEEP`` values a column.
    """

    __slots__ = ("cells", "index", "j", "quoted", "text", "text_end")

    def __init__(self, cells: _Cells, j: int):
        super().__init__()
        self.cells = cells
        self.j = j
        blank = cells.empties[j] + cells.nexts[j]
        self[None] = blank
        self[""] = blank
        # texts, the most frequent miss (names, files, explanations), without tail()
        key = cells.keys[j]
        quoted = cells.styles.id("text" if key == "num" else key, quote=True)
        self.text = f'" s="{cells.base[j]}" t="s"><v>'
        self.quoted = f'" s="{quoted}" t="s"><v>'
        self.text_end = "</v></c>" + cells.nexts[j]
        self.index = cells.sst.index

    def __missing__(self, v: Any) -> str:
        if type(v) is str:
            idx, quote = self.index.get(v) or self.cells.sst.add(v)
            frag = f"{self.quoted if quote else self.text}{idx}{self.text_end}"
        else:
            cells, j = self.cells, self.j
            # a (style, value) tuple: a value with its own style, overriding the column's
            # (rates beside counts in one column); a tuple hashes in C, an object would not
            tail = cells.tail(j, v[1], v[0]) if type(v) is tuple else cells.tail(j, v, None)
            frag = (tail or cells.empties[j]) + cells.nexts[j]
        if len(self) < _KEEP and type(v) is not bool:  # True == 1: keep ints' entries
            self[v] = frag
        return frag


#: Values kept per column (a national tally has ~30,000 distinct rates in a column).
_KEEP = 100_000


class _Cells:
    """How the columns of one piece turn values into cell XML (style ids, shared strings)."""

    def __init__(self, keys: Sequence[str], styles: _Styles, sst: _SharedStrings):
        n = len(keys)
        letters = [col_letter(i + 1) for i in range(n)]
        self.keys = list(keys)
        self.letters = letters
        self.prefixes = [f'<c r="{x}' for x in letters]
        self.nexts = [*self.prefixes[1:], "</row>"]
        self.base = [styles.id(k) for k in keys]
        self.empties = [f'" s="{sid}"/>' for sid in self.base]
        self.styles = styles
        self.sst = sst
        self.int_id = styles.id("int")
        self.dec_id = styles.id("dec")
        self.columns = [_Column(self, j) for j in range(n)]
        self._openings: dict[tuple[int, int], list[str]] = {}

    def opening(self, lines: int = 1, outline: int = 0) -> list[str]:
        """What a row's fragments start with: ``<row r="`` and the rest up to ``<c r="A``."""
        hit = self._openings.get((lines, outline))
        if hit is None:
            ht = f' ht="{15 * lines + 2}" customHeight="1"' if lines > 1 else ""
            level = f' outlineLevel="{outline}"' if outline else ""
            hit = self._openings[(lines, outline)] = ['<row r="', f'"{ht}{level}><c r="A']
        return hit

    def tail(self, j: int, v: Any, key: str | None) -> str | None:
        """The XML of a cell after its reference; None for an empty cell."""
        if v is None:
            return None
        column = key or self.keys[j]
        sid = self.styles.id(key) if key else self.base[j]
        t = type(v)
        if t is float:
            if not math.isfinite(v):
                return None
            if v.is_integer() and abs(v) < 1e15:
                v, t = int(v), int
            else:
                if column == "num":
                    sid = self.dec_id
                return f'" s="{sid}"><v>{v!r}</v></c>'
        if t is str:
            if not v:
                return None
            idx, quote = self.sst.add(v)
            if quote:
                sid = self.styles.id("text" if column == "num" else column, quote=True)
            return f'" s="{sid}" t="s"><v>{idx}</v></c>'
        if t is int:
            if column == "num":
                sid = self.int_id
            return f'" s="{sid}"><v>{v}</v></c>'
        if t is bool:
            return f'" s="{sid}"><v>{int(v)}</v></c>'
        if isinstance(v, dt.date):
            return f'" s="{sid}"><v>{_serial(v)!r}</v></c>'
        if isinstance(v, int | float):
            return f'" s="{sid}"><v>{float(v)!r}</v></c>'
        idx, quote = self.sst.add(str(v))
        if quote:
            sid = self.styles.id(column, quote=True)
        return f'" s="{sid}" t="s"><v>{idx}</v></c>'


def _piece_xml(piece: _Piece, cells_of: Callable[[Sequence[str]], _Cells]) -> Iterator[str]:
    """The ``<row>`` elements of a piece, a few hundred kilobytes per chunk.

    The hot loop of a national tally (millions of cells). A table row is one C-level join
    of cached fragments (see :class:`_Column`): no Python code runs per cell unless the
    value is new or a fraction.
    """
    cells = cells_of(piece.styles)
    if not piece.boxed:
        yield _loose_rows(piece, cells)
        return
    r = piece.first_row
    last = r + piece.count
    out: list[str] = []
    if piece.render is not None:
        for row in piece.render(cells):
            if r >= last:
                raise AssertionError("a table produced more rows than announced")
            out.append(str(r).join(row))
            r += 1
            if len(out) >= 1000:
                yield "".join(out)
                out.clear()
        if out:
            yield "".join(out)
        return
    n = len(piece.styles)
    columns = cells.columns
    outline = piece.outline
    head = cells.opening(1, outline)
    wrap = piece.wrap
    line_caches: list[dict[Any, int]] = [{} for _ in wrap]
    for values in piece.rows():
        if r >= last:
            raise AssertionError("a table produced more rows than announced")
        if len(values) != n:
            values = [*values[:n], *([None] * (n - len(values)))]
        if wrap:  # the row as high as its longest wrapped text
            lines = 1
            for (j, width), seen in zip(wrap, line_caches, strict=True):
                v = values[j]
                k = seen.get(v) if type(v) is str else None
                if k is None:
                    k = _lines(v, width)
                    if type(v) is str:
                        seen[v] = k
                if k > lines:
                    lines = k
            head = cells.opening(lines, outline)
        out.append(str(r).join(head + list(map(getitem, columns, values))))
        r += 1
        if len(out) >= 1000:
            yield "".join(out)
            out.clear()
    if out:
        yield "".join(out)


def _loose_rows(piece: _Piece, cells: _Cells) -> str:
    """Rows outside tables (header block, notes, signature): empty cells are left out."""
    out: list[str] = []
    ht = f' ht="{piece.height}" customHeight="1"' if piece.height else ""
    r = piece.first_row
    for values in piece.rows():
        rs = str(r)
        out.append(f'<row r="{rs}"{ht}>')
        for j, v in enumerate(values):
            key = None
            if type(v) is tuple:
                key, v = v
            tail = cells.tail(j, v, key)
            if tail is not None:
                out.append(cells.prefixes[j] + rs + tail)
        out.append("</row>")
        r += 1
    return "".join(out)


def _lines(value: Any, width: float) -> int:
    """Lines a wrapped text takes in a column ``width`` characters wide (an estimate)."""
    if value is None:
        return 1
    text = value[1] if type(value) is tuple else value
    if not isinstance(text, str):
        return 1
    per_line = max(width * 1.15, 1)
    if len(text) <= per_line and "\n" not in text:
        return 1
    return min(15, sum(max(1, math.ceil(len(part) / per_line)) for part in text.split("\n")))


# --- sheets ---------------------------------------------------------------------------


@dataclass
class _Col:
    header: str
    width: float
    style: str = "text"


@dataclass
class _Table:
    name: str
    ref: str
    headers: list[str]
    part: str = ""  # "xl/tables/table3.xml", set when the package is written
    id: int = 0


class _Sheet:
    """One sheet, written straight as SpreadsheetML: header block, rows, tables, print setup."""

    def __init__(self, book: _Book, title: str):
        self.book = book
        self.title = title
        self.row = HEADER_ROWS + 1  # next free row
        self.pieces: list[_Piece] = []
        self.ncols = 1
        self.freeze: int | None = None  # first row below the frozen header
        self.print_title: int | None = None  # the header row repeated on printed pages
        self.widths: dict[int, float] = {}  # column → width: the widest table's wins
        self.merges: list[str] = []
        self.conditional: list[tuple[str, list[tuple[str, int]]]] = []  # (range, [(formula, dxf)])
        self.tables: list[_Table] = []
        self.drawing: str | None = None  # part name of the sheet's drawing (the chart)
        self.part = ""  # "xl/worksheets/sheet3.xml", set when the package is written

    # header block ------------------------------------------------------------------
    def header_block(self, ncols: int, unit_line: str, title: str, lines: Sequence[str]) -> None:
        """Issuer and unit top left, national motto top right, title and subtitles."""
        self.ncols = ncols = max(ncols, 6)
        left = max(2, round(ncols * 0.4))
        right = max(left + 1, ncols - max(2, round(ncols * 0.45)) + 1)
        plan = self.book.plan
        today = self.book.today
        issuer_lines = max(1, math.ceil(len(plan.issuer or "") / max(left * 12, 1)))
        rows: dict[int, list[tuple[int, str, str, int]]] = {
            1: [(1, (plan.issuer or "").upper(), "issuer", left),
                (right, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "motto", ncols)],
            2: [(1, unit_line.upper(), "unit", left),
                (right, "Độc lập - Tự do - Hạnh phúc", "motto2", ncols)],
            3: [(right, f"{self.book.place}, ngày {today:%d} tháng {today:%m} năm {today:%Y}",
                 "place_date", ncols)],
            5: [(1, title, "title", ncols)],
        }  # fmt: skip
        for i, text in enumerate(list(lines)[:2]):
            rows[6 + i] = [(1, text, "campaign" if i == 0 else "subtitle", ncols)]
        heights = {
            1: min(15 * issuer_lines + 3, 80),
            6: 18 * min(3, max(1, math.ceil(len(lines[0]) / (ncols * 11)))) if lines else None,
        }
        L = col_letter
        for r, cells in rows.items():
            styles = ["text"] * ncols
            values: list[Any] = [None] * ncols
            for col, text, style, to_col in cells:
                styles[col - 1] = style
                values[col - 1] = text
                if to_col > col:
                    self.merges.append(f"{L(col)}{r}:{L(to_col)}{r}")
            self.pieces.append(_Piece(r, styles, lambda v=values: [v], 1, heights.get(r)))

    # streamed rows ------------------------------------------------------------------
    def note(self, text: str, style: str = "note") -> None:
        self.pieces.append(_Piece(self.row, [style], lambda t=text: [[t]], 1))
        self.row += 1

    def note_later(self, text: Callable[[], str], style: str = "note") -> None:
        """A line whose text is known only once the other sheets are made."""
        self.pieces.append(_Piece(self.row, [style], lambda: [[text()]], 1))
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
        grouped_after: int | None = None,
        render: Callable[[_Cells], Iterable[list[str]]] | None = None,
    ) -> tuple[int, int]:
        """An Excel table: header row, ``count`` data rows from ``rows()``.

        Returns (header row, last data row). An empty table gets one row saying so (Excel
        tables need a data row). ``grouped_after=k``: the data rows after the first ``k``
        form an outline group (collapsible with the "−" beside the row numbers). ``render``:
        the rows as cell fragments instead of ``rows()`` (see :attr:`_Piece.render`).
        """
        if render is not None and grouped_after is not None:
            raise ValueError("a grouped table is rendered from rows()")
        header_row = self.row
        headers = [_clean(c.header) for c in cols]
        lines = max(
            math.ceil(len(h) / max(c.width * 1.05, 1)) for h, c in zip(headers, cols, strict=True)
        )
        self.pieces.append(
            _Piece(header_row, ["header"] * len(cols), lambda: [headers], 1, 15.0 * lines + 4)
        )
        if count == 0:
            first = [("(không có)" if i == 0 else None) for i in range(len(cols))]
            rows, count, grouped_after, render = (lambda: [first]), 1, None, None
        first_data = header_row + 1
        last_row = header_row + count
        wrap = tuple((i, c.width) for i, c in enumerate(cols) if c.style.startswith("wrap"))
        keys = [c.style for c in cols]
        if grouped_after is not None and 0 <= grouped_after < count:
            shared: dict[str, Iterator[Sequence[Any]]] = {}

            def it() -> Iterator[Sequence[Any]]:
                if "it" not in shared:
                    shared["it"] = iter(rows())
                return shared["it"]

            top = grouped_after
            if top:
                self.pieces.append(_Piece(first_data, keys, lambda: islice(it(), top), top,
                                          boxed=True, wrap=wrap))  # fmt: skip
            self.pieces.append(_Piece(first_data + top, keys, lambda: islice(it(), count - top),
                                      count - top, boxed=True, wrap=wrap, outline=1))  # fmt: skip
        else:
            self.pieces.append(
                _Piece(first_data, keys, rows, count, boxed=True, wrap=wrap, render=render)
            )
        last = col_letter(len(cols))
        self.tables.append(_Table(name, f"A{header_row}:{last}{last_row}", headers))
        for i, c in enumerate(cols, start=1):
            self.widths[i] = max(c.width, self.widths.get(i, 0))
        for header in status_cols:
            col = col_letter([c.header for c in cols].index(header) + 1)
            rules = [
                (_quote_formula(word), self.book.styles.dxf(font, fill))
                for word, (font, fill) in _STATUS_COLOURS.items()
            ]
            self.conditional.append((f"{col}{first_data}:{col}{last_row}", rules))
        if freeze and self.freeze is None:
            self.freeze = first_data
            if print_titles:
                self.print_title = header_row
        self.row = last_row + 1
        return header_row, last_row

    def signature(self) -> None:
        """ "NGƯỜI LẬP BIỂU" (left) and "THỦ TRƯỞNG ĐƠN VỊ" (right), after the table."""
        self.row += 1
        n = self.ncols
        left_to = max(2, n // 3)
        right_from = max(left_to + 2, n - max(2, n // 3) + 1)
        L = col_letter
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
            self.merges.append(f"A{row + r}:{L(left_to)}{row + r}")
            self.merges.append(f"{L(right_from)}{row + r}:{L(n)}{row + r}")
        self.row += 2

    @property
    def extent(self) -> tuple[int, int]:
        last = max((p.first_row + p.count - 1 for p in self.pieces), default=HEADER_ROWS)
        cols = max([self.ncols, *(len(p.styles) for p in self.pieces)])
        return max(last, HEADER_ROWS), cols

    # SpreadsheetML ----------------------------------------------------------------------
    def xml_head(self, selected: bool) -> str:
        """The worksheet XML up to the first row."""
        last_row, last_col = self.extent
        grouped = any(p.outline for p in self.pieces)
        outline = ' outlineLevelRow="1"' if grouped else ""
        view = ' tabSelected="1"' if selected else ""
        if self.freeze:
            f = self.freeze
            pane = (
                f'<pane ySplit="{f - 1}" topLeftCell="A{f}" activePane="bottomLeft" '
                f'state="frozen"/><selection pane="bottomLeft" activeCell="A{f}" sqref="A{f}"/>'
            )
        else:
            pane = '<selection activeCell="A1" sqref="A1"/>'
        cols = "".join(
            f'<col min="{i}" max="{i}" width="{w:g}" customWidth="1"/>'
            for i, w in sorted(self.widths.items())
        )
        return (
            f'{_XML_DECL}<worksheet xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}">'
            f'<sheetPr><outlinePr summaryBelow="{0 if grouped else 1}" summaryRight="1"/>'
            '<pageSetUpPr fitToPage="1"/></sheetPr>'
            f'<dimension ref="A1:{col_letter(last_col)}{last_row}"/>'
            f'<sheetViews><sheetView workbookViewId="0"{view}>{pane}</sheetView></sheetViews>'
            '<sheetFormatPr baseColWidth="8" defaultRowHeight="15"'
            f"{outline}/>"
            f"{f'<cols>{cols}</cols>' if cols else ''}<sheetData>"
        )

    def xml_tail(self) -> str:
        """The worksheet XML after the last row (relationship ids as in :meth:`rels`)."""
        last_row, last_col = self.extent
        out = ["</sheetData>"]
        if self.merges:
            out.append(f'<mergeCells count="{len(self.merges)}">')
            out.extend(f'<mergeCell ref="{m}"/>' for m in self.merges)
            out.append("</mergeCells>")
        priority = 0
        for ref, rules in self.conditional:
            out.append(f'<conditionalFormatting sqref="{ref}">')
            for formula, dxf in rules:
                priority += 1
                out.append(
                    f'<cfRule type="cellIs" dxfId="{dxf}" priority="{priority}" '
                    f'operator="equal"><formula>{escape(formula)}</formula></cfRule>'
                )
            out.append("</conditionalFormatting>")
        out.append(
            '<printOptions horizontalCentered="1"/>'
            '<pageMargins left="0.4" right="0.4" top="0.5" bottom="0.5" header="0.3" '
            'footer="0.3"/>'
            '<pageSetup paperSize="9" orientation="landscape" fitToWidth="1" fitToHeight="0"/>'
            '<headerFooter><oddFooter>&amp;C&amp;"Times New Roman,Regular"Trang &amp;P / '
            "&amp;N</oddFooter></headerFooter>"
            # codes such as "14755" are text: no "number stored as text" marks
            f'<ignoredErrors><ignoredError sqref="A1:{col_letter(last_col)}{last_row}" '
            'numberStoredAsText="1"/></ignoredErrors>'
        )
        if self.drawing:
            out.append('<drawing r:id="rIdDrawing"/>')
        if self.tables:
            out.append(f'<tableParts count="{len(self.tables)}">')
            out.extend(f'<tablePart r:id="rIdTable{i}"/>' for i in range(1, len(self.tables) + 1))
            out.append("</tableParts>")
        out.append("</worksheet>")
        return "".join(out)

    def rels(self) -> str | None:
        items = [_rel(f"rIdTable{i}", "table", f"/{t.part}") for i, t in enumerate(self.tables, 1)]
        if self.drawing:
            items.append(_rel("rIdDrawing", "drawing", f"/{self.drawing}"))
        return _rels(items) if items else None


def _rel(rid: str, kind: str, target: str) -> str:
    return f'<Relationship Id="{rid}" Type="{_NS_REL}/{kind}" Target="{target}"/>'


def _rels(items: Iterable[str]) -> str:
    return f'{_XML_DECL}<Relationships xmlns="{_NS_PKG_REL}">{"".join(items)}</Relationships>'


def _table_xml(t: _Table) -> str:
    cols = "".join(
        f'<tableColumn id="{i}" name="{escape(h, _ATTR)}"/>' for i, h in enumerate(t.headers, 1)
    )
    return (
        f'{_XML_DECL}<table xmlns="{_NS_MAIN}" id="{t.id}" name="{t.name}" '
        f'displayName="{t.name}" ref="{t.ref}" headerRowCount="1">'
        f'<autoFilter ref="{t.ref}"/><tableColumns count="{len(t.headers)}">{cols}'
        '</tableColumns><tableStyleInfo name="TableStyleLight1" showFirstColumn="0" '
        'showLastColumn="0" showRowStripes="1" showColumnStripes="0"/></table>'
    )


def _quote_formula(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def _quote_sheet(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


class _Book:
    """The workbook: sheets, stylesheet, theme, document properties and the chart."""

    def __init__(self, c: Consolidation):
        self.c = c
        self.plan: Plan = c.plan
        self.styles = _Styles()
        self.sheets: list[_Sheet] = []
        self.titles: set[str] = set()
        self.table_names: set[str] = set()
        self.today = dt.date.today()
        self.place = ""
        self.title = _clean(f"Tổng hợp thi đua – {c.plan.name}")[:250]
        self.created = _utc_now()
        self.chart: _Chart | None = None

    def sheet(self, title: str) -> _Sheet:
        sheet = _Sheet(self, _unique_title(title, self.titles))
        self.sheets.append(sheet)
        return sheet

    def add_chart(self, sheet: _Sheet, chart: _Chart) -> None:
        """The overview's bar chart, drawn on ``sheet`` (one chart per workbook)."""
        sheet.drawing = "xl/drawings/drawing1.xml"
        chart.sheet = sheet.title
        self.chart = chart

    def save(self, path: Path) -> Path:
        self.styles.register_all()
        cells = sum(p.count * len(p.styles) for s in self.sheets for p in s.pieces)
        tables = 0
        for i, sheet in enumerate(self.sheets, 1):
            sheet.part = f"xl/worksheets/sheet{i}.xml"
            for t in sheet.tables:
                tables += 1
                t.id, t.part = tables, f"xl/tables/table{tables}.xml"

        def write(handle: IO[bytes]) -> None:
            sst = _SharedStrings()
            shared: dict[tuple[str, ...], _Cells] = {}

            def cells_of(keys: Sequence[str]) -> _Cells:
                # one per column layout: a province's sheet starts with the cells the
                # previous province's rendered
                k = tuple(keys)
                hit = shared.get(k)
                if hit is None:
                    hit = shared[k] = _Cells(k, self.styles, sst)
                return hit

            # level 1-2 cost the same here and 2 is ~13 % smaller; on a national tally
            # (180 MB of XML) compression runs beside the row generation (_Zip's thread)
            big = cells > THREADED_CELLS
            with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED, compresslevel=2 if big else 6
                                 ) as z, _Zip(z, threaded=big) as out:  # fmt: skip
                zip64 = cells * 60 > 1_800_000_000
                out.put("[Content_Types].xml", self._content_types())
                out.put("_rels/.rels", _ROOT_RELS)
                for name, data in self._frame_parts():
                    out.put(name, data)
                out.put("xl/workbook.xml", self._workbook_xml())
                out.put("xl/_rels/workbook.xml.rels", self._workbook_rels())
                for i, sheet in enumerate(self.sheets):
                    out.stream(sheet.part, self._sheet_chunks(sheet, i == 0, cells_of), zip64)
                    rels = sheet.rels()
                    if rels:
                        folder, name = sheet.part.rsplit("/", 1)
                        out.put(f"{folder}/_rels/{name}.rels", rels)
                    for t in sheet.tables:
                        out.put(t.part, _table_xml(t))
                out.stream("xl/sharedStrings.xml", sst.chunks(), True)

        return atomic_write(path, write)

    def _frame_parts(self) -> list[tuple[str, str | bytes]]:
        """Document properties, theme, the chart and the stylesheet, as openpyxl writes them."""
        parts: list[tuple[str, str | bytes]] = [
            ("docProps/app.xml", _APP_XML),
            ("docProps/core.xml", _core_xml(self.title, self.created, _utc_now())),
            ("xl/theme/theme1.xml", zlib.decompress(base64.b64decode("".join(_THEME)))),
        ]
        if self.chart is not None:
            parts += [
                ("xl/drawings/drawing1.xml", self.chart.drawing_xml()),
                ("xl/drawings/_rels/drawing1.xml.rels", _DRAWING_RELS),
                ("xl/charts/chart1.xml", self.chart.xml()),
            ]
        parts.append(("xl/styles.xml", self.styles.xml()))
        return parts

    def _sheet_chunks(
        self, sheet: _Sheet, selected: bool, cells_of: Callable[[Sequence[str]], _Cells]
    ) -> Iterator[str]:
        yield sheet.xml_head(selected)
        for piece in sorted(sheet.pieces, key=lambda p: p.first_row):
            yield from _piece_xml(piece, cells_of)
        yield sheet.xml_tail()

    def _content_types(self) -> str:
        kinds = "application/vnd.openxmlformats-officedocument"
        parts = [
            ("/xl/workbook.xml", f"{kinds}.spreadsheetml.sheet.main+xml"),
            ("/xl/styles.xml", f"{kinds}.spreadsheetml.styles+xml"),
            ("/xl/theme/theme1.xml", f"{kinds}.theme+xml"),
            ("/xl/sharedStrings.xml", f"{kinds}.spreadsheetml.sharedStrings+xml"),
            ("/docProps/core.xml", "application/vnd.openxmlformats-package.core-properties+xml"),
            ("/docProps/app.xml", f"{kinds}.extended-properties+xml"),
        ]
        for sheet in self.sheets:
            parts.append((f"/{sheet.part}", f"{kinds}.spreadsheetml.worksheet+xml"))
            parts += [(f"/{t.part}", f"{kinds}.spreadsheetml.table+xml") for t in sheet.tables]
            if sheet.drawing:
                parts.append((f"/{sheet.drawing}", f"{kinds}.drawing+xml"))
                parts.append(("/xl/charts/chart1.xml", f"{kinds}.drawingml.chart+xml"))
        overrides = "".join(f'<Override PartName="{p}" ContentType="{t}"/>' for p, t in parts)
        return (
            f'{_XML_DECL}<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
            f'ContentType="application/xml"/>{overrides}</Types>'
        )

    def _workbook_xml(self) -> str:
        sheets = "".join(
            f'<sheet name="{escape(s.title, _ATTR)}" sheetId="{i}" r:id="rId{i}"/>'
            for i, s in enumerate(self.sheets, 1)
        )
        names = "".join(
            f'<definedName name="_xlnm.Print_Titles" localSheetId="{i}">'
            f"{escape(_quote_sheet(s.title))}!${s.print_title}:${s.print_title}</definedName>"
            for i, s in enumerate(self.sheets)
            if s.print_title
        )
        return (
            f'{_XML_DECL}<workbook xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}"><workbookPr/>'
            '<bookViews><workbookView activeTab="0"/></bookViews>'
            f"<sheets>{sheets}</sheets>"
            f"{f'<definedNames>{names}</definedNames>' if names else ''}"
            '<calcPr calcId="124519" fullCalcOnLoad="1"/></workbook>'
        )

    def _workbook_rels(self) -> str:
        items = [_rel(f"rId{i}", "worksheet", f"/{s.part}") for i, s in enumerate(self.sheets, 1)]
        items += [
            _rel("rIdStyles", "styles", "styles.xml"),
            _rel("rIdTheme", "theme", "theme/theme1.xml"),
            _rel("rIdStrings", "sharedStrings", "sharedStrings.xml"),
        ]
        return _rels(items)


_XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_ATTR = {'"': "&quot;"}
_ROOT_RELS = _rels(
    [
        _rel("rId1", "officeDocument", "xl/workbook.xml"),
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/'
        'relationships/metadata/core-properties" Target="docProps/core.xml"/>',
        _rel("rId3", "extended-properties", "docProps/app.xml"),
    ]
)


@dataclass
class _Chart:
    """The overview's bar chart: share of targets met, one bar per unit of its table.

    Written as openpyxl writes a ``BarChart`` (type "bar", style 10, gap 60, no legend, the
    value axis 0–100 %, categories top down) anchored at column G beside the table (a test
    compares with openpyxl's own output).
    """

    header: int  # the unit table's header row: the series title ("Tỷ lệ đạt", column E)
    last: int  # its last data row
    height: float  # cm
    width: float = 16  # cm
    sheet: str = ""

    def xml(self) -> str:
        where = escape(_quote_sheet(self.sheet))
        first, last = self.header + 1, self.last

        def cells(col: str) -> str:
            if first == last:
                return f"{where}!${col}${first}"
            return f"{where}!${col}${first}:${col}${last}"

        return (
            '<chartSpace xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
            'xmlns="http://schemas.openxmlformats.org/drawingml/2006/chart"><style val="10" />'
            '<chart><plotArea><barChart><barDir val="bar" /><grouping val="clustered" /><ser>'
            '<idx val="0" /><order val="0" /><tx><strRef>'
            f"<f>{where}!E{self.header}</f></strRef></tx><spPr><a:ln>"
            '<a:prstDash val="solid" /></a:ln></spPr><cat><numRef>'
            f"<f>{cells('B')}</f></numRef></cat><val><numRef><f>{cells('E')}</f></numRef>"
            '</val></ser><gapWidth val="60" /><axId val="10" /><axId val="100" /></barChart>'
            '<catAx><axId val="10" /><scaling><orientation val="maxMin" /></scaling>'
            '<delete val="0" /><axPos val="l" /><majorTickMark val="none" />'
            '<minorTickMark val="none" /><crossAx val="100" /><lblOffset val="100" /></catAx>'
            '<valAx><axId val="100" /><scaling><orientation val="minMax" /><max val="1" />'
            '<min val="0" /></scaling><delete val="0" /><axPos val="l" /><majorGridlines />'
            "<title><tx><rich><a:bodyPr /><a:p><a:pPr><a:defRPr /></a:pPr><a:r>"
            "<a:t>Tỷ lệ chỉ tiêu đạt</a:t></a:r></a:p></rich></tx></title>"
            '<numFmt formatCode="0%" sourceLinked="0" /><majorTickMark val="none" />'
            '<minorTickMark val="none" /><crossAx val="10" /></valAx></plotArea>'
            '<plotVisOnly val="1" /><dispBlanksAs val="gap" /></chart></chartSpace>'
        )

    def drawing_xml(self) -> str:
        # one-cell anchor at G(header - 1), 0-based; the size in EMU (360,000 a centimetre)
        return (
            '<wsDr xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
            'xmlns:c="http://schemas.openxmlformats.org/drawingml/2006/chart" '
            f'xmlns:r="{_NS_REL}" '
            'xmlns="http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing">'
            f"<oneCellAnchor><from><col>6</col><colOff>0</colOff><row>{self.header - 2}</row>"
            f'<rowOff>0</rowOff></from><ext cx="{int(self.width * 360000)}" '
            f'cy="{int(self.height * 360000)}" /><graphicFrame><nvGraphicFramePr>'
            '<cNvPr id="1" name="Chart 1" /><cNvGraphicFramePr /></nvGraphicFramePr><xfrm />'
            '<a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/'
            'chart"><c:chart r:id="rId1" /></a:graphicData></a:graphic></graphicFrame>'
            "<clientData /></oneCellAnchor></wsDr>"
        )


_DRAWING_RELS = (
    f'<Relationships xmlns="{_NS_PKG_REL}"><Relationship Type="{_NS_REL}/chart" '
    'Target="/xl/charts/chart1.xml" Id="rId1" /></Relationships>'
)
_APP_XML = (
    '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
    'extended-properties"><Application>Microsoft Excel Compatible / Openpyxl 3.1.5'
    "</Application><AppVersion>3.1</AppVersion></Properties>"
)


def _core_xml(title: str, created: dt.datetime, modified: dt.datetime) -> str:
    """``docProps/core.xml``: creator "thidua", the title, when made (UTC, to the second)."""
    when = "%Y-%m-%dT%H:%M:%SZ"
    return (
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
        'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:creator>thidua</dc:creator>'
        f"<dc:title>{escape(title)}</dc:title>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{created:{when}}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{modified:{when}}</dcterms:modified>'
        "</cp:coreProperties>"
    )


def _utc_now() -> dt.datetime:
    return dt.datetime.now(tz=dt.UTC).replace(tzinfo=None)


class _Zip:
    """Writes members into a zip file, optionally on a second thread.

    ``threaded``: compression (zlib releases the GIL) and the file writes run on a worker
    thread while this one produces the next chunks, so a big tally costs about its XML
    generation alone. Chunks wait in a short queue: memory stays flat. Where threads are
    unavailable (a browser's Python), it writes in line.
    """

    _QUEUE = 8
    #: Characters a message: each message wakes the thread and each write hands the GIL
    #: back and forth three times (crc32, deflate, file): few big writes cost less
    _MESSAGE = 1 << 20

    def __init__(self, z: zipfile.ZipFile, threaded: bool):
        self.z = z
        self.queue: queue.Queue | None = None
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None
        self.switch: float | None = None
        if threaded:
            self.queue = queue.Queue(self._QUEUE)
            self.thread = threading.Thread(target=self._work, name="tally-zip", daemon=True)
            try:
                self.thread.start()
            except RuntimeError:  # no threads here: write in line
                self.queue = self.thread = None
            else:
                # Back from each deflate, the thread waits for the GIL while this one
                # generates XML: at the default 5 ms a turn it fell behind (0.6 s of a
                # 2.9 s national tally). Restored when the writing ends.
                self.switch = sys.getswitchinterval()
                sys.setswitchinterval(min(self.switch, 0.001))

    def __enter__(self) -> _Zip:
        return self

    def __exit__(self, kind, exc, tb) -> None:
        if self.thread is not None:
            self.queue.put(None)
            self.thread.join()
            if self.switch is not None:
                sys.setswitchinterval(self.switch)
            if self.error is not None and exc is None:
                raise self.error

    def put(self, name: str, data: str | bytes) -> None:
        self.stream(name, [data], False)

    def stream(self, name: str, chunks: Iterable[str | bytes], zip64: bool) -> None:
        if self.queue is None:
            with self.z.open(name, "w", force_zip64=zip64) as f:
                for chunk in chunks:
                    f.write(chunk.encode("utf-8") if isinstance(chunk, str) else chunk)
            return
        put = self.queue.put
        put(("open", name, zip64))
        pending: list[str] = []
        size = 0
        for chunk in chunks:
            if self.error is not None:
                raise self.error
            pending.append(chunk)
            size += len(chunk)
            if size >= self._MESSAGE:
                put(("data", pending))
                pending, size = [], 0
        if pending:
            put(("data", pending))
        put(("close",))

    def _work(self) -> None:
        f = None
        while True:
            item = self.queue.get()
            if item is None:
                break
            if self.error is not None:
                continue  # drain: the producer must never block on a full queue
            try:
                if item[0] == "data":
                    f.write(
                        b"".join(c.encode("utf-8") if isinstance(c, str) else c for c in item[1])
                    )
                elif item[0] == "open":
                    f = self.z.open(item[1], "w", force_zip64=item[2])
                else:
                    f.close()
                    f = None
            except BaseException as e:  # handed to the producer
                self.error = e
        if f is not None:
            with contextlib.suppress(Exception):
                f.close()


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


@dataclass(frozen=True, slots=True)
class _Context:
    phase: str  # the phase's label
    indicator: Indicator | None
    name: str  # the indicator's
    first: str | None  # component in "Tử số / Kỳ này / Số lượng"
    second: str | None  # component in "Mẫu số / Cùng kỳ"
    style: str  # of the value
    target: str  # in words
    interim: str | None  # "Có" when the phase is interim


_FIRST = {"ratio": "numerator", "reduction": "current", "count": "count",
          "minimum": "count", "yes_no": "done"}  # fmt: skip
_SECOND = {"ratio": "denominator", "reduction": "baseline"}
_MISSED = STATUS_LABELS["missed"]


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
        self._contexts: dict[tuple, _Context] = {}
        self._gaps: dict[tuple, str] = {}
        self._parents: dict[tuple[str, str], str] = {}
        self._stats: dict[str, dict[str, _Stat]] = {}

    def stats(self, phase: str) -> dict[str, _Stat]:
        """:func:`_unit_stats` of ``phase``, computed once (the overview and the ranking)."""
        hit = self._stats.get(phase)
        if hit is None:
            hit = self._stats[phase] = _unit_stats(self.c, phase)
        return hit

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

    def context(self, r: Result) -> _Context:
        """What the rows of one phase, indicator, level and target share."""
        key = (r.phase, r.indicator, r.level, r.kind, id(r.target))
        ctx = self._contexts.get(key)
        if ctx is None:
            ind = self.inds.get(r.indicator)
            ctx = self._contexts[key] = _Context(
                phase=self.phase_labels.get(r.phase, r.phase),
                indicator=ind,
                name=ind.name if ind else r.indicator,
                first=_FIRST.get(r.kind),
                second=_SECOND.get(r.kind),
                style=self.value_style(r, ind),
                target=self.target_words(r, ind),
                interim="Có" if self.interim.get(r.phase) else None,
            )
        return ctx

    def result_row(self, r: Result) -> list[Any]:
        """One result as a row of the top unit's, a district's or a province's table.

        Numbers go as they are (cells render whole floats as integers). The "Cấp xã" rows:
        :meth:`commune_fragments`.
        """
        ctx = self.context(r)
        comps = r.components
        label, gap, note = self.assessment(r, ctx)
        value = r.value
        return [
            ctx.phase,
            r.unit,
            r.name or r.unit,
            r.indicator,
            ctx.name,
            comps.get(ctx.first) if ctx.first else None,
            comps.get(ctx.second) if ctx.second else None,
            comps.get("units_meeting"),
            comps.get("units_reported"),
            (ctx.style, value) if value is not None else None,
            ctx.target,
            label,
            gap,
            note,
            f"{r.reported}/{r.expected}",
            "Có" if r.interim else ctx.interim,
        ]

    def assessment(self, r: Result, ctx: _Context) -> tuple[str, str | None, str | None]:
        """(the status word, what is missing, note) of a result."""
        status = r.status
        note = r.note
        if status == "missed":
            if note:
                return _MISSED, note, None
            return _MISSED, self.gap_words(r.gap, ctx.indicator) if r.gap else None, None
        if status == "not_applicable" and note == NOT_OCCURRED:
            return NOT_OCCURRED, None, None
        return STATUS_LABELS.get(status, status), None, note

    def commune_fragments(self, cells: _Cells, results: Iterable[Result]) -> Iterator[list[str]]:
        """The rows of the "Cấp xã" table, as cell fragments: a result's row of
        :meth:`result_row` with the commune's district ("Cấp trên") after its name, without
        the share of communes, and the file its figures came from ("Nguồn") last.

        The "Cấp xã" table holds every commune's every figure (180,000 rows nationally), a
        commune's figures one after another: what the rows of one indicator (in a phase,
        against a target) or of one commune share is rendered once.
        """
        (phase_, code_, name_, parent_, ind_, ind_name_, first_, second_, value_, target_,
         status_, gap_, note_, reported_, interim_, source_) = cells.columns  # fmt: skip
        row_, row_rest = cells.opening()
        yes, blank_gap, blank_note = interim_["Có"], gap_[None], note_[None]
        blank_value = value_[None]
        missed, not_occurred = status_[_MISSED], status_[NOT_OCCURRED]
        statuses = {k: status_[v] for k, v in STATUS_LABELS.items()}
        by_indicator: dict[str, tuple] = {}
        unit = phase = sources = None
        u: tuple[str, str, str] = ("", "", "")
        source = ""
        for r in results:
            k = by_indicator.get(r.indicator)
            if k is None or k[0] != r.phase or (k[1] is not r.target and k[1] != r.target):
                ctx = self.context(r)
                k = by_indicator[r.indicator] = (
                    r.phase, r.target, phase_[ctx.phase], ind_[r.indicator],
                    ind_name_[ctx.name], target_[ctx.target], interim_[ctx.interim],
                    ctx.first, ctx.second, ctx.style, ctx,
                )  # fmt: skip
            if r.unit != unit or r.phase != phase:
                unit, phase, sources = r.unit, r.phase, r.sources
                u = (code_[unit], name_[r.name or unit], parent_[self.parent_name(r)])
                source = source_[self.source_of(r)]
            elif r.sources != sources:  # e.g. an all-of figure: no file of its own
                sources = r.sources
                source = source_[self.source_of(r)]
            status = r.status
            if status == "missed":
                s, n = missed, blank_note
                g = gap_[r.note or (self.gap_words(r.gap, k[10].indicator) if r.gap else None)]
            elif status == "not_applicable" and r.note == NOT_OCCURRED:
                s, g, n = not_occurred, blank_gap, blank_note
            else:
                s = statuses.get(status) or status_[status]
                g, n = blank_gap, note_[r.note]
            comps = r.components  # .get(None): None, a blank cell
            value = r.value
            yield [
                row_, row_rest, k[2], u[0], u[1], u[2], k[3], k[4],
                first_[comps.get(k[7])], second_[comps.get(k[8])],
                value_[(k[9], value)] if value is not None else blank_value,
                k[5], s, g, n, reported_[f"{r.reported}/{r.expected}"],
                yes if r.interim else k[6], source,
            ]  # fmt: skip

    def gap_words(self, gap: float, ind: Indicator | None) -> str:
        key = (gap, ind.unit if ind else "")
        hit = self._gaps.get(key)
        if hit is None:
            hit = self._gaps[key] = f"còn thiếu {format_vn(gap, 2, trim=True)} {key[1]}".strip()
        return hit

    def parent_name(self, r: Result) -> str | None:
        if r.parent is None:
            return None
        key = (r.phase, r.parent)
        hit = self._parents.get(key)
        if hit is None:
            tree = self.trees.get(r.phase)
            u = tree.units.get(r.parent) if tree is not None else None
            hit = self._parents[key] = u.name if u is not None else r.parent
        return hit

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
    name = os.path.basename(path) or path
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


# --- the workbook ---------------------------------------------------------------------


def write_tally(c: Consolidation, path: str | os.PathLike) -> Path:
    """Write the tally workbook of ``c`` to ``path`` atomically; return the path.

    Raises ``workbooks.save.FileLockedError`` (a ``ThiduaError`` with a Vietnamese message)
    when the target is open in Excel; the previous file is then left as it was.
    """
    # The writer makes millions of short-lived strings and lists and no garbage cycles
    # worth collecting; with a national consolidation in memory each full collection
    # walks millions of objects (about a fifth of the writer's time). Paused, not disabled
    # for good: a caller's setting is restored.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _write_tally(c, Path(path))
    finally:
        if enabled:
            gc.enable()


def _write_tally(c: Consolidation, path: Path) -> Path:
    book = _Book(c)
    overview = phase_overview(c)
    rows = _Rows(c, overview)
    order = rows.order
    top_tree = phase_tree_of(c, order[-1]) if order else phase_tree_of(c, c.plan.phases[-1].code)
    roots = top_tree.roots()
    top_unit = top_tree.units[roots[0]] if roots else None
    national = is_national(top_tree)
    if national:
        top_title, top_name = "Cấp tỉnh", NATIONAL_NAME
        book.place = "……"
    else:
        top_title = top_level_name(top_unit.level, top_unit.name) if top_unit else "Toàn tỉnh"
        top_name = top_unit.name if top_unit else ""
        book.place = short_name(top_name) if top_name else "……"
    campaign = _clean(c.plan.name)
    span = f"Từ {c.plan.start:%d/%m/%Y} đến {c.plan.end:%d/%m/%Y}"

    top, units = _unit_results(c, rows, national)
    guide: list[tuple[str, str]] = []
    _overview_sheet(book, c, rows, overview, campaign, span, top_name, national, bool(units),
                    guide)  # fmt: skip
    first = len(book.sheets)
    if national:
        _results_sheet(book, rows, top_title, "CapTinh", top_name, top, campaign, span,
                       title="KẾT QUẢ THỰC HIỆN CHỈ TIÊU THI ĐUA CẤP TỈNH",
                       note=_NATIONAL_NOTE)  # fmt: skip
    else:
        _results_sheet(book, rows, top_title, "ToanDonVi", top_name, top, campaign, span)
    guide.append((_span_titles(book.sheets[first:]), _guide_top(top_name, national)))
    first = len(book.sheets)
    for code, (name, own, below) in units.items():
        prefix = "Tinh" if national else "Huyen"
        table = _unique_table_name(f"{prefix}_{_table_id(code)}", book.table_names)
        results = own + below if below else own
        if national:
            _results_sheet(book, rows, name, table, name, results, campaign, span,
                           note=_PROVINCE_NOTE, grouped_after=len(own))  # fmt: skip
        else:
            _results_sheet(book, rows, name, table, name, results, campaign, span)
    if len(book.sheets) > first:
        guide.append(_guide_units(book.sheets[first:], national))
    first = len(book.sheets)
    _commune_sheets(book, c, rows, campaign, span, top_name)
    guide.append((_span_titles(book.sheets[first:]), _GUIDE["commune"]))
    for write, key in (
        (_missed_sheet, "missed"),
        (_ranking_sheet, "ranking"),
        (_missing_sheet, "missing"),
        (_changes_sheet, "changes"),
        (_findings_sheet, "findings"),
        (_sources_sheet, "sources"),
    ):
        write(book, c, rows, campaign, span, top_name)
        guide.append((_span_titles(book.sheets[-1:]), _GUIDE[key]))
    return book.save(path)


#: The top unit's name on a national tally: several provinces, each judged on its own.
NATIONAL_NAME = "Toàn quốc"


def is_national(tree: Tree) -> bool:
    """Several provinces with districts below: one sheet per province, not per district."""
    provinces = districts = 0
    for u in tree.units.values():
        if u.level == "province":
            provinces += 1
        elif u.level == "district":
            districts += 1
    return provinces > 1 and districts > 0


_RATE_NOTE = (
    "Tỷ lệ = tổng tử số / tổng mẫu số của các xã đã báo cáo (không lấy trung bình tỷ lệ). "
    "Báo cáo = số xã đã báo cáo / số xã phải báo cáo."
)
_NATIONAL_NOTE = (
    "Mỗi tỉnh được đánh giá riêng; từng huyện ở trang mang tên tỉnh, từng xã ở trang “Cấp xã”. "
    + _RATE_NOTE
)
_PROVINCE_NOTE = (
    "Trên: số liệu của tỉnh; dưới: từng huyện (nhóm dòng, bấm “−” / “+” bên trái để thu gọn / "
    "mở ra). " + _RATE_NOTE
)
_GUIDE = {
    "commune": "số liệu từng xã theo đợt và chỉ tiêu, kèm tệp lấy số liệu (lọc cột “Cấp trên” "
    "để xem các xã của một huyện)",
    "missed": "mọi chỉ tiêu chưa đạt ở mọi cấp, nghiêm trọng nhất trước",
    "ranking": "xếp hạng đơn vị trong từng cấp theo tỷ lệ chỉ tiêu đạt, giải thích khi bằng nhau",
    "missing": "các xã chưa có báo cáo được dùng, theo đợt",
    "changes": "số liệu thay đổi khi đơn vị gửi lại báo cáo, từng ô",
    "findings": "mọi lỗi và cảnh báo khi kiểm tra các tệp",
    "sources": "mọi tệp, thư, tệp đính kèm đã xem xét: được dùng, bị từ chối, bị thay thế",
}


def _guide_top(top_name: str, national: bool) -> str:
    if national:
        return "số liệu của từng tỉnh theo đợt và chỉ tiêu, để so sánh các tỉnh"
    return f"số liệu của {top_name or 'đơn vị tổng hợp'} theo đợt và chỉ tiêu"


def _guide_units(sheets: list[_Sheet], national: bool) -> tuple[str, str]:
    n = len(sheets)
    if national:
        text = (
            f"mỗi tỉnh một trang ({n} trang, mang tên tỉnh): số liệu của tỉnh, rồi của từng "
            "huyện trong tỉnh (nhóm dòng thu gọn được)"
        )
    else:
        text = f"mỗi huyện một trang ({n} trang, mang tên huyện): số liệu của huyện"
    return _span_titles(sheets), text


def _span_titles(sheets: list[_Sheet]) -> str:
    if len(sheets) == 1:
        return f"“{sheets[0].title}”"
    return f"“{sheets[0].title}” … “{sheets[-1].title}”"


def _unique_table_name(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate.casefold() in taken:
        n += 1
        candidate = f"{name}_{n}"
    taken.add(candidate.casefold())
    return candidate


def _table_id(code: str) -> str:
    return re.sub(r"[^0-9A-Za-z_]", "_", code)[:200]


def _unit_results(
    c: Consolidation, rows: _Rows, national: bool
) -> tuple[list[Result], dict[str, tuple[str, list[Result], list[Result]]]]:
    """The top units' results, and per unit sheet: (name, own results, results below).

    A province-scoped tally has a sheet per district (nothing below); a national one a sheet
    per province, with its districts' results below its own. In roster order, phases in
    plan order.
    """
    tops = {p: set(t.roots()) for p, t in rows.trees.items()}
    top: list[Result] = []
    districts: dict[str, tuple[str, list[Result]]] = {}
    parents: dict[str, str | None] = {}
    for r in c.evaluation.results:
        if r.phase in tops and r.unit in tops[r.phase]:
            top.append(r)
        elif r.level == "district":
            entry = districts.get(r.unit)
            if entry is None:
                entry = districts[r.unit] = (r.name or r.unit, [])
                parents[r.unit] = r.parent
            entry[1].append(r)
    phase_index = {p: i for i, p in enumerate(rows.order)}
    top.sort(key=lambda r: phase_index.get(r.phase, 99))
    for _name, results in districts.values():
        results.sort(key=lambda r: phase_index.get(r.phase, 99))
    if not national:
        return top, {code: (name, results, []) for code, (name, results) in districts.items()}
    provinces: dict[str, tuple[str, list[Result], list[Result]]] = {}
    for r in top:
        entry = provinces.get(r.unit)
        if entry is None:
            entry = provinces[r.unit] = (r.name or r.unit, [], [])
        entry[1].append(r)
    for code, (name, results) in districts.items():
        parent = parents[code]
        entry = provinces.get(parent) if parent else None
        if entry is None:  # a district whose province has no result of its own
            entry = provinces[parent or code] = (parent or name, [], [])
        entry[2].extend(results)
    return top, provinces


def _results_sheet(
    book: _Book,
    rows: _Rows,
    sheet_title: str,
    table: str,
    unit_name: str,
    results: list[Result],
    campaign: str,
    span: str,
    *,
    title: str | None = None,
    note: str | None = None,
    grouped_after: int | None = None,
) -> None:
    sheet = book.sheet(sheet_title)
    # a short, printed report: long texts wrap (the commune table does not: it is for filtering)
    wrapped = {"Nội dung chỉ tiêu", "Còn thiếu", "Ghi chú", "Chỉ tiêu"}
    cols = [
        _Col(c.header, c.width, "wrap_center" if c.style == "center" else "wrap")
        if c.header in wrapped
        else c
        for c in _RESULT_COLS_HEAD + _RESULT_COLS_MID + _SHARE_COLS + _RESULT_COLS_TAIL
    ]
    title = title or f"KẾT QUẢ THỰC HIỆN CHỈ TIÊU THI ĐUA – {unit_name.upper()}"
    sheet.header_block(len(cols), unit_name, title, [campaign, span])
    sheet.note(
        note
        or "Số liệu cộng từ các xã (trang “Cấp xã”, lọc theo cột “Cấp trên”); tệp gốc ở trang "
        "“Nguồn”. "
        + _RATE_NOTE
    )
    sheet.blank()
    sheet.table(
        table,
        cols,
        len(results),
        lambda: map(rows.result_row, results),
        status_cols=["Đánh giá"],
        grouped_after=grouped_after,
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
    stream: dict[str, Iterator[Result]] = {}

    def shared() -> Iterator[Result]:
        it = stream.get("it")
        if it is None:
            it = stream["it"] = (r for r in c.evaluation.results if r.level == "commune")
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
            lambda: (),
            status_cols=["Đánh giá"],
            render=lambda cells, n=n: rows.commune_fragments(cells, islice(shared(), n)),
        )


def _overview_sheet(
    book: _Book,
    c: Consolidation,
    rows: _Rows,
    overview: list[PhaseOverview],
    campaign: str,
    span: str,
    top_name: str,
    national: bool,
    unit_sheets: bool,
    guide: list[tuple[str, str]],
) -> None:
    """Per phase at a glance, what each sheet holds (``guide``, filled by the caller as the
    sheets are made), units' share of targets met as a table and a chart."""
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
        + (
            "Chỉ tiêu đạt / không đạt: cộng của các tỉnh, mỗi tỉnh được đánh giá riêng."
            if national
            else f"Chỉ tiêu đạt / không đạt tính cho {top_name or 'đơn vị tổng hợp'}."
        )
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
    if chart_phase is not None:
        tree = rows.trees[chart_phase]
        roots = set(tree.roots())
        districts = [
            u for code, u in tree.units.items() if u.level == "district" and code not in roots
        ]
        by = "tỉnh" if national else "huyện" if districts else "xã"
        this = (
            "trang này: theo từng đợt, số xã đã báo cáo và số chỉ tiêu đạt, không đạt; tỷ lệ "
            f"chỉ tiêu đạt theo {by} (bảng và biểu đồ)"
        )
    else:
        this = "trang này: theo từng đợt, số xã đã báo cáo và số chỉ tiêu đạt, không đạt"
    sheet.note("Các trang của bảng tổng hợp", "section")
    guide.append((_span_titles([sheet]), this))
    for i in range(9 + unit_sheets):  # this one, the top unit's, …, "Nguồn"
        sheet.note_later(lambda i=i: "• {}: {}".format(*guide[i]), "guide")
    sheet.blank()
    if chart_phase is None:
        return
    stats = rows.stats(chart_phase)
    phase_text = rows.phase_labels[chart_phase]
    if national:
        units = [tree.units[code] for code in tree.roots()]
        what = f"Tỷ lệ chỉ tiêu đạt theo tỉnh – {phase_text}"
    elif districts:
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
    # beside the unit table, so that the overview prints on one page
    book.add_chart(sheet, _Chart(header, last, max(7.5, min(3 + 0.5 * len(units), 40))))


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
    """Per unit: its targets met, missed, … in ``phase`` and Σ reported / Σ expected."""
    slots = {"met": 0, "missed": 1, "no_data": 2, "not_applicable": 3}
    counts: dict[str, list[int]] = {}
    for r in c.evaluation.results:
        if r.phase != phase:
            continue
        s = counts.get(r.unit)
        if s is None:
            s = counts[r.unit] = [0, 0, 0, 0, 0, 0]
        i = slots.get(r.status)
        if i is not None:
            s[i] += 1
        if r.kind != "all_of":
            s[4] += r.reported
            s[5] += r.expected
    return _DefaultStats({unit: _Stat(*s) for unit, s in counts.items()})


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

    def render(cells: _Cells) -> Iterator[list[str]]:
        # as cell fragments: 70,000 rows nationally (see _Rows.commune_fragments)
        (level_, phase_, code_, name_, parent_, ind_, ind_name_, value_, target_, gap_,
         short_, reported_, interim_) = cells.columns  # fmt: skip
        yes, blank_value = interim_["Có"], value_[None]
        openings = [cells.opening(lines) for lines in range(16)]  # _lines(): 15 at most
        by_level: dict[str, dict[str, tuple]] = {}
        units: dict[str, tuple] = {}
        gaps: dict[str | None, tuple[str, int]] = {None: (gap_[None], 1)}
        for r, s in missed:
            by_indicator = by_level.get(r.level)
            if by_indicator is None:
                by_indicator = by_level[r.level] = {}
            k = by_indicator.get(r.indicator)
            if k is None or k[0] != r.phase or (k[1] is not r.target and k[1] != r.target):
                ctx = rows.context(r)
                lines = max(_lines(ctx.name, 40), _lines(ctx.target, 16))
                k = by_indicator[r.indicator] = (
                    r.phase, r.target, level_[LEVEL_LABELS.get(r.level, r.level)],
                    phase_[ctx.phase], ind_[r.indicator], ind_name_[ctx.name],
                    target_[ctx.target], interim_[ctx.interim], ctx.style, lines, ctx,
                )  # fmt: skip
            u = units.get(r.unit)
            if u is None or u[0] != r.phase:
                u = units[r.unit] = (r.phase, code_[r.unit], name_[r.name or r.unit],
                                     parent_[rows.parent_name(r)])  # fmt: skip
            text = r.note or (rows.gap_words(r.gap, k[10].indicator) if r.gap else None)
            g = gaps.get(text)
            if g is None:
                g = gaps[text] = (gap_[text], _lines(text, 26))
            value = r.value
            o = openings[k[9] if k[9] > g[1] else g[1]]
            yield [
                o[0], o[1], k[2], k[3], u[1], u[2], u[3], k[4], k[5],
                value_[(k[8], value)] if value is not None else blank_value, k[6], g[0],
                short_[s], reported_[f"{r.reported}/{r.expected}"], yes if r.interim else k[7],
            ]  # fmt: skip

    sheet.table("ChuaDat", cols, len(missed), lambda: (), render=render)


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
    share_key: float | None = field(init=False)
    key: tuple = field(init=False)  # what ranks: equal keys, equal ranks

    def __post_init__(self) -> None:
        s = self.stat
        judged = s.met + s.missed
        # exact for ties: equal fractions divide to the same float, and distinct ones with
        # denominators below 10⁷ (targets judged) stay distinct floats
        self.share_key = share = s.met / judged if judged else None
        comp = (s.reported / s.expected if s.expected else None) or 0.0
        self.key = (share is None, -(share or 0), s.missed, -comp)


def ranking(c: Consolidation, stats: dict[str, _Stat] | None = None) -> list[_Ranked]:
    """Districts, then communes, ranked within their level over the whole campaign.

    Phase ``"all"`` when present, else the last phase. Order: share of targets met (met /
    judged) descending, then fewer missed, then higher completeness (Σ reported / Σ expected
    of the unit's figures); units with no judged target last. Equal on all three: same rank.
    Several top units (a national tally: the provinces) are ranked too, first. ``stats``:
    the units' figures in that phase when the caller has them (:func:`_unit_stats`).
    """
    order = phase_order(c)
    if not order:
        return []
    phase = order[-1]
    tree = phase_tree_of(c, phase)
    roots = tree.roots()
    skip = set(roots) if len(roots) == 1 else set()
    stats = stats if stats is not None else _unit_stats(c, phase)
    out: list[_Ranked] = []
    by_level: dict[str, list[_Ranked]] = {"province": [], "district": [], "commune": []}
    for code, u in tree.units.items():
        items = by_level.get(u.level)
        if items is None or code in skip:
            continue
        parent = tree.units.get(u.parent) if u.parent else None
        items.append(_Ranked(u.level, code, u.name, parent.name if parent else None, stats[code]))
    for items in by_level.values():
        items.sort(key=lambda x: (*x.key, x.name, x.code))
        prev_key, rank = None, 0
        for i, x in enumerate(items, start=1):
            k = x.key
            if k != prev_key:
                rank = i
                prev_key = k
            x.rank = rank
        _explain_ties(items)
        out.extend(items)
    return out


def _explain_ties(items: list[_Ranked]) -> None:
    groups: dict[float | None, list[_Ranked]] = {}
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
    book: _Book, c: Consolidation, rows: _Rows, campaign: str, span: str, top_name: str
) -> None:
    ranked = ranking(c, rows.stats(rows.order[-1]) if rows.order else None)
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
