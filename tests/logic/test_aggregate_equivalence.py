"""``evaluate`` gives exactly what the roll-up gave before it was made fast, and a re-run
after a few changed reports gives exactly what a full evaluation gives.

The oracle is ``aggregate_reference.py``, the module as it was (commit 6bad33f). Two
evaluations are compared as users and the JSON summary see them: every result's ``repr``
(every field, and 1 apart from 1.0), in order, then the missing communes, the unplaced
reports and the trees. Plans, rosters (a reform between phases dissolves districts and
merges communes) and reports (fractions, -0.0, blanks, duplicates, old codes, units that
are not communes) are drawn by hypothesis; one case is the bundled Nghệ An plan and roster
across the 2025 reform.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import pickle
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logic.aggregate import ALL_PHASES, Evaluation, Report, Result, _new_result, evaluate
from logic.plan import load_plan
from logic.roster import Roster, Unit
from tests.logic import aggregate_reference as reference

D = dt.date
PHASES = [
    {"code": "1", "name": "Đợt 1", "start": D(2024, 8, 19), "end": D(2025, 2, 3)},
    {"code": "2", "name": "Đợt 2", "start": D(2025, 2, 4), "end": D(2025, 5, 19)},
    {"code": "3", "name": "Đợt 3", "start": D(2025, 5, 20), "end": D(2025, 8, 19)},
]
LAST_OLD_DAY, REFORM = D(2025, 6, 30), D(2025, 7, 1)  # phase 3 ends on the new roster
KINDS = ("ratio", "reduction", "count", "minimum", "yes_no")
COMPONENTS = {
    "ratio": ("numerator", "denominator"),
    "reduction": ("current", "baseline"),
    "count": ("count",),
    "minimum": ("count",),
    "yes_no": ("done",),
}


def fingerprint(ev: Evaluation) -> tuple:
    """What anyone sees of an evaluation, exactly (``repr`` tells 1 from 1.0)."""
    return (
        [repr(r) for r in ev.results],
        list(ev.missing),
        [(r.unit, r.phase, r.source) for r in ev.unplaced],
        {p: (t.day, t.units) for p, t in ev.trees.items()},
    )


def outcome(fn, *args, **kwargs):
    try:
        return fingerprint(fn(*args, **kwargs))
    except Exception as e:  # both must fail alike where the old code failed
        return ("raised", type(e).__name__)


# --- drawing cases --------------------------------------------------------------------


@st.composite
def targets(draw, kind: str) -> dict:
    if draw(st.integers(0, 5)) == 0:
        return {"op": ">=", "local": True}
    op = draw(st.sampled_from([">=", ">=", ">", "<=", "<", "=="]))
    if kind in ("ratio", "reduction"):
        value = draw(st.sampled_from([0, 0.07, 0.1, 0.5, 0.8, 0.95, 1.0]))
    elif kind == "yes_no":
        value = 1
    else:
        value = draw(st.sampled_from([0, 1, 3, 10]))
    return {"op": op, "value": value}


@st.composite
def plans(draw):
    phases = PHASES[: draw(st.integers(1, 3))]
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=6))
    indicators = []
    for i, kind in enumerate(kinds):
        ind = {"code": f"I{i}", "name": f"Chỉ tiêu {i}", "unit": "vụ", "kind": kind}
        ind["target"] = draw(targets(kind))
        if draw(st.integers(0, 3)) == 0:
            ind["targets_by_phase"] = {phases[-1]["code"]: draw(targets(kind))}
        if draw(st.integers(0, 3)) == 0:
            ind["level_targets"] = {draw(st.sampled_from(["district", "province"])): draw(
                targets(kind))}  # fmt: skip
        if draw(st.integers(0, 3)) == 0:
            ind["levels"] = draw(st.sampled_from([("commune", "district"),
                                                  ("district", "province"), ("commune",)]))  # fmt: skip
        if draw(st.integers(0, 3)) == 0:
            ind["coverage"] = draw(st.sampled_from([0.5, 0.8]))
        indicators.append(ind)
    judged = [i["code"] for i in indicators]
    if len(judged) >= 2 and draw(st.booleans()):
        parts = draw(st.lists(st.sampled_from(judged), min_size=2, max_size=3, unique=True))
        indicators.append({"code": "ALL", "name": "Đạt tất cả", "kind": "all_of",
                           "parts": parts, "target": {"op": ">=", "value": 1}})  # fmt: skip
    return load_plan({"id": "t", "name": "Thử", "start": D(2024, 8, 19), "end": D(2025, 8, 19),
                      "phases": phases, "indicators": indicators})  # fmt: skip


@st.composite
def rosters(draw) -> tuple[Roster, list[str]]:
    """A province whose districts may be dissolved and communes merged on 1 July 2025."""
    units = [Unit("P", "Tỉnh", "province")]
    codes = ["P"]
    merged: list[str] = []
    for d in range(draw(st.integers(1, 3))):
        district = f"D{d}"
        dissolved = draw(st.booleans())
        units.append(Unit(district, f"Huyện {d}", "district", "P",
                          valid_to=LAST_OLD_DAY if dissolved else None))  # fmt: skip
        codes.append(district)
        for k in range(draw(st.integers(0, 4))):
            code = f"C{d}{k}"
            codes.append(code)
            fate = draw(st.sampled_from(["stays", "merged", "renewed"]))
            if fate == "stays" and not dissolved:
                units.append(Unit(code, f"Xã {code}", "commune", district))
                continue
            units.append(Unit(code, f"Xã {code}", "commune", district, valid_to=LAST_OLD_DAY))
            if fate == "merged":
                merged.append(code)
            else:  # the same code again under the province (re-parented), maybe claiming itself
                claims = (code,) if fate == "renewed" else ()
                units.append(Unit(code, f"Xã {code} mới", "commune", "P", valid_from=REFORM,
                                  replaces=claims))  # fmt: skip
    while merged:
        take = draw(st.integers(1, len(merged)))
        group, merged = merged[:take], merged[take:]
        code = f"N{len(codes)}"
        codes.append(code)
        units.append(Unit(code, f"Xã mới {code}", "commune", "P", valid_from=REFORM,
                          replaces=tuple(group)))  # fmt: skip
    if draw(st.booleans()):
        random.Random(draw(st.integers(0, 99))).shuffle(units)
    return Roster(units), codes


NUMBERS = st.one_of(
    st.integers(0, 40),
    st.sampled_from([0.0, -0.0, 0.5, 2.25, 7.0, 1e-3, 1 / 3, -1]),
)


@st.composite
def figures(draw, plan) -> dict:
    values = {}
    for ind in plan.reported_indicators:
        if draw(st.integers(0, 6)) == 0:
            continue  # not reported at all
        keys = list(COMPONENTS[ind.kind])
        if draw(st.integers(0, 5)) == 0:
            keys.reverse()  # columns in another order
        comps = {}
        for k in keys:
            if draw(st.integers(0, 12)) == 0:
                comps[k] = None  # blank or unusable
            elif k == "done":
                comps[k] = draw(st.sampled_from([0, 1, 1.0, 0.0]))
            else:
                comps[k] = draw(NUMBERS)
        values[ind.code] = comps
    if draw(st.integers(0, 8)) == 0:
        values["EXTRA"] = {"count": 1}  # an indicator the plan does not have
    return values


@st.composite
def reports(draw, plan, codes: list[str]) -> Report:
    phase = draw(st.sampled_from(plan.phases))
    unit = draw(st.sampled_from([*codes, "X99"]))
    day = draw(st.one_of(st.none(), st.integers(-5, 200).map(
        lambda n, p=phase: min(p.start + dt.timedelta(days=n), p.end + dt.timedelta(days=9)))))  # fmt: skip
    source = f"{unit}-{draw(st.integers(0, 9))}.xlsx"
    return Report(unit, phase.code, draw(figures(plan)), day, source)


@st.composite
def cases(draw):
    plan = draw(plans())
    roster, codes = draw(rosters())
    reps = draw(st.lists(reports(plan, codes), max_size=14))
    options = {}
    if draw(st.booleans()):
        options["as_of"] = draw(st.sampled_from(
            [D(2024, 8, 1), D(2024, 11, 30), D(2025, 4, 1), D(2025, 8, 1), D(2025, 9, 1)]))  # fmt: skip
    if draw(st.integers(0, 3)) == 0:
        options["phases"] = draw(st.lists(st.sampled_from([p.code for p in plan.phases]),
                                          min_size=1, unique=True))  # fmt: skip
    if draw(st.integers(0, 4)) == 0:
        options["campaign"] = False
    return plan, roster, codes, reps, options


SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip


# --- the same results as before -------------------------------------------------------


@SETTINGS
@given(cases())
def test_evaluate_gives_what_it_gave_before_it_was_made_fast(case):
    plan, roster, _codes, reps, options = case
    assert outcome(evaluate, plan, roster, reps, **options) == outcome(
        reference.evaluate, plan, roster, reps, **options
    )


def nghe_an_case(seed: int = 7):
    """The bundled Nghệ An plan and roster, phase 2 ending on the merged communes."""
    from workbooks.demo import figures as plausible
    from workbooks.plans import load
    from workbooks.rosters import load_roster

    plan, roster = load("nghe-an-2024"), load_roster("nghe-an")
    rnd = random.Random(seed)
    old = roster.tree(D(2025, 2, 3))
    new = roster.tree(D(2025, 8, 19))
    reps = []
    for phase, tree in (("1", old), ("2", old), ("2", new), ("2", new)):
        communes = [c for c, u in tree.units.items() if u.level == "commune"]
        for code in rnd.sample(communes, len(communes) * 2 // 3):
            values = {i.code: plausible(i, rnd, phase) for i in plan.reported_indicators}
            values = {k: {c: (v == "Có") if v in ("Có", "Không") else v for c, v in comps.items()}
                      for k, comps in values.items()}  # fmt: skip
            day = plan.phase(phase).end - dt.timedelta(days=rnd.randint(-3, 60))
            reps.append(Report(code, phase, values, day, f"{code}-{phase}.xlsx"))
    reps.append(Report("412", "1", {}, None, "huyen.xlsx"))  # a district's own sheet
    return plan, roster, reps


def test_the_nghe_an_campaign_across_the_reform_is_judged_as_before():
    plan, roster, reps = nghe_an_case()
    ours = evaluate(plan, roster, reps)
    assert {r.phase for r in ours.results} == {"1", "2", ALL_PHASES}
    assert ours.unplaced and ours.missing
    assert fingerprint(ours) == fingerprint(reference.evaluate(plan, roster, reps))
    mid = D(2025, 5, 1)  # phase 2 still running: interim, counts against the pace
    ours = evaluate(plan, roster, reps, as_of=mid)
    assert any(r.interim for r in ours.results)
    assert fingerprint(ours) == fingerprint(reference.evaluate(plan, roster, reps, as_of=mid))


def test_results_are_real_frozen_results():
    fields = [f.name for f in dataclasses.fields(Result)]
    assert list(_new_result.__code__.co_varnames[: len(fields)]) == fields
    made = _new_result(*[f"v{i}" for i in range(len(fields))])
    assert type(made) is Result
    assert made == Result(*[f"v{i}" for i in range(len(fields))])
    assert repr(made) == repr(Result(*[f"v{i}" for i in range(len(fields))]))
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.status = "met"


def odd_roster() -> Roster:
    """Shapes no real roster has, which the roll-up must still take as it always did: a
    commune under a commune (its district's communes are then not one run), a commune
    without a parent, a district without communes, two units each other's parent (out of
    reach), and an old commune code that became a district's on 1 July 2025."""
    return Roster([
        Unit("P", "Tỉnh", "province"),
        Unit("D1", "Huyện 1", "district", "P"),
        Unit("C1", "Xã 1", "commune", "D1"),
        Unit("C3", "Xã 3", "commune", "D1"),
        Unit("K", "Xóm dưới xã 3", "commune", "C3"),
        Unit("C4", "Xã 4", "commune", "D1"),
        Unit("D2", "Huyện 2", "district", "P"),
        Unit("C0", "Xã không có cấp trên", "commune"),
        Unit("L1", "Vòng 1", "district", "L2"),
        Unit("L2", "Vòng 2", "district", "L1"),
        Unit("C9", "Xã trong vòng", "commune", "L1"),
        Unit("X", "Xã X", "commune", "P", valid_to=LAST_OLD_DAY),
        Unit("X", "Huyện X", "district", "P", valid_from=REFORM),
        Unit("C5", "Xã 5", "commune", "X", valid_from=REFORM),
    ])  # fmt: skip


@pytest.mark.parametrize("seed", range(6))
def test_odd_trees_are_judged_as_before_and_rerun_exactly(seed):
    plan = load_plan({"id": "t", "name": "Thử", "start": D(2024, 8, 19), "end": D(2025, 8, 19),
                      "phases": PHASES, "indicators": [
        {"code": "R", "name": "Tỷ lệ", "kind": "ratio", "target": {"op": ">=", "value": 0.8}},
        {"code": "M", "name": "Mô hình", "kind": "minimum", "target": {"op": ">=", "value": 1}},
        {"code": "A", "name": "Tất cả", "kind": "all_of", "parts": ["R", "M"],
         "target": {"op": ">=", "value": 1}}]})  # fmt: skip
    roster = odd_roster()
    rnd = random.Random(seed)
    units = ["C1", "C3", "K", "C4", "C0", "C9", "X", "C5", "D1", "L1"]

    def one(unit, phase):
        den = rnd.randint(0, 9)
        values = {"R": {"numerator": rnd.randint(0, den), "denominator": den},
                  "M": {"count": rnd.choice([0, 1, 2.5])}}  # fmt: skip
        return Report(unit, phase, values, None, f"{unit}.xlsx")

    reps = [one(u, p["code"]) for p in PHASES for u in units if rnd.random() < 0.8]
    ev = evaluate(plan, roster, reps)
    assert fingerprint(ev) == fingerprint(reference.evaluate(plan, roster, reps))
    for _round in range(3):
        unit, phase = rnd.choice(units), rnd.choice(PHASES)["code"]
        reps = [r for r in reps if (r.unit, r.phase) != (unit, phase)]
        if rnd.random() < 0.7:
            reps.append(one(unit, phase))
        ev = evaluate(plan, roster, reps, previous=ev, changed={(unit, phase)})
        assert fingerprint(ev) == fingerprint(reference.evaluate(plan, roster, reps))


# --- a re-run equals a full evaluation ------------------------------------------------


@st.composite
def edits(draw, plan, codes):
    """Reports changed, removed, added or sent twice, and the (unit, phase) each touches."""
    action = draw(st.sampled_from(["set", "remove", "add", "twice"]))
    rep = draw(reports(plan, codes))
    return action, rep


def apply(reps: list[Report], edit) -> tuple[list[Report], tuple[str, str]]:
    action, rep = edit
    key = (rep.unit, rep.phase)
    same = [i for i, r in enumerate(reps) if (r.unit, r.phase) == key]
    out = list(reps)
    if action == "remove":
        out = [r for r in reps if (r.unit, r.phase) != key]
    elif action == "set" and same:
        out[same[0]] = rep
    elif action == "twice" and same:
        out.insert(same[-1] + 1, rep)
    else:
        out.insert(len(out) // 2, rep)
    return out, key


@SETTINGS
@given(st.data())
def test_a_rerun_after_changed_reports_equals_a_full_evaluation(data):
    plan, roster, codes, reps, options = data.draw(cases())
    ev = evaluate(plan, roster, reps, **options)
    for _round in range(2):  # a re-run of a re-run, too
        before = fingerprint(ev)
        changed = set()
        for edit in data.draw(st.lists(edits(plan, codes), min_size=1, max_size=3)):
            reps, key = apply(reps, edit)
            changed.add(key)
        again = evaluate(plan, roster, reps, **options, previous=ev, changed=changed)
        assert fingerprint(again) == fingerprint(evaluate(plan, roster, reps, **options))
        assert fingerprint(ev) == before  # the previous evaluation is left as it was
        ev = again


def test_a_rerun_judges_again_only_the_changed_commune_and_those_above_it():
    plan, roster, reps = nghe_an_case()
    first = evaluate(plan, roster, reps)
    i = next(i for i, r in enumerate(reps) if r.phase == "1")
    old = reps[i]
    fixed = dict(old.values)
    fixed["CT05"] = {"numerator": 1, "denominator": 9}  # the correction
    reps[i] = Report(old.unit, old.phase, fixed, old.report_date, old.source)
    again = evaluate(plan, roster, reps, previous=first, changed={(old.unit, "1")})
    assert fingerprint(again) == fingerprint(evaluate(plan, roster, reps))
    tree = first.trees["1"]
    touched = {old.unit, *tree.ancestors(old.unit)}
    final = again.trees["2"].successor(old.unit)
    touched_all = {final, *again.trees["2"].ancestors(final)}
    new = [
        (a.unit, a.phase) for a, b in zip(again.results, first.results, strict=True) if a is not b
    ]
    assert new and set(new) == {(u, "1") for u in touched} | {(u, ALL_PHASES) for u in touched_all}
    assert again.get(old.unit, "1", "CT05").components == {"numerator": 1, "denominator": 9}


def test_a_rerun_with_another_plan_is_a_full_evaluation():
    plan, roster, reps = nghe_an_case()
    first = evaluate(plan, roster, reps)
    other = plan.model_copy(update={"indicators": plan.indicators[:3]})
    again = evaluate(other, roster, reps, previous=first, changed=set())
    assert fingerprint(again) == fingerprint(reference.evaluate(other, roster, reps))
    assert len(again.results) < len(first.results)


def test_a_rerun_can_start_from_an_evaluation_pickled_by_an_earlier_run():
    plan, roster, reps = nghe_an_case()
    first = pickle.loads(pickle.dumps(evaluate(plan, roster, reps), protocol=5))
    assert fingerprint(first) == fingerprint(evaluate(plan, roster, reps))
    assert all(type(r) is Result for r in first.results)
    old = reps[0]
    reps[0] = Report(old.unit, old.phase, {}, old.report_date, old.source)  # sent blank
    again = evaluate(plan, roster, reps, previous=first, changed={(old.unit, old.phase)})
    assert fingerprint(again) == fingerprint(evaluate(plan, roster, reps))
    assert again.get(old.unit, old.phase, "CT05").status == "no_data"
    assert sum(a is b for a, b in zip(again.results, first.results, strict=True)) > 0.9 * len(
        first.results
    )
