"""The tally workbook, written from a hand-built consolidation and read back with openpyxl.

The consolidation is built from real objects (``SheetReport``, ``Source``, ``InputRecord``,
``logic.aggregate.evaluate``) over a small roster: province P, district D1 (Xã Một, Xã Hai)
and a district whose name is a formula (Xã Ba, Xã Bốn, Xã Năm). Figures asserted are
computed in the test from ``VALUES``, not copied from the code under test.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
import zipfile

import openpyxl
import pytest

from logic.aggregate import evaluate
from logic.errors import ThiduaError
from logic.findings import finding
from logic.plan import load_plan
from logic.roster import Roster, Unit
from workbooks import tally
from workbooks.consolidate import Accepted, Change, Consolidation, InputRecord
from workbooks.intake import Source
from workbooks.reader import SheetReport
from workbooks.save import FileLockedError, SaveError
from workbooks.summary import print_summary
from workbooks.tally import write_tally

D = dt.date
EVIL = '=HYPERLINK("http://x","y")'
EVIL_FILE = "=cmd|' /C calc'!A0.xlsx"

PLAN = {
    "id": "thu",
    "name": "Phong trào thi đua thử",
    "issuer": "Công an tỉnh Thử",
    "start": D(2024, 8, 19),
    "end": D(2025, 8, 19),
    "phases": [
        {"code": "1", "name": "Đợt 1", "start": D(2024, 8, 19), "end": D(2025, 2, 3)},
        {"code": "2", "name": "Đợt 2", "start": D(2025, 2, 4), "end": D(2025, 8, 19)},
    ],
    "indicators": [
        {"code": "TIN", "name": "Tin báo do nhân dân cung cấp", "unit": "tin báo",
         "kind": "ratio", "target": {"op": ">=", "value": 0.8}},
        {"code": "TP", "name": "Tội phạm về trật tự xã hội", "unit": "vụ",
         "kind": "reduction", "target": {"op": ">=", "value": 0.07}},
        {"code": "MH", "name": "Mô hình tự quản", "unit": "mô hình",
         "kind": "minimum", "target": {"op": ">=", "value": 1}},
        {"code": "PCCC", "name": "Phối hợp phòng cháy ở thôn", "unit": "thôn",
         "kind": "yes_no", "target": {"op": ">=", "value": 1}},
    ],
}  # fmt: skip

NAMES = {"C1": "Xã Một", "C2": "Xã Hai", "C3": "Xã Ba", "C4": "Xã Bốn", "C5": "Xã Năm"}


def _v(tin, tp, mh=None, pccc=None):
    out = {"TIN": {"numerator": tin[0], "denominator": tin[1]},
           "TP": {"current": tp[0], "baseline": tp[1]}}  # fmt: skip
    if mh is not None:
        out["MH"] = {"count": mh}
    if pccc is not None:
        out["PCCC"] = {"done": pccc}
    return out


# phase → commune → values. C4 never reports; C5 reports phase 2 only, two indicators.
VALUES = {
    "1": {
        "C1": _v((8, 10), (9, 10), 1, 1),
        "C2": _v((5, 10), (8, 10), 0, 1),
        "C3": _v((0, 0), (0, 0), 2, 0),
    },
    "2": {
        "C1": _v((9, 10), (5, 10), 2, 1),
        "C2": _v((10, 10), (10, 10), 1, 0),
        "C3": _v((3, 4), (1, 2), 1, 1),
        "C5": _v((1, 1), (3, 2)),
    },
}


def build(evil_sender: bool = True, units: list[Unit] | None = None) -> Consolidation:
    """The consolidation of ``VALUES`` over the province roster, or over ``units``."""
    plan = load_plan(PLAN)
    if units is None:
        units = [
            Unit("P", "Tỉnh Thử", "province"),
            Unit("D1", "Huyện Một", "district", "P"),
            Unit("D2", EVIL, "district", "P"),
        ]
        for code, name in NAMES.items():
            parent = "D1" if code in ("C1", "C2") else "D2"
            units.append(Unit(code, name, "commune", parent, email=(f"{code.lower()}@thu.vn",)))
    roster = Roster(units)
    c = Consolidation(plan, roster)
    for phase, by_unit in VALUES.items():
        for unit, values in by_unit.items():
            path = (
                f"hop-thu/{unit}-dot-{phase}.eml"
                if unit == "C2"
                else f"hop-thu/{unit}-{phase}.xlsx"
            )
            member = "Báo cáo xã Hai.xlsx" if unit == "C2" else None
            sheet = SheetReport(
                path=path, member=member, sheet=NAMES[unit], plan_id="thu", unit=unit,
                unit_name=NAMES[unit], phase=phase, report_date=D(2025, 8, 20), prepared_by=None,
                values=values, cells={}, findings=[], empty=False, level="commune",
            )  # fmt: skip
            sender = EVIL if (unit == "C2" and evil_sender) else f"{unit.lower()}@thu.vn"
            received = dt.datetime(2025, 8, 21, 8, 30, tzinfo=dt.UTC)
            src = Source(path=path, member=member, sha256=f"{unit}{phase}".ljust(64, "0"),
                         size=1, sender=sender, received=received)  # fmt: skip
            rec = InputRecord(path, src.sha256, member, "accepted", None, unit, phase,
                              sheet=NAMES[unit], sender=sender, received=received,
                              report_date=D(2025, 8, 20))  # fmt: skip
            c.inputs.append(rec)
            c.accepted.append(Accepted(sheet, src, rec))
    c.inputs.append(
        InputRecord(f"hop-thu/{EVIL_FILE}", "f" * 64, None, "rejected", "tệp có mật khẩu")
    )
    c.inputs.append(InputRecord("hop-thu/C1-1-cu.xlsx", "e" * 64, None, "superseded",
                                "được thay bằng C1-1.xlsx", "C1", "1"))  # fmt: skip
    c.findings += [
        finding("file_encrypted", path=f"hop-thu/{EVIL_FILE}"),
        finding("value_text_number", path="hop-thu/C1-1.xlsx", sheet="Xã Một", cell="F16",
                unit="C1", phase="1", indicator="TIN", component="Số đạt", value=EVIL),
    ]  # fmt: skip
    c.changes.append(
        Change("C1", "1", "TIN", "numerator", "F16", 7, 8, "C1-1-cu.xlsx", "C1-1.xlsx")
    )
    c.evaluation = evaluate(plan, roster, [a.sheet.to_report() for a in c.accepted])
    return c


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    c = build()
    path = write_tally(c, tmp_path_factory.mktemp("tally") / "tong-hop.xlsx")
    return c, path, openpyxl.load_workbook(path)


def table_rows(ws, name: str | None = None) -> list[dict]:
    """The data rows of a sheet's (only, or named) table as dicts keyed by header."""
    tables = ws.tables
    table = tables[name] if name else next(iter(tables.values()))
    rows = list(ws[table.ref])
    headers = [c.value for c in rows[0]]
    return [dict(zip(headers, [c.value for c in r], strict=True)) for r in rows[1:]]


# --- sheets and tables ----------------------------------------------------------------


def test_sheets_in_order(written):
    _c, _path, wb = written
    assert wb.sheetnames == [
        "Tổng quan",
        "Toàn tỉnh",
        "Huyện Một",
        '=HYPERLINK("http x","y")',  # named after the district, minus the characters Excel refuses
        "Cấp xã",
        "Chỉ tiêu chưa đạt",
        "Xếp hạng",
        "Chưa báo cáo",
        "Sửa đổi",
        "Kết quả kiểm tra",
        "Nguồn",
    ]


def test_every_sheet_is_a_printable_table_under_an_administrative_header(written):
    _c, _path, wb = written
    names = set()
    for ws in wb.worksheets:
        assert ws.tables, ws.title
        names |= set(ws.tables)
        assert ws["A1"].value == "CÔNG AN TỈNH THỬ"
        assert ws["A1"].font.name == "Times New Roman"
        motto = [c.value for c in ws[1] if c.value and "CỘNG HÒA" in c.value]
        assert motto == ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"], ws.title
        assert "Độc lập - Tự do - Hạnh phúc" in [c.value for c in ws[2]]
        first = next(iter(ws.tables.values()))
        header_row = openpyxl.utils.cell.range_boundaries(first.ref)[1]
        assert ws.freeze_panes == f"A{header_row + 1}", ws.title
        if ws.title != "Tổng quan":  # one page: nothing to repeat
            assert ws.print_title_rows == f"${header_row}:${header_row}", ws.title
        assert ws.page_setup.orientation == "landscape"
        assert int(ws.page_setup.paperSize) == int(ws.PAPERSIZE_A4)
        assert ws.page_setup.fitToWidth == 1 and ws.sheet_properties.pageSetUpPr.fitToPage
        for table in ws.tables.values():
            assert table.autoFilter is not None and table.autoFilter.ref == table.ref
            header = [c.value for c in ws[table.ref][0]]
            assert header == [col.name for col in table.tableColumns], ws.title
    assert len(names) == sum(len(ws.tables) for ws in wb.worksheets)  # names unique


def test_province_figures_are_sums_of_components(written):
    _c, _path, wb = written
    rows = {(r["Đợt"], r["Mã chỉ tiêu"]): r for r in table_rows(wb["Toàn tỉnh"])}
    for phase, label in (("1", "Đợt 1"), ("2", "Đợt 2"), ("all", "Cả đợt thi đua")):
        phases = ["1", "2"] if phase == "all" else [phase]
        data = [v for p in phases for v in VALUES[p].values()]
        num = sum(v["TIN"]["numerator"] for v in data)
        den = sum(v["TIN"]["denominator"] for v in data)
        row = rows[(label, "TIN")]
        assert (row["Tử số / Kỳ này / Số lượng"], row["Mẫu số / Cùng kỳ"]) == (num, den)
        assert row["Giá trị"] == pytest.approx(num / den)
        assert row["Đánh giá"] == ("Đạt" if num / den >= 0.8 else "Không đạt")
        cur = sum(v["TP"]["current"] for v in data)
        base = sum(v["TP"]["baseline"] for v in data)
        row = rows[(label, "TP")]
        assert row["Giá trị"] == pytest.approx((base - cur) / base)
        assert row["Chỉ tiêu"].startswith("Giảm ≥ 7")
    # phase 1: 13 of 20 tips; 3 more were needed for 80 %
    assert rows[("Đợt 1", "TIN")]["Còn thiếu"] == "còn thiếu 3 tin báo"
    # a minimum per commune becomes the share of reporting communes meeting it
    mh = rows[("Đợt 1", "MH")]
    meeting = sum(1 for v in VALUES["1"].values() if v["MH"]["count"] >= 1)
    assert (mh["Số xã đạt"], mh["Số xã báo cáo"]) == (meeting, 3)
    assert mh["Giá trị"] == pytest.approx(meeting / 3)
    assert mh["Chỉ tiêu"] == "Tất cả các xã đạt"
    assert rows[("Đợt 1", "TIN")]["Báo cáo"] == "3/5"  # C4 and C5 did not report phase 1
    assert rows[("Đợt 2", "TIN")]["Báo cáo"] == "4/5"
    value_cell = next(c for c in wb["Toàn tỉnh"]["J"] if isinstance(c.value, float) and c.value < 1)
    assert value_cell.number_format == "0.0%"


def test_district_sheet_holds_only_its_own_figures(written):
    _c, _path, wb = written
    rows = table_rows(wb["Huyện Một"])
    assert {r["Mã đơn vị"] for r in rows} == {"D1"}
    tin1 = next(r for r in rows if r["Đợt"] == "Đợt 1" and r["Mã chỉ tiêu"] == "TIN")
    assert (tin1["Tử số / Kỳ này / Số lượng"], tin1["Mẫu số / Cùng kỳ"]) == (13, 20)
    assert tin1["Báo cáo"] == "2/2"


def test_commune_table_names_the_file_each_figure_came_from(written):
    c, _path, wb = written
    rows = table_rows(wb["Cấp xã"])
    assert len(rows) == sum(1 for r in c.evaluation.results if r.level == "commune")
    c1 = {(r["Đợt"], r["Mã chỉ tiêu"]): r for r in rows if r["Mã đơn vị"] == "C1"}
    assert c1[("Đợt 1", "TIN")]["Nguồn"] == "C1-1.xlsx"
    assert c1[("Đợt 1", "TIN")]["Cấp trên"] == "Huyện Một"
    assert c1[("Cả đợt thi đua", "TIN")]["Nguồn"] == "Đợt 1: C1-1.xlsx; Đợt 2: C1-2.xlsx"
    c2 = next(r for r in rows if r["Mã đơn vị"] == "C2" and r["Đợt"] == "Đợt 1")
    assert c2["Nguồn"] == "C2-dot-1.eml › Báo cáo xã Hai.xlsx"
    # 0/0 is "nothing occurred", never 0 % or 100 %
    c3 = next(
        r
        for r in rows
        if r["Mã đơn vị"] == "C3" and r["Đợt"] == "Đợt 1" and r["Mã chỉ tiêu"] == "TIN"
    )
    assert (c3["Giá trị"], c3["Đánh giá"]) == (None, "Không phát sinh")
    c4 = next(r for r in rows if r["Mã đơn vị"] == "C4" and r["Đợt"] == "Đợt 1")
    assert (c4["Đánh giá"], c4["Báo cáo"], c4["Nguồn"]) == ("Chưa có số liệu", "0/1", None)
    yes_no = next(r for r in rows if r["Mã đơn vị"] == "C3" and r["Mã chỉ tiêu"] == "PCCC")
    assert yes_no["Giá trị"] == 0
    ws = wb["Cấp xã"]
    row = next(
        r for r in ws.iter_rows(min_row=11)
        if (r[0].value, r[1].value, r[4].value) == ("Đợt 1", "C3", "PCCC")
    )  # fmt: skip
    cell = row[8]  # "Giá trị": shown as "Không", stored as 0
    assert cell.number_format == '"Có";"Có";"Không"'


def test_status_cells_are_coloured(written):
    _c, _path, wb = written
    ws = wb["Cấp xã"]
    rules = {
        rule.formula[0]: rule.dxf.fill.fgColor.rgb
        for cf in ws.conditional_formatting
        for rule in cf.rules
    }
    assert rules['"Đạt"'].endswith("C6EFCE")
    assert rules['"Không đạt"'].endswith("FFC7CE")
    assert rules['"Chưa có số liệu"'].endswith("D9D9D9")
    ranges = {str(cf.sqref) for cf in ws.conditional_formatting}
    assert ranges == {f"K11:K{ws.max_row}"}  # "Đánh giá"


# --- missed targets, ranking ----------------------------------------------------------


def test_missed_targets_most_serious_first(written):
    _c, _path, wb = written
    ws = wb["Chỉ tiêu chưa đạt"]
    assert any(
        str(c.value).startswith("Thứ tự: cấp tỉnh trước, rồi cấp huyện, cấp xã") for c in ws["A"]
    )
    rows = table_rows(ws)
    levels = [r["Cấp"] for r in rows]
    order = ["Cấp tỉnh", "Cấp huyện", "Cấp xã"]
    assert levels == sorted(levels, key=order.index)
    for level in order:
        shortfalls = [r["Mức thiếu"] for r in rows if r["Cấp"] == level]
        known = [s for s in shortfalls if s is not None]
        assert known == sorted(known, reverse=True)
        # an increase from a zero baseline cannot be measured: ranked most serious
        assert shortfalls[: shortfalls.count(None)] == [None] * shortfalls.count(None)
    first = rows[0]
    # province, whole campaign: the fire-prevention work done in every phase by 1 of the 3
    # communes that reported it → 2/3 short of "every commune"
    assert (first["Cấp"], first["Đợt"], first["Mã chỉ tiêu"], first["Mức thiếu"]) == (
        "Cấp tỉnh", "Cả đợt thi đua", "PCCC", pytest.approx(2 / 3)
    )  # fmt: skip
    assert first["Còn thiếu"] == "còn 2 xã chưa đạt"
    tin = next(r for r in rows if r["Cấp"] == "Cấp tỉnh" and r["Mã chỉ tiêu"] == "TIN")
    assert tin["Mức thiếu"] == pytest.approx((0.8 - 13 / 20) / 0.8)
    assert tin["Còn thiếu"] == "còn thiếu 3 tin báo"


def test_ranking_explains_how_ties_were_broken(written):
    _c, _path, wb = written
    rows = table_rows(wb["Xếp hạng"])
    communes = [(r["Hạng"], r["Đơn vị"], r["Chỉ tiêu đạt"], r["Chỉ tiêu được đánh giá"])
                for r in rows if r["Cấp"] == "Cấp xã"]  # fmt: skip
    # whole campaign: Xã Một 4/4; Xã Năm 1/2 with 1 missed beats Xã Ba and Xã Hai (2/4, 2
    # missed, every figure reported), who are equal on everything; Xã Bốn reported nothing
    assert communes == [
        (1, "Xã Một", 4, 4),
        (2, "Xã Năm", 1, 2),
        (3, "Xã Ba", 2, 4),
        (3, "Xã Hai", 2, 4),
        (5, "Xã Bốn", 0, 0),
    ]
    why = {r["Đơn vị"]: r["Giải thích"] for r in rows if r["Cấp"] == "Cấp xã"}
    assert why["Xã Một"] is None
    assert why["Xã Năm"] == (
        "bằng tỷ lệ chỉ tiêu đạt (1/2) với Xã Ba, Xã Hai; "
        "ít chỉ tiêu không đạt hơn Xã Ba (1 so với 2)"
    )
    assert why["Xã Ba"] == (
        "bằng tỷ lệ chỉ tiêu đạt (2/4) với Xã Năm, Xã Hai; "
        "nhiều chỉ tiêu không đạt hơn Xã Năm (2 so với 1)"
    )
    assert why["Xã Hai"] == (
        "bằng tỷ lệ chỉ tiêu đạt (2/4) với Xã Năm, Xã Ba; "
        "bằng nhau về mọi tiêu chí với Xã Ba: đồng hạng"
    )
    assert why["Xã Bốn"] == "chưa có chỉ tiêu nào được đánh giá"
    districts = [(r["Hạng"], r["Mã đơn vị"]) for r in rows if r["Cấp"] == "Cấp huyện"]
    assert districts == [(1, "D1"), (2, "D2")]


# --- bookkeeping ----------------------------------------------------------------------


def test_overview_per_phase_and_chart(written):
    _c, _path, wb = written
    ws = wb["Tổng quan"]
    phases = table_rows(ws, "TongQuanDot")
    assert [(r["Đợt"], r["Xã đã báo cáo"], r["Xã phải báo cáo"]) for r in phases] == [
        ("Đợt 1", 3, 5),
        ("Đợt 2", 4, 5),
        ("Cả đợt thi đua", 4, 5),
    ]
    # province, phase 1: TP met; TIN, MH, PCCC missed
    p1 = phases[0]
    assert (p1["Chỉ tiêu đạt"], p1["Chỉ tiêu không đạt"], p1["Chưa có số liệu"]) == (1, 3, 0)
    assert p1["Từ ngày"] == dt.datetime(2024, 8, 19)
    assert ws.cell(row=11, column=2).number_format == "dd/mm/yyyy"
    units = table_rows(ws, "TongQuanDonVi")
    assert [(r["Mã đơn vị"], r["Chỉ tiêu đạt"], r["Chỉ tiêu được đánh giá"]) for r in units] == [
        ("D1", 3, 4),
        ("D2", 2, 4),
    ]
    assert len(ws._charts) == 1


def test_missing_changes_findings_and_sources(written):
    c, _path, wb = written
    missing = table_rows(wb["Chưa báo cáo"])
    assert [(r["Đợt"], r["Mã đơn vị"], r["Đơn vị cấp trên"]) for r in missing] == [
        ("Đợt 1", "C4", EVIL),
        ("Đợt 1", "C5", EVIL),
        ("Đợt 2", "C4", EVIL),
    ]
    assert missing[0]["Thư điện tử"] == "c4@thu.vn"
    change = table_rows(wb["Sửa đổi"])
    assert [(r["Mã đơn vị"], r["Thành phần"], r["Ô"], r["Số cũ"], r["Số mới"], r["Chênh lệch"])
            for r in change] == [("C1", "Số đạt", "F16", 7, 8, 1)]  # fmt: skip
    found = table_rows(wb["Kết quả kiểm tra"])
    assert [(r["Mức độ"], r["Mã lỗi"], r["Ô"]) for r in found] == [
        ("Lỗi", "file_encrypted", None),
        ("Cảnh báo", "value_text_number", "F16"),
    ]
    sources = table_rows(wb["Nguồn"])
    assert len(sources) == len(c.inputs)
    states = {r["Tệp"]: r["Trạng thái"] for r in sources}
    assert states[f"hop-thu/{EVIL_FILE}"] == "Bị từ chối"
    assert states["hop-thu/C1-1-cu.xlsx"] == "Bị thay thế"
    assert states["hop-thu/C1-1.xlsx"] == "Được dùng"
    c1 = next(r for r in sources if r["Tệp"] == "hop-thu/C1-1.xlsx")
    assert c1["SHA-256"] == "C11".ljust(64, "0")
    assert c1["Thời điểm nhận"] is not None and c1["Ngày báo cáo"] == dt.datetime(2025, 8, 20)


def test_text_from_inputs_is_never_a_formula(written):
    _c, path, wb = written
    seen = 0
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                assert cell.hyperlink is None
                if isinstance(cell.value, str) and cell.value.startswith(("=", "@")):
                    assert cell.data_type == "s"
                    assert cell.quotePrefix, (ws.title, cell.coordinate)
                    seen += 1
    assert seen > 10  # district name, sender, file name, the quoted cell text
    sender = next(r for r in table_rows(wb["Nguồn"]) if r["Mã đơn vị"] == "C2")
    assert sender["Người gửi"] == EVIL
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/sheet"):
                assert b"<f>" not in z.read(name), name


def test_console_summary(written, capsys):
    c, path, _wb = written
    print_summary(c, path)
    out = capsys.readouterr().out
    assert "Kế hoạch: Phong trào thi đua thử (thu)" in out
    assert "Đầu vào: 9 tệp/trang — 7 được dùng, 1 bị từ chối, 1 bị thay thế, 0 bỏ qua" in out
    assert "Đợt 1" in out and "3/5" in out
    assert (
        "1. Cả đợt thi đua · Tỉnh Thử · PCCC Phối hợp phòng cháy ở thôn: 33,3% — còn 2 xã chưa đạt"
        in out
    )
    assert f"Bảng tổng hợp: {path}" in out


# --- edge cases -----------------------------------------------------------------------


def test_nothing_accepted_still_gives_a_workbook(tmp_path):
    c = build()
    c.accepted.clear()
    c.changes.clear()
    c.evaluation = evaluate(c.plan, c.roster, [])
    wb = openpyxl.load_workbook(write_tally(c, tmp_path / "rong.xlsx"))
    assert table_rows(wb["Chỉ tiêu chưa đạt"])[0]["Cấp"] == "(không có)"
    assert table_rows(wb["Sửa đổi"])[0]["Đợt"] == "(không có)"
    # no phase has a report yet, so none is judged: the overview has one placeholder row
    phases = table_rows(wb["Tổng quan"], "TongQuanDot")
    assert [(r["Xã đã báo cáo"], r["Chưa có số liệu"]) for r in phases] == [(None, None)]
    assert all(r.status == "no_data" for r in evaluate(c.plan, c.roster, [], phases=["1"]).results)


def test_interim_figures_are_marked(tmp_path):
    # judged on 01/05/2025: phase 2 (04/02 → 19/08/2025) is still running
    c = build()
    c.evaluation = evaluate(
        c.plan, c.roster, [a.sheet.to_report() for a in c.accepted], as_of=D(2025, 5, 1)
    )
    wb = openpyxl.load_workbook(write_tally(c, tmp_path / "tam-tinh.xlsx"))
    rows = table_rows(wb["Toàn tỉnh"])
    assert {r["Tạm tính"] for r in rows if r["Đợt"] == "Đợt 2"} == {"Có"}
    assert {r["Tạm tính"] for r in rows if r["Đợt"] == "Đợt 1"} == {None}
    # the campaign so far is provisional too
    assert {r["Tạm tính"] for r in rows if r["Đợt"] == "Cả đợt thi đua"} == {"Có"}
    phases = table_rows(wb["Tổng quan"], "TongQuanDot")
    assert [r["Tạm tính"] for r in phases] == [None, "Có", "Có"]


def test_a_long_commune_table_continues_on_more_sheets(tmp_path, monkeypatch):
    # Excel's row limit, scaled down: 5 rows per sheet instead of a million
    monkeypatch.setattr(tally, "MAX_TABLE_ROWS", 37)
    c = build()
    wb = openpyxl.load_workbook(write_tally(c, tmp_path / "dai.xlsx"))
    parts = [n for n in wb.sheetnames if n.startswith("Cấp xã")]
    total = sum(1 for r in c.evaluation.results if r.level == "commune")
    assert parts == ["Cấp xã", "Cấp xã (2)", "Cấp xã (3)", "Cấp xã (4)"][: -(-total // 37)]
    rows = [r for n in parts for r in table_rows(wb[n])]
    assert len(rows) == total
    expected = [
        (r.unit, r.phase, r.indicator) for r in c.evaluation.results if r.level == "commune"
    ]
    label = {"1": "Đợt 1", "2": "Đợt 2", "all": "Cả đợt thi đua"}
    assert [(r["Mã đơn vị"], r["Đợt"], r["Mã chỉ tiêu"]) for r in rows] == [
        (u, label[p], i) for u, p, i in expected
    ]


def test_sheet_names_are_cleaned_and_unique(tmp_path):
    c = build()
    units = [u for u in c.roster.units if u.code != "D2"] + [
        Unit("D2", "Huyện Một", "district", "P")
    ]
    units = [
        u if u.code != "D1" else Unit("D1", "Huyện [Một]: A/B*C?" + "x" * 30, "district", "P")
        for u in units
    ]
    c.roster = Roster(units)
    c.evaluation = evaluate(c.plan, c.roster, [a.sheet.to_report() for a in c.accepted])
    wb = openpyxl.load_workbook(write_tally(c, tmp_path / "ten.xlsx"))
    assert wb.sheetnames[2:4] == ["Huyện Một A B C " + "x" * 15, "Huyện Một"]


def test_a_locked_target_keeps_the_previous_file(tmp_path, monkeypatch):
    # Excel on Windows holds the file open; on Linux the refusal happens in os.replace,
    # which is where it is reproduced (the one stand-in these tests use)
    target = tmp_path / "tong-hop.xlsx"
    write_tally(build(), target)
    before = target.read_bytes()

    def refuse(src, dst):
        raise PermissionError(13, "The process cannot access the file", str(dst))

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(FileLockedError) as err:
        write_tally(build(), target)
    monkeypatch.undo()
    assert isinstance(err.value, ThiduaError)
    assert "đang mở trong Excel" in str(err.value)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["tong-hop.xlsx"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_a_read_only_folder_keeps_the_previous_file(tmp_path):
    target = tmp_path / "tong-hop.xlsx"
    write_tally(build(), target)
    before = target.read_bytes()
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(SaveError) as err:
            write_tally(build(), target)
    finally:
        tmp_path.chmod(0o700)
    assert "không có quyền ghi" in str(err.value)
    assert target.read_bytes() == before


@pytest.mark.libreoffice
def test_libreoffice_prints_the_tally(written, soffice, tmp_path):
    _c, path, _wb = written
    (pdf,) = soffice.convert(path, "pdf", tmp_path)
    assert pdf.stat().st_size > 10_000
    if shutil.which("pdfinfo") is None:
        pytest.skip("pdfinfo (poppler-utils) is not installed")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    pages = int(
        next(line.split()[-1] for line in info.stdout.splitlines() if line.startswith("Pages:"))
    )
    # one page per sheet at least, and the tables fit the width: not dozens of slices
    assert 11 <= pages <= 20
    size = next(line for line in info.stdout.splitlines() if line.startswith("Page size:"))
    width, height = (float(x) for x in size.split()[2:5:2])
    assert width > height  # landscape


def test_a_city_without_district_level(tmp_path):
    # after the 2025 reform, or a plan scoped to a city: communes straight under the top unit
    plan = load_plan(PLAN)
    units = [Unit("T", "Thành phố Thử", "district")]
    units += [Unit(f"X{i:02d}", f"Phường {i:02d}", "commune", "T") for i in range(1, 31)]
    roster = Roster(units)
    c = Consolidation(plan, roster)
    for i in range(1, 26):  # five wards never report
        values = _v((i % 11, 10), (i % 5, 4), i % 3, i % 2)
        sheet = SheetReport(
            path=f"p{i}.xlsx", member=None, sheet="P", plan_id="thu", unit=f"X{i:02d}",
            unit_name=None, phase="2", report_date=D(2025, 8, 20), prepared_by=None,
            values=values, cells={}, findings=[], empty=False, level="commune",
        )  # fmt: skip
        src = Source(path=f"p{i}.xlsx", member=None, sha256=str(i).ljust(64, "0"), size=1)
        rec = InputRecord(src.path, src.sha256, None, "accepted", None, f"X{i:02d}", "2")
        c.inputs.append(rec)
        c.accepted.append(Accepted(sheet, src, rec))
    c.evaluation = evaluate(plan, roster, [a.sheet.to_report() for a in c.accepted])
    wb = openpyxl.load_workbook(write_tally(c, tmp_path / "thanh-pho.xlsx"))
    assert wb.sheetnames[:3] == ["Tổng quan", "Toàn thành phố", "Cấp xã"]
    ws = wb["Tổng quan"]
    assert any(
        str(cell.value).startswith("20 xã có tỷ lệ chỉ tiêu đạt cao nhất") for cell in ws["A"]
    )
    units = table_rows(ws, "TongQuanDonVi")
    assert len(units) == 20
    shares = [r["Tỷ lệ đạt"] or 0 for r in units]
    assert shares == sorted(shares, reverse=True)
    assert len(ws._charts) == 1
    ranked = table_rows(wb["Xếp hạng"])
    assert {r["Cấp"] for r in ranked} == {"Cấp xã"} and len(ranked) == 30
    top = table_rows(wb["Toàn thành phố"])
    assert {r["Mã đơn vị"] for r in top} == {"T"}
    assert next(r for r in top if r["Đợt"] == "Đợt 2")["Báo cáo"] == "25/30"


def test_package_is_well_formed_for_excel(written):
    _c, path, wb = written
    assert_well_formed(path, len(wb.sheetnames))


def assert_well_formed(path, sheet_count: int) -> None:
    """Excel refuses ("repairs") rows out of order, cells outside their row, unknown style or
    shared-string indexes: check what the streamed sheets hold."""
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    with zipfile.ZipFile(path) as z:
        styles = ET.fromstring(z.read("xl/styles.xml"))
        xfs = len(styles.find("m:cellXfs", ns))
        sst = ET.fromstring(z.read("xl/sharedStrings.xml"))
        strings = len(sst.findall("m:si", ns))
        assert int(sst.get("uniqueCount")) == strings
        types = z.read("[Content_Types].xml").decode()
        assert "/xl/sharedStrings.xml" in types
        assert "sharedStrings.xml" in z.read("xl/_rels/workbook.xml.rels").decode()
        sheets = [n for n in z.namelist() if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n)]
        assert len(sheets) == sheet_count
        for name in sheets:
            root = ET.fromstring(z.read(name))
            last_row = 0
            for row in root.find("m:sheetData", ns):
                r = int(row.get("r"))
                assert r > last_row, (name, r)
                last_row = r
                last_col = 0
                for cell in row:
                    letters, number = re.fullmatch(r"([A-Z]+)(\d+)", cell.get("r")).groups()
                    assert int(number) == r
                    col = openpyxl.utils.column_index_from_string(letters)
                    assert col > last_col, (name, cell.get("r"))
                    last_col = col
                    assert int(cell.get("s", 0)) < xfs
                    if cell.get("t") == "s":
                        assert int(cell.find("m:v", ns).text) < strings
            dim = root.find("m:dimension", ns).get("ref")
            assert int(re.search(r"(\d+)$", dim).group(1)) == last_row, name


def guide(ws) -> dict[str, list[str]]:
    """The overview's list of sheets: what it says of each sheet (a range: of each in it)."""
    titles = [c.value for c in ws["A"] if isinstance(c.value, str) and c.value.startswith("• ")]
    names = ws.parent.sheetnames
    out: dict[str, list[str]] = {}
    for line in titles:
        head, text = line[2:].split("”: ", 1)
        named = re.findall(r"“([^”]*)", head)
        first, last = names.index(named[0]), names.index(named[-1])
        for name in names[first : last + 1]:
            out.setdefault(name, []).append(text)
    return out


def test_overview_says_what_each_sheet_holds(written):
    _c, _path, wb = written
    said = guide(wb["Tổng quan"])
    assert list(said) == wb.sheetnames  # every sheet once, in order
    assert said["Tổng quan"] == [
        "trang này: theo từng đợt, số xã đã báo cáo và số chỉ tiêu đạt, không đạt; tỷ lệ chỉ "
        "tiêu đạt theo huyện (bảng và biểu đồ)"
    ]
    assert said["Toàn tỉnh"] == ["số liệu của Tỉnh Thử theo đợt và chỉ tiêu"]
    assert said["Huyện Một"] == ["mỗi huyện một trang (2 trang, mang tên huyện): số liệu của huyện"]
    assert said["Cấp xã"][0].startswith("số liệu từng xã")


# --- national scale: several provinces, districts below ---------------------------------

NATIONAL = [
    Unit("P1", "Tỉnh Một", "province"),
    Unit("D11", "Huyện Một", "district", "P1"),
    Unit("D12", "Huyện Hai", "district", "P1"),
    Unit("P2", "Tỉnh Hai", "province"),
    Unit("D21", "Huyện Ba", "district", "P2"),
    Unit("C1", "Xã Một", "commune", "D11"),
    Unit("C2", "Xã Hai", "commune", "D11"),
    Unit("C3", "Xã Ba", "commune", "D12"),
    Unit("C4", "Xã Bốn", "commune", "D21"),  # never reports
    Unit("C5", "Xã Năm", "commune", "D21"),  # phase 2 only
]


@pytest.fixture(scope="module")
def national(tmp_path_factory):
    c = build(units=NATIONAL)
    path = write_tally(c, tmp_path_factory.mktemp("quoc") / "toan-quoc.xlsx")
    return c, path, openpyxl.load_workbook(path)


def test_national_tally_has_a_sheet_per_province_not_per_district(national):
    _c, path, wb = national
    assert wb.sheetnames == [
        "Tổng quan",
        "Cấp tỉnh",
        "Tỉnh Một",
        "Tỉnh Hai",
        "Cấp xã",
        "Chỉ tiêu chưa đạt",
        "Xếp hạng",
        "Chưa báo cáo",
        "Sửa đổi",
        "Kết quả kiểm tra",
        "Nguồn",
    ]
    assert_well_formed(path, len(wb.sheetnames))
    for ws in wb.worksheets:  # the unit line: the whole country, or the province's sheet
        unit = ws.title.upper() if ws.title.startswith("Tỉnh") else "TOÀN QUỐC"
        assert ws["A2"].value == unit, ws.title
    said = guide(wb["Tổng quan"])
    assert list(said) == wb.sheetnames
    assert said["Cấp tỉnh"] == ["số liệu của từng tỉnh theo đợt và chỉ tiêu, để so sánh các tỉnh"]
    assert said["Tỉnh Hai"] == [
        "mỗi tỉnh một trang (2 trang, mang tên tỉnh): số liệu của tỉnh, rồi của từng huyện "
        "trong tỉnh (nhóm dòng thu gọn được)"
    ]


def test_province_sheet_holds_the_province_then_its_districts_grouped(national):
    _c, _path, wb = national
    ws = wb["Tỉnh Một"]
    rows = table_rows(ws)
    per_unit = 3 * len(PLAN["indicators"])  # phases 1, 2 and the whole campaign
    assert [r["Mã đơn vị"] for r in rows] == ["P1"] * per_unit + ["D11"] * per_unit + [
        "D12"
    ] * per_unit
    labels = ["Đợt 1", "Đợt 2", "Cả đợt thi đua"]
    assert [r["Đợt"] for r in rows[:per_unit:4]] == labels
    first = openpyxl.utils.cell.range_boundaries(ws.tables["Tinh_P1"].ref)[1] + 1
    levels = [ws.row_dimensions[first + i].outline_level for i in range(len(rows))]
    assert levels == [0] * per_unit + [1] * (2 * per_unit)  # collapsible under the province
    assert ws.sheet_properties.outlinePr.summaryBelow is False  # the province's rows above
    figures = {(r["Mã đơn vị"], r["Đợt"], r["Mã chỉ tiêu"]): r for r in rows}
    for unit, communes in (("P1", ["C1", "C2", "C3"]), ("D11", ["C1", "C2"]), ("D12", ["C3"])):
        data = [VALUES["1"][x] for x in communes]
        row = figures[(unit, "Đợt 1", "TIN")]
        assert (row["Tử số / Kỳ này / Số lượng"], row["Mẫu số / Cùng kỳ"]) == (
            sum(v["TIN"]["numerator"] for v in data),
            sum(v["TIN"]["denominator"] for v in data),
        ), unit
        assert row["Báo cáo"] == f"{len(communes)}/{len(communes)}"
    two = {(r["Mã đơn vị"], r["Đợt"], r["Mã chỉ tiêu"]): r for r in table_rows(wb["Tỉnh Hai"])}
    assert two[("P2", "Đợt 2", "TIN")]["Báo cáo"] == "1/2"  # Xã Bốn never reported
    assert two[("D21", "Đợt 1", "TIN")]["Đánh giá"] == "Chưa có số liệu"


def test_national_overview_ranking_and_province_table(national):
    c, _path, wb = national
    provinces = table_rows(wb["Cấp tỉnh"])
    assert {r["Mã đơn vị"] for r in provinces} == {"P1", "P2"}
    assert len(provinces) == 2 * 3 * len(PLAN["indicators"])
    ws = wb["Tổng quan"]
    assert any(str(cell.value).startswith("Tỷ lệ chỉ tiêu đạt theo tỉnh") for cell in ws["A"])
    units = table_rows(ws, "TongQuanDonVi")
    assert [r["Mã đơn vị"] for r in units] == ["P1", "P2"]
    p1 = [r for r in c.evaluation.results if r.unit == "P1" and r.phase == "all"]
    met = sum(1 for r in p1 if r.status == "met")
    judged = sum(1 for r in p1 if r.status in ("met", "missed"))
    assert (units[0]["Chỉ tiêu đạt"], units[0]["Chỉ tiêu được đánh giá"]) == (met, judged)
    assert len(ws._charts) == 1
    ranked = table_rows(wb["Xếp hạng"])
    assert [r["Cấp"] for r in ranked] == ["Cấp tỉnh"] * 2 + ["Cấp huyện"] * 3 + ["Cấp xã"] * 5
    assert {r["Mã đơn vị"] for r in ranked if r["Cấp"] == "Cấp tỉnh"} == {"P1", "P2"}


@pytest.mark.libreoffice
def test_libreoffice_reads_the_national_tally(national, soffice, tmp_path):
    # LibreOffice re-saves the written package: every figure and the grouping survive
    _c, path, wb = national
    (again,) = soffice.convert(path, "xlsx", tmp_path)
    other = openpyxl.load_workbook(again)
    assert other.sheetnames == wb.sheetnames

    def rounded(rows):  # LibreOffice keeps 15 significant digits
        return [
            {k: round(v, 12) if isinstance(v, float) else v for k, v in r.items()} for r in rows
        ]

    for name in ("Tỉnh Một", "Cấp xã", "Xếp hạng"):
        assert rounded(table_rows(other[name])) == rounded(table_rows(wb[name])), name
    ws = other["Tỉnh Một"]
    assert ws.row_dimensions[ws.max_row - 3].outline_level == 1  # the last district's row


def test_texts_keep_markup_characters_and_spaces(tmp_path):
    c = build()
    odd = "  1 & 2 < 3 > 0 \"x\" 'y'  "
    c.findings = [
        finding("value_text_number", path="hop-thu/C1-1.xlsx", sheet="Xã Một", cell="F17",
                unit="C1", phase="1", indicator="TIN", component="Số đạt", value=odd),
    ]  # fmt: skip
    wb = openpyxl.load_workbook(write_tally(c, tmp_path / "ky-tu.xlsx"))
    (row,) = table_rows(wb["Kết quả kiểm tra"])
    assert odd in row["Nội dung"]


def test_a_big_tally_compressed_on_a_second_thread_is_the_same_workbook(
    written, tmp_path, monkeypatch
):
    c, _path, wb = written
    monkeypatch.setattr(tally, "THREADED_CELLS", 0)  # this small tally counts as big
    path = write_tally(c, tmp_path / "lon.xlsx")
    with zipfile.ZipFile(path) as z:
        levels = {i.compress_type for i in z.infolist()}
    assert levels == {zipfile.ZIP_DEFLATED}
    again = openpyxl.load_workbook(path)
    assert again.sheetnames == wb.sheetnames
    for ws in wb.worksheets:
        for name in ws.tables:
            assert table_rows(again[ws.title], name) == table_rows(ws, name), name
    assert_well_formed(path, len(wb.sheetnames))


class _FullDisk(io.RawIOBase):
    """A file whose writes fail once ``room`` bytes are written, as on a full disk."""

    def __init__(self, room: int):
        self.room = room
        self.at = 0

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def write(self, data) -> int:
        if self.at + len(data) > self.room:
            raise OSError(28, "No space left on device")
        self.at += len(data)
        return len(data)


@pytest.mark.parametrize("threaded", [False, True], ids=["in-line", "thread"])
def test_a_write_error_reaches_the_caller(threaded, monkeypatch):
    # a full disk while compressing: the error surfaces, the writer does not hang
    monkeypatch.setattr(tally, "THREADED_CELLS", 0 if threaded else 10**9)
    monkeypatch.setattr(tally, "atomic_write", lambda path, write: write(_FullDisk(5_000)))
    with pytest.raises(OSError, match="No space left"):
        tally.write_tally(build(), "khong-dung.xlsx")
