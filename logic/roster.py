"""The unit roster: who reports to whom, on which date.

A roster is a flat list of unit records, each valid between two dates. On any given date
the records valid that day form a tree (province → district → commune, or province →
commune after the 2025 reform); ``Roster.tree(day)`` returns it. The same official code
can appear in several records (a commune re-parented when district police were dissolved,
or a code re-used by the reform for a merged commune): codes are unique on a date, not
across dates.

``replaces`` lists the codes of earlier units a unit took over (a merged commune lists the
old communes it absorbed). ``Tree.successor`` follows that mapping so that figures
reported on old communes (e.g. "same period last year") roll up into today's units.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property

from .errors import RosterError

LEVELS = ("province", "district", "commune")
LEVEL_LABELS = {"province": "tỉnh", "district": "huyện", "commune": "xã"}
_MIN, _MAX = dt.date.min, dt.date.max


@dataclass(frozen=True, slots=True)
class Unit:
    code: str
    name: str
    level: str
    parent: str | None = None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    replaces: tuple[str, ...] = ()
    email: tuple[str, ...] = ()

    def valid_on(self, day: dt.date) -> bool:
        return (self.valid_from or _MIN) <= day <= (self.valid_to or _MAX)


@dataclass(frozen=True)
class Tree:
    """The units valid on one day, as a tree."""

    day: dt.date
    units: dict[str, Unit]
    former: dict[str, Unit] = field(default_factory=dict)  # old units that someone replaces

    @cached_property
    def children(self) -> dict[str | None, list[str]]:
        kids: dict[str | None, list[str]] = {}
        for u in self.units.values():
            kids.setdefault(u.parent, []).append(u.code)
        return kids

    @cached_property
    def _successors(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for u in self.units.values():
            for old in u.replaces:
                out.setdefault(old, u.code)  # a split commune goes to the first claimant
        return out

    def __contains__(self, code: str) -> bool:
        return code in self.units

    def unit(self, code: str) -> Unit:
        return self.units[code]

    def successor(self, code: str) -> str | None:
        """The unit of this tree that ``code`` reports into: itself, or its successor."""
        if code in self.units:
            return code
        seen = set()
        while code in self._successors and code not in seen:
            seen.add(code)
            code = self._successors[code]
            if code in self.units:
                return code
        return None

    def roots(self) -> list[str]:
        return [c for c, u in self.units.items() if u.parent is None or u.parent not in self.units]

    def communes_under(self, code: str) -> list[str]:
        """Every commune below (or equal to) ``code``, in roster order."""
        u = self.units[code]
        if u.level == "commune":
            return [code]
        out: list[str] = []
        for kid in self.children.get(code, []):
            out.extend(self.communes_under(kid))
        return out

    def ancestors(self, code: str) -> list[str]:
        out, u = [], self.units.get(code)
        while u is not None and u.parent is not None and u.parent in self.units:
            out.append(u.parent)
            u = self.units[u.parent]
        return out

    def subtree(self, root: str | None) -> Tree:
        """The part of the tree under ``root`` (all of it if None)."""
        if root is None:
            return self
        keep = {root}
        stack = [root]
        while stack:
            for kid in self.children.get(stack.pop(), []):
                keep.add(kid)
                stack.append(kid)
        return Tree(self.day, {c: u for c, u in self.units.items() if c in keep}, self.former)

    @cached_property
    def levels(self) -> tuple[str, ...]:
        present = {u.level for u in self.units.values()}
        return tuple(lv for lv in LEVELS if lv in present)


class Roster:
    """All unit records of a roster, with their validity dates."""

    def __init__(self, units: Iterable[Unit], name: str | None = None):
        self.units = tuple(units)
        self.name = name
        self._trees: dict[dt.date, Tree] = {}

    def __getstate__(self) -> dict:  # the trees are a cache: don't ship them to workers
        return {"units": self.units, "name": self.name}

    def __setstate__(self, state: dict) -> None:
        self.units, self.name, self._trees = state["units"], state["name"], {}

    @classmethod
    def from_rows(cls, rows: Iterable[dict], name: str | None = None) -> Roster:
        """Build from dict rows (CSV or sheet): code, name, level, parent, valid_from,
        valid_to, replaces (codes separated by spaces or commas), email."""
        units = []
        problems = []
        for n, row in enumerate(rows, start=2):
            code = str(row.get("code") or "").strip()
            level = str(row.get("level") or "").strip()
            if not code:
                problems.append(f"dòng {n}: thiếu mã đơn vị")
                continue
            if level not in LEVELS:
                problems.append(
                    f"dòng {n}: cấp “{level}” không hợp lệ (province, district, commune)"
                )
                continue
            units.append(
                Unit(
                    code=code,
                    name=str(row.get("name") or "").strip(),
                    level=level,
                    parent=str(row.get("parent") or row.get("parent_code") or "").strip() or None,
                    valid_from=_date(row.get("valid_from")),
                    valid_to=_date(row.get("valid_to")),
                    replaces=_codes(row.get("replaces")),
                    email=tuple(e.lower() for e in _codes(row.get("email"))),
                )
            )
        if problems:
            raise RosterError("Danh mục đơn vị không hợp lệ:\n" + "\n".join(problems))
        roster = cls(units, name)
        roster.check()
        return roster

    def check(self) -> None:
        """Raise ``RosterError`` if codes clash on a date or parents are missing."""
        problems: list[str] = []
        # the tree changes only where a record starts or the day after one ends
        days = {u.valid_from or _MIN for u in self.units} | {_MIN}
        days |= {
            u.valid_to + dt.timedelta(days=1)
            for u in self.units
            if u.valid_to and u.valid_to < _MAX
        }
        days = sorted(days)
        for day in days:
            seen: dict[str, Unit] = {}
            for u in self.units:
                if u.valid_on(day):
                    if u.code in seen:
                        problems.append(
                            f"mã {u.code} bị trùng vào ngày {day:%d/%m/%Y} ({seen[u.code].name} / {u.name})"
                        )
                    seen[u.code] = u
            for u in seen.values():
                if u.parent and u.parent not in seen:
                    problems.append(
                        f"đơn vị {u.code} ({u.name}): đơn vị cấp trên {u.parent} không có vào ngày {day:%d/%m/%Y}"
                    )
        if problems:
            raise RosterError("Danh mục đơn vị không hợp lệ:\n" + "\n".join(problems[:20]))

    def tree(self, day: dt.date) -> Tree:
        """The units valid on ``day``."""
        if day not in self._trees:
            units = {u.code: u for u in self.units if u.valid_on(day)}
            replaced = {c for u in units.values() for c in u.replaces}
            former = {u.code: u for u in self.units if u.code in replaced and not u.valid_on(day)}
            self._trees[day] = Tree(day, units, former)
        return self._trees[day]

    def scoped_tree(self, day: dt.date, scope: str | None) -> Tree:
        """The tree on ``day`` under ``scope``, even after ``scope`` itself was dissolved.

        A district dissolved in 2025 (or a province merged into another) no longer has a
        record on ``day``; its communes' successors still report for the plan. They are
        gathered under a stand-in root carrying the scope's code and last name.
        """
        tree = self.tree(day)
        if scope is None:
            return tree
        if scope in tree.units:
            return tree.subtree(scope)
        last = self.find(scope)
        if last is None:
            return Tree(day, {}, tree.former)
        before = self.tree(last.valid_to or last.valid_from or day).subtree(scope)
        units = {scope: Unit(scope, last.name, last.level)}
        for old in before.communes_under(scope) if scope in before.units else []:
            new = tree.successor(old)
            if new is not None and new not in units:
                units[new] = replace(tree.units[new], parent=scope)
        return Tree(day, units, tree.former)

    def find(self, code: str, day: dt.date | None = None) -> Unit | None:
        """The record with ``code`` valid on ``day`` (or the latest one)."""
        hits = [u for u in self.units if u.code == code and (day is None or u.valid_on(day))]
        return max(hits, key=lambda u: u.valid_from or _MIN) if hits else None

    def to_rows(self) -> list[dict]:
        return [
            {
                "code": u.code,
                "name": u.name,
                "level": u.level,
                "parent": u.parent or "",
                "valid_from": u.valid_from.isoformat() if u.valid_from else "",
                "valid_to": u.valid_to.isoformat() if u.valid_to else "",
                "replaces": " ".join(u.replaces),
                "email": " ".join(u.email),
            }
            for u in self.units
        ]

    def __len__(self) -> int:
        return len(self.units)


def _date(value) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    try:
        if "/" in text:
            d, m, y = (int(x) for x in text.split("/"))
            return dt.date(y, m, d)
        return dt.date.fromisoformat(text)
    except ValueError as e:
        raise RosterError(f"Ngày “{text}” trong danh mục đơn vị không hợp lệ") from e


def _codes(value) -> tuple[str, ...]:
    if value in (None, ""):
        return ()
    if isinstance(value, list | tuple):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return tuple(x for x in str(value).replace(",", " ").replace(";", " ").split() if x)
