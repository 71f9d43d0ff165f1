"""The tally's stylesheet, theme, document properties and chart are what openpyxl writes.

``workbooks.tally`` writes these parts itself so that ``thidua consolidate`` does not import
openpyxl (and numpy through it). Excel is not available to check hand-made XML, so the bar is
byte-for-byte equality with openpyxl's own output for the same formats and chart, built here
the way the writer built them before (an openpyxl frame workbook).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import subprocess
import sys
import zipfile

import pytest
from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.styles.differential import DifferentialStyle
from openpyxl.utils import get_column_letter

from workbooks import tally
from workbooks.layout import col_letter
from workbooks.tally import _STATUS_COLOURS, _STYLES, _Chart, _Styles

_THIN = Side(style="thin", color="000000")


def _openpyxl_frame(title: str, created: dt.datetime, chart: _Chart | None):
    """(members, style ids, dxf ids) of an openpyxl workbook carrying the tally's formats."""
    wb = Workbook()
    ws = wb.worksheets[0]
    dxfs = {}
    for font, fill in _STATUS_COLOURS.values():  # as the tables register them
        if (font, fill) not in dxfs:
            style = DifferentialStyle(
                font=Font(color=font),
                fill=PatternFill(fill_type="solid", start_color=fill, end_color=fill),
            )
            dxfs[(font, fill)] = wb._differential_styles.add(style)
    ids = {}
    for key, s in _STYLES.items():
        for quote in (False, True):
            cell = Cell(ws)
            cell.font = Font(name="Times New Roman", size=s.size, bold=s.bold, italic=s.italic,
                             underline="single" if s.underline else None)  # fmt: skip
            cell.alignment = Alignment(horizontal=s.h, vertical=s.v, wrap_text=s.wrap)
            if s.border:
                cell.border = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
            if s.fill:
                cell.fill = PatternFill(fill_type="solid", start_color=s.fill, end_color=s.fill)
            cell.number_format = s.fmt
            if quote:
                cell.quotePrefix = True
            ids[(key, quote)] = cell.style_id
    wb.properties.creator = "thidua"
    wb.properties.title = title
    wb.properties.created = created
    if chart is not None:
        ws.title = chart.sheet
        bar = BarChart()
        bar.type = "bar"
        bar.style = 10
        bar.title = None
        bar.gapWidth = 60
        bar.legend = None
        bar.y_axis.title = "Tỷ lệ chỉ tiêu đạt"
        bar.y_axis.number_format = "0%"
        bar.y_axis.scaling.min = 0
        bar.y_axis.scaling.max = 1
        bar.x_axis.scaling.orientation = "maxMin"
        bar.x_axis.delete = False
        bar.y_axis.delete = False
        data = Reference(ws, min_col=5, min_row=chart.header, max_row=chart.last)
        cats = Reference(ws, min_col=2, min_row=chart.header + 1, max_row=chart.last)
        bar.add_data(data, titles_from_data=True)
        bar.set_categories(cats)
        bar.width = chart.width
        bar.height = chart.height
        ws.add_chart(bar, f"G{chart.header - 1}")
    buf = io.BytesIO()
    wb.save(buf)
    with zipfile.ZipFile(buf) as z:
        members = {n: z.read(n) for n in z.namelist()}
    return members, ids, dxfs


def _ours() -> _Styles:
    styles = _Styles()
    for font, fill in _STATUS_COLOURS.values():
        styles.dxf(font, fill)
    styles.register_all()
    return styles


def test_stylesheet_and_style_ids_are_openpyxls():
    members, ids, dxfs = _openpyxl_frame("x", dt.datetime(2025, 1, 2), None)
    styles = _ours()
    assert styles.xml().encode() == members["xl/styles.xml"]
    assert {k: styles.id(*k) for k in ids} == ids
    assert {k: styles.dxf(*k) for k in dxfs} == dxfs


def test_theme_app_and_core_properties_are_openpyxls():
    created = dt.datetime(2025, 8, 19, 7, 30, 5)
    title = tally._clean("Tổng hợp thi đua – Kế hoạch <số 1> & “đặc biệt”")
    members, _, _ = _openpyxl_frame(title, created, None)
    book = tally._Book.__new__(tally._Book)
    book.title, book.created, book.chart = title, created, None
    book.styles = _ours()
    ours = dict(book._frame_parts())
    modified = re.search(rb">([^<]+)</dcterms:modified>", members["docProps/core.xml"])[1]
    ours["docProps/core.xml"] = tally._core_xml(
        title, created, dt.datetime.strptime(modified.decode(), "%Y-%m-%dT%H:%M:%SZ")
    )
    for name, data in ours.items():
        assert (data.encode() if isinstance(data, str) else data) == members[name], name


@pytest.mark.parametrize("units", [1, 2, 12, 63, 200])
def test_chart_and_drawing_are_openpyxls(units):
    header = 26
    height = max(7.5, min(3 + 0.5 * units, 40))
    chart = _Chart(header, header + units, height, sheet="Tổng quan")
    members, _, _ = _openpyxl_frame("x", dt.datetime(2025, 1, 2), chart)
    assert chart.xml().encode() == members["xl/charts/chart1.xml"]
    assert chart.drawing_xml().encode() == members["xl/drawings/drawing1.xml"]
    assert tally._DRAWING_RELS.encode() == members["xl/drawings/_rels/drawing1.xml.rels"]


def test_column_letters():
    """The tally names columns with ``layout.col_letter``: openpyxl's letters, every one."""
    for n in (1, 2, 25, 26, 27, 52, 53, 702, 703, 16384):
        assert col_letter(n) == get_column_letter(n)


def test_writing_a_tally_does_not_import_openpyxl():
    code = (
        "import sys, workbooks.tally, workbooks.summary\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'openpyxl', 'numpy'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
