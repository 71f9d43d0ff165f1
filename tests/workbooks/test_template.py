"""The reporting workbook as a clerk opens it: cells, protection, validations, printing."""

from __future__ import annotations

import base64
import datetime as dt
import io
import itertools
import json
import os
import zipfile
import zlib

import openpyxl
import pytest

from logic.errors import RosterError, ThiduaError
from logic.plan import load_plan
from logic.roster import Roster, Unit
from logic.targets import target_text
from workbooks.layout import (
    COLUMNS,
    HEADER_ROW,
    STATE_PACKED,
    report_layout,
    state_layout,
    unpack_state,
)
from workbooks.plans import load, plan_to_dict
from workbooks.rosters import load_roster
from workbooks.template import build_workbook, template_name, write_all, write_template

D = dt.date
UNIT = "14755"  # Phường Hàm Rồng, Thành phố Thanh Hóa
HEADERS = [
    "STT",
    "Mã chỉ tiêu",
    "Nội dung chỉ tiêu",
    "Đơn vị tính",
    "Chỉ tiêu",
    "Kỳ này / Số thực hiện",
    "Tổng số / Cùng kỳ năm trước",
    "Tỷ lệ / So với cùng kỳ",
    "Đánh giá",
    "Ghi chú",
]
C = {role: openpyxl.utils.get_column_letter(col) for role, col in COLUMNS.items()}


@pytest.fixture(scope="module")
def plan():
    return load("thanh-hoa-2024")


@pytest.fixture(scope="module")
def roster():
    return load_roster("thanh-hoa")


@pytest.fixture(scope="module")
def book(plan, roster, tmp_path_factory):
    path = tmp_path_factory.mktemp("tpl") / "ham-rong.xlsx"
    write_template(plan, roster, UNIT, "1", path, report_date=D(2025, 2, 5))
    return openpyxl.load_workbook(path)


@pytest.fixture(scope="module")
def ws(book):
    return book.worksheets[0]


def meta(ws) -> dict:
    """Label → first non-empty value to its right, in the top 20 rows (as the spec says)."""
    out = {}
    for row in ws.iter_rows(min_row=1, max_row=20):
        cells = [c for c in row if c.value not in (None, "")]
        for a, b in itertools.pairwise(cells):
            if isinstance(a.value, str) and a.value.endswith(":"):
                out[a.value] = b
    return out


def table_rows(ws):
    """(group letter, indicator code, row) for every indicator row under the header."""
    out, group = [], None
    for r in range(HEADER_ROW + 1, ws.max_row + 1):
        stt, code = ws[f"{C['stt']}{r}"].value, ws[f"{C['code']}{r}"].value
        if isinstance(stt, str) and stt.isalpha() and not code:
            group = stt
        elif code:
            out.append((group, code, r))
        elif stt is None:
            break
    return out


def test_sheets_and_official_heading(book, ws, plan):
    assert book.sheetnames == ["Hàm Rồng", "Hướng dẫn", "_thidua"]
    assert [s.sheet_state for s in book.worksheets] == ["visible", "visible", "hidden"]
    assert book.active.title == "Hàm Rồng"
    assert ws["A1"].value == "CÔNG AN TỈNH THANH HÓA"
    assert ws["A2"].value == "PHƯỜNG HÀM RỒNG"
    assert ws["F1"].value == "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
    assert ws["F2"].value == "Độc lập - Tự do - Hạnh phúc"
    assert ws["A5"].value == "BÁO CÁO KẾT QUẢ THỰC HIỆN CHỈ TIÊU THI ĐUA"
    assert ws["A6"].value == plan.name
    assert '"Đợt 1: từ 19/08/2024 đến 03/02/2025"' in ws["A7"].value  # follows the phase cell
    fonts = {c.font.name for row in ws.iter_rows() for c in row if c.value is not None}
    assert fonts == {"Times New Roman"}
    assert {"A1:D1", "F1:J1", "A5:J5", "A6:J6"} <= {str(m) for m in ws.merged_cells.ranges}


def test_metadata_block(ws):
    m = meta(ws)
    assert {k: c.value for k, c in m.items()} == {
        "Mã kế hoạch:": "thanh-hoa-2024",
        "Phiên bản kế hoạch:": "1",
        "Mã đơn vị:": "14755",
        "Tên đơn vị:": "Phường Hàm Rồng",
        "Đợt thi đua:": "1",
        "Ngày báo cáo:": dt.datetime(2025, 2, 5),
    }
    assert m["Mã đơn vị:"].data_type == "s"  # a code, not the number 14755
    assert m["Ngày báo cáo:"].number_format == "dd/mm/yyyy"
    # inputs are unlocked; what identifies the report is locked
    assert m["Ngày báo cáo:"].protection.locked is False
    assert m["Đợt thi đua:"].protection.locked is False
    assert ws["C13"].protection.locked is False  # Người lập biểu (blank)
    assert m["Mã đơn vị:"].protection.locked is True
    assert m["Mã kế hoạch:"].protection.locked is True
    names = {n: ws.defined_names[n].attr_text for n in ws.defined_names}
    assert names["thidua_unit"] == "'Hàm Rồng'!$C$10"
    assert names["thidua_phase"] == "'Hàm Rồng'!$C$11"
    assert names["thidua_date"] == "'Hàm Rồng'!$C$12"


def test_one_row_per_indicator_under_its_group(ws, plan):
    assert [ws.cell(HEADER_ROW, c).value for c in range(1, 11)] == HEADERS
    group_letter = {g.code: chr(ord("A") + n) for n, g in enumerate(plan.groups)}
    expected = [(group_letter[i.group], i.code) for g in plan.groups for i in plan.indicators if i.group == g.code]  # fmt: skip
    rows = table_rows(ws)
    assert [(g, code) for g, code, _ in rows] == expected
    for letter, g in zip(group_letter.values(), plan.groups, strict=True):
        row = next(r for r in range(HEADER_ROW, ws.max_row) if ws[f"A{r}"].value == letter)
        assert ws[f"C{row}"].value == g.name


def test_indicator_rows_inputs_formulas_and_locks(ws, plan):
    grey = "FFD9D9D9"
    for _g, code, r in table_rows(ws):
        ind = plan.indicator(code)
        cell = {role: ws[f"{col}{r}"] for role, col in C.items()}
        assert cell["name"].value == ind.name
        assert cell["assess"].data_type == "f" and cell["assess"].protection.locked
        assert cell["note"].protection.locked is False
        target = ind.target_for("1")
        if ind.kind == "all_of":
            assert cell["v1"].protection.locked and cell["v2"].protection.locked
            assert cell["target"].value == target_text(ind, ind.target)
            for part in ind.parts:  # judged from its parts' rows
                part_row = next(pr for _, c, pr in table_rows(ws) if c == part)
                assert f"I{part_row}" in cell["assess"].value
            continue
        assert cell["v1"].protection.locked is False
        two = ind.kind in ("ratio", "reduction")
        assert cell["v2"].protection.locked is (not two)
        if not two:
            assert cell["v2"].fill.fgColor.rgb == grey
        else:
            assert cell["rate"].data_type == "f"
        if target.local and ind.kind != "yes_no":
            assert cell["target"].value == "Do địa phương đặt"
            assert cell["target"].protection.locked is False  # the clerk types the target
            assert f"E{r}" in cell["assess"].value
        else:
            assert cell["target"].value == target_text(ind, target)
            assert cell["target"].protection.locked is True


def test_protection_without_password(book, ws):
    for sheet in book.worksheets:
        assert sheet.protection.sheet is True, sheet.title
        assert not sheet.protection.password
    assert ws.protection.formatColumns is False  # columns may still be widened


def test_validations(ws, plan):
    by_cell = {}
    for dv in ws.data_validations.dataValidation:
        for rng in dv.sqref.ranges:
            by_cell[rng.coord] = dv
    assert by_cell["C11"].type == "list" and by_cell["C11"].formula1 == '"1,2,3"'
    assert by_cell["C12"].type == "date"
    for _g, code, r in table_rows(ws):
        ind = plan.indicator(code)
        f, g = f"F{r}", f"G{r}"
        if ind.kind == "ratio":
            for ref in (f, g):
                dv = by_cell[ref]
                assert dv.type == "custom" and f"{f}<={g}" in dv.formula1, ref
                assert f"{ref}>=0" in dv.formula1 and f"{ref}=INT({ref})" in dv.formula1
                assert dv.showErrorMessage and dv.errorStyle == "stop"
        elif ind.kind in ("reduction", "count", "minimum"):
            refs = (f, g) if ind.kind == "reduction" else (f,)
            for ref in refs:
                dv = by_cell[ref]
                assert (dv.type, dv.operator, dv.formula1) == ("whole", "greaterThanOrEqual", "0")
        elif ind.kind == "yes_no":
            assert (by_cell[f].type, by_cell[f].formula1) == ("list", '"Có,Không"')
        else:
            assert f not in by_cell
        if (code, "target") in _inputs(plan):
            assert by_cell[f"E{r}"].type == "decimal"
    # Vietnamese messages for the clerk
    assert "không được lớn hơn" in next(
        dv.error for dv in ws.data_validations.dataValidation if dv.type == "custom"
    )


def _inputs(plan):
    return report_layout(plan, "1", load_roster("thanh-hoa").find(UNIT)).inputs


def test_conditional_formats(ws):
    rules = {
        (str(rng.sqref), rule.formula[0]): rule.dxf.fill.fgColor.rgb
        for rng in ws.conditional_formatting
        for rule in rng.rules
    }
    last = table_rows(ws)[-1][2]
    assert rules == {
        (f"I16:I{last}", '"Đạt"'): "FFC6EFCE",
        (f"I16:I{last}", '"Không đạt"'): "FFFFC7CE",
    }


def test_print_setup(book, ws):
    assert ws.page_setup.paperSize == 9  # A4
    assert ws.page_setup.orientation == "landscape"
    assert ws.sheet_properties.pageSetUpPr.fitToPage is True
    assert (ws.page_setup.fitToWidth, ws.page_setup.fitToHeight) == (1, 0)
    assert ws.print_title_rows == "$15:$15"
    assert ws.print_area == f"'Hàm Rồng'!$A$1:$J${ws.max_row}"
    assert ws.freeze_panes == "A16"
    assert 0.3 <= ws.page_margins.left <= 0.8
    guide = book["Hướng dẫn"]
    assert guide.page_setup.paperSize == 9
    assert guide.page_setup.orientation == "portrait"


def test_instructions_sheet(book, plan):
    text = "\n".join(str(c.value) for row in book["Hướng dẫn"].iter_rows() for c in row if c.value)
    for words in ("ô nền vàng", "Không phát sinh", "Chưa có số liệu", "mã chỉ tiêu", "gửi lại"):
        assert words in text
    for ind in plan.indicators:
        assert f"{ind.code} — {ind.name}" in text
    # no code alone in a cell: the reader must not take this sheet for a report
    codes = {i.code for i in plan.indicators}
    assert not [c.value for row in book["Hướng dẫn"].iter_rows() for c in row if c.value in codes]


def test_hidden_sheet_carries_plan_and_roster(book, plan, roster):
    s = book["_thidua"]
    assert (s["A1"].value, s["B1"].value) == ("thidua-template", "2")
    assert (s["A2"].value, s["B2"].value) == ("plan_id", "thanh-hoa-2024")
    assert (s["A3"].value, s["B3"].value) == ("plan_version", "1")

    def joined(row):
        assert s.cell(row, 1).value in ("plan_json", "roster_json")
        parts = [s.cell(row, c).value for c in range(2, s.max_column + 1)]
        assert all(len(p) <= 30_000 for p in parts if p)
        packed = "".join(p for p in parts if p)
        assert packed.startswith(STATE_PACKED)
        return unpack_state(packed)

    assert load_plan(json.loads(joined(4))) == plan
    assert json.loads(joined(4)) == plan_to_dict(plan, json_safe=True)
    rows = json.loads(joined(5))
    carried = Roster.from_rows(rows)
    assert carried.find(UNIT).name == "Phường Hàm Rồng"
    assert len(carried) == len(roster)  # the scope is the whole province
    # what Excel moves into the shared strings on saving stays small (plain: 8 times more)
    packed = sum(len(c.value) for row in s.iter_rows(min_row=4) for c in row[1:] if c.value)
    assert packed * 5 < len(joined(4)) + len(joined(5))


def test_packed_state_splits_over_cells_and_refuses_bombs(plan):
    noise = os.urandom(40_000).hex()  # does not compress: 80,000 characters packed
    cells = state_layout(plan, "{}", noise).cells
    row5 = sorted((c.col, c.value) for c in cells if c.row == 5 and c.col > 1)
    assert len(row5) == 3 and all(len(v) <= 30_000 for _, v in row5)
    assert unpack_state("".join(v for _, v in row5)) == noise
    assert unpack_state('{"id": "x"}') == '{"id": "x"}'  # template 1 wrote plain JSON
    bomb = STATE_PACKED + base64.b64encode(zlib.compress(b" " * (64 * 2**20))).decode()
    for broken in (bomb, STATE_PACKED + "không phải base64", STATE_PACKED + "AAAA"):
        with pytest.raises(ValueError):
            unpack_state(broken)


def test_values_fill_inputs_and_text_stays_text(plan, roster, tmp_path):
    values = {
        "CT03": {"numerator": 95, "denominator": 100},
        "CT01": {"current": 12, "baseline": 15},
        "CT12": {"numerator": 8, "denominator": 10, "target": 0.8},
        "CT16": {"done": "Có", "note": '=HYPERLINK("http://x","y")'},
        "CT14": {"count": 2.5},
    }
    path = write_template(plan, roster, UNIT, "1", tmp_path / "a.xlsx", values=values)
    ws = openpyxl.load_workbook(path).worksheets[0]
    rows = {code: r for _g, code, r in table_rows(ws)}
    assert (ws[f"F{rows['CT03']}"].value, ws[f"G{rows['CT03']}"].value) == (95, 100)
    assert (ws[f"F{rows['CT01']}"].value, ws[f"G{rows['CT01']}"].value) == (12, 15)
    assert ws[f"E{rows['CT12']}"].value == 0.8
    assert ws[f"F{rows['CT16']}"].value == "Có"
    assert ws[f"F{rows['CT14']}"].value == 2.5
    note = ws[f"J{rows['CT16']}"]
    assert (note.value, note.data_type) == ('=HYPERLINK("http://x","y")', "s")
    assert note.quotePrefix
    with pytest.raises(KeyError):
        write_template(plan, roster, UNIT, "1", tmp_path / "b.xlsx", values={"CT16": {"count": 1}})


def _snapshot(data: bytes) -> dict:
    """Everything a clerk or a reader can see in a workbook."""
    wb = openpyxl.load_workbook(io.BytesIO(data))
    out = {"sheets": wb.sheetnames}
    for ws in wb.worksheets:
        cells = {}
        for row in ws.iter_rows():
            for c in row:
                if c.has_style or c.value is not None:
                    cells[c.coordinate] = (
                        c.value, c.data_type, c.font.name, c.font.b, c.fill.fgColor.rgb,
                        c.number_format, c.protection.locked, c.alignment.wrap_text,
                        c.border.left.style,
                    )  # fmt: skip
        out[ws.title] = {
            "cells": cells,
            "merged": sorted(str(m) for m in ws.merged_cells.ranges),
            "dv": sorted((str(d.sqref), d.type, d.formula1, d.prompt) for d in ws.data_validations.dataValidation),
            "names": sorted((n, ws.defined_names[n].attr_text) for n in ws.defined_names),
            "print": (ws.print_title_rows, ws.print_area, ws.page_setup.orientation),
            "heights": sorted((r, d.height) for r, d in ws.row_dimensions.items() if d.height),
            "protected": ws.protection.sheet,
        }  # fmt: skip
    return out


def test_fast_path_writes_what_openpyxl_writes(tmp_path):
    """write_template reuses a cached prototype; it must equal the direct openpyxl build,
    for a unit whose strings try to break XML and formulas."""
    plan = load("thanh-hoa-2024")
    name = "Xã \"Đồng\" & <Tâm> 'Bắc' =A1\x07"
    roster = Roster([Unit("38", "Tỉnh Thanh Hóa", "province"), Unit("=1+1", name, "commune", "38")])
    values = {"CT03": {"numerator": 9, "denominator": 10}, "CT16": {"done": "Không <&>"}}
    fast = write_template(
        plan, roster, "=1+1", "2", tmp_path / "f.xlsx", report_date=D(2025, 3, 1), values=values
    ).read_bytes()
    buf = io.BytesIO()
    build_workbook(plan, roster, "=1+1", "2", report_date=D(2025, 3, 1), values=values).save(buf)
    a, b = _snapshot(fast), _snapshot(buf.getvalue())
    assert a == b
    ws = openpyxl.load_workbook(io.BytesIO(fast)).worksheets[0]
    assert ws.title == "\"Đồng\" & <Tâm> 'Bắc' =A1"
    assert (ws["C10"].value, ws["C10"].data_type) == ("=1+1", "s")
    assert ws["G10"].value == "Xã \"Đồng\" & <Tâm> 'Bắc' =A1"  # control character dropped
    with zipfile.ZipFile(io.BytesIO(fast)) as z:
        assert z.testzip() is None


def test_write_all_for_a_district(plan, roster, tmp_path):
    from logic.aggregate import phase_tree

    tree = phase_tree(plan, roster, "1")
    district = next(c for c in tree.children["38"] if len(tree.communes_under(c)) <= 15)
    communes = tree.communes_under(district)
    paths = write_all(plan, roster, "1", tmp_path, district=district)
    assert [p.name for p in paths] == [template_name(tree.unit(c), "1") for c in communes]
    assert len({p.name for p in paths}) == len(paths)
    assert all(p.name.isascii() and p.name.endswith("-dot-1.xlsx") for p in paths)
    for path, code in zip(paths, communes, strict=True):
        ws = openpyxl.load_workbook(path).worksheets[0]
        assert ws["C10"].value == code
        assert ws["G10"].value == tree.unit(code).name
    with pytest.raises(RosterError, match="Không có đơn vị mã “999”"):
        write_all(plan, roster, "1", tmp_path, district="999")


def test_template_name():
    unit = Unit("14755", "Phường Hàm Rồng", "commune")
    assert template_name(unit, "1") == "bao-cao-14755-ham-rong-dot-1.xlsx"


def test_unknown_unit_or_phase(plan, roster, tmp_path):
    with pytest.raises(RosterError, match="Không có đơn vị mã “00000”"):
        write_template(plan, roster, "00000", "1", tmp_path / "x.xlsx")
    with pytest.raises(ThiduaError, match="không có đợt “9”"):
        write_template(plan, roster, UNIT, "9", tmp_path / "x.xlsx")
    assert not list(tmp_path.iterdir())


def test_a_phase_after_the_reform_names_the_new_commune(plan, roster, tmp_path):
    """Phase 3 ends after 1 July 2025: the roster of that day (no districts) decides."""
    tree = roster.tree(plan.phase("3").end)
    code = next(c for c, u in tree.units.items() if u.level == "commune" and u.replaces)
    ws = build_workbook(plan, roster, code, "3").worksheets[0]
    assert ws["G10"].value == tree.unit(code).name
    assert ws["C11"].value == "3"


def test_many_templates_from_the_cached_prototype_are_whole_files(plan, roster, tmp_path):
    # speed is measured by benchmarks/national.py; here: every fast-path file is complete
    tree = roster.tree(plan.phase("1").end)
    communes = [c for c, u in tree.units.items() if u.level == "commune"][:40]
    for code in communes:
        write_template(plan, roster, code, "1", tmp_path / f"{code}.xlsx")
    for code in communes:
        ws = openpyxl.load_workbook(tmp_path / f"{code}.xlsx").worksheets[0]
        assert ws["G10"].value == tree.unit(code).name


def test_a_report_date_with_a_time_is_kept(plan, roster, tmp_path):
    when = dt.datetime(2025, 2, 5, 10, 30)
    path = write_template(plan, roster, UNIT, "1", tmp_path / "a.xlsx", report_date=when)
    assert openpyxl.load_workbook(path).worksheets[0]["C12"].value == when


def test_layout_is_pure():
    """The add-in reuses workbooks.layout where no compiled reader or openpyxl exists."""
    import subprocess
    import sys

    code = (
        "import sys, workbooks.layout; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'openpyxl', 'xlwings', 'python_calamine', 'pandas'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_carried_roster_stands_alone_for_a_district_scope(tmp_path):
    import json

    from logic.roster import Roster
    from workbooks.plans import load
    from workbooks.rosters import load_roster

    plan, roster = load("uong-bi-2024"), load_roster("quang-ninh")
    unit = roster.scoped_tree(plan.phase("1").end, plan.scope).communes_under(plan.scope)[0]
    path = write_template(plan, roster, unit, "1", tmp_path / "ub.xlsx")
    state = openpyxl.load_workbook(path)["_thidua"]
    text = unpack_state("".join(c.value or "" for c in state[5][1:] if isinstance(c.value, str)))
    carried = Roster.from_rows(json.loads(text))  # raises if a parent is missing
    after = carried.scoped_tree(plan.phase("2").end, plan.scope)
    assert sorted(after.unit(c).name for c in after.communes_under(plan.scope)) == [
        "Phường Uông Bí",
        "Phường Vàng Danh",
        "Phường Yên Tử",
    ]


def test_a_national_plan_carries_only_the_units_province(tmp_path):
    import json

    from logic.roster import Roster, Unit
    from workbooks.plans import load

    plan = load("thanh-hoa-2024").model_copy(update={"scope": None, "roster": None})
    units = [
        Unit("38", "Tỉnh Thanh Hóa", "province"),
        Unit("40", "Tỉnh Nghệ An", "province"),
        Unit("380", "Thành phố Thanh Hóa", "district", "38"),
        Unit("412", "Thành phố Vinh", "district", "40"),
        Unit("14755", "Phường Hàm Rồng", "commune", "380"),
        Unit("16666", "Phường Hưng Bình", "commune", "412"),
    ]
    path = write_template(plan, Roster(units), "14755", "1", tmp_path / "a.xlsx")
    state = openpyxl.load_workbook(path)["_thidua"]
    text = unpack_state("".join(c.value or "" for c in state[5][1:] if isinstance(c.value, str)))
    assert sorted(r["code"] for r in json.loads(text)) == ["14755", "38", "380"]
