"""Value rules on plain values: what a clerk types and what the user is told."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logic.aggregate import Report
from logic.checks import (
    CellIssue,
    check_components,
    check_identity,
    check_phase,
    check_plan,
    check_report_date,
    check_table,
    check_unit,
    check_value,
    check_values,
    outliers_vs_peers,
    outliers_vs_previous,
)
from logic.findings import flatten
from logic.plan import load_plan
from logic.roster import Roster, Unit

D = dt.date


@pytest.fixture(scope="module")
def plan():
    return load_plan(
        {
            "id": "kh",
            "name": "Thử",
            "start": D(2024, 8, 19),
            "end": D(2025, 8, 19),
            "phases": [
                {"code": "1", "name": "Đợt 1", "start": D(2024, 8, 19), "end": D(2025, 2, 3)},
                {"code": "2", "name": "Đợt 2", "start": D(2025, 2, 4), "end": D(2025, 8, 19)},
            ],
            "indicators": [
                {
                    "code": "TIN",
                    "name": "Tin báo",
                    "kind": "ratio",
                    "target": {"value": 0.8},
                    "labels": {"numerator": "Số tin do dân cung cấp"},
                },
                {"code": "TP", "name": "Tội phạm", "kind": "reduction", "target": {"value": 0.07}},
                {"code": "MH", "name": "Mô hình", "kind": "minimum", "target": {"value": 1}},
                {"code": "PC", "name": "PCCC", "kind": "yes_no", "target": {"value": 1}},
            ],
        }
    )


@pytest.fixture(scope="module")
def roster():
    return Roster(
        [
            Unit("38", "Tỉnh Thanh Hóa", "province"),
            Unit("380", "Thành phố Thanh Hóa", "district", "38"),
            Unit("14755", "Phường Hàm Rồng", "commune", "380"),
            Unit("06649", "Xã Đông Sơn", "commune", "380"),
        ]
    )


def codes(findings):
    return [f.code for f in findings]


# --- one value ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "number", "found"),
    [
        (12.0, 12.0, []),
        (0, 0.0, []),
        ("1.234", 1234.0, ["value_text_number"]),
        ("1.234\xa0", 1234.0, ["value_text_number"]),
        (" 45 ", 45.0, ["value_text_number"]),
        ("1,234", None, ["value_ambiguous"]),
        ("12,5", None, ["value_fractional"]),
        (12.5, None, ["value_fractional"]),
        ("80 %", None, ["value_percent"]),
        (-3.0, None, ["value_negative"]),
        ("−3", None, ["value_negative"]),
        ("", None, ["value_blank"]),
        (None, None, ["value_blank"]),
        ("-", None, ["value_blank"]),
        ("mười", None, ["value_not_number"]),
        (D(2024, 9, 1), None, ["value_not_number"]),
        ("#DIV/0!", None, ["formula_error"]),
    ],
)
def test_value(plan, raw, number, found):
    value, findings = check_value(plan.indicator("TIN"), "numerator", raw, cell="F17")
    assert value == number
    assert codes(findings) == found
    assert all(f.cell == "F17" for f in findings)


def test_value_messages_say_what_and_where(plan):
    _, [f] = check_value(plan.indicator("TIN"), "numerator", "1.234", cell="F17")
    assert f.severity == "warning"
    assert "“Số tin do dân cung cấp”" in f.message and "1.234" in f.message
    _, [f] = check_value(plan.indicator("TIN"), "numerator", "1,234", cell="F17")
    assert f.severity == "error"
    assert "1,234" in f.message and "1234" in f.message.replace(".", "")


@pytest.mark.parametrize(
    ("raw", "number", "found"),
    [
        ("Có", 1.0, []),
        ("không", 0.0, []),
        (1.0, 1.0, []),
        (0.0, 0.0, []),
        ("x", 1.0, []),
        ("", None, ["value_blank"]),
        ("đang làm", None, ["value_not_yes_no"]),
        (2.0, None, ["value_not_yes_no"]),
    ],
)
def test_yes_no(plan, raw, number, found):
    value, findings = check_value(plan.indicator("PC"), "done", raw)
    assert (value, codes(findings)) == (number, found)


def test_formula_issues_come_from_the_reader(plan):
    ind = plan.indicator("MH")
    value, [f] = check_value(ind, "count", "", issue=CellIssue("no_cache", "=F17+F18"))
    assert (value, f.code) == (None, "formula_no_cache")
    assert "=F17+F18" in f.message
    value, [f] = check_value(ind, "count", "", issue=CellIssue("error", "#REF!"))
    assert (value, f.code) == (None, "formula_error")


def test_numerator_above_denominator(plan):
    ind = plan.indicator("TIN")
    found = check_components(ind, {"numerator": 12, "denominator": 10}, cells={"numerator": "F5"})
    assert [(f.code, f.cell) for f in found] == [("numerator_above_denominator", "F5")]
    assert check_components(ind, {"numerator": 10, "denominator": 10}) == []
    assert check_components(ind, {"numerator": 12, "denominator": None}) == []


def test_values_of_a_report(plan):
    raw = {
        ("TIN", "numerator"): 12.0,
        ("TIN", "denominator"): 10.0,
        ("TP", "current"): "1.234",
        ("TP", "baseline"): "",
        ("MH", "count"): 2.0,
        ("PC", "done"): "Có",
    }
    cells = {k: f"{'FG'[i % 2]}{i + 10}" for i, k in enumerate(raw)}
    values, findings, empty = check_values(plan, raw, cells)
    assert not empty
    # a numerator above its denominator: neither can be trusted
    assert values["TIN"] == {"numerator": None, "denominator": None}
    assert values["TP"] == {"current": 1234.0, "baseline": None}
    assert values["MH"] == {"count": 2.0}
    assert values["PC"] == {"done": 1.0}
    assert [(f.code, f.cell) for f in findings] == [
        ("value_text_number", "F12"),
        ("value_blank", "G13"),
        ("numerator_above_denominator", "F10"),
    ]


def test_blank_template_is_one_warning(plan):
    raw = {("TIN", "numerator"): "", ("TIN", "denominator"): None, ("MH", "count"): ""}
    values, findings, empty = check_values(plan, raw, {})
    assert empty
    assert codes(findings) == ["template_empty"]
    assert values == {"TIN": {"numerator": None, "denominator": None}, "MH": {"count": None}}


def test_blank_cells_hiding_formulas_are_not_an_empty_template(plan):
    raw = {("MH", "count"): "", ("TIN", "numerator"): ""}
    cells = {("MH", "count"): "F20", ("TIN", "numerator"): "F21"}
    _, findings, empty = check_values(plan, raw, cells, {"F20": CellIssue("no_cache", "=1")})
    assert not empty
    assert [(f.code, f.cell) for f in findings] == [
        ("formula_no_cache", "F20"),
        ("value_blank", "F21"),
    ]


# --- identity -----------------------------------------------------------------------------


def test_plan(plan):
    assert check_plan(plan, "kh") == []
    assert check_plan(plan, " KH ") == []
    assert codes(check_plan(plan, None)) == ["plan_missing"]
    [f] = check_plan(plan, "khac", cell="C9")
    assert (f.code, f.cell) == ("plan_mismatch", "C9")
    assert "“khac”" in f.message and "“kh”" in f.message


@pytest.mark.parametrize(
    ("raw", "code", "found"),
    [
        ("1", "1", []),
        (2.0, "2", []),
        ("Đợt 2", "2", []),
        ("đợt 1", "1", []),
        ("", None, ["phase_missing"]),
        (None, None, ["phase_missing"]),
        ("3", None, ["phase_unknown"]),
    ],
)
def test_phase(plan, raw, code, found):
    got, findings = check_phase(plan, raw)
    assert (got, codes(findings)) == (code, found)


def test_phase_unknown_lists_the_phases(plan):
    _, [f] = check_phase(plan, "Đợt 7")
    assert "Đợt 7" in f.message and "1, 2" in f.message


@pytest.mark.parametrize(
    ("raw", "day", "found"),
    [
        (D(2025, 1, 20), D(2025, 1, 20), []),
        ("20/01/2025", D(2025, 1, 20), []),
        (dt.datetime(2025, 2, 20, 9, 30), D(2025, 2, 20), []),  # after the end, within grace
        (D(2025, 6, 1), D(2025, 6, 1), ["report_date_outside_phase"]),
        (D(2024, 1, 1), D(2024, 1, 1), ["report_date_outside_phase"]),
        (None, None, ["report_date_missing"]),
        ("hôm nay", None, ["report_date_invalid"]),
        ("31/02/2025", None, ["report_date_invalid"]),
    ],
)
def test_report_date(plan, raw, day, found):
    got, findings = check_report_date(plan, raw, "1")
    assert (got, codes(findings)) == (day, found)
    assert all(f.severity == "warning" for f in findings)


@pytest.mark.parametrize(
    ("code", "name", "found", "level"),
    [
        ("14755", "Phường Hàm Rồng", [], "commune"),
        ("14755", "HÀM RỒNG", [], "commune"),
        ("14755", "Công an phường Hàm Rồng", [], "commune"),
        ("14755", "Pha\u0300m Rô\u0300ng", ["unit_name_mismatch"], "commune"),
        ("14755", "Pho\u031b\u0300ng Ha\u0300m Rô\u0300ng", [], "commune"),  # NFD from a Mac
        ("14755", "Xã Đông Sơn", ["unit_name_mismatch"], "commune"),
        (6649.0, "Đông Sơn", [], "commune"),  # typed as a number: the leading 0 is lost
        ("380", None, [], "district"),  # a district's own tally sheet
        ("38", None, ["unit_not_commune"], "province"),
        ("99999", None, ["unit_unknown"], None),
        ("", None, ["unit_missing"], None),
    ],
)
def test_unit(roster, code, name, found, level):
    unit, _code, findings = check_unit(roster, code, name)
    assert codes(findings) == found
    assert (unit.level if unit else None) == level


def test_unit_name_mismatch_says_whose_file_it_may_be(roster):
    _, _, [f] = check_unit(roster, "14755", "Xã Đông Sơn", cell="C10", name_cell="G10")
    assert f.cell == "G10"
    assert "Xã Đông Sơn" in f.message and "Phường Hàm Rồng" in f.message


def test_identity(plan, roster):
    meta = {
        "plan_id": "kh",
        "unit": "06649",
        "unit_name": "Xa\u0303 Đông Sơn",
        "phase": "1",
        "report_date": "25/01/2025",
        "prepared_by": "Nguyễn\xa0Văn  A",
    }
    ident, findings = check_identity(plan, roster, meta, {"unit": "C10"})
    assert findings == []
    assert (ident.unit, ident.phase, ident.report_date, ident.level) == (
        "06649",
        "1",
        D(2025, 1, 25),
        "commune",
    )
    assert ident.unit_name == "Xã Đông Sơn"  # NFC
    assert ident.prepared_by == "Nguyễn Văn A"


def test_identity_without_anything(plan, roster):
    ident, findings = check_identity(plan, roster, {}, {})
    assert codes(findings) == [
        "plan_missing",
        "phase_missing",
        "report_date_missing",
        "unit_missing",
    ]
    assert ident.unit is None and ident.phase is None


# --- table --------------------------------------------------------------------------------


def test_table(plan):
    found = check_table(
        plan,
        missing_indicators=["MH"],
        missing_columns=["denominator", "baseline"],
        unknown=[("TIN2", "B30")],
        duplicates={"TP": [18, 25]},
        code_cells={"TP": "B18"},
    )
    assert flatten(found) == [
        ("column_missing", None, None),
        ("indicator_missing", None, None),
        ("indicator_unknown", None, "B30"),
        ("indicator_duplicate", None, "B25"),
    ]
    assert "Tổng số / Cùng kỳ năm trước" in found[0].message
    assert "18, 25" in found[3].message


# --- outliers -----------------------------------------------------------------------------


def _report(unit, phase, mh, tin=(5, 10)):
    return Report(
        unit,
        phase,
        {"MH": {"count": mh}, "TIN": {"numerator": tin[0], "denominator": tin[1]},
         "PC": {"done": 1.0}},
        source=f"{unit}-{phase}.xlsx",
    )  # fmt: skip


def test_outlier_vs_previous_phase(plan):
    reports = [
        _report("a", "1", 4),
        _report("a", "2", 40),  # 10× the previous phase
        _report("b", "1", 1),
        _report("b", "2", 6),  # 6× but tiny: noise
        _report("c", "1", 50),
        _report("c", "2", 8),  # ≤ 1/5
    ]
    found = outliers_vs_previous(reports, plan)
    assert [(f.code, f.unit, f.phase, f.path) for f in found] == [
        ("outlier_previous", "a", "2", "a-2.xlsx"),
        ("outlier_previous", "c", "2", "c-2.xlsx"),
    ]
    assert "gấp 10 lần" in found[0].message and "(4)" in found[0].message
    assert "gấp 0,2 lần" in found[1].message


def test_outlier_vs_peers(plan):
    reports = [_report(u, "1", n) for u, n in zip("abcdef", [3, 4, 5, 5, 6, 60], strict=True)]
    reports.append(_report("g", "1", 0))  # nothing happened: a normal answer
    cells = {"f": "F32"}
    found = outliers_vs_peers(
        reports, plan, where=lambda r, ind, comp: {"sheet": "S", "cell": cells.get(r.unit)}
    )
    assert [(f.code, f.unit, f.cell) for f in found] == [("outlier_peers", "f", "F32")]
    assert "60" in found[0].message and "gấp 12 lần" in found[0].message


def test_outlier_vs_peers_needs_enough_peers(plan):
    reports = [_report(u, "1", n) for u, n in zip("abcd", [3, 4, 5, 60], strict=True)]
    assert outliers_vs_peers(reports, plan) == []


anything = st.one_of(
    st.none(),
    st.text(max_size=15),
    st.floats(min_value=-1e12, max_value=1e12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**9), 10**9),
    st.booleans(),
    st.dates(),
    st.datetimes(),
    st.times(),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(anything, min_size=6, max_size=6), st.dictionaries(
    st.sampled_from(["plan_id", "unit", "unit_name", "phase", "report_date", "prepared_by"]),
    anything,
))  # fmt: skip
def test_any_cell_values_give_findings_not_exceptions(plan, roster, raws, meta):
    keys = [("TIN", "numerator"), ("TIN", "denominator"), ("TP", "current"),
            ("TP", "baseline"), ("MH", "count"), ("PC", "done")]  # fmt: skip
    values, findings, _empty = check_values(plan, dict(zip(keys, raws, strict=True)), {})
    for comps in values.values():
        for v in comps.values():
            assert v is None or (v >= 0 and float(v).is_integer())
    shown = [f.message for f in findings if "e+" not in repr(raws)]  # huge numbers are cut
    assert all(m and "…" not in m for m in shown)  # no detail left unfilled
    check_identity(plan, roster, meta, {})


@settings(max_examples=300, deadline=None)
@given(st.lists(anything, min_size=6, max_size=6))
def test_check_values_says_what_check_value_says_cell_by_cell(plan, raws):
    keys = [("TIN", "numerator"), ("TIN", "denominator"), ("TP", "current"),
            ("TP", "baseline"), ("MH", "count"), ("PC", "done")]  # fmt: skip
    raw = dict(zip(keys, raws, strict=True))
    cells = {k: f"F{i + 5}" for i, k in enumerate(keys)}
    values, findings, empty = check_values(plan, raw, cells)
    if empty:
        assert codes(findings) == ["template_empty"]
        return
    by_code = {i.code: i for i in plan.indicators}
    expected: dict[str, dict[str, float | None]] = {}
    expected_findings = []
    for (ind, comp), value in raw.items():
        number, found = check_value(by_code[ind], comp, value, cell=cells[(ind, comp)])
        expected.setdefault(ind, {})[comp] = number
        expected_findings += found
    for ind, comps in expected.items():
        bad = check_components(by_code[ind], comps, cells={c: cells[(ind, c)] for c in comps})
        expected_findings += bad
        if bad:
            expected[ind] = dict.fromkeys(comps)
    assert values == expected
    assert [(f.code, f.cell, f.message) for f in findings] == [
        (f.code, f.cell, f.message) for f in expected_findings
    ]
