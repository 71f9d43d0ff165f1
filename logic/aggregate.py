"""Roll commune reports up the roster and judge every target, phase by phase.

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

At national scale (10,051 communes × 18 indicators ≈ 200,000 results a phase) the
judging runs indicator by indicator over arrays of commune figures, judges each distinct
set of figures once, and shares what results have in common (targets, notes, components).
A re-run (``evaluate(..., previous=, changed=)``) judges again only the changed communes,
what is above them and their whole-campaign view; an ``Evaluation`` pickles compactly for
a re-run in another process. ``tests/logic/aggregate_reference.py`` is the code before it
was made fast: the tests check both give exactly the same results.
"""

from __future__ import annotations

import datetime as dt
import gc
import math
from array import array
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from operator import attrgetter

from .plan import Indicator, Phase, Plan, Target
from .roster import Roster, Tree, Unit
from .targets import (
    TARGET_NOT_SET,
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
    """One judged figure (contract: JSON summary ``results``).

    ``components`` is shared between results with the same figures (a national evaluation
    has about 200,000 results, most of them a commune's few small numbers): read it, never
    modify it.
    """

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

    def __getstate__(self) -> dict:
        # A re-run in another process starts from a pickled evaluation: pickled one by one,
        # 200,000 frozen results take seconds each way; as one list per field, a fraction.
        state = dict(self.__dict__)
        state.pop("_idx", None)
        results = state.pop("results")
        state["result_fields"] = [list(map(attrgetter(f), results)) for f in Result.__slots__]
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        if "result_fields" in state:
            state["results"] = list(map(_new_result, *state.pop("result_fields")))
        self.__dict__.update(state)


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
    *,
    previous: Evaluation | None = None,
    changed: Collection[tuple[str, str]] | None = None,
) -> Evaluation:
    """Judge every unit, phase and indicator. ``as_of`` (default: each report's date)
    marks phases not yet ended as interim; phases that have not started, and (unless
    ``phases`` names them) phases nobody has reported yet, are skipped.

    A re-run: ``previous`` is what ``evaluate`` returned for the same plan, roster and
    arguments, ``changed`` the ``(unit, phase)`` of every report added, removed or altered
    since (``reports`` is the whole new list, the other reports unchanged and in the same
    order). Only the changed communes, their ancestors and their whole-campaign view are
    judged again; every other result is reused. The outcome equals a full evaluation; when
    a re-run could not be exact (another plan or tree, a phase newly reported or no longer
    reported, a phase's latest report date that moves its interim pace) it is one.
    ``previous`` is left as it was.
    """
    reports = list(reports)
    wanted = frozenset(phases) if phases is not None else None
    # Judging makes hundreds of thousands of small objects and no cycles: the cyclic
    # collector would only walk the growing heap again and again (a third of the time).
    enabled = gc.isenabled()
    gc.disable()
    try:
        if previous is not None and changed is not None:
            again = _rerun(plan, roster, reports, as_of, wanted, campaign, previous, changed)
            if again is not None:
                return again
        return _evaluate(plan, roster, reports, as_of, wanted, campaign)
    finally:
        if enabled:
            gc.enable()


def _evaluate(
    plan: Plan,
    roster: Roster,
    reports: list[Report],
    as_of: dt.date | None,
    wanted: frozenset[str] | None,
    campaign: bool,
) -> Evaluation:
    ev = Evaluation()
    by_phase = _by_phase(reports)
    state = _State(plan, as_of, wanted, campaign)
    layouts: dict[int, _Layout] = {}
    per_phase: list[tuple[str, dict[str, _Placed]]] = []
    for p in _judged_phases(plan, as_of, wanted, by_phase):
        tree = phase_tree(plan, roster, p.code, as_of)
        ev.trees[p.code] = tree
        phase_reports = by_phase.get(p.code, [])
        placed, unplaced = _place(tree, phase_reports)
        ev.unplaced.extend(unplaced)
        latest = _latest(phase_reports)
        layout = layouts.get(id(tree)) or layouts.setdefault(id(tree), _Layout(tree))
        view = _View(plan, layout, p.code, _elapsed(p.start, p.end, as_of or latest))
        view.start = len(ev.results)
        ev.results.extend(_judge_view(view, placed))
        missing = [(c, p.code) for c in layout.tree_communes if c not in placed]
        ev.missing.extend(missing)
        state.phases.append(_PhaseState(view, set(placed), len(unplaced), len(missing)))
        per_phase.append((p.code, placed))
    if campaign and len(per_phase) > 1:
        last = state.phases[-1].view.layout
        totals = _campaign_totals(plan, last.tree, per_phase)
        # a phase still running: so is the campaign (any of its results is interim)
        interim = any(ps.view.interim and ps.view.layout.units for ps in state.phases)
        view = _View(plan, last, ALL_PHASES, None, len(per_phase), interim)
        view.start = len(ev.results)
        ev.results.extend(_judge_view(view, totals))
        state.campaign = view
    ev.__dict__["_rerun"] = state
    return ev


def _by_phase(reports: list[Report]) -> dict[str, list[Report]]:
    by_phase: dict[str, list[Report]] = {}
    for r in reports:
        group = by_phase.get(r.phase)
        if group is None:
            by_phase[r.phase] = [r]
        else:
            group.append(r)
    return by_phase


def _judged_phases(
    plan: Plan,
    as_of: dt.date | None,
    wanted: frozenset[str] | None,
    by_phase: Mapping[str, list[Report]],
) -> list[Phase]:
    out = []
    for p in plan.phases:
        if wanted is not None and p.code not in wanted:
            continue
        if as_of is not None and as_of < p.start:
            continue
        if wanted is None and p.code not in by_phase:
            continue  # nobody has reported this phase yet: nothing to judge
        out.append(p)
    return out


def _latest(reports: list[Report]) -> dt.date | None:
    return max((r.report_date for r in reports if r.report_date), default=None)


# --- placing reports on a tree --------------------------------------------------------


@dataclass
class _Placed:
    # indicator → components (only complete ones), numbers as reported or floats: read
    # through float() (a report's own dict is kept as it is, not copied)
    values: dict[str, Mapping[str, float]]
    sources: list[str]
    phases: int = 1


def _place(tree: Tree, reports: list[Report]) -> tuple[dict[str, _Placed], list[Report]]:
    """Map reports onto the tree's communes; merged communes' figures add up."""
    units = tree.units
    by_code: dict[str, dict[str, Report]] = {}
    unplaced = []
    for r in reports:
        unit = r.unit
        code = unit if unit in units else tree.successor(unit)
        if code is None or units[code].level != "commune":
            unplaced.append(r)
            continue
        # the same unit twice: the caller dedupes; keep the later one (and its neighbours)
        got = by_code.get(code)
        if got is None:
            by_code[code] = {unit: r}
        else:
            got[unit] = r
    placed: dict[str, _Placed] = {}
    for code, by_unit in by_code.items():
        if len(by_unit) == 1:  # the usual case: one report, nothing to add up
            ((unit, r),) = by_unit.items()
            values = {}
            for ind, comps in r.values.items():
                # a component missing or None: reported, but a sum without it would be short
                if comps and None not in comps.values():
                    values[ind] = comps  # as numbers: float() where they are used
            placed[code] = _Placed(values, [unit])
            continue
        slot = placed[code] = _Placed({}, list(by_unit))
        unusable: set[str] = set()
        for r in by_unit.values():
            for ind, comps in r.values.items():
                if comps is None or any(v is None for v in comps.values()) or not comps:
                    unusable.add(ind)
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


def _campaign_totals(
    plan: Plan, tree: Tree, per_phase: list[tuple[str, dict[str, _Placed]]]
) -> dict[str, _Placed]:
    yes_no = {i.code for i in plan.indicators if i.kind == "yes_no"}
    totals: dict[str, _Placed] = {}
    phases_in: dict[str, set[str]] = {}  # several old communes of one phase: one phase
    for phase, placed in per_phase:
        for code, slot in placed.items():
            target_code = tree.successor(code)
            if target_code is None:
                continue
            t = totals.get(target_code)
            if t is None:
                t = totals[target_code] = _Placed({}, [], 0)
            seen = phases_in.setdefault(target_code, set())
            seen.add(phase)
            t.phases = len(seen)
            t.sources.extend(slot.sources)
            for ind, comps in slot.values.items():
                have = t.values.get(ind)
                if have is None:
                    t.values[ind] = {k: float(v) for k, v in comps.items()}
                elif ind in yes_no:  # done over the campaign: done in every phase
                    t.values[ind] = {"done": min(have["done"], float(comps["done"]))}
                else:
                    t.values[ind] = {k: have.get(k, 0.0) + float(v) for k, v in comps.items()}
    return totals


def _elapsed(start: dt.date, end: dt.date, day: dt.date | None) -> float | None:
    """Share of the phase elapsed on ``day``; None when the phase is over (not interim)."""
    if day is None or day >= end:
        return None
    return max(0.0, min(1.0, ((day - start).days + 1) / ((end - start).days + 1)))


# --- what a re-run keeps --------------------------------------------------------------
#
# Results come unit by unit in the order of ``_bottom_up`` (children before parents), each
# unit with every indicator: the non-all-of ones in plan order, then the all-of ones. So the
# result of unit ``u`` (its position in that order) and indicator column ``j`` of a view
# (a phase, or the whole campaign) is ``results[view.start + u * width + j]``, and a re-run
# replaces results in place. A district's sums are taken over the figures of its communes,
# which are a contiguous run of "commune columns": each view keeps, per indicator, every
# commune's components in arrays over those columns (0 where it has none: adding 0.0 to a
# float sum changes nothing, so the sums equal those over the reporting communes, in the
# same order), and which communes reported, met and were judged.


class _Layout:
    """A tree's units in result order and the commune columns below each (once per tree)."""

    __slots__ = (
        "_predecessors",
        "below",
        "column",
        "communes",
        "index",
        "parent",
        "tree",
        "tree_communes",
        "units",
    )  # fmt: skip

    def __init__(self, tree: Tree):
        self.tree = tree
        self.units: list[Unit] = [tree.units[c] for c in _bottom_up(tree)]
        self.index: dict[str, int] = {u.code: i for i, u in enumerate(self.units)}
        index = self.index
        self.parent: list[int] = [index.get(u.parent, -1) for u in self.units]
        self.column: list[int] = []  # unit position → commune column (-1: not a commune)
        self.communes: list[int] = []  # commune column → unit position
        # unit position → its communes' columns: (first, end) or, in an odd tree, a list
        self.below: list[tuple[int, int] | list[int]] = []
        kids = tree.children
        for i, u in enumerate(self.units):
            if u.level == "commune":
                c = len(self.communes)
                self.communes.append(i)
                self.column.append(c)
                self.below.append((c, c + 1))
            else:
                self.column.append(-1)
                self.below.append(_join([self.below[index[k]] for k in kids.get(u.code, ())]))
        self.tree_communes = [c for c, u in tree.units.items() if u.level == "commune"]
        self._predecessors: dict[str, list[str]] | None = None

    def expected(self, i: int) -> int:
        b = self.below[i]
        return b[1] - b[0] if type(b) is tuple else len(b)

    def up(self, i: int) -> list[int]:
        """The units whose figures include commune unit ``i`` (itself excluded)."""
        out = []
        i = self.parent[i]
        while i >= 0 and self.column[i] < 0:
            out.append(i)
            i = self.parent[i]
        return out

    def feeders(self, code: str) -> list[str]:
        """``code`` and the former codes whose figures go to it (``Tree.successor``)."""
        if self._predecessors is None:
            tree, pred = self.tree, {}
            for old in {o for u in tree.units.values() for o in u.replaces}:
                if old not in tree.units:
                    new = tree.successor(old)
                    if new is not None:
                        pred.setdefault(new, []).append(old)
            self._predecessors = pred
        return [code, *self._predecessors.get(code, ())]


def _join(parts: list[tuple[int, int] | list[int]]) -> tuple[int, int] | list[int]:
    """Concatenate runs of commune columns: one run if they follow each other."""
    first = end = None
    for p in parts:
        if type(p) is tuple and (p[0] == p[1] or end is None or p[0] == end):
            if p[0] != p[1]:
                first = p[0] if first is None else first
                end = p[1]
            continue
        return [c for q in parts for c in (range(*q) if type(q) is tuple else q)]
    return (first, end) if first is not None else (0, 0)


class _Spec:
    """One indicator of a view: its column and targets (once per view)."""

    __slots__ = (
        "_elapsed",
        "_expected_phases",
        "_phase",
        "_plan",
        "_targets",
        "code",
        "column",
        "coverage",
        "ind",
        "kind",
        "parts",
        "share_target",
    )  # fmt: skip

    def __init__(self, plan: Plan, ind: Indicator, column: int, view: _View):
        self.ind, self.code, self.kind, self.column = ind, ind.code, ind.kind, column
        self._plan, self._phase = plan, None if view.phase == ALL_PHASES else view.phase
        self._elapsed, self._expected_phases = view.elapsed, view.expected_phases
        self._targets: dict[str, tuple[Target | None, Target | None]] = {}
        self.parts: list[int] = []
        # what a district's share of communes is judged and shown against
        self.coverage = Target(op=">=", value=ind.coverage)
        self.share_target = Target(
            op=">=",
            value=ind.coverage,
            wording="tỷ lệ xã đạt" if ind.coverage < 1 else "tất cả các xã đạt",
        )

    def targets(self, level: str) -> tuple[Target | None, Target | None]:
        """(judged against, shown) at ``level``."""
        hit = self._targets.get(level)
        if hit is None:
            ind = self.ind
            target = _target(self._plan, ind, self._phase, level, self._expected_phases)
            if ind.kind == "count" and target is not None:
                target = _paced(target, self._elapsed)
            shown = target
            if (
                level != "commune"
                and ind.kind in ("count", "minimum", "yes_no")
                and target is not None
                and level not in ind.level_targets
            ):
                shown = self.coverage
            hit = self._targets[level] = (target, shown)
        return hit


class _View:
    """A phase (or the whole campaign) of one tree: its indicators and commune columns."""

    __slots__ = (
        "all_of",
        "elapsed",
        "expected_phases",
        "interim",
        "judged",
        "layout",
        "met",
        "phase",
        "reported",
        "specs",
        "start",
        "values",
        "width",
    )  # fmt: skip

    def __init__(
        self,
        plan: Plan,
        layout: _Layout,
        phase: str,
        elapsed: float | None,
        expected_phases: int = 1,
        interim: bool | None = None,
    ):
        self.phase, self.layout, self.elapsed = phase, layout, elapsed
        self.expected_phases = expected_phases
        self.interim = elapsed is not None if interim is None else interim
        order = [i for i in plan.indicators if i.kind != "all_of"]
        order += [i for i in plan.indicators if i.kind == "all_of"]
        self.width, self.start = len(order), 0
        specs = [_Spec(plan, ind, j, self) for j, ind in enumerate(order)]
        column = {s.code: s.column for s in specs}
        for s in specs:
            s.parts = [column[p] for p in s.ind.parts]
        self.specs = [s for s in specs if s.kind != "all_of"]
        self.all_of = [s for s in specs if s.kind == "all_of"]
        n = len(layout.communes)
        self.values = [[array("d", bytes(8 * n)) for _ in s.ind.components] for s in self.specs]
        self.reported = [bytearray(n) for _ in self.specs]
        self.met = [bytearray(n) for _ in self.specs]
        self.judged = [bytearray(n) for _ in self.specs]

    def copy(self) -> _View:
        """The same view with its own commune columns (a re-run changes some)."""
        new = object.__new__(_View)
        for name in _View.__slots__:
            setattr(new, name, getattr(self, name))
        new.values = [[array("d", col) for col in cols] for cols in self.values]
        new.reported = [bytearray(b) for b in self.reported]
        new.met = [bytearray(b) for b in self.met]
        new.judged = [bytearray(b) for b in self.judged]
        return new


@dataclass
class _PhaseState:
    view: _View
    placed: set[str]  # communes with a report
    unplaced: int  # how many of ``Evaluation.unplaced`` and ``missing`` are this phase's
    missing: int


@dataclass
class _State:
    """What ``evaluate`` keeps in an ``Evaluation`` for a re-run."""

    plan: Plan
    as_of: dt.date | None
    wanted: frozenset[str] | None
    campaign_asked: bool
    phases: list[_PhaseState] = field(default_factory=list)
    campaign: _View | None = None


# --- judging a view -------------------------------------------------------------------


def _judge_view(view: _View, placed: Mapping[str, _Placed]) -> list[Result]:
    """Every result of a view, in order: communes first, then their parents."""
    layout = view.layout
    out: list = [None] * (len(layout.units) * view.width)
    start, view.start = view.start, 0  # ``out`` is this view's own list
    rows = _rows(view, placed, range(len(layout.communes)))
    for spec in view.specs:
        _judge_communes(view, spec, rows, out)
    parents = [i for i, c in enumerate(layout.column) if c < 0]
    for spec in view.specs:
        _judge_parents(view, spec, out, parents)
    for spec in view.all_of:
        _judge_all_of(view, spec, out, range(len(layout.units)))
    view.start = start
    return out


_NOTHING: dict = {}


def _rows(view: _View, placed: Mapping[str, _Placed], columns: Iterable[int]) -> list[tuple]:
    """What every indicator needs of the communes of ``columns``, looked up once."""
    layout = view.layout
    units, position = layout.units, layout.communes
    campaign, expected_phases = view.phase == ALL_PHASES, view.expected_phases
    rows = []
    for c in columns:
        i = position[c]
        u = units[i]
        slot = placed.get(u.code)
        if slot is None:  # (…, reported/expected with figures, without figures)
            rows.append((c, i, u.code, u.level, u.parent, u.name, _NOTHING, (), 1, 1, 0, 1))
        elif campaign:
            n = slot.phases
            rows.append((c, i, u.code, u.level, u.parent, u.name, slot.values,
                         tuple(slot.sources), n, expected_phases, n, expected_phases))  # fmt: skip
        else:
            rows.append((c, i, u.code, u.level, u.parent, u.name, slot.values,
                         tuple(slot.sources), 1, 1, 0, 1))  # fmt: skip
    return rows


def _judge_communes(view: _View, spec: _Spec, rows: list[tuple], out: list) -> None:
    """Judge one indicator at the communes of ``rows``; fill their commune columns."""
    phase, width = view.phase, view.width
    j, code, kind, ind = spec.column, spec.code, spec.kind, spec.ind
    offset = view.start + j
    target = spec.targets("commune")[0]
    values, reported = view.values[j], view.reported[j]
    met, judged = view.met[j], view.judged[j]
    first, second = values[0], values[-1]
    two = len(values) == 2
    shares = kind in ("count", "minimum", "yes_no")  # parents count communes that met it
    interim = view.interim
    # -0.0 and 0.0 are one key, and only a ratio's or a count's value can tell them apart
    zero_safe = kind == "reduction" or (kind == "yes_no" and target is not None)
    # communes with the same figures get the same judgement (and components: shared, as
    # every result's components may be): judge each once
    memo: dict[tuple, tuple] = {}
    nothing: dict = {}
    for c, i, unit, level, parent, name, figures, sources, n, expected, n0, e0 in rows:
        d = figures.get(code)
        if d is None:
            status, value, gap, note, comps = "no_data", None, None, None, nothing
            n, expected = n0, e0
            if reported[c]:  # a re-run: it had figures
                reported[c] = met[c] = judged[c] = 0
                for col in values:
                    col[c] = 0.0
        else:
            key = (*d.items(),)  # figures equal as numbers: equal as floats
            hit = memo.get(key)
            if hit is None:
                hit = _judge_commune(ind, target, d)
                if zero_safe or hit[1] != 0:
                    memo[key] = hit
            status, value, gap, note, comps, is_met, is_judged, numbers = hit
            reported[c] = 1
            if shares:
                met[c] = is_met
                judged[c] = is_judged
            if two:
                first[c], second[c] = numbers
            else:
                first[c] = numbers[0]
        out[offset + i * width] = _new_result(
            unit, level, parent, phase, code, kind, comps, value, target, status,
            n, expected, interim, gap, note, name, sources,
        )  # fmt: skip


def _judge_commune(ind: Indicator, target: Target | None, figures: Mapping[str, float]) -> tuple:
    """(status, value, gap, note, components shown, met, judged, the indicator's components
    as floats) of one commune's figures."""
    c = {k: float(v) for k, v in figures.items()}
    if target is None:
        res = Judgement("not_applicable", _raw_value(ind, c))
    else:
        match ind.kind:
            case "ratio":
                res = judge_ratio(c["numerator"], c["denominator"], target, ind.unit)
            case "reduction":
                res = judge_reduction(c["current"], c["baseline"], target, ind.unit)
            case "count" | "minimum":
                res = judge_count(c["count"], target, ind.unit)
            case "yes_no":
                res = judge_yes_no(c["done"], target)
            case _:
                raise AssertionError(ind.kind)
    comps = {k: _num(v) if isinstance(v, float) else v for k, v in c.items()}
    met = res.status == "met"
    numbers = tuple(c[k] for k in ind.components)
    return (res.status, res.value, res.gap, res.note, comps, met, met or res.status == "missed",
            numbers)  # fmt: skip


def _judge_parents(view: _View, spec: _Spec, out: list, parents: Iterable[int]) -> None:
    """Judge one indicator at the units of ``parents`` from their communes' columns."""
    layout, phase, width = view.layout, view.phase, view.width
    j, code, kind = spec.column, spec.code, spec.kind
    offset = view.start + j
    values, reported = view.values[j], view.reported[j]
    met, judged = view.met[j], view.judged[j]
    interim = view.interim
    for i in parents:
        u = layout.units[i]
        target, shown = spec.targets(u.level)
        below = layout.below[i]
        if type(below) is tuple:
            a, b = below
            n = reported.count(1, a, b)
            sums = [sum(col[a:b]) for col in values] if n else None
            meeting, judged_n = met.count(1, a, b), judged.count(1, a, b)
            expected = b - a
        else:  # an odd tree: its communes are not one run of columns
            n = sum(reported[c] for c in below)
            sums = [sum(col[c] for c in below) for col in values] if n else None
            meeting, judged_n = sum(met[c] for c in below), sum(judged[c] for c in below)
            expected = len(below)
        res, comps = _judge_sums(spec, target, u.level, n, sums, meeting, judged_n)
        out[offset + i * width] = _new_result(
            u.code, u.level, u.parent, phase, code, kind, comps, res.value, shown, res.status,
            n, expected, interim, res.gap, res.note, u.name, (),
        )  # fmt: skip


def _judge_sums(
    spec: _Spec,
    target: Target | None,
    level: str,
    reported: int,
    sums: list[float] | None,
    meeting: int,
    judged: int,
) -> tuple[Judgement, dict]:
    """A district's or province's judgement from its communes' summed components."""
    ind = spec.ind
    if sums is None:
        return Judgement("no_data", None), {}
    if ind.kind in ("ratio", "reduction"):
        comps = {k: _num(v) for k, v in zip(ind.components, sums, strict=True)}
        if target is None:
            raw = _raw_value(ind, dict(zip(ind.components, sums, strict=True)))
            return Judgement("not_applicable", raw), comps
        if ind.kind == "ratio":
            return judge_ratio(sums[0], sums[1], target, ind.unit), comps
        return judge_reduction(sums[0], sums[1], target, ind.unit), comps
    # count, minimum, yes/no
    key = "done" if ind.kind == "yes_no" else "count"
    comps = {key: _num(sums[0]), "units_meeting": meeting, "units_reported": reported}
    if target is None:
        return Judgement("not_applicable", None), comps
    if level in ind.level_targets and ind.kind != "yes_no":
        return judge_count(sums[0], target, ind.unit), comps
    if judged == 0:  # every commune's target is still to be set locally
        return Judgement("not_applicable", None, None, TARGET_NOT_SET), comps
    return judge_share(meeting, judged, spec.share_target), comps


def _judge_all_of(view: _View, spec: _Spec, out: list, positions: Iterable[int]) -> None:
    """Judge an all-of indicator at the units of ``positions`` from its parts' results there."""
    layout, phase, width = view.layout, view.phase, view.width
    ind, code = spec.ind, spec.code
    campaign = phase == ALL_PHASES
    comps = {"parts": list(ind.parts)}  # shared, as every result's components may be
    memo: dict[tuple[str, ...], tuple] = {}
    for i in positions:
        u = layout.units[i]
        base = view.start + i * width
        parts = [out[base + p] for p in spec.parts]
        statuses = tuple([r.status for r in parts])
        hit = memo.get(statuses)
        if hit is None:
            hit = memo[statuses] = _all_of(ind, statuses)
        status, value, gap, note = hit
        if u.level != "commune":
            expected = layout.expected(i)
        else:
            expected = view.expected_phases if campaign else 1
        out[base + spec.column] = _new_result(
            u.code, u.level, u.parent, phase, code, "all_of", comps, value, _ALL_OF_TARGET,
            status, min([r.reported for r in parts]), expected, view.interim, gap, note,
            u.name, (),
        )  # fmt: skip


def _all_of(ind: Indicator, statuses: tuple[str, ...]) -> tuple:
    """(status, value, gap, note) of an all-of indicator whose parts have ``statuses``."""
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
    return status, value, len(missed) or None, note


_ALL_OF_TARGET = Target(op=">=", value=1.0)


# --- a re-run -------------------------------------------------------------------------


def _rerun(
    plan: Plan,
    roster: Roster,
    reports: list[Report],
    as_of: dt.date | None,
    wanted: frozenset[str] | None,
    campaign: bool,
    previous: Evaluation,
    changed: Collection[tuple[str, str]],
) -> Evaluation | None:
    """``previous`` with the results ``changed`` touches judged again; None: not exact."""
    state: _State | None = previous.__dict__.get("_rerun")
    if (
        state is None
        or (state.plan is not plan and state.plan != plan)
        or (state.as_of, state.wanted, state.campaign_asked) != (as_of, wanted, campaign)
    ):
        return None
    by_phase = _by_phase(reports)
    judged = _judged_phases(plan, as_of, wanted, by_phase)
    if [p.code for p in judged] != [ps.view.phase for ps in state.phases]:
        return None
    trees = {}
    for p, ps in zip(judged, state.phases, strict=True):
        tree, old = phase_tree(plan, roster, p.code, as_of), ps.view.layout.tree
        if tree is not old and tree != old:
            return None
        day = _latest(by_phase.get(p.code, []))
        if _elapsed(p.start, p.end, as_of or day) != ps.view.elapsed:
            return None  # another pace for every count of the phase
        trees[p.code] = tree

    todo: dict[str, set[str]] = {}
    for unit, phase in changed:
        todo.setdefault(phase, set()).add(unit)
    ev = Evaluation(results=list(previous.results), trees=trees)
    new = _State(plan, as_of, wanted, campaign, campaign=state.campaign)
    at_unplaced = at_missing = 0
    touched: list[set[str]] = []  # per phase: the communes judged again
    for ps in state.phases:
        view, code = ps.view, ps.view.phase
        layout, tree = view.layout, view.layout.tree
        units = todo.get(code, ())
        redo: set[str] = set()
        lost = False  # a changed report that is (or was) for no commune of the tree
        for unit in units:
            if _placeable(tree, unit):
                redo.add(tree.successor(unit))
            else:
                lost = True
        phase_reports = by_phase.get(code, [])
        unplaced = previous.unplaced[at_unplaced : at_unplaced + ps.unplaced]
        missing = previous.missing[at_missing : at_missing + ps.missing]
        at_unplaced += ps.unplaced
        at_missing += ps.missing
        placed_codes = ps.placed
        if redo:
            view = view.copy()
            placed = _place(tree, _reports_for(layout, redo, phase_reports))[0]
            _rejudge(view, placed, redo, ev.results)
            now = {c for c in redo if c in placed}
            if now != {c for c in redo if c in ps.placed}:
                placed_codes = (ps.placed - redo) | now
                missing = [(c, code) for c in layout.tree_communes if c not in placed_codes]
            touched.append(redo)
        if lost:
            unplaced = [r for r in phase_reports if not _placeable(tree, r.unit)]
        ev.unplaced.extend(unplaced)
        ev.missing.extend(missing)
        new.phases.append(_PhaseState(view, placed_codes, len(unplaced), len(missing)))
    if state.campaign is not None and touched:
        last = state.campaign.layout
        redo = set()
        for codes in touched:
            redo.update(c for c in (last.tree.successor(c) for c in codes) if c is not None)
        per_phase = []
        for ps in new.phases:
            layout = ps.view.layout
            # the communes of this phase whose figures go to a commune judged again
            feeding = {
                c
                for t in redo
                for c in last.feeders(t)
                if c in layout.tree.units and layout.tree.units[c].level == "commune"
            }
            if feeding:
                group = _reports_for(layout, feeding, by_phase.get(ps.view.phase, []))
                per_phase.append((ps.view.phase, _place(layout.tree, group)[0]))
        new.campaign = state.campaign.copy()
        _rejudge(new.campaign, _campaign_totals(plan, last.tree, per_phase), redo, ev.results)
    ev.__dict__["_rerun"] = new
    return ev


def _placeable(tree: Tree, unit: str) -> bool:
    """Whether ``_place`` puts a report of ``unit`` on a commune of ``tree``."""
    code = unit if unit in tree.units else tree.successor(unit)
    return code is not None and tree.units[code].level == "commune"


def _reports_for(layout: _Layout, communes: set[str], reports: list[Report]) -> list[Report]:
    """The reports (in order) whose figures go to ``communes``."""
    units = {f for c in communes for f in layout.feeders(c)}
    return [r for r in reports if r.unit in units]


def _rejudge(view: _View, placed: Mapping[str, _Placed], communes: set[str], out: list) -> None:
    """Judge ``communes`` of ``view`` again from ``placed``, and every unit above them."""
    layout = view.layout
    positions = sorted(layout.index[c] for c in communes if c in layout.index)
    positions = [i for i in positions if layout.column[i] >= 0]  # a commune code gone up a level
    rows = _rows(view, placed, [layout.column[i] for i in positions])
    parents = sorted({p for i in positions for p in layout.up(i)})
    for spec in view.specs:
        _judge_communes(view, spec, rows, out)
    for spec in view.specs:
        _judge_parents(view, spec, out, parents)
    for spec in view.all_of:
        _judge_all_of(view, spec, out, positions + parents)


# --- helpers --------------------------------------------------------------------------


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


def _raw_value(ind: Indicator, c: Components) -> float | None:
    if ind.kind == "ratio":
        return c["numerator"] / c["denominator"] if c["denominator"] else None
    if ind.kind == "reduction":
        return (c["baseline"] - c["current"]) / c["baseline"] if c["baseline"] else None
    return next(iter(c.values()), None)


def _num(x: float) -> float | int:
    return int(x) if float(x).is_integer() else x


class _Draft:
    """A ``Result`` being filled in: same slots, not frozen."""

    __slots__ = Result.__slots__


def _new_result(
    unit, level, parent, phase, indicator, kind, components, value, target, status,
    reported, expected, interim, gap, note, name, sources,
) -> Result:  # fmt: skip
    """``Result(...)`` without the frozen dataclass's per-field ``object.__setattr__``.

    A national evaluation makes about 200,000 results; the frozen ``__init__`` was a fifth
    of its time. The fields are set on a plain object of the same layout, which then
    becomes a ``Result`` (``__class__`` may change between classes of identical slots).
    """
    r = _new(_Draft)
    r.unit = unit
    r.level = level
    r.parent = parent
    r.phase = phase
    r.indicator = indicator
    r.kind = kind
    r.components = components
    r.value = value
    r.target = target
    r.status = status
    r.reported = reported
    r.expected = expected
    r.interim = interim
    r.gap = gap
    r.note = note
    r.name = name
    r.sources = sources
    _set_class(r, "__class__", Result)
    return r


_new = object.__new__
_set_class = object.__setattr__
