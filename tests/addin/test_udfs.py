"""The custom functions (TD_…) as Excel calls them: through the real xlwings Server, then the
same requests in-process and in the exported xlwings Lite ``main.py``.

Arguments are cut from real reporting workbooks written by the project's template (the
report sheet's columns, the hidden ``_thidua`` sheet), as Office.js sends them: 2-D lists,
dates as serial numbers, empty cells as null.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from addin.lite import export_lite
from workbooks.layout import COLUMNS, FIRST_ROW, report_layout
from workbooks.template import write_template

PLAN_ID = "uong-bi-2024"
D = dt.date
FUNCTIONS = [
    "TD_CON_THIEU",
    "TD_DANH_GIA",
    "TD_DOT",
    "TD_KIEM_TRA",
    "TD_NGAY_DOT",
    "TD_TANG_GIAM",
    "TD_TY_LE",
]
CODES = ["CT01", "CT02", "CT03", "CT04", "CT05", "CT06", "CT07", "CT08", "CT09", "CT10"]

#: Vàng Danh, phase 1, reported on the phase's last day (not interim).
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
#: What the template's own formulas would say, per indicator, and the gap.
VANG_DANH_WORDS = {
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
}
#: Thanh Sơn, filled in, with the mistakes clerks make.
THANH_SON_BAD = VANG_DANH | {
    "CT01": {"numerator": "abc", "denominator": 10},
    "CT03": {"numerator": 7, "denominator": 5},
    "CT04": {"numerator": "1.234", "denominator": 2000},
    "CT05": {"numerator": "80%", "denominator": 100},
}


def serial(day: dt.date) -> float:
    return float((day - D(1899, 12, 30)).days)


@pytest.fixture(scope="module")
def books(tmp_path_factory, plan_and_roster) -> dict[str, Path]:
    plan, roster = plan_and_roster(PLAN_ID)
    d = tmp_path_factory.mktemp("udf-books")
    return {
        "good": write_template(
            plan, roster, "06808", "1", d / "vang-danh.xlsx", report_date=D(2025, 2, 3),
            values=VANG_DANH,
        ),
        "bad": write_template(
            plan, roster, "06811", "1", d / "thanh-son.xlsx", report_date=D(2025, 2, 3),
            values=THANH_SON_BAD,
        ),
    }  # fmt: skip


@pytest.fixture(scope="module")
def layout(plan_and_roster):
    plan, roster = plan_and_roster(PLAN_ID)
    return report_layout(plan, "1", roster.find("06808"))


@pytest.fixture(scope="module")
def state(books, grid_of) -> list[list[Any]]:
    """The hidden sheet as a range argument: ``_thidua!A1:B5``."""
    return grid_of(books["good"], "_thidua")


def column(grid: list[list[Any]], role: str, layout) -> list[list[Any]]:
    """One table column of the report sheet, header excluded, as a range argument."""
    j = COLUMNS[role] - 1
    return [[row[j]] for row in grid[FIRST_ROW - 1 : layout.last_row]]


@pytest.fixture(scope="module")
def cases(books, layout, state, grid_of, plan_and_roster) -> dict[str, tuple]:
    """name → (function, args, expected answer) for every case of this module."""
    good = grid_of(books["good"])
    bad = grid_of(books["bad"])
    rows = range(FIRST_ROW, layout.last_row + 1)
    code_at = {r: code for code, r in layout.rows.items()}
    kinds, v1, v2, target = (column(good, role, layout) for role in ("code", "v1", "v2", "target"))
    danh_gia = [[VANG_DANH_WORDS[code_at[r]][0] if r in code_at else ""] for r in rows]
    con_thieu = [[VANG_DANH_WORDS[code_at[r]][1] if r in code_at else ""] for r in rows]
    cell = layout.inputs
    ct01 = plan_and_roster(PLAN_ID)[0].indicator("CT01").label("numerator")
    d = {
        "dot": (
            "TD_DOT",
            ([[serial(D(2024, 8, 19))], ["04/02/2025"], [None], ["ngày 5"], [serial(D(2030, 1, 1))]],
             state),
            {"result": [["1"], ["2"], [""], ["Ngày không hợp lệ"], ["Ngoài các đợt"]]},
        ),
        "dot_bundled_id": ("TD_DOT", ([[serial(D(2025, 8, 19))]], [[PLAN_ID]]), {"result": [["2"]]}),
        "ngay_dot": (
            "TD_NGAY_DOT",
            ([["1"], [2.0], ["9"]], [[PLAN_ID]]),
            {"result": [
                [_date(D(2024, 8, 19)), _date(D(2025, 2, 3))],
                [_date(D(2025, 2, 4)), _date(D(2025, 8, 19))],
                ["Đợt “9” không có trong kế hoạch (các đợt: 1, 2).", ""],
            ]},
        ),
        "ty_le": (
            "TD_TY_LE",
            ([[8], [0], [None], [7], ["abc"], ["1.234"]], [[10], [0], [5], [5], [3], [2000]]),
            {"result": [[0.8], ["Không phát sinh"], [""], ["Tử số lớn hơn mẫu số"],
                        ["Số liệu không hợp lệ"], [0.617]]},
        ),
        "ty_le_one_denominator": ("TD_TY_LE", ([[1], [3]], [[4]]), {"result": [[0.25], [0.75]]}),
        "tang_giam": (
            "TD_TANG_GIAM",
            ([[9], [12], [0], [3], ["x"]], [[10], [10], [0], [0], [1]]),
            {"result": [[-0.1], [0.2], ["Không phát sinh"], ["Tăng 3 (cùng kỳ: 0)"],
                        ["Số liệu không hợp lệ"]]},
        ),
        "danh_gia_report_columns": (
            "TD_DANH_GIA", (kinds, v1, v2, target, state), {"result": danh_gia}
        ),
        "con_thieu_report_columns": (
            "TD_CON_THIEU", (kinds, v1, v2, target, None, state), {"result": con_thieu}
        ),
        "danh_gia_kinds_without_plan": (
            "TD_DANH_GIA",
            ([["Tỷ lệ"], ["Giảm so với cùng kỳ"], ["Số lượng"], ["Có/Không"], ["Tỷ lệ"], ["hmm"]],
             [[95], [10], [2], ["Có"], [0], [1]],
             [[100], [10], [None], [None], [0], [1]],
             [["> 95%"], ["Không tăng"], [3], ["Thực hiện"], [80], ["≥ 1"]]),
            {"result": [["Không đạt"], ["Đạt"], ["Không đạt"], ["Đạt"], ["Không phát sinh"],
                        ["Không rõ loại chỉ tiêu"]]},
        ),
        "con_thieu_interim_pace": (
            # half of phase 1 gone by: a count target of 10 is judged as 5 so far
            "TD_CON_THIEU",
            ([["CT08"]], [[3]], None, [[10]], None, [[PLAN_ID]], [["1"]], [[serial(D(2024, 11, 10))]]),
            {"result": [["còn thiếu 1 vụ"]]},
        ),
        "kiem_tra": (
            "TD_KIEM_TRA",
            (bad, state),
            {"result": [
                ["value_not_number", cell[("CT01", "numerator")],
                 f"Chỉ tiêu CT01: “abc” ở ô “{ct01}” không phải là số."],
                ["value_text_number", cell[("CT04", "numerator")], None],
                ["value_percent", cell[("CT05", "numerator")], None],
                ["numerator_above_denominator", cell[("CT03", "numerator")], None],
            ]},
        ),
        "kiem_tra_clean": ("TD_KIEM_TRA", (good, [[PLAN_ID]], [["A1"]]), None),
        # wrong as a whole: HTTP 400 with a Vietnamese message
        "no_plan": ("TD_DOT", ([[serial(D(2025, 1, 1))]], None), "Chưa có kế hoạch thi đua"),
        "unknown_plan": (
            "TD_DANH_GIA", ([["CT01"]], [[1]], [[2]], None, [["ha-noi-2030"]]),
            "Không có kế hoạch có sẵn mã “ha-noi-2030”",
        ),
        "shapes_differ": (
            "TD_TY_LE", ([[1], [2]], [[1], [2], [3]]),
            "Các vùng phải cùng kích thước (hoặc chỉ là một ô): vùng tử số có 2 dòng × 1 cột, "
            "vùng mẫu số có 3 dòng × 1 cột.",
        ),
        "bad_phase": (
            "TD_DANH_GIA", ([["CT01"]], [[1]], [[2]], None, [[PLAN_ID]], [["7"]]),
            "Đợt “7” không có trong kế hoạch (các đợt: 1, 2).",
        ),
        "bad_origin": ("TD_KIEM_TRA", (good, state, [["ô đầu"]]), "“ô đầu” không phải địa chỉ ô"),
        "broken_plan_json": (
            "TD_DOT", ([[serial(D(2025, 1, 1))]], [["plan_json", '{"id": "x", "phases": ']]),
            "Kế hoạch lưu trong trang _thidua bị hỏng",
        ),
    }  # fmt: skip
    return d


def _date(day: dt.date) -> dict[str, Any]:
    """A date as xlwings Server returns it to Office.js."""
    return {"type": "FormattedNumber", "basicValue": serial(day), "numberFormat": "dd/MM/yyyy"}


def check(name: str, expected: Any, status: int, answer: Any) -> None:
    """``answer``: the JSON (200) or the text (400) the add-in gave for case ``name``."""
    if isinstance(expected, str):
        assert status == 400, (name, answer)
        assert expected in answer, (name, answer)
        assert "Traceback" not in answer
        assert unicodedata.is_normalized("NFC", answer)
        return
    assert status == 200, (name, answer)
    if name == "kiem_tra":  # messages of the two warnings are the catalog's; check the cells
        got = answer["result"]
        assert [row[:2] for row in got] == [row[:2] for row in expected["result"]]
        assert got[0][2] == expected["result"][0][2]
        assert "1.234" in got[1][2] and "1234" in got[1][2].replace(".", "")
        assert "80%" in got[2][2]
        assert "(7)" in got[3][2] and "(5)" in got[3][2]
        return
    if name == "kiem_tra_clean":
        assert answer == {"result": [["", "", "Không phát hiện lỗi."]]}
        return
    if name == "ty_le":
        got = answer["result"]
        assert got[:5] == expected["result"][:5]
        assert got[5][0] == pytest.approx(0.617)
        return
    assert answer == expected, name


@pytest.fixture(scope="module")
def server_answers(server, cases, http_answer) -> dict[str, dict]:
    return {name: http_answer(server.call_udf(f, *args)) for name, (f, args, _) in cases.items()}


def test_every_function_is_listed_with_vietnamese_help(server):
    meta = server.request("GET", "/xlwings/custom-functions-meta").json()
    functions = {f["name"]: f for f in meta["functions"]}
    assert sorted(functions) == FUNCTIONS
    for f in functions.values():
        assert f["description"] and unicodedata.is_normalized("NFC", f["description"])
        assert f["result"]["dimensionality"] == "matrix"
        for p in f["parameters"]:
            assert p["description"] and not p["description"].startswith("Positional argument")
            assert any(ch in p["description"] for ch in "ăâđêôơưáàảãạ"), p["description"]
    assert functions["TD_DANH_GIA"]["description"].startswith("Đánh giá chỉ tiêu: Đạt, Không đạt")
    optional = [p["name"] for p in functions["TD_DANH_GIA"]["parameters"] if p.get("optional")]
    assert optional == ["so_2", "chi_tieu", "ke_hoach", "dot", "ngay_bao_cao"]
    js = server.request("GET", "/xlwings/custom-functions-code").text
    for name in FUNCTIONS:
        assert f'CustomFunctions.associate("{name}", {name});' in js


def test_every_case_through_the_server(cases, server_answers):
    assert {f for f, _a, _e in cases.values()} == set(FUNCTIONS)
    for name, (_f, _args, expected) in cases.items():
        answer = server_answers[name]
        check(name, expected, answer["status"], answer.get("json", answer.get("text")))


def test_assessment_words_match_the_template_columns(cases, server_answers, layout):
    """Each indicator row gets its word; group rows stay empty."""
    got = server_answers["danh_gia_report_columns"]["json"]["result"]
    for code, row in layout.rows.items():
        assert got[row - FIRST_ROW] == [VANG_DANH_WORDS[code][0]]
    blank = set(range(FIRST_ROW, layout.last_row + 1)) - set(layout.rows.values())
    assert blank and all(got[r - FIRST_ROW] == [""] for r in blank)


def test_plain_calls_give_the_same_answers(cases):
    """The functions are plain Python too (classic add-in, tests): same values."""
    import xlwings as xw

    from addin import udfs

    for name, (f, args, expected) in cases.items():
        if name in ("ngay_dot",):  # dates: Office.js formatting happens in the server only
            continue
        try:
            result = getattr(udfs, f)(*args)
        except xw.XlwingsError as e:
            check(name, expected, 400, str(e))
        else:
            check(name, expected, 200, {"result": result})
    days = udfs.TD_NGAY_DOT([["1"]], [[PLAN_ID]])
    assert days == [[D(2024, 8, 19), D(2025, 2, 3)]]


@pytest.fixture(scope="module")
def lite_main(tmp_path_factory) -> Path:
    return export_lite(tmp_path_factory.mktemp("lite"))[0]


def test_in_process_and_lite_answer_like_the_server(
    server, cases, server_answers, run_cases, make_udf_body, lite_main, tmp_path
):
    """What xlwings Lite runs (main.py, without the project) and the modules called without
    HTTP register the same functions and scripts and give the server's answers."""
    bodies = [{"kind": "udf", "body": make_udf_body(f, *args)} for f, args, _ in cases.values()]
    expected = [server_answers[name] for name in cases]
    in_process, lite = run_cases(bodies, tmp_path, lite_main=lite_main)
    assert in_process["answers"] == expected
    assert lite["answers"] == expected
    functions = server.request("GET", "/xlwings/custom-functions-meta").json()["functions"]
    scripts = server.request("GET", "/xlwings/custom-scripts-meta").json()
    for runtime in (in_process, lite):
        assert runtime["functions"] == sorted(f["name"] for f in functions) == FUNCTIONS
        assert runtime["scripts"] == sorted(m["function_name"] for m in scripts)
