"""What a consolidation comes to: per-phase overview, missed targets, the console summary.

The tally workbook (``workbooks.tally``) and the one-screen summary printed at the end of
``thidua consolidate`` read the same figures from here, so the two never disagree:

- :func:`phase_overview`: per phase (and the whole campaign, phase ``"all"``) how many
  communes reported out of how many expected, and how many targets the top unit (the
  province, or the plan's scope unit) met, missed or could not judge;
- :func:`missed_results`: every missed target, most serious first (province before district
  before commune, then by relative shortfall ``(target − value) / target``);
- :func:`resolve_plan`: the plan the inputs carry when ``--plan`` is left out.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from logic.aggregate import ALL_PHASES, Result, phase_tree
from logic.errors import ThiduaError
from logic.numbers import format_percent, format_vn
from logic.plan import Plan
from logic.roster import Tree
from logic.targets import NOT_OCCURRED, STATUS_LABELS

if TYPE_CHECKING:
    from .consolidate import Consolidation

__all__ = [
    "ALL_PHASES_LABEL",
    "LEVEL_LABELS",
    "PhaseOverview",
    "missed_results",
    "phase_label",
    "phase_order",
    "phase_overview",
    "phase_tree_of",
    "print_summary",
    "resolve_plan",
    "shortfall",
    "status_label",
    "top_level_name",
]

ALL_PHASES_LABEL = "Cả đợt thi đua"
LEVEL_LABELS = {"province": "Cấp tỉnh", "district": "Cấp huyện", "commune": "Cấp xã"}
LEVEL_ORDER = {"province": 0, "district": 1, "commune": 2}
INPUT_STATES = {
    "accepted": "Được dùng",
    "rejected": "Bị từ chối",
    "superseded": "Bị thay thế",
    "ignored": "Bỏ qua",
}
#: How many workbooks :func:`resolve_plan` opens, at most, to find the plan.
PEEK_FILES = 20
#: … and how many plan-carrying workbooks are enough to decide.
PEEK_PLANS = 5


# --- phases and trees -----------------------------------------------------------------


def phase_order(c: Consolidation) -> list[str]:
    """The phases that have results, in plan order, then ``"all"`` when present."""
    present = {r.phase for r in c.evaluation.results} | set(c.evaluation.trees)
    order = [p.code for p in c.plan.phases if p.code in present]
    if ALL_PHASES in present:
        order.append(ALL_PHASES)
    return order


def phase_label(plan: Plan, phase: str) -> str:
    """ "Đợt 1" (the plan's name for the phase) or "Cả đợt thi đua" for ``"all"``."""
    if phase == ALL_PHASES:
        return ALL_PHASES_LABEL
    try:
        return plan.phase(phase).name or f"Đợt {phase}"
    except KeyError:
        return f"Đợt {phase}"


def phase_tree_of(c: Consolidation, phase: str) -> Tree:
    """The tree a phase was judged on (the whole campaign: the last phase's tree)."""
    trees = c.evaluation.trees
    if phase == ALL_PHASES:
        judged = [p.code for p in c.plan.phases if p.code in trees]
        if judged:
            return trees[judged[-1]]
        return phase_tree(c.plan, c.roster, c.plan.phases[-1].code)
    if phase in trees:
        return trees[phase]
    return phase_tree(c.plan, c.roster, phase)


def top_level_name(level: str, unit_name: str) -> str:
    """Sheet title for the top unit's figures: "Toàn tỉnh", "Toàn thành phố", …"""
    if level == "province":
        return "Toàn tỉnh"
    lowered = unit_name.strip().lower()
    for prefix in ("thành phố", "thị xã", "quận", "huyện", "tỉnh"):
        if lowered.startswith(prefix + " "):
            return f"Toàn {prefix}"
    return "Toàn đơn vị" if level != "commune" else "Toàn xã"


def status_label(r: Result) -> str:
    """The assessment word: Đạt, Không đạt, Chưa có số liệu, Không áp dụng, Không phát sinh."""
    if r.status == "not_applicable" and r.note == NOT_OCCURRED:
        return NOT_OCCURRED
    return STATUS_LABELS.get(r.status, r.status)


# --- overview -------------------------------------------------------------------------


@dataclass(frozen=True)
class PhaseOverview:
    """One phase at a glance; ``met`` … ``not_applicable`` count the top unit's targets."""

    phase: str
    label: str
    start: dt.date | None
    end: dt.date | None
    reported: int  # communes with an accepted report
    expected: int  # communes of the phase's tree
    met: int
    missed: int
    no_data: int
    not_applicable: int
    interim: bool
    top_unit: str | None
    top_name: str

    @property
    def judged(self) -> int:
        return self.met + self.missed


def _once(build):
    """Compute from a consolidation once: the tally and the console summary both ask.

    Kept on the consolidation with the evaluation it came from, so a new evaluation (a
    re-run in the same process) computes afresh."""

    def cached(c: Consolidation):
        memo = c.__dict__.setdefault("_derived", {})
        hit = memo.get(build.__name__)
        if hit is None or hit[0] is not c.evaluation:
            hit = memo[build.__name__] = (c.evaluation, build(c))
        return hit[1]

    cached.__doc__, cached.__name__ = build.__doc__, build.__name__
    return cached


@_once
def phase_overview(c: Consolidation) -> list[PhaseOverview]:
    """Per phase: communes reported / expected and the top unit's met / missed targets."""
    order = phase_order(c)
    reported: dict[str, set[str]] = {p: set() for p in order}
    tops = {p: set(phase_tree_of(c, p).roots()) for p in order}
    counts = {p: dict.fromkeys(STATUS_LABELS, 0) for p in order}
    interim = dict.fromkeys(order, False)
    for r in c.evaluation.results:
        if r.phase not in reported:
            continue
        if r.level == "commune" and r.sources:
            reported[r.phase].add(r.unit)
        if r.unit in tops[r.phase]:
            counts[r.phase][r.status] = counts[r.phase].get(r.status, 0) + 1
        interim[r.phase] = interim[r.phase] or r.interim
    if ALL_PHASES in interim:
        # the campaign so far is provisional while any of its phases is
        interim[ALL_PHASES] = any(interim.values())
    out = []
    for p in order:
        tree = phase_tree_of(c, p)
        roots = tree.roots()
        top = roots[0] if roots else None
        if p == ALL_PHASES:
            start, end = c.plan.start, c.plan.end
        else:
            ph = c.plan.phase(p)
            start, end = ph.start, ph.end
        expected = sum(1 for u in tree.units.values() if u.level == "commune")
        n = counts[p]
        out.append(
            PhaseOverview(
                phase=p,
                label=phase_label(c.plan, p),
                start=start,
                end=end,
                reported=len(reported[p]),
                expected=expected,
                met=n["met"],
                missed=n["missed"],
                no_data=n["no_data"],
                not_applicable=n["not_applicable"],
                interim=interim[p],
                top_unit=top,
                top_name=_top_name(tree, roots),
            )
        )
    return out


def _top_name(tree: Tree, roots: list[str]) -> str:
    """The top unit's name; with several (a plan over the whole country), how many there are."""
    if len(roots) == 1:
        return tree.units[roots[0]].name
    if roots and all(tree.units[r].level == "province" for r in roots):
        return f"{len(roots)} tỉnh, thành phố (toàn quốc)"
    return f"{len(roots)} đơn vị cấp cao nhất" if roots else ""


# --- missed targets -------------------------------------------------------------------


def shortfall(r: Result) -> float | None:
    """How far a missed result is from its target, relative to the target.

    ``(target − value) / target`` for a lower bound (``(value − target) / target`` for an
    upper bound); where the target is 0 (a "curb" target, "kiềm chế") the distance itself.
    None when there is no value to compare (a reduction from a zero baseline: any increase
    from nothing), which :func:`missed_results` ranks as the most serious.
    """
    if r.value is None or r.target is None or r.target.value is None:
        return None
    t, v = r.target.value, r.value
    gap = v - t if r.target.op in ("<=", "<") else t - v
    if r.target.op == "==":
        gap = abs(t - v)
    return gap / abs(t) if t else gap


MISSED_ORDER_NOTE = (
    "Thứ tự: cấp tỉnh trước, rồi cấp huyện, cấp xã; trong mỗi cấp, mức thiếu so với chỉ tiêu "
    "lớn nhất trước (mức thiếu = (chỉ tiêu − kết quả) / chỉ tiêu; chỉ tiêu bằng 0 thì lấy "
    "chỉ tiêu − kết quả; tăng khi cùng kỳ không có vụ nào được xếp nặng nhất); "
    "cùng mức thì theo đợt, đơn vị, chỉ tiêu."
)


@_once
def missed_results(c: Consolidation) -> list[tuple[Result, float | None]]:
    """Every missed result with its shortfall, most serious first (see ``MISSED_ORDER_NOTE``)."""
    phases = {p: i for i, p in enumerate(phase_order(c))}
    inds = {ind.code: i for i, ind in enumerate(c.plan.indicators)}
    rows = [(r, shortfall(r)) for r in c.evaluation.results if r.status == "missed"]

    def key(item: tuple[Result, float | None]):
        r, s = item
        serious = math.inf if s is None else s
        return (
            LEVEL_ORDER.get(r.level, 3),
            -serious,
            phases.get(r.phase, len(phases)),
            r.name,
            r.unit,
            inds.get(r.indicator, len(inds)),
        )

    rows.sort(key=key)
    return rows


# --- console summary ------------------------------------------------------------------


def print_summary(
    c: Consolidation, out_path: str | os.PathLike | None, stream: TextIO | None = None
) -> None:
    """Print a one-screen Vietnamese summary of a consolidation to ``stream`` (stdout)."""
    stream = stream or sys.stdout
    for line in summary_lines(c, out_path):
        print(line, file=stream)


def summary_lines(c: Consolidation, out_path: str | os.PathLike | None, top: int = 5) -> list[str]:
    """The lines :func:`print_summary` prints."""
    counts = c.counts()
    lines = [f"Kế hoạch: {c.plan.name} ({c.plan.id})"]
    states = ", ".join(f"{counts.get(k, 0)} {label.lower()}" for k, label in INPUT_STATES.items())
    lines.append(
        f"Đầu vào: {sum(counts.values())} tệp/trang — {states} "
        f"(xử lý trong {format_vn(c.elapsed_s, 1, trim=True)} giây)"
    )
    overview = phase_overview(c)
    if overview:
        who = overview[-1].top_name or "toàn đơn vị"
        lines.append(f"Kết quả của {who}:")
        head = f"  {'Đợt':<16}{'Xã báo cáo':>14}{'Đạt':>6}{'Không đạt':>11}{'Chưa có số liệu':>17}"
        lines.append(head)
        for o in overview:
            label = o.label + (" (tạm tính)" if o.interim else "")
            lines.append(
                f"  {label[:16]:<16}{f'{o.reported}/{o.expected}':>14}{o.met:>6}{o.missed:>11}{o.no_data:>17}"
            )
    missed = missed_results(c)
    if missed:
        lines.append(f"Chỉ tiêu chưa đạt ({len(missed)}), nghiêm trọng nhất:")
        for i, (r, _s) in enumerate(missed[:top], start=1):
            lines.append(f"  {i}. {_missed_line(c, r)}")
    else:
        lines.append("Không có chỉ tiêu nào chưa đạt.")
    errors = sum(1 for f in c.findings if f.severity == "error")
    warnings = len(c.findings) - errors
    if c.findings:
        lines.append(
            f"Kết quả kiểm tra: {errors} lỗi, {warnings} cảnh báo (xem trang “Kết quả kiểm tra”)."
        )
    missing = len(c.evaluation.missing)
    if missing:
        lines.append(f"Chưa báo cáo: {missing} lượt xã theo đợt (xem trang “Chưa báo cáo”).")
    if out_path is not None:
        lines.append(f"Bảng tổng hợp: {Path(out_path)}")
    return lines


def _missed_line(c: Consolidation, r: Result) -> str:
    try:
        ind = c.plan.indicator(r.indicator)
        name, unit = ind.name, ind
    except KeyError:
        name, unit = r.indicator, None
    if r.value is None:
        value = "—"
    elif unit is not None and (
        unit.is_percent or "units_meeting" in r.components or r.kind == "all_of"
    ):
        value = format_percent(r.value, 1, trim=True)
    else:
        value = format_vn(r.value, 2, trim=True)
    gap = f" — {r.note}" if r.note else ""
    return (
        f"{phase_label(c.plan, r.phase)} · {r.name or r.unit} · {r.indicator} {_cut(name, 48)}: "
        f"{value}{gap}"
    )


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


# --- finding the plan -----------------------------------------------------------------


def resolve_plan(inputs: Iterable[str | os.PathLike]) -> Plan | None:
    """The plan the inputs' workbooks carry (``thidua template`` embeds it), or None.

    Opens at most the first ``PEEK_FILES`` workbooks found (each pre-checked before any
    reader sees it; refused, oversized or encrypted files are passed over) and stops after
    ``PEEK_PLANS`` of them named a plan. Raises ``ThiduaError`` naming the plans when the
    inputs carry different ones. None when no workbook names a plan.
    """
    from .reader import embedded_plan
    from .settings import get_settings

    settings = get_settings()
    found: dict[tuple[str, str], tuple[Plan, str]] = {}
    seen = 0
    with_plan = 0
    for src in _peek(inputs):
        if seen >= PEEK_FILES or with_plan >= PEEK_PLANS:
            break
        seen += 1
        if src.size > settings.max_file_bytes:
            continue
        try:
            data = src.read_bytes()
        except OSError:
            continue
        name = src.member or Path(src.path).name
        _plan_id, plan, _roster = embedded_plan(data, name, settings)
        if plan is None:
            continue
        with_plan += 1
        found.setdefault((plan.id, plan.version), (plan, src.label))
    if not found:
        return None
    if len(found) > 1:
        names = "; ".join(
            f"“{pid}” phiên bản {ver} (ví dụ {label})" for (pid, ver), (_p, label) in found.items()
        )
        raise ThiduaError(
            f"Các tệp đầu vào thuộc nhiều kế hoạch khác nhau: {names}. "
            "Hãy chỉ rõ kế hoạch bằng --plan, hoặc tổng hợp riêng từng kế hoạch."
        )
    return next(iter(found.values()))[0]


def _peek(inputs: Iterable[str | os.PathLike]):
    """The inputs' sources in order, lazily: a folder of 10,000 reports is not walked (nor
    its files opened) beyond the few the plan is looked for in."""
    from .intake import WORKBOOK_SUFFIXES, collect

    likely = WORKBOOK_SUFFIXES | {".eml", ".mbox", ".msg", ".dat"}
    for raw in inputs:
        path = os.fsdecode(os.fspath(raw))
        if not os.path.isdir(path):
            yield from collect([path], hash_files=False).sources
            continue
        any_found = False
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if Path(name).suffix.lower() in likely and not name.startswith("~$"):
                    any_found = True
                    yield from collect([os.path.join(root, name)], hash_files=False).sources
        if not any_found:  # files named otherwise: let the intake sniff them all
            yield from collect([path], hash_files=False).sources
