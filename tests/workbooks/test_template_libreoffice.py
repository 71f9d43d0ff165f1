"""LibreOffice as a second opinion: the template's formulas judge like ``logic`` does.

Templates are filled the two ways they get filled here (``values=`` when written, openpyxl
edits afterwards), recalculated by LibreOffice in one batch, and every assessment cell is
compared with ``logic.aggregate.evaluate`` on the same numbers. Then a template is printed
to PDF: A4, few pages, the whole table width on each page.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook

from logic.aggregate import Report, evaluate, phase_tree
from logic.numbers import parse_number, parse_yes_no
from logic.plan import load_plan
from logic.roster import Roster, Unit
from logic.targets import NOT_OCCURRED, STATUS_LABELS, TARGET_NOT_SET
from workbooks.layout import COLUMNS, report_layout
from workbooks.plans import bundled_plans, load
from workbooks.rosters import load_roster
from workbooks.template import find_unit, write_template

pytestmark = pytest.mark.libreoffice

D = dt.date
ASSESS = COLUMNS["assess"]
RATE = COLUMNS["rate"]
PHASE1 = (D(2024, 8, 19), D(2025, 2, 3))


def _ind(code, kind, op=">=", value=None, **more):
    target = {"op": op, "value": value} if value is not None else {"op": op, "local": True}
    return {"code": code, "name": f"Chỉ tiêu {code}", "unit": "vụ", "kind": kind,
            "target": target, **more}  # fmt: skip


PLAN = {
    "id": "lo-check",
    "name": "Kiểm tra công thức",
    "issuer": "Công an tỉnh Thử",
    "start": D(2024, 8, 19),
    "end": D(2025, 8, 19),
    "phases": [
        {"code": "1", "name": "Đợt 1", "start": PHASE1[0], "end": PHASE1[1]},
        {"code": "2", "name": "Đợt 2", "start": D(2025, 2, 4), "end": D(2025, 8, 19)},
    ],
    "groups": [{"code": "A", "name": "Tỷ lệ"}, {"code": "B", "name": "Còn lại"}],
    "indicators": [
        _ind("R80", "ratio", ">=", 0.8, group="A"),
        _ind("R95", "ratio", ">", 0.95, group="A"),  # "trên 95%": strictly more
        _ind("R100", "ratio", "==", 1.0, group="A"),
        _ind("RL", "ratio", ">=", group="A"),  # set locally
        _ind("RNC", "ratio", ">=", 0.9, group="A", levels=["district", "province"]),
        _ind("D7", "reduction", ">=", 0.07, group="B"),
        _ind("D10", "reduction", ">=", 0.1, group="B"),
        _ind("DG", "reduction", ">", 0.0, group="B"),  # "giảm"
        _ind("DK", "reduction", ">=", 0.0, group="B"),  # "kiềm chế"
        _ind("DL", "reduction", ">=", group="B"),
        _ind("C3", "count", ">=", 3, group="B", targets_by_phase={"2": {"op": ">=", "value": 5}}),
        _ind("C2", "count", ">", 2, group="B"),
        _ind("CLE", "count", "<=", 2, group="B"),
        _ind("CL", "count", ">=", group="B"),
        _ind("M1", "minimum", ">=", 1, group="B"),
        _ind("Y", "yes_no", ">=", 1, group="B"),
        _ind("YL", "yes_no", ">=", group="B"),
        _ind("ALL", "all_of", ">=", 1, group="B", parts=["DG", "D7"]),
        _ind("ALL2", "all_of", ">=", 1, group="B", parts=["R95", "M1", "RL"]),
    ],
}

# (V1, V2) per case, cycled per indicator kind; "x" is text in a number cell
RATIO = [(8, 10), (7, 10), (0, 0), (None, 10), (10, None), (96, 100), (95, 100), (1, 1),
         (0, 5), (19, 20), (4, 5), (2, 2), (1, 3), ("x", 3), (3, -2), (20, 21), (0.5, 1)]  # fmt: skip
REDUCTION = [(93, 100), (94, 100), (0, 0), (1, 0), (None, 5), (5, None), (90, 100),
             (100, 100), (101, 100), (13, 14), (0, 3), (3, 1), ("x", 2), (9, 10)]  # fmt: skip
COUNT = [3, 2, 0, None, 5, 1, 4, "x", 6]
YES_NO = ["Có", "Không", 1, 0, None, "abc", 2]
KINDS = ("ratio", "reduction", "count", "minimum", "yes_no", "all_of")
WORKBOOKS = 17
UNIT = "X1"


def _case(kind: str, code: str, k: int):
    """The inputs of indicator ``code`` in workbook ``k`` (different codes, different cases)."""
    shift = sum(map(ord, code))
    if kind == "ratio":
        num, den = RATIO[(k + shift) % len(RATIO)]
        return {"numerator": num, "denominator": den}
    if kind == "reduction":
        cur, base = REDUCTION[(k + shift) % len(REDUCTION)]
        return {"current": cur, "baseline": base}
    if kind in ("count", "minimum"):
        return {"count": COUNT[(k + shift) % len(COUNT)]}
    if kind == "yes_no":
        return {"done": YES_NO[(k + shift) % len(YES_NO)]}
    return {}


def _as_reader_gives(kind: str, raw):
    """The number the reader would hand to logic for a cell value (None: unusable)."""
    if kind == "yes_no":
        parsed = parse_yes_no(raw)
        return None if parsed.value is None else float(parsed.value)
    parsed = parse_number(raw)
    return parsed.number if parsed.kind == "number" else None


def _expected(result) -> str:
    if result.status == "not_applicable":
        return {NOT_OCCURRED: "Không phát sinh", TARGET_NOT_SET: "Chưa có chỉ tiêu"}.get(
            result.note, STATUS_LABELS["not_applicable"]
        )
    return STATUS_LABELS[result.status]


def _with_local_targets(data: dict, typed: dict[str, float]) -> dict:
    """The plan as logic sees it once the clerk typed local targets into the sheet."""
    data = copy.deepcopy(data)
    for ind in data["indicators"]:
        if ind["code"] in typed:
            value = typed[ind["code"]]
            if ind["kind"] in ("ratio", "reduction") and value > 1:
                value /= 100  # "80" typed for 80%
            ind["target"] = {"op": ind["target"]["op"], "value": value}
    return data


# workbook k: phase written, phase typed in the sheet, report date, local targets typed
def _scenario(k: int) -> dict:
    dates = [None, D(2024, 11, 10), D(2025, 2, 10), PHASE1[1], D(2024, 8, 1), None]
    phase = "2" if k % 5 == 4 else "1"
    typed_phase = "2" if k % 7 == 3 else None  # the clerk reuses a phase-1 sheet for phase 2
    local = {}
    if k % 3 == 1:
        local = {"RL": 0.8, "DL": 7, "CL": 2}  # 7 typed for a 7% reduction
    elif k % 3 == 2:
        local = {"RL": 0.95, "DL": 0.1, "CL": 4}
    return {
        "phase": phase if typed_phase is None else typed_phase,
        "written_phase": phase,
        "date": None if k == WORKBOOKS - 1 else dates[k % len(dates)],
        # a date typed as text (validation bypassed by pasting): no pacing, no error
        "typed_date": "hôm nay" if k == WORKBOOKS - 1 else None,
        "local": local,
        "via_openpyxl": k % 2 == 1 or typed_phase is not None or k == WORKBOOKS - 1,
    }


@pytest.fixture(scope="module")
def recalculated(tmp_path_factory, soffice):
    """Fill WORKBOOKS templates, recalculate them in one LibreOffice call."""
    plan = load_plan(PLAN)
    roster = Roster(
        [
            Unit("P", "Tỉnh Thử", "province"),
            Unit(UNIT, "Xã Thử Nghiệm", "commune", "P"),
        ]
    )
    src = tmp_path_factory.mktemp("filled")
    out = tmp_path_factory.mktemp("recalculated")
    books = []
    for k in range(WORKBOOKS):
        sc = _scenario(k)
        values = {i.code: _case(i.kind, i.code, k) for i in plan.indicators if i.kind != "all_of"}
        path = src / f"case{k:02d}.xlsx"
        unit = find_unit(plan, roster, UNIT, sc["written_phase"])
        layout = report_layout(plan, sc["written_phase"], unit)
        if not sc["via_openpyxl"]:
            filled = {c: dict(v) for c, v in values.items()}
            for code, t in sc["local"].items():
                filled[code]["target"] = t
            write_template(
                plan, roster, UNIT, sc["written_phase"], path,
                report_date=sc["date"], values=filled,
            )  # fmt: skip
        else:
            write_template(plan, roster, UNIT, sc["written_phase"], path)
            wb = load_workbook(path)
            ws = wb.worksheets[0]
            for code, comps in values.items():
                for comp, v in comps.items():
                    ws[layout.inputs[(code, comp)]] = v
            for code, t in sc["local"].items():
                ws[layout.inputs[(code, "target")]] = t
            ws[layout.meta["report_date"]] = sc["typed_date"] or sc["date"]
            if sc["phase"] != sc["written_phase"]:
                ws[layout.meta["phase"]] = int(sc["phase"])  # a list pick arrives as a number
            wb.save(path)
        books.append((path, sc, values, layout))
    converted = soffice.convert([b[0] for b in books], "xlsx", out)
    sheets = [load_workbook(c, data_only=True).worksheets[0] for c in converted]
    return plan, roster, list(zip(sheets, books, strict=True))


@pytest.mark.parametrize("kind", KINDS)
def test_assessment_formulas_agree_with_logic(recalculated, kind):
    plan, roster, books = recalculated
    checked, wrong = 0, []
    for ws, (src, sc, values, layout) in books:
        judged_plan = load_plan(_with_local_targets(PLAN, sc["local"]))
        reported = {
            code: {comp: _as_reader_gives(judged_plan.indicator(code).kind, v) for comp, v in comps.items()}
            for code, comps in values.items()
        }  # fmt: skip
        report = Report(UNIT, sc["phase"], reported, report_date=sc["date"])
        ev = evaluate(judged_plan, roster, [report], phases=[sc["phase"]], campaign=False)
        for ind in plan.indicators:
            if ind.kind != kind:
                continue
            row = layout.rows[ind.code]
            assert ws.cell(row, COLUMNS["code"]).value == ind.code
            got = ws.cell(row, ASSESS).value
            want = _expected(ev.get(UNIT, sc["phase"], ind.code))
            checked += 1
            if got != want:
                wrong.append((src.name, ind.code, values.get(ind.code), sc, got, want))
    assert checked >= WORKBOOKS
    assert wrong == []


@pytest.mark.parametrize("kind", ["ratio", "reduction"])
def test_rate_column_agrees_with_logic(recalculated, kind):
    plan, _roster, books = recalculated
    checked = 0
    for ws, (src, _sc, values, layout) in books:
        for ind in plan.indicators:
            if ind.kind != kind:
                continue
            a, b = (_as_reader_gives(kind, v) for v in values[ind.code].values())
            got = ws.cell(layout.rows[ind.code], RATE).value
            if a is None or b is None:
                assert got in (None, ""), (src.name, ind.code)
                continue
            if b <= 0:
                # no share to show: blank, or for a reduction from nothing "Tăng N vụ"
                assert got in (None, "") or (kind == "reduction" and got == f"Tăng {a:g} vụ")
                continue
            want = a / b if kind == "ratio" else (b - a) / b
            assert got == pytest.approx(want), (src.name, ind.code, a, b)
            checked += 1
    assert checked > 10


def test_every_kind_met_missed_and_empty_was_seen(recalculated):
    """The cases above really exercise each outcome of each kind."""
    plan, _roster, books = recalculated
    seen: dict[str, set] = {k: set() for k in KINDS}
    for ws, (_src, _sc, _values, layout) in books:
        for ind in plan.indicators:
            seen[ind.kind].add(ws.cell(layout.rows[ind.code], ASSESS).value)
    for kind in KINDS:
        assert {"Đạt", "Không đạt", "Chưa có số liệu"} <= seen[kind], kind
    assert "Không phát sinh" in seen["ratio"]
    assert {"Chưa có chỉ tiêu", "Không áp dụng"} <= seen["ratio"]
    assert "Chưa có chỉ tiêu" in seen["reduction"] and "Chưa có chỉ tiêu" in seen["count"]


def test_blank_templates_of_every_bundled_plan_compute_without_errors(tmp_path, soffice):
    """Every formula of every bundled plan's template evaluates: no #NAME?, no Err:5xx."""
    written = []
    for plan_id in bundled_plans():
        plan = load(plan_id)
        if not plan.roster:
            continue
        roster = load_roster(plan.roster)
        for phase in plan.phases:
            tree = phase_tree(plan, roster, phase.code)
            unit = next(c for c, u in tree.units.items() if u.level == "commune")
            path = tmp_path / "in" / f"{plan_id}-{phase.code}.xlsx"
            write_template(plan, roster, unit, phase.code, path)
            written.append((plan, phase, path))
    outputs = soffice.convert([p for _, _, p in written], "xlsx", tmp_path / "out")
    for (plan, phase, _), out in zip(written, outputs, strict=True):
        ws = load_workbook(out, data_only=True).worksheets[0]
        layout_rows = {
            ws.cell(r, COLUMNS["code"]).value: r
            for r in range(16, ws.max_row + 1)
            if ws.cell(r, COLUMNS["code"]).value
        }
        assert set(layout_rows) == {i.code for i in plan.indicators}, out.name
        for code, r in layout_rows.items():
            assert ws.cell(r, ASSESS).value == "Chưa có số liệu", (out.name, code)
            assert ws.cell(r, RATE).value in (None, "", f"0/{len(plan.indicator(code).parts)} đạt")
        assert ws["A7"].value.startswith(f"Đợt {phase.code}: từ {phase.start:%d/%m/%Y}")
        assert ws["F3"].value.endswith(", ngày …… tháng …… năm ……")
        errors = [
            c.coordinate
            for row in ws.iter_rows()
            for c in row
            if isinstance(c.value, str) and (c.value.startswith("#") or c.value.startswith("Err:"))
        ]
        assert errors == [], out.name


# --- the unit's own strings, hostile ones included -----------------------------------------


def test_unit_strings_stay_text_and_the_place_line_computes(tmp_path, soffice):
    plan = load_plan(PLAN)
    name = 'Xã "Đồng" & <Tâm> =1+1 O\'Neil'
    roster = Roster([Unit("P", "Tỉnh Thử", "province"), Unit("=2+3", name, "commune", "P")])
    path = write_template(plan, roster, "=2+3", "1", tmp_path / "in.xlsx",
                          report_date=D(2025, 2, 5))  # fmt: skip
    (converted,) = soffice.convert(path, "xlsx", tmp_path / "out")
    ws = load_workbook(converted, data_only=True).worksheets[0]
    assert ws.title == '"Đồng" & <Tâm> =1+1 O\'Neil'
    assert ws["C10"].value == "=2+3"  # the code, as text
    assert ws["G10"].value == name
    assert ws["A2"].value == name.upper()
    assert ws["F3"].value == '"Đồng" & <Tâm> =1+1 O\'Neil, ngày 05 tháng 02 năm 2025'
    assert ws["A7"].value == "Đợt 1: từ 19/08/2024 đến 03/02/2025"


# --- printing -------------------------------------------------------------------------------


def _pdf_pages(pdf: Path) -> list[str]:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    n = int(re.search(r"Pages:\s+(\d+)", info.stdout).group(1))
    assert "(A4)" in info.stdout
    pages = []
    for i in range(1, n + 1):
        text = subprocess.run(
            ["pdftotext", "-layout", "-f", str(i), "-l", str(i), str(pdf), "-"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        pages.append(text)
    return pages


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="needs poppler-utils (pdftotext)")
def test_printed_report_is_a4_few_pages_and_whole_width(tmp_path, soffice):
    plan = load("thanh-hoa-2024")
    roster = load_roster(plan.roster)
    unit = "14755"
    path = write_template(plan, roster, unit, "1", tmp_path / "bao-cao.xlsx",
                          report_date=D(2025, 2, 5))  # fmt: skip
    (pdf,) = soffice.convert(path, "pdf", tmp_path / "pdf")
    pages = _pdf_pages(pdf)
    report = []
    for text in pages:  # the report sheet prints first, then "Hướng dẫn"
        if "HƯỚNG DẪN ĐIỀN BÁO CÁO" in text:
            break
        report.append(text)
    assert 1 <= len(report) <= 2, f"{len(plan.indicators)} indicators on {len(report)} pages"
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in report[0]
    assert "PHƯỜNG HÀM RỒNG" in report[0]
    assert "BÁO CÁO KẾT QUẢ THỰC HIỆN CHỈ TIÊU THI ĐUA" in report[0]
    for text in report:
        # the header row repeats on every page and the last column is on the same page
        assert "STT" in text and "Ghi chú" in text and "Đánh giá" in text
    assert "NGƯỜI LẬP BIỂU" in report[-1] and "THỦ TRƯỞNG ĐƠN VỊ" in report[-1]
    codes = [i.code for i in plan.indicators]
    assert all(any(c in t for t in report) for c in codes)
    assert len(pages) - len(report) <= 4  # the instructions are short too
