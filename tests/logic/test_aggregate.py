"""Roll-up and judgement on hand-built plans, rosters and reports (no files)."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logic.aggregate import ALL_PHASES, Report, evaluate
from logic.plan import load_plan
from logic.roster import Roster, Unit

D = dt.date


def make_plan(**over):
    data = {
        "id": "t",
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
                "name": "Tin báo do nhân dân cung cấp",
                "unit": "tin báo",
                "kind": "ratio",
                "target": {"op": ">=", "value": 0.8},
            },
            {
                "code": "TP",
                "name": "Tội phạm về TTXH",
                "unit": "vụ",
                "kind": "reduction",
                "target": {"op": ">=", "value": 0.07},
            },
            {
                "code": "MH",
                "name": "Mô hình",
                "unit": "mô hình",
                "kind": "minimum",
                "target": {"op": ">=", "value": 1},
            },
            {
                "code": "PCCC",
                "name": "Phối hợp PCCC",
                "unit": "thôn",
                "kind": "yes_no",
                "target": {"op": ">=", "value": 1},
            },
            {
                "code": "TNGT1",
                "name": "Số vụ TNGT",
                "unit": "vụ",
                "kind": "reduction",
                "target": {"op": ">", "value": 0},
            },
            {
                "code": "TNGT2",
                "name": "Số người chết",
                "unit": "người",
                "kind": "reduction",
                "target": {"op": ">", "value": 0},
            },
            {
                "code": "TNGT",
                "name": "TNGT giảm cả 3 tiêu chí",
                "kind": "all_of",
                "parts": ["TNGT1", "TNGT2"],
                "target": {"op": ">=", "value": 1},
            },
        ],
    }
    data.update(over)
    return load_plan(data)


def make_roster(districts: dict[str, list[str]]) -> Roster:
    units = [Unit("P", "Tỉnh", "province")]
    for d, communes in districts.items():
        units.append(Unit(d, f"Huyện {d}", "district", "P"))
        units += [Unit(c, f"Xã {c}", "commune", d) for c in communes]
    return Roster(units)


def rep(unit, phase="1", **values):
    return Report(unit, phase, values, report_date=D(2025, 2, 5))


def test_uong_bi_district_misses_80_percent_because_the_largest_commune_is_at_60():
    # Every commune is at 79–100 % on e-ID registration; the average of rates would be
    # ~91 % ("met"), but the district rolls up components: 1,330 / 1,900 = 70 % → missed.
    plan = make_plan()
    roster = make_roster({"UB": ["a", "b", "c", "d"]})
    reports = [
        rep("a", TIN={"numerator": 79, "denominator": 100}),
        rep("b", TIN={"numerator": 100, "denominator": 100}),
        rep("c", TIN={"numerator": 90, "denominator": 100}),
        rep("d", TIN={"numerator": 960, "denominator": 1600}),
    ]
    ev = evaluate(plan, roster, reports, phases=["1"])
    district = ev.get("UB", "1", "TIN")
    assert district.components == {"numerator": 1229, "denominator": 1900}
    assert district.value == pytest.approx(1229 / 1900)
    assert district.status == "missed"
    # 0.8 × 1900 = 1520 → 291 more tips from the people are needed
    assert district.gap == 291
    assert district.note == "còn thiếu 291 tin báo"
    assert ev.get("b", "1", "TIN").status == "met"
    assert (district.reported, district.expected) == (4, 4)


def test_zero_over_zero_is_not_applicable_and_a_silent_commune_is_no_data():
    plan = make_plan()
    roster = make_roster({"D1": ["a", "b", "c"]})
    ev = evaluate(
        plan,
        roster,
        [
            rep("a", TIN={"numerator": 0, "denominator": 0}),
            rep("b", TIN={"numerator": 9, "denominator": 10}),
        ],
        phases=["1"],
    )
    a, c = ev.get("a", "1", "TIN"), ev.get("c", "1", "TIN")
    assert (a.status, a.value, a.note) == ("not_applicable", None, "Không phát sinh")
    assert (c.status, c.value, c.reported) == ("no_data", None, 0)
    d = ev.get("D1", "1", "TIN")
    assert (d.status, d.reported, d.expected) == ("met", 2, 3)
    assert ("c", "1") in ev.missing


def test_reduction_with_no_baseline():
    plan = make_plan()
    roster = make_roster({"D1": ["a", "b"]})
    ev = evaluate(
        plan,
        roster,
        [rep("a", TP={"current": 0, "baseline": 0}), rep("b", TP={"current": 2, "baseline": 0})],
        phases=["1"],
    )
    assert ev.get("a", "1", "TP").status == "met"
    b = ev.get("b", "1", "TP")
    assert (b.status, b.value, b.gap) == ("missed", None, 2)


def test_reduction_gap_in_cases():
    plan = make_plan()
    roster = make_roster({"D1": ["a"]})
    # 100 last year, at least 7 % fewer → at most 93; 97 this year → 4 cases too many
    ev = evaluate(plan, roster, [rep("a", TP={"current": 97, "baseline": 100})], phases=["1"])
    r = ev.get("a", "1", "TP")
    assert (r.status, r.gap, r.note) == ("missed", 4, "cần giảm thêm 4 vụ")
    assert r.value == pytest.approx(0.03)


def test_minimum_coverage_counts_communes_not_models():
    plan = make_plan()
    roster = make_roster({"D1": ["a", "b", "c"]})
    ev = evaluate(
        plan,
        roster,
        [rep("a", MH={"count": 9}), rep("b", MH={"count": 0}), rep("c", MH={"count": 1})],
        phases=["1"],
    )
    d = ev.get("D1", "1", "MH")
    assert d.components == {"count": 10, "units_meeting": 2, "units_reported": 3}
    assert d.value == pytest.approx(2 / 3)
    assert d.status == "missed"
    assert d.note == "còn 1 xã chưa đạt"


def test_all_of_is_met_only_where_every_part_is_met_at_that_level():
    plan = make_plan()
    roster = make_roster({"D1": ["a", "b"]})
    ev = evaluate(
        plan,
        roster,
        [
            rep("a", TNGT1={"current": 5, "baseline": 10}, TNGT2={"current": 3, "baseline": 2}),
            rep("b", TNGT1={"current": 10, "baseline": 12}, TNGT2={"current": 0, "baseline": 4}),
        ],
        phases=["1"],
    )
    assert ev.get("a", "1", "TNGT").status == "missed"
    assert ev.get("a", "1", "TNGT").note == "chưa đạt: TNGT2"
    assert ev.get("b", "1", "TNGT").status == "met"
    # district: accidents 15 vs 22 (down), deaths 3 vs 6 (down) → met although commune a missed
    assert ev.get("D1", "1", "TNGT").status == "met"


def test_whole_campaign_sums_components_over_phases():
    plan = make_plan()
    roster = make_roster({"D1": ["a"]})
    ev = evaluate(
        plan,
        roster,
        [
            rep("a", "1", TIN={"numerator": 70, "denominator": 100}),
            rep("a", "2", TIN={"numerator": 30, "denominator": 30}),
        ],
    )
    r = ev.get("a", ALL_PHASES, "TIN")
    assert r.components == {"numerator": 100, "denominator": 130}
    assert r.status == "missed"
    assert (r.reported, r.expected) == (2, 2)


def test_interim_count_is_judged_against_the_pace():
    plan = make_plan(
        indicators=[
            {
                "code": "MH",
                "name": "Mô hình mới",
                "unit": "mô hình",
                "kind": "count",
                "target": {"op": ">=", "value": 10},
            }
        ]
    )
    roster = make_roster({"D1": ["a"]})
    p1 = plan.phase("1")
    halfway = p1.start + (p1.end - p1.start) / 2
    ev = evaluate(plan, roster, [rep("a", MH={"count": 5})], as_of=halfway, phases=["1"])
    r = ev.get("a", "1", "MH")
    assert r.interim and r.status == "met"
    assert r.target.value == 5
    ev = evaluate(plan, roster, [rep("a", MH={"count": 5})], phases=["1"], as_of=p1.end)
    assert ev.get("a", "1", "MH").status == "missed"


def test_merged_communes_roll_into_their_successor_after_the_reform():
    old = [
        Unit("P", "Tỉnh", "province"),
        Unit("D", "Huyện", "district", "P", valid_to=D(2025, 6, 30)),
    ]
    old += [Unit(c, f"Xã {c}", "commune", "D", valid_to=D(2025, 6, 30)) for c in ("x", "y", "z")]
    new = [
        Unit("N1", "Xã mới", "commune", "P", valid_from=D(2025, 7, 1), replaces=("x", "y")),
        Unit("z", "Xã z mới", "commune", "P", valid_from=D(2025, 7, 1), replaces=("z",)),
    ]
    roster = Roster(old + new)
    plan = make_plan(
        phases=[
            {"code": "1", "name": "Đợt 1", "start": D(2024, 8, 19), "end": D(2025, 5, 19)},
            {"code": "2", "name": "Đợt 2", "start": D(2025, 5, 20), "end": D(2025, 8, 19)},
        ]
    )
    ev = evaluate(
        plan,
        roster,
        [
            rep("x", "2", TP={"current": 4, "baseline": 10}),
            rep("y", "2", TP={"current": 6, "baseline": 5}),
            rep("z", "2", TP={"current": 1, "baseline": 1}),
        ],
        phases=["2"],
    )
    n1 = ev.get("N1", "2", "TP")
    assert n1.components == {"current": 10, "baseline": 15}
    assert n1.level == "commune" and n1.parent == "P"
    assert ev.get("P", "2", "TP").components == {"current": 11, "baseline": 16}
    assert set(ev.trees["2"].units) == {"P", "N1", "z"}


# --- properties -----------------------------------------------------------------------

ratio = st.tuples(st.integers(0, 500), st.integers(0, 500)).map(
    lambda t: {"numerator": min(t), "denominator": max(t)}
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(ratio, min_size=1, max_size=6), min_size=1, max_size=4), st.randoms())
def test_parent_components_are_the_sum_of_children_whatever_the_order(districts, rnd):
    names = {f"D{i}": [f"c{i}_{j}" for j in range(len(cs))] for i, cs in enumerate(districts)}
    roster = make_roster(names)
    reports = [rep(f"c{i}_{j}", TIN=c) for i, cs in enumerate(districts) for j, c in enumerate(cs)]
    plan = make_plan()
    first = evaluate(plan, roster, reports, phases=["1"])
    rnd.shuffle(reports)
    again = evaluate(plan, roster, reports, phases=["1"])
    num = sum(c["numerator"] for cs in districts for c in cs)
    den = sum(c["denominator"] for cs in districts for c in cs)
    for ev in (first, again):
        p = ev.get("P", "1", "TIN")
        assert p.components == {"numerator": num, "denominator": den}
        if den:
            assert p.value == pytest.approx(num / den)
        for i, cs in enumerate(districts):
            d = ev.get(f"D{i}", "1", "TIN")
            assert d.components["numerator"] == sum(c["numerator"] for c in cs)
    assert [r.to_dict() for r in first.results] == [r.to_dict() for r in again.results]


@settings(max_examples=40, deadline=None)
@given(st.lists(ratio, min_size=1, max_size=8), st.integers(1, 5))
def test_a_child_that_reports_nothing_changes_only_completeness(children, silent):
    names = [f"c{j}" for j in range(len(children))]
    plan = make_plan()
    reports = [rep(n, TIN=c) for n, c in zip(names, children, strict=True)]
    base = evaluate(plan, make_roster({"D": names}), reports, phases=["1"]).get("D", "1", "TIN")
    more = evaluate(
        plan, make_roster({"D": names + [f"s{k}" for k in range(silent)]}), reports, phases=["1"]
    ).get("D", "1", "TIN")
    assert (more.components, more.value, more.status) == (base.components, base.value, base.status)
    assert (more.reported, more.expected) == (base.reported, base.expected + silent)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 20), min_size=1, max_size=10))
def test_minimum_coverage_is_the_share_of_communes(counts):
    names = [f"c{j}" for j in range(len(counts))]
    ev = evaluate(
        make_plan(),
        make_roster({"D": names}),
        [rep(n, MH={"count": k}) for n, k in zip(names, counts, strict=True)],
        phases=["1"],
    )
    d = ev.get("D", "1", "MH")
    meeting = sum(1 for k in counts if k >= 1)
    assert d.components["units_meeting"] == meeting
    assert d.components["count"] == sum(counts)
    assert d.value == pytest.approx(meeting / len(counts))
    assert d.status == ("met" if meeting == len(counts) else "missed")


def test_order_of_roster_does_not_matter():
    rnd = random.Random(4)
    names = [f"c{j}" for j in range(12)]
    reports = [rep(n, TIN={"numerator": j, "denominator": 12}) for j, n in enumerate(names)]
    a = evaluate(make_plan(), make_roster({"D": names}), reports, phases=["1"]).get("D", "1", "TIN")
    rnd.shuffle(names)
    b = evaluate(make_plan(), make_roster({"D": names}), reports, phases=["1"]).get("D", "1", "TIN")
    assert a.to_dict() == b.to_dict()


def test_targets_read_as_the_sources_word_them():
    from logic.targets import target_text

    plan = make_plan()
    assert target_text(plan.indicator("TP"), plan.indicator("TP").target) == "Giảm ≥ 7%"
    assert target_text(plan.indicator("TIN"), plan.indicator("TIN").target) == "≥ 80%"
    assert target_text(plan.indicator("TNGT1"), plan.indicator("TNGT1").target) == "Giảm"


def test_the_campaign_view_is_interim_while_a_phase_runs():
    plan = make_plan()
    roster = make_roster({"D1": ["a"]})
    mid2 = plan.phase("2").start + dt.timedelta(days=10)
    ev = evaluate(
        plan,
        roster,
        [
            rep("a", "1", TIN={"numerator": 1, "denominator": 2}),
            rep("a", "2", TIN={"numerator": 1, "denominator": 2}),
        ],
        as_of=mid2,
    )
    assert not ev.get("a", "1", "TIN").interim
    assert ev.get("a", "2", "TIN").interim and ev.get("a", ALL_PHASES, "TIN").interim


def test_merged_communes_did_it_only_if_every_one_did():
    old = [Unit("P", "Tỉnh", "province")]
    old += [Unit(c, f"Xã {c}", "commune", "P", valid_to=D(2025, 6, 30)) for c in ("x", "y")]
    new = [Unit("N", "Xã mới", "commune", "P", valid_from=D(2025, 7, 1), replaces=("x", "y"))]
    plan = make_plan()
    ev = evaluate(
        plan,
        Roster(old + new),
        [rep("x", "2", PCCC={"done": 1}), rep("y", "2", PCCC={"done": 0})],
        phases=["2"],
    )
    assert (ev.get("N", "2", "PCCC").status, ev.get("N", "2", "PCCC").value) == ("missed", 0.0)


def test_a_rerun_after_a_correction_judges_again_only_what_it_touches():
    plan = make_plan()
    roster = make_roster({"D1": ["a", "b"], "D2": ["c", "d"]})
    reports = [
        rep("a", TIN={"numerator": 8, "denominator": 10}),
        rep("b", TIN={"numerator": 5, "denominator": 10}),
        rep("c", TIN={"numerator": 9, "denominator": 10}),
    ]
    first = evaluate(plan, roster, reports, phases=["1"])
    assert first.get("D1", "1", "TIN").status == "missed"  # 13 / 20
    assert first.missing == [("d", "1")]
    reports[1] = rep("b", TIN={"numerator": 10, "denominator": 10})  # b corrects its report
    reports.append(rep("d", TIN={"numerator": 1, "denominator": 1}))  # d reports at last
    again = evaluate(
        plan, roster, reports, phases=["1"], previous=first, changed={("b", "1"), ("d", "1")}
    )
    d1 = again.get("D1", "1", "TIN")
    assert (d1.components, d1.status) == ({"numerator": 18, "denominator": 20}, "met")
    assert again.get("P", "1", "TIN").components == {"numerator": 28, "denominator": 31}
    assert again.missing == []
    assert again.get("c", "1", "TIN") is first.get("c", "1", "TIN")  # not judged again
    assert first.get("D1", "1", "TIN").status == "missed"  # the first run is left as it was
    full = evaluate(plan, roster, reports, phases=["1"])
    assert [r.to_dict() for r in again.results] == [r.to_dict() for r in full.results]
