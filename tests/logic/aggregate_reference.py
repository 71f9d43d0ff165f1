"""The roll-up as it was before it was made fast (commit 6bad33f): the oracle of the tests.

``logic.aggregate`` must give exactly what this module gives (``tests/logic/
test_aggregate_equivalence.py``); ``benchmarks/evaluate.py --reference`` times both. Kept
as it was, apart from its imports; do not improve it.

Roll commune reports up the roster and judge every target, phase by phase.

``evaluate(plan, roster, reports)`` is the heart of thidua. For each phase it takes the
roster's tree on the phase's last day (so a phase after 1 July 2025 rolls up on the
2-level roster), maps every report onto that tree (a report from a commune that was
merged goes to its successor: "same period last year" figures given on old communes add
up into today's commune), then for every unit and indicator:

- sums **components**, never percentages: a district's rate is Σ numerators / Σ
  denominators of the communes that reported that indicator;
- counts, minimums and yes/no at district and province level become the share of
  reporting communes that met the commune target (unless the plan gives the level its own
  total in ``level_targets``);
- all-of is met where every part is met at that level;
- a commune that did not report is ``no_data``, never zero; ``reported``/``expected``
  say how complete each figure is;
- a report dated before the phase ends is interim; a count is then judged against the
  pace (target × share of the phase elapsed).

The whole-campaign view (phase ``"all"``) sums each commune's components over the
phases on the last phase's tree.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from logic.plan import Indicator, Plan, Target
from logic.roster import Roster, Tree
from logic.targets import (
    Judgement,
    judge_count,
    judge_ratio,
    judge_reduction,
    judge_share,
    judge_yes_no,
)

ALL_PHASES = "all"
Components = dict[str, float]


@dataclass(frozen=True)
class Report:
    """One commune's figures for one phase: indicator code → component → number.

    A component that is missing or None was not usable (blank, not a number, …): the
    indicator is then ``no_data`` for that commune, never zero.
    """

    unit: str
    phase: str
    values: Mapping[str, Mapping[str, float | None]]
    report_date: dt.date | None = None
    source: str | None = None


@dataclass(frozen=True, slots=True)
class Result:
    """One judged figure (contract: JSON summary ``results``)."""

    unit: str
    level: str
    parent: str | None
    phase: str
    indicator: str
    kind: str
    components: dict
    value: float | None
    target: Target | None
    status: str
    reported: int
    expected: int
    interim: bool = False
    gap: float | None = None
    note: str | None = None
    name: str = ""
    sources: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return self.reported >= self.expected

    def to_dict(self) -> dict:
        target = None
        if self.target is not None:
            target = {"op": self.target.op, "value": self.target.value}
            if self.target.local:
                target["local"] = True
        return {
            "unit": self.unit,
            "level": self.level,
            "parent": self.parent,
            "phase": self.phase,
            "indicator": self.indicator,
            "kind": self.kind,
            "components": self.components,
            "value": self.value,
            "target": target,
            "status": self.status,
            "reported": self.reported,
            "expected": self.expected,
            "interim": self.interim,
            "gap": self.gap,
            "note": self.note,
        }


@dataclass
class Evaluation:
    results: list[Result] = field(default_factory=list)
    missing: list[tuple[str, str]] = field(default_factory=list)  # (unit, phase)
    unplaced: list[Report] = field(default_factory=list)  # reports for units not in the tree
    trees: dict[str, Tree] = field(default_factory=dict)  # phase code → tree used

    def get(self, unit: str, phase: str, indicator: str) -> Result:
        return self._index[(unit, phase, indicator)]

    @property
    def _index(self) -> dict[tuple[str, str, str], Result]:
        idx = self.__dict__.get("_idx")
        if idx is None or len(idx) != len(self.results):
            idx = {(r.unit, r.phase, r.indicator): r for r in self.results}
            self.__dict__["_idx"] = idx
        return idx


def phase_tree(plan: Plan, roster: Roster, phase: str, as_of: dt.date | None = None) -> Tree:
    """The units a phase is judged on: the roster on the phase's last day (or ``as_of``)."""
    p = plan.phase(phase)
    day = min(p.end, as_of) if as_of else p.end
    return roster.scoped_tree(max(day, p.start), plan.scope)


def evaluate(
    plan: Plan,
    roster: Roster,
    reports: Iterable[Report],
    as_of: dt.date | None = None,
    phases: Iterable[str] | None = None,
    campaign: bool = True,
) -> Evaluation:
    """Judge every unit, phase and indicator. ``as_of`` (default: each report's date)
    marks phases not yet ended as interim; phases that have not started, and (unless
    ``phases`` names them) phases nobody has reported yet, are skipped."""
    reports = list(reports)
    ev = Evaluation()
    wanted = set(phases) if phases is not None else None
    by_phase: dict[str, list[Report]] = {}
    for r in reports:
        by_phase.setdefault(r.phase, []).append(r)
    judged_phases = []
    for p in plan.phases:
        if wanted is not None and p.code not in wanted:
            continue
        if as_of is not None and as_of < p.start:
            continue
        if wanted is None and p.code not in by_phase:
            continue  # nobody has reported this phase yet: nothing to judge
        tree = phase_tree(plan, roster, p.code, as_of)
        ev.trees[p.code] = tree
        placed, unplaced = _place(tree, by_phase.get(p.code, []))
        ev.unplaced.extend(unplaced)
        latest = max(
            (r.report_date for r in by_phase.get(p.code, []) if r.report_date), default=None
        )
        day = as_of or latest
        elapsed = _elapsed(p.start, p.end, day)
        ev.results.extend(_judge_tree(plan, tree, placed, p.code, elapsed))
        ev.missing.extend((c, p.code) for c in _communes(tree) if c not in placed)
        judged_phases.append(p.code)
    if campaign and len(judged_phases) > 1:
        last = judged_phases[-1]
        tree = ev.trees[last]
        totals = _campaign_totals(
            plan,
            tree,
            [(ph, _place(ev.trees[ph], by_phase.get(ph, []))[0]) for ph in judged_phases],
        )
        campaign = _judge_tree(
            plan, tree, totals, ALL_PHASES, None, expected_phases=len(judged_phases)
        )
        if any(r.interim for r in ev.results):  # a phase still running: so is the campaign
            campaign = [replace(r, interim=True) for r in campaign]
        ev.results.extend(campaign)
    return ev


# --- placing reports on a tree --------------------------------------------------------


@dataclass
class _Placed:
    values: dict[str, Components]  # indicator → components (only complete ones)
    sources: list[str]
    phases: int = 1


def _place(tree: Tree, reports: list[Report]) -> tuple[dict[str, _Placed], list[Report]]:
    """Map reports onto the tree's communes; merged communes' figures add up."""
    by_code: dict[str, dict[str, Report]] = {}
    unplaced = []
    for r in reports:
        code = tree.successor(r.unit)
        if code is None or tree.units[code].level != "commune":
            unplaced.append(r)
            continue
        # the same unit twice: the caller dedupes; keep the later one (and its neighbours)
        by_code.setdefault(code, {})[r.unit] = r
    placed: dict[str, _Placed] = {}
    for code, by_unit in by_code.items():
        slot = placed[code] = _Placed({}, list(by_unit))
        unusable: set[str] = set()
        for r in by_unit.values():
            for ind, comps in r.values.items():
                if comps is None or any(v is None for v in comps.values()) or not comps:
                    unusable.add(ind)  # reported, but a sum without it would be short
                    continue
                have = slot.values.get(ind)
                if have is None:
                    slot.values[ind] = {k: float(v) for k, v in comps.items()}
                else:  # merged communes: counts add up; "done" only if every one did it
                    slot.values[ind] = {
                        k: min(have[k], float(v)) if k == "done" else have.get(k, 0.0) + float(v)
                        for k, v in comps.items()
                    }
        for ind in unusable:
            slot.values.pop(ind, None)
    return placed, unplaced


def _campaign_totals(plan: Plan, tree: Tree, per_phase: list[tuple[str, dict[str, _Placed]]]):
    totals: dict[str, _Placed] = {}
    phases_in: dict[str, set[str]] = {}  # several old communes of one phase: one phase
    for phase, placed in per_phase:
        for code, slot in placed.items():
            target_code = tree.successor(code)
            if target_code is None:
                continue
            t = totals.setdefault(target_code, _Placed({}, [], 0))
            phases_in.setdefault(target_code, set()).add(phase)
            t.phases = len(phases_in[target_code])
            t.sources.extend(slot.sources)
            for ind, comps in slot.values.items():
                kind = plan.indicator(ind).kind if ind in _codes(plan) else None
                have = t.values.get(ind)
                if have is None:
                    t.values[ind] = dict(comps)
                elif kind == "yes_no":  # done over the campaign: done in every phase
                    t.values[ind] = {"done": min(have["done"], comps["done"])}
                else:
                    t.values[ind] = {k: have.get(k, 0.0) + v for k, v in comps.items()}
    return totals


def _codes(plan: Plan) -> set[str]:
    return {i.code for i in plan.indicators}


def _communes(tree: Tree) -> list[str]:
    return [c for c, u in tree.units.items() if u.level == "commune"]


def _elapsed(start: dt.date, end: dt.date, day: dt.date | None) -> float | None:
    """Share of the phase elapsed on ``day``; None when the phase is over (not interim)."""
    if day is None or day >= end:
        return None
    return max(0.0, min(1.0, ((day - start).days + 1) / ((end - start).days + 1)))


# --- judging a tree -------------------------------------------------------------------


def _judge_tree(
    plan: Plan,
    tree: Tree,
    placed: dict[str, _Placed],
    phase: str,
    elapsed: float | None,
    expected_phases: int = 1,
) -> list[Result]:
    out: list[Result] = []
    interim = elapsed is not None
    target_phase = None if phase == ALL_PHASES else phase
    # commune-level judgements first; aggregates reuse them (shares, all-of)
    commune_status: dict[tuple[str, str], str] = {}
    ordered = _bottom_up(tree)
    below: dict[str, list[str]] = {}
    for code in ordered:
        u = tree.units[code]
        if u.level == "commune":
            below[code] = [code]
        else:
            below[code] = [c for kid in tree.children.get(code, []) for c in below[kid]]
    parts_status: dict[tuple[str, str], str] = {}
    for code in ordered:
        u = tree.units[code]
        communes = below[code]
        for ind in plan.indicators:
            if ind.kind == "all_of":
                continue
            target = _target(plan, ind, target_phase, u.level, expected_phases)
            if ind.kind == "count" and target is not None:
                target = _paced(target, elapsed)
            if u.level == "commune":
                res = _judge_commune(ind, target, placed.get(code), elapsed)
                slot = placed.get(code)
                reported = 1 if slot and ind.code in slot.values else 0
                if phase == ALL_PHASES and slot:
                    reported_n, expected_n = slot.phases, expected_phases
                else:
                    reported_n, expected_n = reported, 1
                comps = dict(slot.values[ind.code]) if reported else {}
                commune_status[(code, ind.code)] = res.status
                sources = tuple(slot.sources) if slot else ()
            else:
                res, comps, reported_n = _judge_aggregate(
                    ind, target, u.level, communes, placed, commune_status, elapsed
                )
                expected_n = len(communes)
                sources = ()
            parts_status[(code, ind.code)] = res.status
            out.append(
                _result(u, phase, ind, comps, res, target, reported_n, expected_n, interim, sources)
            )
        for ind in plan.indicators:
            if ind.kind != "all_of":
                continue
            statuses = [parts_status[(code, p)] for p in ind.parts]
            judged = [s for s in statuses if s in ("met", "missed")]
            if "missed" in statuses:
                status = "missed"
            elif "no_data" in statuses:
                status = "no_data"
            elif not judged:
                status = "not_applicable"
            else:
                status = "met"
            missed = [p for p, s in zip(ind.parts, statuses, strict=True) if s == "missed"]
            value = (
                (sum(s == "met" for s in statuses) / len(judged))
                if judged and status != "no_data"
                else None
            )
            note = ("chưa đạt: " + ", ".join(missed)) if missed else None
            reported_n = min(_reported(out, code, phase, p) for p in ind.parts)
            expected_n = (
                len(communes)
                if u.level != "commune"
                else (expected_phases if phase == ALL_PHASES else 1)
            )
            res = Judgement(status, value, len(missed) or None, note)
            parts_status[(code, ind.code)] = status
            if u.level == "commune":
                commune_status[(code, ind.code)] = status
            out.append(
                _result(
                    u,
                    phase,
                    ind,
                    {"parts": list(ind.parts)},
                    res,
                    Target(op=">=", value=1.0),
                    reported_n,
                    expected_n,
                    interim,
                    (),
                )
            )
    return out


def _reported(out: list[Result], unit: str, phase: str, ind: str) -> int:
    for r in reversed(out):
        if r.unit == unit and r.phase == phase and r.indicator == ind:
            return r.reported
    return 0


def _bottom_up(tree: Tree) -> list[str]:
    """Units ordered so that children come before their parents."""
    order: list[str] = []
    for root in tree.roots():
        stack = [(root, False)]
        while stack:
            code, done = stack.pop()
            if done:
                order.append(code)
                continue
            stack.append((code, True))
            for kid in reversed(tree.children.get(code, [])):
                stack.append((kid, False))
    return order


def _target(
    plan: Plan, ind: Indicator, phase: str | None, level: str, expected_phases: int
) -> Target | None:
    if level not in ind.levels:
        return None
    if level != "commune" and level in ind.level_targets:
        return ind.level_targets[level]
    if phase is None and ind.kind == "count":
        # whole campaign: a per-phase count target adds up over the phases
        targets = [ind.target_for(p.code) for p in plan.phases][:expected_phases]
        if all(t.judgeable for t in targets) and len({t.op for t in targets}) == 1:
            return Target(
                op=targets[0].op, value=sum(t.value for t in targets), wording="cộng các đợt"
            )
    return ind.target_for(phase)


def _paced(target: Target, elapsed: float | None) -> Target:
    if elapsed is None or not target.judgeable or target.op not in (">=", ">"):
        return target
    return Target(
        op=target.op,
        value=math.floor(target.value * elapsed + 1e-9),
        wording=f"theo tiến độ ({elapsed:.0%} thời gian của đợt)",
    )


def _judge_commune(
    ind: Indicator, target: Target | None, slot: _Placed | None, elapsed: float | None
) -> Judgement:
    if slot is None or ind.code not in slot.values:
        return Judgement("no_data", None)
    c = slot.values[ind.code]
    if target is None:
        return Judgement("not_applicable", _raw_value(ind, c))
    match ind.kind:
        case "ratio":
            return judge_ratio(c["numerator"], c["denominator"], target, ind.unit)
        case "reduction":
            return judge_reduction(c["current"], c["baseline"], target, ind.unit)
        case "count" | "minimum":
            return judge_count(c["count"], target, ind.unit)
        case "yes_no":
            return judge_yes_no(c["done"], target)
    raise AssertionError(ind.kind)


def _raw_value(ind: Indicator, c: Components) -> float | None:
    if ind.kind == "ratio":
        return c["numerator"] / c["denominator"] if c["denominator"] else None
    if ind.kind == "reduction":
        return (c["baseline"] - c["current"]) / c["baseline"] if c["baseline"] else None
    return next(iter(c.values()), None)


def _judge_aggregate(
    ind: Indicator,
    target: Target | None,
    level: str,
    communes: list[str],
    placed: dict[str, _Placed],
    commune_status: dict[tuple[str, str], str],
    elapsed: float | None,
) -> tuple[Judgement, dict, int]:
    rows = [
        placed[c].values[ind.code] for c in communes if c in placed and ind.code in placed[c].values
    ]
    reported = len(rows)
    sums: dict[str, float] = {k: sum(r[k] for r in rows) for k in ind.components}
    if reported == 0:
        return Judgement("no_data", None), {}, 0
    if ind.kind in ("ratio", "reduction"):
        comps = {k: _num(v) for k, v in sums.items()}
        if target is None:
            return Judgement("not_applicable", _raw_value(ind, sums)), comps, reported
        if ind.kind == "ratio":
            return (
                judge_ratio(sums["numerator"], sums["denominator"], target, ind.unit),
                comps,
                reported,
            )
        return judge_reduction(sums["current"], sums["baseline"], target, ind.unit), comps, reported
    # count, minimum, yes/no
    meeting = sum(1 for c in communes if commune_status.get((c, ind.code)) == "met")
    judged = sum(1 for c in communes if commune_status.get((c, ind.code)) in ("met", "missed"))
    key = "done" if ind.kind == "yes_no" else "count"
    comps = {key: _num(sums[key]), "units_meeting": meeting, "units_reported": reported}
    if target is None:
        return Judgement("not_applicable", None), comps, reported
    if level in ind.level_targets and ind.kind != "yes_no":
        return judge_count(sums[key], target, ind.unit), comps, reported
    share_target = Target(
        op=">=",
        value=ind.coverage,
        wording="tỷ lệ xã đạt" if ind.coverage < 1 else "tất cả các xã đạt",
    )
    if judged == 0:  # every commune's target is still to be set locally
        return (
            Judgement("not_applicable", None, None, "Chỉ tiêu do địa phương đặt, chưa có giá trị"),
            comps,
            reported,
        )
    return judge_share(meeting, judged, share_target), comps, reported


def _num(x: float) -> float | int:
    return int(x) if float(x).is_integer() else x


def _result(
    u, phase, ind: Indicator, comps, res: Judgement, target, reported, expected, interim, sources
) -> Result:
    shown_target = target
    if (
        u.level != "commune"
        and ind.kind in ("count", "minimum", "yes_no")
        and target is not None
        and u.level not in ind.level_targets
    ):
        shown_target = Target(op=">=", value=ind.coverage)
    return Result(
        unit=u.code,
        level=u.level,
        parent=u.parent,
        phase=phase,
        indicator=ind.code,
        kind=ind.kind,
        components={k: _num(v) if isinstance(v, float) else v for k, v in comps.items()},
        value=res.value,
        target=shown_target,
        status=res.status,
        reported=reported,
        expected=expected,
        interim=interim,
        gap=res.gap,
        note=res.note,
        name=u.name,
        sources=sources,
    )
