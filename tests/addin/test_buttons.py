"""The buttons as Excel runs them: through the real xlwings Server with the book Office.js
sends, then in-process and in the exported xlwings Lite ``main.py``.

Workbooks are the project's own templates, filled in and edited the way a district clerk
does (commune sheets pasted into one book, a figure typed as a word, a formula overwritten,
a unit code mistyped); the assertions read the actions Excel would apply: cells coloured,
notes, sheets added, values written, alerts.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from addin.lite import export_lite
from workbooks.layout import INPUT_FILL, report_layout
from workbooks.template import write_template

PLAN_ID = "uong-bi-2024"
D = dt.date
DAY = D(2025, 2, 3)  # the last day of phase 1: not an interim report
RED, YELLOW, GREEN = "#FFC7CE", "#FFEB9C", "#C6EFCE"
SCRIPTS = ["danh_gia_chi_tieu", "kiem_tra_bao_cao", "tao_bao_cao_moi", "tong_hop"]

VANG_DANH = {
    "CT01": {"numerator": 8, "denominator": 10},
    "CT02": {"count": 1},
    "CT03": {"numerator": 5, "denominator": 5},
    "CT04": {"numerator": 9, "denominator": 10},
    "CT05": {"numerator": 70, "denominator": 100},
    "CT06": {"current": 3, "baseline": 3},
    "CT07": {"current": 2, "baseline": 4},
    "CT08": {"count": 2, "target": 3},
    "CT09": {"count": 1},
    "CT10": {"count": 0},
}
THANH_SON = {
    "CT01": {"numerator": 9, "denominator": 10},
    "CT02": {"count": 0},
    "CT03": {"numerator": 4, "denominator": 4},
    "CT04": {"numerator": 10, "denominator": 10},
    "CT05": {"numerator": 90, "denominator": 100},
    "CT06": {"current": 4, "baseline": 3},
    "CT07": {"current": 1, "baseline": 1},
    "CT08": {"count": 0},
    "CT09": {"count": 0},
    "CT10": {"count": 0},
}
THANH_SON_BAD = THANH_SON | {
    "CT01": {"numerator": "chín", "denominator": 10},
    "CT05": {"numerator": "90%", "denominator": 100},
}
#: (status word, gap) per indicator, as the template's formulas and logic.targets say.
WORDS = {
    "Vàng Danh": {
        "CT01": ("Đạt", ""),
        "CT02": ("Đạt", ""),
        "CT03": ("Đạt", ""),
        "CT04": ("Không đạt", "còn thiếu 1 người"),
        "CT05": ("Không đạt", "còn thiếu 10 người"),
        "CT06": ("Đạt", ""),
        "CT07": ("Đạt", ""),
        "CT08": ("Không đạt", "còn thiếu 1 vụ"),
        "CT09": ("Chưa có chỉ tiêu", ""),
        "CT10": ("Chưa có chỉ tiêu", ""),
    },
    "Thanh Sơn": {
        "CT01": ("Đạt", ""),
        "CT02": ("Không đạt", "còn thiếu 1 mô hình"),
        "CT03": ("Đạt", ""),
        "CT04": ("Đạt", ""),
        "CT05": ("Đạt", ""),
        "CT06": ("Không đạt", "cần giảm thêm 1 người"),
        "CT07": ("Không đạt", "cần giảm thêm 1 vụ"),
        "CT08": ("Chưa có chỉ tiêu", ""),
        "CT09": ("Chưa có chỉ tiêu", ""),
        "CT10": ("Chưa có chỉ tiêu", ""),
    },
}
#: District 196 (Thành phố Uông Bí), phase 1, from the two communes' components:
#: (numerator or current or communes meeting, denominator or baseline or communes
#: reported, result, status, gap).
DISTRICT = {
    "CT01": (17, 20, "85,0%", "Đạt", ""),
    "CT02": (1, 2, "50,0%", "Không đạt", "còn 1 xã chưa đạt"),
    "CT03": (9, 9, "100,0%", "Đạt", ""),
    "CT04": (19, 20, "95,0%", "Không đạt", "còn thiếu 1 người"),
    "CT05": (160, 200, "80,0%", "Đạt", ""),
    "CT06": (7, 6, "Tăng 16,7%", "Không đạt", "cần giảm thêm 1 người"),
    "CT07": (3, 5, "Giảm 40,0%", "Đạt", ""),
    "CT08": (0, 2, "", "Chưa có chỉ tiêu", ""),
    "CT09": (0, 2, "", "Chưa có chỉ tiêu", ""),
    "CT10": (0, 2, "", "Chưa có chỉ tiêu", ""),
}


# --- the workbooks ---------------------------------------------------------------------------


def _copy_sheet(wb, source: str, title: str, **cells: Any) -> None:
    ws = wb.copy_worksheet(wb[source])
    ws.title = title
    for ref, value in cells.items():
        ws[ref] = value


@pytest.fixture(scope="module")
def books(tmp_path_factory, plan_and_roster, combine_reports) -> dict[str, Path]:
    """name → a workbook as a clerk has it open."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment

    plan, roster = plan_and_roster(PLAN_ID)
    d = tmp_path_factory.mktemp("button-books")

    def template(code: str, values: dict, name: str) -> Path:
        return write_template(plan, roster, code, "1", d / name, report_date=DAY, values=values)

    vang = template("06808", VANG_DANH, "vang-danh.xlsx")
    thanh = template("06811", THANH_SON, "thanh-son.xlsx")
    thanh_bad = template("06811", THANH_SON_BAD, "thanh-son-sai.xlsx")
    unit = report_layout(plan, "1", roster.find("06808")).meta["unit"]

    def district(wb):  # a third sheet whose unit code was mistyped
        _copy_sheet(wb, "Vàng Danh", "Sai mã", **{unit: "99999"})

    def rerun(wb):  # an earlier check listed F17 of Vàng Danh, now correct
        ws = wb.create_sheet("Kết quả kiểm tra")
        ws.append(["KẾT QUẢ KIỂM TRA BÁO CÁO"])
        for _ in range(3):
            ws.append([])
        ws.append(["Mức độ", "Mã lỗi", "Trang", "Ô", "Nội dung", "Cách sửa"])
        ws.append(["Lỗi", "value_blank", "Vàng Danh", "F17", "…", "…"])
        wb["Vàng Danh"]["F17"].comment = Comment("[Lỗi] cũ", "thidua")

    def overwritten(wb):  # the clerk typed over the assessment formula of CT01
        wb["Vàng Danh"]["I17"] = "Không đạt"

    def no_state(wb):
        del wb["_thidua"]

    def form(unit_code: Any, phase: Any):
        def edit(wb):
            ws = wb.create_sheet("Tạo mới")
            ws["A4"], ws["B4"] = "Mã đơn vị:", unit_code
            ws["A5"], ws["B5"] = "Đợt thi đua:", phase
            ws["A6"], ws["B6"] = "Ngày báo cáo:", D(2025, 1, 15)

        return edit

    toy = d / "toy.xlsx"
    wb = Workbook()
    wb.active.title = "Báo cáo"
    wb.active["A1"] = "Chỉ tiêu"
    wb.save(toy)
    return {
        "district": combine_reports([vang, thanh], d / "district.xlsx", edit=district),
        "bad": combine_reports([vang, thanh_bad], d / "bad.xlsx"),
        "rerun": combine_reports([vang, thanh_bad], d / "rerun.xlsx", edit=rerun),
        "overwritten": combine_reports([vang], d / "overwritten.xlsx", edit=overwritten),
        "no_state": combine_reports([vang], d / "no-state.xlsx", edit=no_state),
        "form": combine_reports([vang], d / "form.xlsx", edit=form("06814", "1")),
        "form_bad_phase": combine_reports([vang], d / "form-9.xlsx", edit=form("06814", "9")),
        "form_bad_unit": combine_reports([vang], d / "form-x.xlsx", edit=form("12345", "1")),
        "single": vang,
        "toy": toy,
    }


#: case → (script, book, expected HTTP status)
CASES = {
    "check": ("kiem_tra_bao_cao", "bad", 200),
    "check_again": ("kiem_tra_bao_cao", "rerun", 200),
    "check_bundled_plan": ("kiem_tra_bao_cao", "no_state", 200),
    "check_no_plan": ("kiem_tra_bao_cao", "toy", 400),
    "tally": ("tong_hop", "district", 200),
    "tally_no_roster": ("tong_hop", "no_state", 400),
    "tally_no_plan": ("tong_hop", "toy", 400),
    "assess": ("danh_gia_chi_tieu", "district", 200),
    "assess_overwritten": ("danh_gia_chi_tieu", "overwritten", 200),
    "new_form": ("tao_bao_cao_moi", "single", 200),
    "new_sheet": ("tao_bao_cao_moi", "form", 200),
    "new_bad_phase": ("tao_bao_cao_moi", "form_bad_phase", 400),
    "new_bad_unit": ("tao_bao_cao_moi", "form_bad_unit", 400),
    "new_no_roster": ("tao_bao_cao_moi", "no_state", 400),
}


@pytest.fixture(scope="module")
def payloads(books, book_payload) -> dict[str, dict]:
    return {case: book_payload(books[book]) for case, (_s, book, _st) in CASES.items()}


@pytest.fixture(scope="module")
def answers(server, payloads, http_answer) -> dict[str, dict]:
    out = {}
    for case, (script, _book, status) in CASES.items():
        answer = http_answer(server.call_script(script, payloads[case]))
        assert answer["status"] == status, (case, answer)
        out[case] = answer
    return out


def actions(answers: dict, case: str, func: str | None = None) -> list[dict]:
    acts = answers[case]["json"]["actions"]
    return [a for a in acts if func is None or a["func"] == func]


def a1(action: dict) -> str:
    """The top-left cell of an action's range ("F17")."""
    from workbooks.layout import col_letter

    return f"{col_letter(action['start_column'] + 1)}{action['start_row'] + 1}"


def unquote(value: Any) -> Any:
    return value[1:] if isinstance(value, str) and value.startswith("'") else value


def table(answers: dict, case: str, header: str) -> list[list[Any]]:
    """The rows under the header row starting with ``header`` written by one setValues."""
    for a in actions(answers, case, "setValues"):
        values = a["values"]
        if values and values[0] and values[0][0] == header:
            return [[unquote(v) for v in row] for row in values[1:]]
    raise AssertionError(f"no table headed {header!r}")


def alert(answers: dict, case: str) -> str:
    (a,) = actions(answers, case, "alert")
    return a["args"][0]


def sheet_index(payload: dict, name: str) -> int:
    return [s["name"] for s in payload["sheets"]].index(name)


# --- the scripts as Excel sees them ----------------------------------------------------------


def test_scripts_meta_lists_the_buttons_with_what_excel_may_skip(server):
    meta = server.request("GET", "/xlwings/custom-scripts-meta").json()
    by_name = {m["function_name"]: m for m in meta}
    assert sorted(by_name) == SCRIPTS
    assert "Hướng dẫn" in by_name["kiem_tra_bao_cao"]["exclude"]
    html = server.request("GET", "/taskpane.html").text
    for label in ("Kiểm tra báo cáo", "Tổng hợp", "Đánh giá chỉ tiêu", "Tạo báo cáo mới"):
        assert label in html


def test_check_marks_the_bad_cells_and_lists_every_finding(answers, payloads, plan_and_roster):
    plan, roster = plan_and_roster(PLAN_ID)
    cells = report_layout(plan, "1", roster.find("06811")).inputs
    bad = payloads["check"]
    sheet = sheet_index(bad, "Thanh Sơn")
    colored = {
        (a["sheet_position"], a1(a)): a["args"][0]
        for a in actions(answers, "check", "setRangeColor")
    }
    assert colored[(sheet, cells[("CT01", "numerator")])] == RED
    assert colored[(sheet, cells[("CT05", "numerator")])] == RED
    notes = {
        (a["sheet_position"], a["args"][0]): a["args"][1]
        for a in actions(answers, "check", "addNote")
    }
    note = notes[
        (sheet, "$" + cells[("CT01", "numerator")][0] + "$" + cells[("CT01", "numerator")][1:])
    ]
    assert note.startswith("[Lỗi] Chỉ tiêu CT01: “chín”")
    assert "Cách sửa: Chỉ ghi chữ số" in note
    assert ("addSheet", [len(bad["sheets"]), "Kết quả kiểm tra"]) in [
        (a["func"], a["args"]) for a in actions(answers, "check")
    ]
    rows = table(answers, "check", "Mức độ")
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("Lỗi", "value_not_number", "Thanh Sơn", cells[("CT01", "numerator")]),
        ("Lỗi", "value_percent", "Thanh Sơn", cells[("CT05", "numerator")]),
    ]
    assert all(r[4] and r[5] for r in rows)  # message and how to fix it
    (level_colors,) = actions(answers, "check", "setRangeColors")
    assert level_colors["args"] == [[["#ffc7ce"], ["#ffc7ce"]]]
    message = alert(answers, "check")
    assert "Đã kiểm tra 2 trang báo cáo (Vàng Danh, Thanh Sơn): 2 lỗi, 0 cảnh báo." in message


def test_check_again_clears_marks_that_no_longer_apply(answers, payloads):
    sheet = sheet_index(payloads["check_again"], "Vàng Danh")
    restored = [
        a for a in actions(answers, "check_again", "setRangeColor") if a["sheet_position"] == sheet
    ]
    assert [(a1(a), a["args"]) for a in restored] == [("F17", ["#" + INPUT_FILL])]
    deleted = actions(answers, "check_again", "deleteNote")
    assert [(a["sheet_position"], a["args"]) for a in deleted] == [(sheet, ["$F$17"])]
    # the findings sheet is emptied and written again, not added twice
    assert not actions(answers, "check_again", "addSheet")
    assert actions(answers, "check_again", "sheetClear")


def test_check_without_the_hidden_sheet_uses_the_bundled_plan(answers):
    assert "Đã kiểm tra 1 trang báo cáo (Vàng Danh): 0 lỗi, 0 cảnh báo." in alert(
        answers, "check_bundled_plan"
    )
    assert table(answers, "check_bundled_plan", "Mức độ") == [
        ["", "", "", "", "Không phát hiện lỗi nào.", ""]
    ]


def test_tally_rolls_the_communes_up_to_the_district(answers):
    rows = table(answers, "tally", "Đợt")
    district = [r for r in rows if r[1] == "huyện"]
    assert [r[4] for r in district] == list(DISTRICT)
    for r in district:
        num, den, result, status, gap = DISTRICT[r[4]]
        assert (r[0], r[2], r[3]) == ("Đợt 1", "196", "Thành phố Uông Bí")
        assert (r[7], r[8], r[9], r[10], r[11], r[12]) == (num, den, result, status, gap, "2/10")
    assert len(rows) == len(district)  # communes are on their own sheets
    status_colors = actions(answers, "tally", "setRangeColors")[0]
    assert a1(status_colors) == "K6"
    expected = [
        {"Không đạt": "#ffc7ce", "Đạt": "#c6efce"}.get(DISTRICT[c][3], "keep") for c in DISTRICT
    ]
    assert status_colors["args"] == [[[c] for c in expected]]
    missing = table(answers, "tally", "Đợt")  # the first table; the second lists the missing
    assert missing
    not_reported = [
        t for t in actions(answers, "tally", "setValues") if t["values"][0][:1] == ["Đợt"]
    ][1]
    assert len(not_reported["values"]) - 1 == 8
    message = alert(answers, "tally")
    assert "Tổng hợp từ 2 trang báo cáo cấp xã; đợt 1: 2/10 xã." in message
    assert "3 chỉ tiêu không đạt (tô đỏ)" in message
    assert "“Sai mã”: Mã đơn vị “99999” không có trong danh mục đơn vị của kế hoạch." in message


def test_assessment_judges_every_indicator_of_every_sheet(answers):
    rows = table(answers, "assess", "Trang")
    got = {(r[0], r[4]): (r[9], r[10]) for r in rows if r[0] in WORDS}
    expected = {(sheet, code): w for sheet, words in WORDS.items() for code, w in words.items()}
    assert got == expected
    assert {r[0] for r in rows} == {"Vàng Danh", "Thanh Sơn", "Sai mã"}
    first = next(r for r in rows if (r[0], r[4]) == ("Vàng Danh", "CT01"))
    assert (first[1], first[2], first[3], first[6], first[7], first[8]) == (
        "06808", "Phường Vàng Danh", "1", "≥ 80%", 8, 10,
    )  # fmt: skip
    assert "Đã đánh giá 30 chỉ tiêu trên 3 trang báo cáo" in alert(answers, "assess")
    assert not actions(answers, "assess", "addNote")  # no formula was typed over


def test_assessment_flags_an_overwritten_assessment_cell(answers, payloads):
    sheet = sheet_index(payloads["assess_overwritten"], "Vàng Danh")
    marks = [
        a
        for a in actions(answers, "assess_overwritten", "setRangeColor")
        if a["sheet_position"] == sheet
    ]
    assert [(a1(a), a["args"]) for a in marks] == [("I17", [YELLOW])]
    (note,) = actions(answers, "assess_overwritten", "addNote")
    assert note["args"][0] == "$I$17"
    assert "đánh giá là “Đạt”, nhưng ô này ghi “Không đạt”" in note["args"][1]
    row = next(r for r in table(answers, "assess_overwritten", "Trang") if r[4] == "CT01")
    assert (row[9], row[11]) == ("Đạt", "Không đạt")


def test_new_report_first_makes_the_form(answers, payloads):
    (add,) = actions(answers, "new_form", "addSheet")
    assert add["args"] == [len(payloads["new_form"]["sheets"]), "Tạo mới"]
    (values,) = actions(answers, "new_form", "setValues")
    form = {row[0]: unquote(row[1]) for row in values["values"] if row[0]}
    assert (form["Mã đơn vị:"], form["Đợt thi đua:"]) == ("06808", "2")  # next phase, same unit
    assert "Ghi mã đơn vị vào ô B4, đợt thi đua vào ô B5" in alert(answers, "new_form")


def test_new_report_writes_the_template_sheet(answers, payloads, plan_and_roster):
    plan, roster = plan_and_roster(PLAN_ID)
    layout = report_layout(plan, "1", roster.find("06814"), report_date=D(2025, 1, 15))
    (add,) = actions(answers, "new_sheet", "addSheet")
    assert add["args"] == [len(payloads["new_sheet"]["sheets"]), "Bắc Sơn"]
    (grid,) = actions(answers, "new_sheet", "setValues")
    values = grid["values"]
    formulas = {}  # written through the formula property: English whatever the locale
    for a in actions(answers, "new_sheet", "setFormula"):
        for i, row in enumerate(a["values"]):
            for j, f in enumerate(row):
                formulas[(a["start_row"] + i + 1, a["start_column"] + j + 1)] = f
    for c in layout.cells:
        got = values[c.row - 1][c.col - 1]
        if c.formula:
            assert got == "" and formulas.pop((c.row, c.col)) == c.value, c.ref
        elif isinstance(c.value, dt.date):
            assert str(got).startswith(c.value.isoformat()), c.ref
        else:
            assert unquote(got) == ("" if c.value is None else c.value), c.ref
    assert set(formulas.values()) <= {""}  # nothing else written as a formula
    funcs = [a["func"] for a in actions(answers, "new_sheet")]
    assert funcs.count("rangeMerge") == len(layout.merges)
    rules = funcs.count("setDataValidationRule") + funcs.count("setDataValidationList")
    assert rules == sum(len(v.cells.split()) for v in layout.validations)
    assert funcs.count("addConditionalFormat") == 2
    fills = {a1(a): a["args"][0] for a in actions(answers, "new_sheet", "setRangeColor")}
    assert fills[layout.inputs[("CT01", "numerator")]] == "#" + INPUT_FILL
    message = alert(answers, "new_sheet")
    assert "Đã thêm trang “Bắc Sơn”: báo cáo của Phường Bắc Sơn (mã 06814), đợt 1" in message


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("check_no_plan", "Sổ này không có kế hoạch thi đua"),
        ("tally_no_plan", "Sổ này không có kế hoạch thi đua"),
        ("tally_no_roster", "Sổ này không mang danh mục đơn vị"),
        ("new_no_roster", "Sổ này không mang danh mục đơn vị"),
        ("new_bad_phase", "Trang “Tạo mới” chưa đúng:\n- ô B5: Đợt “9” không có trong kế hoạch"),
        ("new_bad_unit", "ô B4: mã đơn vị “12345” không có trong danh mục đơn vị"),
    ],
)
def test_user_errors_are_400_with_a_vietnamese_message(answers, case, message):
    assert answers[case]["status"] == 400
    assert message in answers[case]["text"]
    assert "Traceback" not in answers[case]["text"]


@pytest.fixture(scope="module")
def lite_main(tmp_path_factory) -> Path:
    return export_lite(tmp_path_factory.mktemp("lite"))[0]


def test_in_process_and_lite_answer_like_the_server(
    answers, payloads, run_cases, lite_main, tmp_path
):
    cases = [{"kind": "script", "name": CASES[c][0], "body": payloads[c]} for c in CASES]
    in_process, lite = run_cases(cases, tmp_path, lite_main=lite_main)
    expected = [answers[c] for c in CASES]
    assert in_process["answers"] == expected
    assert lite["answers"] == expected
