"""Campaign plans: phases, content groups, indicators and their targets.

A plan is plain data (pydantic models). It is authored as TOML or as an Excel workbook
(``workbooks.plans`` reads both into the same dict shape) and validated here; every problem
is reported in Vietnamese naming the field, so that a clerk editing the plan can fix it.

Indicator kinds and the components a commune reports (see the domain note):

=========  ==========================  ===================================================
kind       components                  value
=========  ==========================  ===================================================
ratio      numerator, denominator      numerator / denominator (0/0: không phát sinh)
reduction  current, baseline           (baseline − current) / baseline
count      count                       the count
minimum    count                       the count (per-commune minimum, e.g. ≥ 1 model)
yes_no     done                        1 / 0
all_of     (none: ``parts``)           met where every part is met
=========  ==========================  ===================================================
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import PlanError

Kind = Literal["ratio", "reduction", "count", "minimum", "yes_no", "all_of"]
Level = Literal["commune", "district", "province"]
Op = Literal[">=", ">", "<=", "<", "=="]

COMPONENTS: dict[str, tuple[str, ...]] = {
    "ratio": ("numerator", "denominator"),
    "reduction": ("current", "baseline"),
    "count": ("count",),
    "minimum": ("count",),
    "yes_no": ("done",),
    "all_of": (),
}

#: Default Vietnamese labels of each component, used where the plan gives none.
COMPONENT_LABELS: dict[str, str] = {
    "numerator": "Số đạt",
    "denominator": "Tổng số",
    "current": "Kỳ này",
    "baseline": "Cùng kỳ năm trước",
    "count": "Số lượng",
    "done": "Đã thực hiện (Có/Không)",
}

KIND_LABELS: dict[str, str] = {
    "ratio": "Tỷ lệ",
    "reduction": "Giảm so với cùng kỳ",
    "count": "Số lượng",
    "minimum": "Tối thiểu mỗi xã",
    "yes_no": "Có/Không",
    "all_of": "Đạt tất cả",
}

OP_WORDS: dict[str, str] = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "==": "="}

_FIELD_LABELS = {
    "id": "mã kế hoạch",
    "name": "tên",
    "start": "ngày bắt đầu",
    "end": "ngày kết thúc",
    "phases": "các đợt",
    "indicators": "các chỉ tiêu",
    "groups": "nhóm nội dung",
    "code": "mã",
    "kind": "loại chỉ tiêu",
    "target": "chỉ tiêu",
    "op": "phép so sánh",
    "value": "giá trị",
    "group": "nhóm",
    "parts": "các chỉ tiêu thành phần",
    "roster": "danh mục đơn vị",
    "scope": "đơn vị phạm vi",
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Target(_Model):
    """What a value must satisfy: ``value OP target``.

    ``value`` is a plain number in the indicator's own terms: 0.8 for 80 % (ratio,
    reduction, coverage), 3 for "≥ 3 models". ``value`` is None when the source gives no
    figure and the target is set locally (``local``): such a target cannot be judged until
    a user fills it in. ``wording`` keeps the source's words ("trên 95%").
    """

    op: Op = ">="
    value: float | None = None
    local: bool = False
    wording: str | None = None

    @model_validator(mode="after")
    def _value_or_local(self):
        if self.value is None and not self.local:
            raise ValueError(
                "chỉ tiêu chưa có giá trị: ghi giá trị hoặc đánh dấu “do địa phương đặt” (local = true)"
            )
        return self

    @property
    def judgeable(self) -> bool:
        return self.value is not None

    def test(self, x: float) -> bool:
        """True if ``x`` meets the target (tolerant of float noise)."""
        assert self.value is not None
        t, eps = self.value, 1e-9
        match self.op:
            case ">=":
                return x >= t - eps
            case ">":
                return x > t + eps
            case "<=":
                return x <= t + eps
            case "<":
                return x < t - eps
            case "==":
                return abs(x - t) <= eps
        raise AssertionError(self.op)


class Group(_Model):
    code: str
    name: str


class Phase(_Model):
    code: str
    name: str
    start: dt.date
    end: dt.date
    theme: str | None = None

    @model_validator(mode="after")
    def _ordered(self):
        if self.end < self.start:
            raise ValueError(
                f"đợt {self.code}: ngày kết thúc {self.end:%d/%m/%Y} trước ngày bắt đầu {self.start:%d/%m/%Y}"
            )
        return self

    def contains(self, day: dt.date) -> bool:
        return self.start <= day <= self.end

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


class Indicator(_Model):
    """One measurable target of the plan.

    ``unit`` is what is counted ("vụ", "tin báo", "mô hình", "người"): the gap to target is
    said in it. ``labels`` names the components in the report ("Số tin báo do nhân dân
    cung cấp"). ``targets_by_phase`` overrides ``target`` per phase; ``levels`` says where
    the target is judged; ``level_targets`` gives an aggregate level its own target (for
    counts: a total for the level instead of the share of communes meeting the commune
    target). ``coverage`` is the share of communes that must meet a count / minimum /
    yes-no target for a district or province to meet it.
    """

    code: str
    group: str | None = None
    name: str
    unit: str = "trường hợp"
    kind: Kind
    target: Target
    targets_by_phase: dict[str, Target] = Field(default_factory=dict)
    level_targets: dict[Level, Target] = Field(default_factory=dict)
    levels: tuple[Level, ...] = ("commune", "district", "province")
    coverage: float = 1.0
    parts: tuple[str, ...] = ()
    labels: dict[str, str] = Field(default_factory=dict)
    note: str | None = None
    source: str | None = None

    @field_validator("code")
    @classmethod
    def _code_ok(cls, v: str) -> str:
        if not v or any(c.isspace() for c in v):
            raise ValueError(f"mã chỉ tiêu “{v}” không được rỗng hay có khoảng trắng")
        return v

    @model_validator(mode="after")
    def _kind_rules(self):
        if self.kind == "all_of" and len(self.parts) < 2:
            raise ValueError(
                f"chỉ tiêu {self.code} loại “Đạt tất cả” cần ít nhất 2 chỉ tiêu thành phần"
            )
        if self.kind != "all_of" and self.parts:
            raise ValueError(
                f"chỉ tiêu {self.code}: chỉ loại “Đạt tất cả” mới có chỉ tiêu thành phần"
            )
        unknown = set(self.labels) - set(COMPONENTS[self.kind])
        if unknown:
            raise ValueError(
                f"chỉ tiêu {self.code}: thành phần {', '.join(sorted(unknown))} không thuộc loại {self.kind}"
            )
        if not 0 < self.coverage <= 1:
            raise ValueError(
                f"chỉ tiêu {self.code}: tỷ lệ đơn vị phải đạt (coverage) phải trong (0, 1]"
            )
        return self

    @property
    def components(self) -> tuple[str, ...]:
        return COMPONENTS[self.kind]

    def label(self, component: str) -> str:
        return self.labels.get(component) or COMPONENT_LABELS[component]

    def target_for(self, phase: str | None) -> Target:
        if phase is not None and phase in self.targets_by_phase:
            return self.targets_by_phase[phase]
        return self.target

    @property
    def is_percent(self) -> bool:
        """The value is a share (ratio, reduction) rather than a count."""
        return self.kind in ("ratio", "reduction")


class Plan(_Model):
    """A campaign: who, when (phases), what (indicators) and over which units (roster)."""

    id: str
    version: str = "1"
    name: str
    theme: str | None = None
    issuer: str | None = None
    source: str | None = None
    start: dt.date
    end: dt.date
    phases: tuple[Phase, ...]
    groups: tuple[Group, ...] = ()
    indicators: tuple[Indicator, ...]
    roster: str | None = None
    scope: str | None = None
    allow_gaps: bool = False

    @model_validator(mode="after")
    def _consistent(self):
        problems: list[str] = []
        if self.end < self.start:
            problems.append("ngày kết thúc của kế hoạch trước ngày bắt đầu")
        if not self.phases:
            problems.append("kế hoạch phải có ít nhất một đợt")
        if not self.indicators:
            problems.append("kế hoạch phải có ít nhất một chỉ tiêu")
        _dupes(problems, [p.code for p in self.phases], "đợt")
        _dupes(problems, [i.code for i in self.indicators], "chỉ tiêu")
        _dupes(problems, [g.code for g in self.groups], "nhóm nội dung")
        phases = sorted(self.phases, key=lambda p: p.start)
        for a, b in itertools.pairwise(phases):
            if b.start <= a.end:
                problems.append(
                    f"đợt {a.code} ({a.start:%d/%m/%Y}–{a.end:%d/%m/%Y}) chồng lên đợt {b.code} ({b.start:%d/%m/%Y}–{b.end:%d/%m/%Y})"
                )
            elif (b.start - a.end).days > 1 and not self.allow_gaps:
                problems.append(
                    f"giữa đợt {a.code} và đợt {b.code} có khoảng trống ({a.end:%d/%m/%Y} → {b.start:%d/%m/%Y}); nếu cố ý, đặt allow_gaps = true"
                )
        for p in self.phases:
            if p.start < self.start or p.end > self.end:
                problems.append(
                    f"đợt {p.code} nằm ngoài thời gian của kế hoạch ({self.start:%d/%m/%Y}–{self.end:%d/%m/%Y})"
                )
        groups = {g.code for g in self.groups}
        codes = {i.code for i in self.indicators}
        phase_codes = {p.code for p in self.phases}
        for ind in self.indicators:
            if ind.group is not None and groups and ind.group not in groups:
                problems.append(
                    f"chỉ tiêu {ind.code}: nhóm “{ind.group}” không có trong danh sách nhóm nội dung"
                )
            for part in ind.parts:
                if part not in codes:
                    problems.append(
                        f"chỉ tiêu {ind.code}: chỉ tiêu thành phần “{part}” không có trong kế hoạch"
                    )
                elif part == ind.code:
                    problems.append(f"chỉ tiêu {ind.code} không thể là thành phần của chính nó")
            for ph in ind.targets_by_phase:
                if ph not in phase_codes:
                    problems.append(
                        f"chỉ tiêu {ind.code}: chỉ tiêu riêng cho đợt “{ph}” nhưng kế hoạch không có đợt này"
                    )
        by_code = {i.code: i for i in self.indicators}
        for ind in self.indicators:
            for part in ind.parts:
                if part in by_code and by_code[part].kind == "all_of":
                    problems.append(
                        f"chỉ tiêu {ind.code}: thành phần {part} không được là loại “Đạt tất cả”"
                    )
        if problems:
            raise ValueError("\n".join(problems))
        return self

    # -- lookups ------------------------------------------------------------------------
    def phase(self, code: str) -> Phase:
        for p in self.phases:
            if p.code == code:
                return p
        raise KeyError(code)

    def indicator(self, code: str) -> Indicator:
        for i in self.indicators:
            if i.code == code:
                return i
        raise KeyError(code)

    def phase_on(self, day: dt.date) -> Phase | None:
        """The phase that contains ``day``, or None."""
        return next((p for p in self.phases if p.contains(day)), None)

    def group_name(self, code: str | None) -> str:
        return next((g.name for g in self.groups if g.code == code), code or "")

    @property
    def reported_indicators(self) -> tuple[Indicator, ...]:
        """Indicators a commune fills in (all but all-of)."""
        return tuple(i for i in self.indicators if i.kind != "all_of")


def _dupes(problems: list[str], codes: list[str], what: str) -> None:
    seen: set[str] = set()
    for c in codes:
        if c in seen:
            problems.append(f"mã {what} “{c}” bị trùng")
        seen.add(c)


def load_plan(data: dict, source: str | None = None) -> Plan:
    """Validate a plan from plain data; raise ``PlanError`` listing every problem in Vietnamese."""
    try:
        return Plan.model_validate(data)
    except ValidationError as e:
        raise PlanError(
            [line for err in e.errors() for line in _describe(err).split("\n")], source
        ) from None


def _describe(err) -> str:
    # list positions count from 1 for people ("các đợt › 2 › ngày kết thúc")
    loc = [str(x + 1) if isinstance(x, int) else str(x) for x in err["loc"]]
    where = " › ".join(_FIELD_LABELS.get(x, x) for x in loc)
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg.removeprefix("Value error, ")
    elif err["type"] == "missing":
        msg = "thiếu (bắt buộc)"
    elif err["type"] == "extra_forbidden":
        msg = "trường không được hỗ trợ (kiểm tra chính tả)"
    elif err["type"].startswith("date"):
        msg = f"ngày không hợp lệ: {err.get('input')!r} (ghi dạng yyyy-mm-dd trong TOML hoặc dd/mm/yyyy trong Excel)"
    elif err["type"] == "literal_error":
        msg = f"giá trị {err.get('input')!r} không hợp lệ; chọn một trong: {err['ctx'].get('expected')}"
    return f"{where}: {msg}" if where else msg
