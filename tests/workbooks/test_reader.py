"""Reading real workbooks: the project's templates, edited the way people edit them."""

from __future__ import annotations

import datetime as dt
import io
import re
import unicodedata
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.cell.cell import MergedCell
from openpyxl.styles import Font

from logic.findings import flatten
from logic.text import clean_text, to_tcvn3, to_vni
from tests import hostile
from workbooks.feedback import write_feedback
from workbooks.layout import unpack_state
from workbooks.plans import load
from workbooks.reader import embedded_plan, read_workbook
from workbooks.rosters import load_roster
from workbooks.template import write_template

D = dt.date
SHEET = "Hàm Rồng"  # the template names the report sheet after the unit


@pytest.fixture(scope="module")
def plan():
    return load("thanh-hoa-2024")


@pytest.fixture(scope="module")
def roster():
    return load_roster("thanh-hoa")


def full_values(plan, seed: int = 0) -> dict:
    """Every input filled with plausible numbers (numerator ≤ denominator)."""
    out = {}
    for n, ind in enumerate(plan.reported_indicators):
        a, b = 3 + (n + seed) % 5, 10 + (n * 7 + seed) % 9
        out[ind.code] = {
            "ratio": {"numerator": a, "denominator": b},
            "reduction": {"current": a, "baseline": b},
            "count": {"count": a},
            "minimum": {"count": a},
            "yes_no": {"done": "Có"},
        }[ind.kind]
    return out


@pytest.fixture(scope="module")
def filled(plan, roster, tmp_path_factory) -> Path:
    """Phường Hàm Rồng's phase-1 report, every value filled."""
    path = tmp_path_factory.mktemp("tpl") / "ham-rong.xlsx"
    return write_template(
        plan, roster, "14755", "1", path, report_date=D(2025, 1, 25), values=full_values(plan)
    )


def read(path_or_bytes, plan, roster, name="bao-cao.xlsx"):
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else Path(path_or_bytes)
    return read_workbook(data, name=name, plan=plan, roster=roster)


def only_sheet(result):
    assert len(result.sheets) == 1, (result.findings, result.ignored_sheets)
    return result.sheets[0]


def edit(src: Path, dst: Path, change) -> Path:
    """Open with openpyxl, change, save: what a clerk's Excel session amounts to here."""
    wb = openpyxl.load_workbook(src)
    change(wb, wb.worksheets[0])
    wb.save(dst)
    return dst


def expected_values(plan):
    """full_values as the reader returns them (floats; Có → 1.0)."""
    return {
        ind: {c: (1.0 if v == "Có" else float(v)) for c, v in comps.items()}
        for ind, comps in full_values(plan).items()
    }


# --- the template as written --------------------------------------------------------------


def test_filled_template(filled, plan, roster):
    result = read(filled, plan, roster)
    assert result.kind == "xlsx"
    assert result.plan_id == "thanh-hoa-2024"
    assert result.findings == []
    assert result.ignored_sheets == [
        ("Hướng dẫn", "trang hướng dẫn"),
        ("_thidua", "trang dữ liệu ẩn của mẫu báo cáo"),
    ]
    s = only_sheet(result)
    assert (s.sheet, s.unit, s.unit_name, s.phase, s.report_date, s.level) == (
        SHEET,
        "14755",
        "Phường Hàm Rồng",
        "1",
        D(2025, 1, 25),
        "commune",
    )
    assert s.findings == []
    assert not s.empty
    assert s.values == expected_values(plan)
    assert s.cells[("CT03", "numerator")] == "F19"
    report = s.to_report()
    assert (report.unit, report.phase, report.source) == ("14755", "1", "bao-cao.xlsx")


def test_blank_template(plan, roster, tmp_path):
    path = write_template(plan, roster, "14755", "2", tmp_path / "blank.xlsx")
    s = only_sheet(read(path, plan, roster))
    assert s.empty
    assert s.phase == "2"
    assert flatten(s.findings) == [
        ("report_date_missing", SHEET, "C12"),
        ("template_empty", SHEET, None),
    ]
    assert all(v is None for comps in s.values.values() for v in comps.values())


def test_embedded_plan_and_roster(filled):
    result = read_workbook(filled, name="x.xlsx", plan=None, roster=None)
    s = only_sheet(result)
    assert result.plan_id == "thanh-hoa-2024"
    assert (s.unit, s.level, s.findings) == ("14755", "commune", [])


def test_a_report_from_a_template_1_workbook_carries_plain_json(filled, tmp_path):
    """Templates sent out before template 2 carry the plan and roster as plain JSON."""

    def plain(wb, ws):
        state = wb["_thidua"]
        state["B1"] = "1"
        for row in (4, 5):
            cells = [c for c in state[row][1:] if isinstance(c.value, str)]
            text = unpack_state("".join(c.value for c in cells))
            for c in cells:
                c.value = None
            for k in range(0, len(text), 30_000):
                state.cell(row, 2 + k // 30_000, text[k : k + 30_000])

    path = edit(filled, tmp_path / "v1.xlsx", plain)
    state = openpyxl.load_workbook(path)["_thidua"]
    assert state["B4"].value.startswith('{"id":"thanh-hoa-2024"')
    result = read_workbook(path, name="v1.xlsx", plan=None, roster=None)
    assert result.plan_id == "thanh-hoa-2024"
    assert (only_sheet(result).unit, only_sheet(result).findings) == ("14755", [])
    assert embedded_plan(path.read_bytes())[1] == load("thanh-hoa-2024")


def test_findings_carry_the_location(filled, plan, roster, tmp_path):
    path = edit(filled, tmp_path / "x.xlsx", lambda wb, ws: ws.__setitem__("F17", -2))
    result = read_workbook(
        path, name="x.xlsx", path="hop-thu/x.xlsx", member="thu 3", plan=plan, roster=roster
    )
    [f] = only_sheet(result).findings
    assert (f.code, f.path, f.member, f.sheet, f.cell, f.unit, f.phase) == (
        "value_negative",
        "hop-thu/x.xlsx",
        "thu 3",
        SHEET,
        "F17",
        "14755",
        "1",
    )


# --- edits people make --------------------------------------------------------------------


def test_rows_inserted_above_and_inside_the_table(filled, plan, roster, tmp_path):
    def change(wb, ws):
        ws.insert_rows(20)  # inside the table, before CT04
        ws["C20"] = "Dòng thêm để ghi chú"
        ws.insert_rows(3, amount=2)  # above everything

    s = only_sheet(read(edit(filled, tmp_path / "x.xlsx", change), plan, roster))
    assert s.findings == []
    assert s.values == expected_values(plan)
    assert s.cells[("CT03", "numerator")] == "F21"
    assert s.cells[("CT04", "numerator")] == "F23"


def test_row_deleted(filled, plan, roster, tmp_path):
    path = edit(filled, tmp_path / "x.xlsx", lambda wb, ws: ws.delete_rows(21))  # CT05
    s = only_sheet(read(path, plan, roster))
    assert flatten(s.findings) == [("indicator_missing", SHEET, None)]
    assert "CT05" in s.findings[0].message
    assert "CT05" not in s.values
    assert s.values["CT06"] == expected_values(plan)["CT06"]


def test_column_moved(filled, plan, roster, tmp_path):
    def change(wb, ws):
        for r in range(15, ws.max_row + 1):  # V2 before V1
            v1, v2 = ws.cell(r, 6), ws.cell(r, 7)
            if isinstance(v1, MergedCell) or isinstance(v2, MergedCell):
                continue  # group rows: the name is merged across
            v1.value, v2.value = v2.value, v1.value

    s = only_sheet(read(edit(filled, tmp_path / "x.xlsx", change), plan, roster))
    assert s.findings == []
    assert s.values == expected_values(plan)
    assert s.cells[("CT03", "numerator")] == "G19"


def test_sheet_renamed_and_extra_sheet(filled, plan, roster, tmp_path):
    def change(wb, ws):
        ws.title = "Báo cáo đợt 1"
        extra = wb.create_sheet("Ghi chú", 0)
        extra["A1"] = "Số liệu lấy từ sổ theo dõi của Công an phường"

    result = read(edit(filled, tmp_path / "x.xlsx", change), plan, roster)
    s = only_sheet(result)
    assert s.sheet == "Báo cáo đợt 1"
    assert s.values == expected_values(plan)
    assert ("Ghi chú", "không có bảng chỉ tiêu của kế hoạch") in result.ignored_sheets


def test_numbers_typed_as_text(filled, plan, roster, tmp_path):
    def change(wb, ws):
        ws["F17"] = "1.234"  # CT01 current: Vietnamese thousands
        ws["G17"] = "2\xa0000"  # baseline with a non-breaking space
        ws["F19"] = "1,234"  # CT03 numerator: 1.234 or 1234?
        ws["F32"] = "12,5"  # CT13 count
        ws["F21"] = "80 %"  # CT05 numerator: a rate where a count belongs
        ws["F33"] = "ba"  # CT14 count

    s = only_sheet(read(edit(filled, tmp_path / "x.xlsx", change), plan, roster))
    assert flatten(s.findings) == [
        ("value_text_number", SHEET, "F17"),
        ("value_text_number", SHEET, "G17"),
        ("value_ambiguous", SHEET, "F19"),
        ("value_percent", SHEET, "F21"),
        ("value_fractional", SHEET, "F32"),
        ("value_not_number", SHEET, "F33"),
    ]
    assert [f.severity for f in s.findings] == ["warning"] * 2 + ["error"] * 4
    assert s.values["CT01"] == {"current": 1234.0, "baseline": 2000.0}
    assert s.values["CT03"]["numerator"] is None
    assert s.values["CT05"]["numerator"] is None
    assert s.values["CT13"] == {"count": None}


def test_numerator_above_denominator(filled, plan, roster, tmp_path):
    path = edit(filled, tmp_path / "x.xlsx", lambda wb, ws: ws.__setitem__("F19", 500))
    s = only_sheet(read(path, plan, roster))
    assert flatten(s.findings) == [("numerator_above_denominator", SHEET, "F19")]
    assert s.values["CT03"] == {"numerator": None, "denominator": None}


def test_nfd_unit_name_from_a_mac(filled, plan, roster, tmp_path):
    nfd = unicodedata.normalize("NFD", "Phường Hàm Rồng")
    path = edit(filled, tmp_path / "x.xlsx", lambda wb, ws: ws.__setitem__("G10", nfd))
    s = only_sheet(read(path, plan, roster))
    assert s.findings == []
    assert s.unit_name == "Phường Hàm Rồng"
    assert unicodedata.is_normalized("NFC", s.unit_name)


def test_another_communes_name(filled, plan, roster, tmp_path):
    path = edit(
        filled, tmp_path / "x.xlsx", lambda wb, ws: ws.__setitem__("G10", "Phường Đông Thọ")
    )
    s = only_sheet(read(path, plan, roster))
    assert flatten(s.findings) == [("unit_name_mismatch", SHEET, "G10")]


def test_unit_and_phase_problems(filled, plan, roster, tmp_path):
    def change(wb, ws):
        ws["C9"] = "tra-vinh-co-so-2024"
        ws["C10"] = "99999"
        ws["C11"] = "7"

    s = only_sheet(read(edit(filled, tmp_path / "x.xlsx", change), plan, roster))
    assert flatten(s.findings) == [
        ("plan_mismatch", SHEET, "C9"),
        ("phase_unknown", SHEET, "C11"),
        ("unit_unknown", SHEET, "C10"),
    ]
    assert (s.unit, s.phase, s.level) == ("99999", None, None)


def test_district_tally_sheet(filled, plan, roster, tmp_path):
    def change(wb, ws):
        ws["C10"] = "380"
        ws["G10"] = "Thành phố Thanh Hóa"

    s = only_sheet(read(edit(filled, tmp_path / "x.xlsx", change), plan, roster))
    assert (s.unit, s.level, s.findings) == ("380", "district", [])


def test_tcvn3_text_in_a_vntime_font(filled, plan, roster, tmp_path):
    legacy = to_tcvn3("Phường Hàm Rồng")

    def change(wb, ws):
        ws["G10"] = legacy
        ws["G10"].font = Font(name=".VnTime", size=12)
        ws["A13"] = to_tcvn3("Người lập biểu:")
        ws["A13"].font = Font(name=".VnTime")
        ws["C13"] = to_tcvn3("Lê Thị Hương")
        ws["C13"].font = Font(name=".VnTime")

    s = only_sheet(read(edit(filled, tmp_path / "x.xlsx", change), plan, roster))
    assert s.unit_name == "Phường Hàm Rồng"
    assert s.prepared_by == "Lê Thị Hương"
    assert flatten(s.findings) == [
        ("legacy_encoding", SHEET, "G10"),
        ("legacy_encoding", SHEET, "C13"),
    ]
    assert ".VnTime" in s.findings[0].message and "Phường Hàm Rồng" in s.findings[0].message


def test_vni_text_in_a_vni_font(filled, plan, roster, tmp_path):
    def change(wb, ws):
        ws["G10"] = to_vni("Phường Hàm Rồng")
        ws["G10"].font = Font(name="VNI-Times")

    s = only_sheet(read(edit(filled, tmp_path / "x.xlsx", change), plan, roster))
    assert s.unit_name == "Phường Hàm Rồng"
    assert flatten(s.findings) == [("legacy_encoding", SHEET, "G10")]


def test_hand_made_sheet_all_in_tcvn3(plan, roster, tmp_path):
    """Labels and headers typed in .VnTime are found once decoded."""
    book = openpyxl.Workbook()
    ws = book.active
    rows = [
        ["Mã đơn vị:", "14755"],
        ["Tên đơn vị:", "Phường Hàm Rồng"],
        ["Đợt thi đua:", "1"],
        [],
        ["Mã chỉ tiêu", "Nội dung chỉ tiêu", "Kỳ này", "Cùng kỳ năm trước"],
        ["CT01", "Số vụ phạm tội", 3, 5],
    ]
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            cell = ws.cell(r, c, to_tcvn3(value) if isinstance(value, str) else value)
            cell.font = Font(name=".VnTime")
    book.save(tmp_path / "cu.xlsx")
    s = only_sheet(read(tmp_path / "cu.xlsx", plan, roster))
    assert (s.unit, s.unit_name, s.phase) == ("14755", "Phường Hàm Rồng", "1")
    assert s.values["CT01"] == {"current": 3.0, "baseline": 5.0}
    assert ("legacy_encoding", s.sheet, "B2") in flatten(s.findings)


def test_tcvn3_looking_text_in_a_unicode_font_is_left_alone(filled, plan, roster, tmp_path):
    legacy = to_tcvn3("Lê Thị Hương")
    path = edit(filled, tmp_path / "x.xlsx", lambda wb, ws: ws.__setitem__("C13", legacy))
    s = only_sheet(read(path, plan, roster))
    assert s.prepared_by == clean_text(legacy)  # read as it is, only cleaned
    assert s.findings == []


def test_formula_without_cached_value(filled, plan, roster, tmp_path):
    def change(wb, ws):
        ws["F17"] = "=2+3"  # openpyxl writes formulas without results
        ws["C10"] = '="147"&"55"'

    s = only_sheet(read(edit(filled, tmp_path / "x.xlsx", change), plan, roster))
    assert flatten(s.findings) == [
        ("formula_no_cache", SHEET, "C10"),
        ("formula_no_cache", SHEET, "F17"),
    ]
    assert "=2+3" in s.findings[1].message
    assert s.values["CT01"]["current"] is None
    assert s.unit is None


def test_district_workbook_with_a_sheet_per_commune(plan, roster, tmp_path):
    """A district clerk copies the communes' sheets (values) into one workbook."""
    codes = ["14755", "14758", "14761"]
    book = openpyxl.Workbook()
    book.remove(book.active)
    for n, code in enumerate(codes):
        src = write_template(
            plan,
            roster,
            code,
            "1",
            tmp_path / f"{code}.xlsx",
            report_date=D(2025, 1, 25),
            values=full_values(plan, n),
        )
        ws_src = openpyxl.load_workbook(src).worksheets[0]
        ws = book.create_sheet(ws_src.title)
        for row in ws_src.iter_rows():
            for cell in row:
                if cell.value is not None and cell.data_type != "f":
                    ws[cell.coordinate] = cell.value
    book.create_sheet("Tổng hợp")["A1"] = "Tổng hợp các xã (làm sau)"
    path = tmp_path / "huyen.xlsx"
    book.save(path)
    result = read(path, plan, roster)
    assert [s.unit for s in result.sheets] == codes
    assert len({s.sheet for s in result.sheets}) == 3
    assert all(s.findings == [] for s in result.sheets)
    assert result.sheets[2].values["CT01"]["current"] == float(
        full_values(plan, 2)["CT01"]["current"]
    )
    assert result.ignored_sheets == [("Tổng hợp", "không có bảng chỉ tiêu của kế hoạch")]


def test_hand_made_sheet(plan, roster, tmp_path):
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "Sheet1"
    rows = [
        ["BÁO CÁO KẾT QUẢ THI ĐUA ĐỢT 1"],
        ["Đơn vị: Phường Hàm Rồng"],
        ["Mã đơn vị:", "14755"],
        ["Đợt:", 1],
        ["Ngày báo cáo:", "25/01/2025"],
        [],
        ["TT", "Mã", "Nội dung", "Kỳ này", "Cùng kỳ"],
        [1, "CT01", "Tội phạm về TTXH", 4, 6],
        [2, "CT03", "Tin báo", 8, 10],
        [3, "CT13", "Mô hình", 2],
    ]
    for row in rows:
        ws.append(row)
    book.save(tmp_path / "tu-lam.xlsx")
    s = only_sheet(read(tmp_path / "tu-lam.xlsx", plan, roster))
    assert (s.unit, s.unit_name, s.phase, s.report_date) == (
        "14755",
        "Phường Hàm Rồng",
        "1",
        D(2025, 1, 25),
    )
    assert s.values["CT01"] == {"current": 4.0, "baseline": 6.0}
    assert s.values["CT03"] == {"numerator": 8.0, "denominator": 10.0}
    assert s.values["CT13"] == {"count": 2.0}
    codes = [f.code for f in s.findings]
    assert codes[0] == "plan_missing"
    assert set(codes[1:]) == {"indicator_missing"}
    assert len(codes) == 1 + len(plan.reported_indicators) - 3


# --- files that are not reports -----------------------------------------------------------


def test_not_a_workbook(plan, roster):
    result = read(b"<html><body>Bao cao</body></html>", plan, roster, name="bao-cao.xlsx")
    assert result.sheets == []
    assert [f.code for f in result.findings] == ["file_not_workbook"]
    assert result.findings[0].path == "bao-cao.xlsx"


def test_workbook_without_a_report(plan, roster):
    book = openpyxl.Workbook()
    book.active["A1"] = "Danh sách cán bộ"
    buf = io.BytesIO()
    book.save(buf)
    result = read(buf.getvalue(), plan, roster)
    assert result.sheets == []
    assert flatten(result.findings) == [("not_a_report", None, None)]
    assert result.ignored_sheets == [("Sheet", "không có bảng chỉ tiêu của kế hoạch")]


def test_missing_file(plan, roster, tmp_path):
    result = read(tmp_path / "khong-co.xlsx", plan, roster)
    assert [f.code for f in result.findings] == ["file_unreadable"]


def test_no_plan_anywhere(roster, tmp_path):
    book = openpyxl.Workbook()
    book.active["A1"] = "CT01"
    book.save(tmp_path / "x.xlsx")
    result = read_workbook(tmp_path / "x.xlsx", name="x.xlsx", plan=None, roster=None)
    assert result.sheets == [] and result.findings == []
    assert "kế hoạch" in result.ignored_sheets[0][1]


# --- LibreOffice: cached formula results, .xls and .ods -----------------------------------


@pytest.mark.libreoffice
def test_saved_by_libreoffice_formulas_have_results(filled, plan, roster, tmp_path, soffice):
    def change(wb, ws):
        ws["F17"] = "=2+3"
        ws["F18"] = "=1/0"

    src = edit(filled, tmp_path / "x.xlsx", change)
    [saved] = soffice.convert(src, "xlsx", tmp_path / "lo")
    s = only_sheet(read(saved, plan, roster))
    assert s.values["CT01"]["current"] == 5.0
    assert flatten(s.findings) == [("formula_error", SHEET, "F18")]
    assert "#DIV/0!" in s.findings[0].message


@pytest.mark.libreoffice
@pytest.mark.parametrize("fmt", ["xls", "ods"])
def test_old_and_open_formats(filled, plan, roster, tmp_path, fmt, soffice):
    [saved] = soffice.convert(filled, fmt, tmp_path / "lo")
    result = read(saved, plan, roster, name=saved.name)
    s = only_sheet(result)
    assert result.kind == fmt
    assert (s.unit, s.phase, s.report_date) == ("14755", "1", D(2025, 1, 25))
    assert s.values == expected_values(plan)
    assert s.findings == []


@pytest.fixture(scope="module")
def hostile_files(tmp_path_factory):
    return hostile.write_all(tmp_path_factory.mktemp("hostile"))


@pytest.mark.parametrize("kind", sorted(hostile.MAKERS))
def test_hostile_files_come_back_as_findings(hostile_files, kind, plan, roster, tmp_path):
    """Nothing a sender can put in a file crashes the reader or the feedback writer."""
    path = hostile_files[kind]
    result = read(path, plan, roster, name=path.name)
    refused = [f for f in result.findings if f.severity == "error"]
    assert refused or result.sheets or result.ignored_sheets or result.findings
    if refused:
        assert result.sheets == []
    findings = result.findings + [f for s in result.sheets for f in s.findings]
    out = write_feedback(path, findings, tmp_path / "phan-hoi.xlsx")
    assert openpyxl.load_workbook(out).sheetnames[0] == "Kết quả kiểm tra"


# --- sheets the reader skips are not measured, and never opened -------------------------


def with_far_cell(src: Path, dst: Path, sheet: str) -> Path:
    """The workbook with a cell at XFD1048576 added to ``sheet`` (no reader survives it)."""
    with zipfile.ZipFile(src) as zf:
        book = zf.read("xl/workbook.xml").decode()
        rid = re.search(f'<sheet name="{sheet}"[^>]* r:id="([^"]+)"', book).group(1)
        targets = {}
        for tag in re.findall(
            r"<Relationship ([^>]*)>", zf.read("xl/_rels/workbook.xml.rels").decode()
        ):
            attrs = dict(re.findall(r'(\w+)="([^"]*)"', tag))
            targets[attrs["Id"]] = attrs["Target"]
        target = targets[rid]
        part = target[1:] if target.startswith("/") else f"xl/{target}"
        with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as out:
            for info in zf.infolist():
                data = zf.read(info)
                if info.filename == part:
                    far = b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>'
                    data = data.replace(b"</sheetData>", far, 1)
                    assert far in data
                out.writestr(info, data)
    return dst


def read_in_a_child(path: str, with_plan: bool):
    """What a worker does; in a child, so that a reader touching the far cell only kills it."""
    plan = load("thanh-hoa-2024") if with_plan else None
    roster = load_roster("thanh-hoa") if with_plan else None
    result = read_workbook(Path(path), name="x.xlsx", plan=plan, roster=roster)
    values = [s.values for s in result.sheets]
    return flatten(result.findings), result.ignored_sheets, values


def test_a_far_cell_in_the_instructions_sheet_does_not_stop_the_report(filled, plan, tmp_path):
    from workbooks.isolate import run_isolated

    path = with_far_cell(filled, tmp_path / "x.xlsx", "Hướng dẫn")
    run = run_isolated(read_in_a_child, str(path), True)
    assert run.findings == []
    findings, ignored, values = run.value
    assert (findings, values) == ([], [expected_values(plan)])
    assert ignored == [
        ("Hướng dẫn", "trang hướng dẫn"),
        ("_thidua", "trang dữ liệu ẩn của mẫu báo cáo"),
    ]


def test_the_hidden_sheet_is_measured_only_when_it_is_read(filled, plan, tmp_path):
    from workbooks.isolate import run_isolated

    path = with_far_cell(filled, tmp_path / "x.xlsx", "_thidua")
    with_plan = run_isolated(read_in_a_child, str(path), True)
    assert with_plan.value[0] == [] and with_plan.value[2] == [expected_values(plan)]
    # without a plan the embedded one is read from _thidua: measured, and refused
    without = run_isolated(read_in_a_child, str(path), False)
    assert without.findings == []
    assert without.value == ([("sheet_too_large", "_thidua", "XFD1048576")], [], [])
