"""Fuzzing the reader: mutated real reports come back as a read or as findings, never raise.

The base is the project's own filled template (``tests/hostile.py``). Two mutations, each
with a bounded number of hypothesis examples:

- **bytes** of the XML parts inside the zip (flip, delete, insert, duplicate, truncate, a
  cell moved far away, a number that is not one, a DOCTYPE), re-zipped;
- **cell values and types** set through openpyxl in the cells the reader reads (numbers,
  text typed the Vietnamese way, dates, booleans, formulas, error values, odd Unicode).

``read_workbook`` runs in this process, unisolated: an exception, a hang or a crash here is
a reader bug. Every read must satisfy :func:`assert_sound`; an input cell changed through
openpyxl must be read as the number written or come with a finding on its row.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
import unicodedata
import zipfile

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logic.findings import CATALOG
from tests import hostile
from workbooks.layout import report_layout
from workbooks.reader import WorkbookRead, read_workbook

NAME = "bao-cao.xlsx"
UNIT = hostile.UNITS["valid_a"]
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Bounded for the suite: bytes ~15 ms an example, openpyxl edits ~120 ms (load and save).
BYTES_FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CELLS_FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def plan_roster():
    return hostile.plan_and_roster()


@pytest.fixture(scope="module")
def base() -> bytes:
    """Phường Hàm Rồng's filled phase-1 report, as the template writer wrote it."""
    return hostile.report_bytes(UNIT)


@pytest.fixture(scope="module")
def parts(base) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(base)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


@pytest.fixture(scope="module")
def layout(plan_roster):
    plan, roster = plan_roster
    tree = roster.scoped_tree(plan.phase(hostile.PHASE).end, plan.scope)
    return report_layout(plan, hostile.PHASE, tree.unit(UNIT))


def read(data: bytes, plan_roster) -> WorkbookRead:
    plan, roster = plan_roster
    return read_workbook(data, name=NAME, plan=plan, roster=roster)


def assert_sound(result: WorkbookRead, plan) -> None:
    """What every read must satisfy, whatever the bytes were."""
    assert isinstance(result, WorkbookRead)
    everything = result.findings + [f for s in result.sheets for f in s.findings]
    for f in everything:
        assert f.code in CATALOG and f.severity in ("error", "warning"), f
        assert f.path == NAME, f
        assert f.message and not CONTROL.search(f.message), f.message
    if any(f.severity == "error" for f in result.findings):
        assert result.sheets == [], "a refused file gave reports"
    phases = {p.code for p in plan.phases}
    for s in result.sheets:
        assert s.phase is None or s.phase in phases
        for comps in s.values.values():
            for v in comps.values():
                assert v is None or (isinstance(v, float) and math.isfinite(v)), v
        for (ind, comp), cell in s.cells.items():
            assert re.fullmatch(r"[A-Z]{1,3}[0-9]{1,7}", cell), (ind, comp, cell)


# --- 1. bytes of the XML parts --------------------------------------------------------------

# The parts worth mutating, most read first; the hidden plan sheet is large but unread here.
PARTS = [
    "xl/worksheets/sheet1.xml",
    "xl/workbook.xml",
    "xl/_rels/workbook.xml.rels",
    "xl/styles.xml",
    "[Content_Types].xml",
    "_rels/.rels",
    "xl/worksheets/sheet2.xml",
]
SNIPPETS = [
    b"<",
    b">",
    b"&",
    b'"',
    b"&amp;",
    b"&#0;",
    b"&#x1F;",
    b"\x00",
    b"\xff\xfe",
    b"\xc3",  # half a UTF-8 character
    b"<!DOCTYPE x>",
    b'<c r="XFD1048576"><v>1</v></c>',
    b'<c r="A1" t="s"><v>99999</v></c>',
    b'<c r="F19" t="e"><v>#DIV/0!</v></c>',
    b'<c r="F19"><f>1/0</f></c>',
    b"<v>NaN</v>",
    b"<v>1e999</v>",
    b"<row>",
    b"</sheetData>",
    b'<sheet name="X" sheetId="9" r:id="rId99"/>',
]
mutation = st.one_of(
    st.tuples(st.just("flip"), st.floats(0, 1), st.integers(0, 255)),
    st.tuples(st.just("delete"), st.floats(0, 1), st.integers(1, 400)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.sampled_from(SNIPPETS)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("duplicate"), st.floats(0, 1), st.integers(1, 2000)),
    st.tuples(st.just("truncate"), st.floats(0, 1), st.just(0)),
    st.tuples(st.just("far_cell"), st.floats(0, 1), st.sampled_from([b"XFD", b"ZZZ", b"ALL"])),
    st.tuples(
        st.just("value"),
        st.floats(0, 1),
        st.sampled_from([b"NaN", b"INF", b"-inf", b"1e999", b"1,5", b"", b"0x1F", b"\xe2\x88\x92"]),
    ),
)


def mutate(raw: bytes, op: str, where: float, arg) -> bytes:
    at = min(int(where * len(raw)), len(raw))
    if op == "flip" and raw:
        at = min(at, len(raw) - 1)
        return raw[:at] + bytes([raw[at] ^ (arg or 1)]) + raw[at + 1 :]
    if op == "delete":
        return raw[:at] + raw[at + arg :]
    if op == "insert":
        return raw[:at] + arg + raw[at:]
    if op == "duplicate":
        return raw[:at] + raw[at : at + arg] + raw[at:]
    if op == "truncate":
        return raw[:at]
    if op == "far_cell":  # one cell reference moved to the far edge of the sheet
        refs = list(re.finditer(rb'r="([A-Z]{1,3})([0-9]+)"', raw))
        if refs:
            m = refs[min(int(where * len(refs)), len(refs) - 1)]
            return (
                raw[: m.start(1)] + arg + raw[m.end(1) : m.start(2)] + b"1048576" + raw[m.end(2) :]
            )
    if op == "value":  # one cached value replaced by something that is not a number
        values = list(re.finditer(rb"<v>([^<]*)</v>", raw))
        if values:
            m = values[min(int(where * len(values)), len(values) - 1)]
            return raw[: m.start(1)] + arg + raw[m.end(1) :]
    return raw


def rezip(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, raw in parts.items():
            zf.writestr(name, raw)
    return out.getvalue()


@BYTES_FUZZ
@given(st.lists(st.tuples(st.sampled_from(PARTS), mutation), min_size=1, max_size=3))
def test_mutated_xml_is_read_or_refused(parts, plan_roster, changes):
    mutated = dict(parts)
    for part, (op, where, arg) in changes:
        mutated[part] = mutate(mutated[part], op, where, arg)
    result = read(rezip(mutated), plan_roster)
    assert_sound(result, plan_roster[0])


def test_unmutated_base_reads_cleanly(base, parts, plan_roster):
    """The fuzzing starts from a report that reads without a finding."""
    for data in (base, rezip(parts)):
        result = read(data, plan_roster)
        assert_sound(result, plan_roster[0])
        [sheet] = result.sheets
        assert (sheet.unit, sheet.phase, sheet.findings) == (UNIT, hostile.PHASE, [])


def test_a_moved_far_cell_is_refused_before_any_reader(parts, plan_roster):
    mutated = dict(parts)
    sheet = mutated["xl/worksheets/sheet1.xml"]
    mutated["xl/worksheets/sheet1.xml"] = mutate(sheet, "far_cell", 0.5, b"XFD")
    result = read(rezip(mutated), plan_roster)
    assert [f.code for f in result.findings] == ["sheet_too_large"]
    assert result.sheets == []


def test_a_date_cell_calamine_panics_on_costs_the_sheet_not_the_read(light, plan_roster):
    # python-calamine panics on a date-formatted cell holding -10¹² (pyo3 raises
    # PanicException, a BaseException): read_workbook must still return
    wb = openpyxl.load_workbook(io.BytesIO(light))
    wb.worksheets[0]["C12"] = -(10**12)  # the report date cell
    out = io.BytesIO()
    wb.save(out)
    result = read(out.getvalue(), plan_roster)
    assert_sound(result, plan_roster[0])
    assert result.sheets == []
    assert result.ignored_sheets == [("Hàm Rồng", "không đọc được trang (PanicException)")]
    assert [f.code for f in result.findings] == ["not_a_report"]


# --- 2. cell values and types through openpyxl ----------------------------------------------

texts = st.one_of(
    st.sampled_from(
        [
            "1.234",
            "12,5",
            "80%",
            "−5",
            "1,234",
            "١٢",  # Arabic-Indic digits
            "١٢٣",
            "２３",  # full-width
            "3 vụ",
            "Có",
            "không",
            "x",
            "N/A",
            "-",
            " 7 ",
            "7\u00a0",
            "=1+1",
            "@SUM(1)",
            "+7",
            "1e308",
            "1e-400",
            "99999999999999999999999",
            unicodedata.normalize("NFD", "Phường Hàm Rồng"),
            "ph\u00adng",
            "\u200b5",
        ]
    ),
    st.text(max_size=20).filter(lambda t: not CONTROL.search(t)),
)
values = st.one_of(
    st.none(),
    st.integers(-(10**12), 10**12),
    st.integers(0, 60),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15),
    st.booleans(),
    st.dates(dt.date(1900, 3, 1), dt.date(2100, 1, 1)),
    st.datetimes(dt.datetime(1900, 3, 1), dt.datetime(2100, 1, 1)),
    texts,
    st.sampled_from(["=1/0", "=F17+G17", "=SUM(F17:F33)", '=HYPERLINK("http://evil","x")']),
    st.sampled_from(["#N/A", "#DIV/0!", "#VALUE!", "#REF!"]).map(lambda e: ("error", e)),
)


@pytest.fixture(scope="module")
def light(base) -> bytes:
    """The base without its guide and hidden plan sheets: the plan is given, so a read
    needs neither, and every example saves the workbook."""
    wb = openpyxl.load_workbook(io.BytesIO(base))
    for name in wb.sheetnames[1:]:
        del wb[name]
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def set_cell(cell, value) -> None:
    if isinstance(value, tuple):  # an error value as Excel stores it
        cell.value = value[1]
        cell.data_type = "e"
    elif isinstance(value, str) and not value.startswith("="):
        cell.value = value
        cell.data_type = "s"  # text as typed, even when it looks like a formula
    else:
        cell.value = value


@CELLS_FUZZ
@given(data=st.data())
def test_changed_input_cells_are_read_or_flagged(light, layout, plan_roster, data):
    inputs = {k: v for k, v in layout.inputs.items() if k[1] not in ("target", "note")}
    keys = data.draw(st.lists(st.sampled_from(sorted(inputs)), min_size=1, max_size=6, unique=True))
    written = {k: data.draw(values) for k in keys}
    wb = openpyxl.load_workbook(io.BytesIO(light))
    ws = wb.worksheets[0]
    for key, value in written.items():
        set_cell(ws[inputs[key]], value)
    out = io.BytesIO()
    wb.save(out)
    result = read(out.getvalue(), plan_roster)
    assert_sound(result, plan_roster[0])
    [sheet] = result.sheets  # values changed, never the report's identity or structure
    assert (sheet.unit, sheet.phase) == (UNIT, hostile.PHASE)
    flagged_rows = {row_of(f.cell) for f in sheet.findings if f.cell}
    kinds = {i.code: i.kind for i in plan_roster[0].indicators}
    for (ind, comp), value in written.items():
        got, row = sheet.values[ind][comp], row_of(inputs[(ind, comp)])
        if kinds[ind] == "yes_no":
            # TRUE/FALSE, 1/0 and Có/Không are answers; anything else is flagged
            assert got in (None, 0.0, 1.0), (ind, value, got)
            if got is None and value not in (None, ""):
                assert row in flagged_rows, (ind, comp, value, sheet.findings)
            continue
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if row in flagged_rows or sheet.empty:
            continue  # whatever was read, the row says what is wrong with it
        if value is None or value == "":
            assert got is None, (ind, comp, got)
        elif number:  # read as written (whole numbers within float noise)
            assert got is not None and math.isclose(got, value, rel_tol=1e-9, abs_tol=1e-9), (
                ind,
                comp,
                value,
                got,
            )
        else:  # text, a date, a boolean, a formula, an error: never a silent number
            assert got is None, (ind, comp, value, got)


def row_of(cell: str) -> str:
    return cell.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


@CELLS_FUZZ
@given(data=st.data())
def test_changed_identity_cells_are_read_or_flagged(light, layout, plan_roster, data):
    meta = {k: v for k, v in layout.meta.items() if k != "plan_version"}
    keys = data.draw(st.lists(st.sampled_from(sorted(meta)), min_size=1, max_size=3, unique=True))
    wb = openpyxl.load_workbook(io.BytesIO(light))
    ws = wb.worksheets[0]
    for key in keys:
        set_cell(ws[meta[key]], data.draw(values))
    out = io.BytesIO()
    wb.save(out)
    result = read(out.getvalue(), plan_roster)
    assert_sound(result, plan_roster[0])
    if not result.sheets:  # a value python-calamine cannot convert (it panics) costs the sheet
        assert ("Hàm Rồng", "không đọc được trang (PanicException)") in result.ignored_sheets
        assert "report_date" in keys  # the only date-formatted cell among them
        return
    [sheet] = result.sheets  # the table is untouched: still found
    if "unit" not in keys:
        assert sheet.unit == UNIT
    if "phase" not in keys:
        assert sheet.phase == hostile.PHASE
    flagged = {f.cell for f in sheet.findings}
    for key in ("unit", "phase"):  # a changed identity is the same one, or said wrong
        if key in keys and getattr(sheet, key) != {"unit": UNIT, "phase": hostile.PHASE}[key]:
            assert meta[key] in flagged or getattr(sheet, key) is not None, (key, sheet.findings)
