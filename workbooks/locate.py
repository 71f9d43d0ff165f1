"""Find the report in a grid: the metadata block, the header row, the indicator rows.

Pure: the input is a grid (a list of rows of cell values, as python-calamine's
``to_python()`` or xlwings' ``sheet.used_range.value`` gives them) and the plan; the output
is a :class:`Located` naming every cell it placed (A1 references) and what it could not
place. No file is opened here, so the batch reader, ``validate`` and the add-in share it.

How a sheet is read (see ``notes/sheet-spec.md``):

1. **Rows by indicator code.** Every cell is compared with the plan's indicator codes
   (trimmed, NFC, case-insensitive); the column holding the most distinct codes is the code
   column. Rows may be inserted, deleted or moved: only the code matters.
2. **Columns by header meaning.** Going up from the first indicator row (over a row of
   column numbers "(1) (2) …", blank rows, a two-level header), the first row whose cells
   name a component ("Kỳ này / Số thực hiện", "Tổng số / Cùng kỳ", "Tử số", "Mẫu số",
   "Số lượng" …) is the header. Headers are matched loosely (``fold``): columns can move,
   be renamed a little, or extra columns be inserted.
3. **Metadata by label.** Above the table, a label ("Mã đơn vị:", "Đợt thi đua:" …) in any
   column; its value is the first non-empty cell to its right on the same row (merged
   cells hold their value in the top-left cell), or the text after the colon in the same
   cell ("Mã đơn vị: 14755").

Text is compared after ``clean_text``/``fold``; the caller decodes TCVN3/VNI cells first.

A batch reads thousands of sheets made from one template: the last layouts found are kept,
and a sheet that differs from one only in cells that change none of the decisions above
(figures, names, dates) gets its result without searching again (``_Layout``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from logic.plan import Plan
from logic.text import clean_text, fold

from .layout import col_letter

__all__ = ["META_LABELS", "Located", "MetaCell", "a1", "locate"]

#: Metadata key → folded labels that name it.
META_LABELS: dict[str, tuple[str, ...]] = {
    "plan_id": ("ma ke hoach",),
    "plan_version": ("phien ban ke hoach", "phien ban"),
    "unit": ("ma don vi", "ma dv", "ma so don vi"),
    "unit_name": ("ten don vi", "don vi", "don vi bao cao", "ten dv"),
    "phase": ("dot thi dua", "dot", "dot bao cao", "dot so"),
    "report_date": ("ngay bao cao", "ngay lap", "ngay"),
    "prepared_by": ("nguoi lap bieu", "nguoi lap", "nguoi bao cao"),
}
_LABEL_KEY = {label: key for key, labels in META_LABELS.items() for label in labels}

# Header keywords (folded), by the component they name. Position 0 is the first component
# of a kind (numerator, current, count, done), 1 the second (denominator, baseline).
_V1_WORDS = {
    "ky nay": "current",
    "thuc hien": None,  # "Số thực hiện": any first component
    "tu so": "numerator",
    "so dat": "numerator",
    "so luong": "count",
    "co khong": "done",
    "da thuc hien": "done",
}
_V2_WORDS = {"cung ky": "baseline", "tong so": "denominator", "mau so": "denominator"}
_POSITION = {
    "numerator": 0,
    "current": 0,
    "count": 0,
    "done": 0,
    "denominator": 1,
    "baseline": 1,
}

_HEADER_SEARCH = 30  # rows above the first indicator row where the header may be
_META_SEARCH = 40  # rows from the top where metadata labels may be
_CODE_MAX = 24  # longer text in the code column is not a code (notes, signatures)
# A report table fits in these; a stray cell far away (Ctrl+End at Z60000) must not make
# every lookup scan millions of empty cells.
MAX_ROWS = 5000
MAX_COLS = 200


@dataclass(frozen=True, slots=True)
class MetaCell:
    """A metadata value: the raw cell value (None if blank) and where it is (or belongs)."""

    key: str
    value: Any
    cell: str
    label_cell: str


@dataclass
class Located:
    """What :func:`locate` found in one grid. Rows and columns are the sheet's own
    (A1 numbering: rows from 1, ``columns`` values are 0-based column indexes)."""

    found: bool = False
    meta: dict[str, MetaCell] = field(default_factory=dict)
    header_row: int | None = None
    code_column: int | None = None
    columns: dict[str, int] = field(default_factory=dict)  # role → column index
    rows: dict[str, int] = field(default_factory=dict)  # indicator → row number
    cells: dict[tuple[str, str], str] = field(default_factory=dict)  # (ind, comp) → "F17"
    values: dict[tuple[str, str], Any] = field(default_factory=dict)  # (ind, comp) → raw
    code_cells: dict[str, str] = field(default_factory=dict)  # indicator → "B17"
    missing_indicators: list[str] = field(default_factory=list)  # reported, not found
    missing_columns: list[str] = field(default_factory=list)  # components with no column
    unknown: list[tuple[str, str]] = field(default_factory=list)  # (code text, code cell)
    duplicates: dict[str, list[int]] = field(default_factory=dict)  # indicator → row numbers

    def meta_value(self, key: str) -> Any:
        m = self.meta.get(key)
        return None if m is None else m.value


def a1(row: int, col: int) -> str:
    """A1 reference of a 1-based row and 0-based column."""
    return f"{col_letter(col + 1)}{row}"


def locate(
    grid: Any,
    plan: Plan,
    origin: tuple[int, int] = (0, 0),
    merged: Iterable[tuple[tuple[int, int], tuple[int, int]]] = (),
) -> Located:
    """Find the report of ``plan`` in ``grid``.

    ``origin`` is the (0-based row, 0-based column) of ``grid[0][0]`` in the sheet (calamine's
    ``sheet.start``, or the top-left of xlwings' ``used_range``), so that A1 references are
    the sheet's. ``merged`` lists merged ranges as ((row, col), (last row, last col)), 0-based
    sheet coordinates (calamine's ``merged_cell_ranges``): a blank metadata value is then
    placed right after its label's merged cells. Returns ``Located(found=False)`` when no
    plan indicator code is in the grid. Only the first ``MAX_ROWS`` × ``MAX_COLS`` cells
    are searched.
    """
    rows = _as_rows(grid)
    r0, c0 = origin
    merged = tuple(merged or ())
    codes, numeric = _plan_codes(plan)
    shape = _shape(rows, plan, origin, merged) if not numeric else None
    if shape is not None:
        for layout in _LAYOUTS.get(shape, ()):
            again = layout.again(rows, codes)
            if again is not None:
                return again
    spans = {(a[0] - r0, a[1] - c0): b[1] - c0 for a, b in merged}
    out = Located()

    # 1. code cells
    hits = _code_hits(rows[:MAX_ROWS], codes, numeric)
    if not hits:
        _find_meta(rows, len(rows), out, r0, c0, spans)
        return out
    code_col = max(hits, key=lambda j: (len(hits[j]), -j))
    hit_rows = sorted({i for found in hits[code_col].values() for i in found})
    first = hit_rows[0]
    out.found = True
    out.code_column = code_col + c0

    # 2. header row and columns; a code-like value above the table (a phase "1" in the
    # metadata block) must not hide the header, so try the next hits too
    header = None
    for start in hit_rows[:5]:
        header = _find_header(rows, start)
        if header is not None:
            first = header[0] + 1
            break
    roles = header[1] if header else {}
    named = roles.get("code")
    # the header names the code column and codes are there: trust it over a column that
    # merely holds as many matches (STT numbers when the codes are "1", "2" …)
    if (
        named is not None
        and named != code_col
        and named in hits
        and any(max(found) >= first for found in hits[named].values())
    ):
        code_col = named
        out.code_column = code_col + c0
    roles["code"] = code_col
    if header is not None:
        out.header_row = header[0] + r0 + 1
    out.columns = {role: j + c0 for role, j in roles.items()}
    top = header[0] if header else first

    # 3. metadata above the table
    trace: list[tuple[int, int, int, str, bool]] = []
    _find_meta(rows, top, out, r0, c0, spans, trace)

    # 4. indicator rows
    value_cols = [j for role, j in roles.items() if role in _POSITION or role in ("v1", "v2")]
    seen_rows: dict[str, list[int]] = {}
    for i in range(first, min(len(rows), MAX_ROWS)):
        row = rows[i]
        v = row[code_col] if code_col < len(row) else None
        if v is None or v == "":
            continue
        key = _code_key(v)
        code = codes.get(key)
        if code is None:
            text = key or ""
            if (
                text
                and len(text) <= _CODE_MAX
                and " " not in text
                and any(_filled(row, j) for j in value_cols)
            ):
                out.unknown.append((clean_text(str(v)), a1(i + r0 + 1, code_col + c0)))
            continue
        seen_rows.setdefault(code, []).append(i)
    for code, found in seen_rows.items():
        if len(found) > 1:
            out.duplicates[code] = [i + r0 + 1 for i in found]
    missing_cols: set[str] = set()
    value_at: dict[tuple[str, str], tuple[int, int]] = {}  # (ind, comp) → grid (row, col)
    code_letters = col_letter(code_col + c0 + 1)
    columns: dict[str, tuple[int, str] | None] = {}  # component → (column, its letters)
    for ind in plan.indicators:
        code = ind.code
        found = seen_rows.get(code)
        if not found:
            if ind.kind != "all_of":
                out.missing_indicators.append(code)
            continue
        i = found[0]
        number = i + r0 + 1
        out.rows[code] = number
        out.code_cells[code] = f"{code_letters}{number}"
        row = rows[i]
        for comp in ind.components:
            if comp not in columns:
                j = _component_column(roles, comp)
                columns[comp] = None if j is None else (j, col_letter(j + c0 + 1))
            column = columns[comp]
            if column is None:
                missing_cols.add(comp)
                continue
            j, letters = column
            out.cells[(code, comp)] = f"{letters}{number}"
            out.values[(code, comp)] = row[j] if j < len(row) else None
            value_at[(code, comp)] = (i, j)
    out.missing_columns = sorted(missing_cols, key=lambda c: (_POSITION[c], c))
    if shape is not None and header is not None and start == hit_rows[0]:
        layout = _Layout(plan, rows, out, header[0], hit_rows[0], code_col, value_cols, value_at)
        layout.meta_searched(trace, min(top, _META_SEARCH))
        _remember(shape, layout)
    return out


# --- helpers ----------------------------------------------------------------------------


def _code_hits(
    rows: list[Sequence[Any]], codes: dict[str, str], numeric: bool
) -> dict[int, dict[str, list[int]]]:
    """Column index → indicator code → row indexes of the cells holding that code (text
    compared exact first, then cleaned; numbers only when a code reads as a number)."""
    width = len(rows[0]) if rows else 0
    if not numeric and 0 < width <= MAX_COLS and len(set(map(len, rows))) == 1:
        try:
            return _code_hits_by_column(rows, codes)
        except TypeError:  # a cell value that cannot be hashed (not from a reader)
            pass
    hits: dict[int, dict[str, list[int]]] = {}
    for i, row in enumerate(rows):
        for j, v in enumerate(row if len(row) <= MAX_COLS else row[:MAX_COLS]):
            if type(v) is str:
                if not v or len(v) > _CODE_MAX:
                    continue
                code = codes.get(v)
                if code is None:
                    code = codes.get(_text_key(v))
            elif numeric and isinstance(v, int | float) and not isinstance(v, bool):
                code = codes.get(_code_key(v))
            else:
                continue
            if code is not None:
                hits.setdefault(j, {}).setdefault(code, []).append(i)
    return hits


def _code_hits_by_column(
    rows: list[Sequence[Any]], codes: dict[str, str]
) -> dict[int, dict[str, list[int]]]:
    """:func:`_code_hits` of a rectangular grid with text codes: a column's distinct values
    are sorted into codes and not-codes by set operations against the values met so far
    (a batch of sheets repeats the same texts and numbers), and only columns that hold a
    code are walked cell by cell."""
    seen, coded = _seen_values(codes)
    hits: dict[int, dict[str, list[int]]] = {}
    for j, column in enumerate(zip(*rows, strict=True)):
        values = set(column)
        new = values.difference(seen)  # by lookups in seen: never a walk over it
        for v in new:
            code = None
            if type(v) is str and v and len(v) <= _CODE_MAX:
                code = codes.get(v)
                if code is None:
                    code = codes.get(_text_key(v))
            seen[v] = code
            if code is not None:
                coded.add(v)
        if values.isdisjoint(coded):
            continue
        per: dict[str, list[int]] = {}
        for i, v in enumerate(column):
            if v in coded:
                code = seen.get(v)  # another thread may have started over meanwhile
                if code is not None:
                    per.setdefault(code, []).append(i)
        hits[j] = per
    if len(seen) > _SEEN_MAX:  # numbers and names differ from file to file: start over
        seen.clear()
        coded.clear()
    return hits


_SEEN_MAX = 20_000  # a few MB: names and numbers repeat little from file to file
_SEEN: dict[int, tuple[dict[str, str], dict[Any, str | None], set[Any]]] = {}


def _seen_values(codes: dict[str, str]) -> tuple[dict[Any, str | None], set[Any]]:
    """Cell value → code (None: not a code) for every value compared with ``codes`` so far,
    and the set of those that are codes."""
    found = _SEEN.get(id(codes))
    if found is None or found[0] is not codes:
        if len(_SEEN) >= 2:
            _SEEN.clear()
        found = _SEEN[id(codes)] = (codes, {}, set())
    return found[1], found[2]


def _as_rows(grid: Any) -> list[Sequence[Any]]:
    """Accept what xlwings gives for a used range: a scalar, a 1-D list, or rows."""
    if grid is None:
        return []
    if not isinstance(grid, list | tuple):
        return [[grid]]
    if grid and not isinstance(grid[0], list | tuple):
        return [list(grid)]
    return list(grid)


def _filled(row: Sequence[Any], j: int) -> bool:
    return j < len(row) and row[j] is not None and row[j] != ""


@lru_cache(maxsize=64)
def _plan_codes_cached(codes: tuple[str, ...]) -> tuple[dict[str, str], bool]:
    """Code lookup (exact and cleaned/case-folded text) and whether a code reads as a
    number ("1", "2.1"), so that numeric cells need comparing at all."""
    lookup = {_text_key(c): c for c in codes} | {c: c for c in codes}
    return lookup, any(_is_number(c) for c in codes)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


_LAST_PLAN: list[tuple[Plan, tuple[Any, ...], tuple[dict[str, str], bool]]] = []


def _plan_codes(plan: Plan) -> tuple[dict[str, str], bool]:
    # a batch reads thousands of sheets against one plan: no need to list its codes again
    if _LAST_PLAN and _LAST_PLAN[0][0] is plan and _LAST_PLAN[0][1] is plan.indicators:
        return _LAST_PLAN[0][2]
    found = _plan_codes_cached(tuple(i.code for i in plan.indicators))
    _LAST_PLAN[:] = [(plan, plan.indicators, found)]
    return found


@lru_cache(maxsize=8192)
def _text_key(text: str) -> str:
    s = text.strip()
    if not s.isascii() or not s.isprintable():
        s = clean_text(s)
    return s.casefold()


def _code_key(v: Any) -> str | None:
    """The comparable form of a code cell: text trimmed and case-folded; 3.0 → "3"."""
    if isinstance(v, str):
        return _text_key(v) if v else None
    if isinstance(v, bool):
        return None
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else str(v)
    if isinstance(v, int):
        return str(v)
    return None


_fold = lru_cache(maxsize=8192)(fold)


def _words(text: str) -> str:
    return f" {_fold(text)} "


@lru_cache(maxsize=8192)
def _header_role(text: str) -> str | None:
    """The role of a header cell: stt, code, name, unit, target, v1, v2, a component, rate,
    assess, note; None if it names nothing known."""
    h = _fold(text)
    if not h:
        return None
    w = f" {h} "
    if " ty le " in w or " so voi " in w or h == "%":
        return "rate"
    if " danh gia " in w:
        return "assess"
    if " ghi chu " in w:
        return "note"
    if h in ("stt", "tt", "so tt", "so thu tu"):
        return "stt"
    if " ma " in w and (" chi tieu " in w or h in ("ma", "ma ct", "ma so", "ma chi so")):
        return "code"
    if " noi dung " in w or " ten chi tieu " in w:
        return "name"
    if " don vi tinh " in w or h in ("dvt", "don vi"):
        return "unit"
    v2 = [comp for word, comp in _V2_WORDS.items() if f" {word} " in w]
    v1 = [comp for word, comp in _V1_WORDS.items() if f" {word} " in w]
    if v2 and not v1:
        return v2[0] if len(set(v2)) == 1 else "v2"
    if v1 and not v2:
        specific = {c for c in v1 if c is not None}
        if len(specific) == 1 and None not in v1:
            return specific.pop()
        if specific == {"done"}:
            return "done"
        return "v1"
    if v1 and v2:  # "Tổng số thực hiện / Cùng kỳ": the first words decide
        first1 = min(w.find(f" {x} ") for x in _V1_WORDS if f" {x} " in w)
        first2 = min(w.find(f" {x} ") for x in _V2_WORDS if f" {x} " in w)
        return "v1" if first1 < first2 else "v2"
    if h.startswith("chi tieu"):
        return "target"
    return None


def _row_roles(row: Sequence[Any]) -> dict[str, int]:
    roles: dict[str, int] = {}
    for j, v in enumerate(row):
        if isinstance(v, str) and v:
            role = _header_role(v)
            if role is not None:
                roles.setdefault(role, j)
    return roles


def _has_components(roles: dict[str, int]) -> bool:
    return any(r in _POSITION or r in ("v1", "v2") for r in roles)


def _find_header(rows: list[Sequence[Any]], first: int) -> tuple[int, dict[str, int]] | None:
    """The header row above the first indicator row, with its roles (two-level headers
    merged: sub-headers naming components under a row naming the other columns)."""
    for i in range(first - 1, max(-1, first - 1 - _HEADER_SEARCH), -1):
        roles = _row_roles(rows[i])
        if not _has_components(roles):
            continue
        # a two-level header: the upper row names STT, Mã, Nội dung …
        if i > 0:
            above = _row_roles(rows[i - 1])
            for role, j in above.items():
                if role not in _POSITION and role not in ("v1", "v2"):
                    roles.setdefault(role, j)
        return i, roles
    return None


def _component_column(roles: dict[str, int], comp: str) -> int | None:
    """A component's column: named for it, else the generic V1/V2, else any column in the
    same position (a hand-made "Kỳ này" column also holds counts)."""
    if comp in roles:
        return roles[comp]
    pos = _POSITION[comp]
    generic = "v1" if pos == 0 else "v2"
    if generic in roles:
        return roles[generic]
    same = [j for r, j in roles.items() if _POSITION.get(r) == pos]
    return min(same) if same else None


def _find_meta(
    rows: list[Sequence[Any]],
    stop: int,
    out: Located,
    r0: int,
    c0: int,
    spans: dict[tuple[int, int], int],
    trace: list[tuple[int, int, int, str, bool]] | None = None,
) -> None:
    """Labels and their values in the first ``stop`` rows (up to ``_META_SEARCH``). With
    ``trace``: (row, label column, column where the value search stopped, key, whether a
    value was found there) of every label given a value, for :class:`_Layout`."""
    for i in range(min(stop, _META_SEARCH, len(rows))):
        row = rows[i]
        if not any(row):
            continue  # blank: no label (labels are text)
        j, n = 0, len(row)
        while j < n:
            v = row[j]
            if not isinstance(v, str) or not v or len(v) > 60:
                j += 1
                continue
            key, rest = _label(v)
            if key is None or key in out.meta:
                j += 1
                continue
            ref = a1(i + r0 + 1, j + c0)
            if rest:
                out.meta[key] = MetaCell(key, rest, ref, ref)
                j += 1
                continue
            value, vj, end = None, spans.get((i, j), j) + 1, n
            for k in range(j + 1, n):
                x = row[k]
                if x is None or x == "":
                    continue
                end = k
                if isinstance(x, str) and _label(x)[0] is not None:
                    break  # the next label: this one's value is blank
                value, vj = x, k
                break
            if trace is not None:
                trace.append((i, j, end, key, value is not None))
            out.meta[key] = MetaCell(key, value, a1(i + r0 + 1, vj + c0), ref)
            j = vj + 1 if value is not None else j + 1


# --- the same layout again ----------------------------------------------------------------
#
# A batch reads thousands of sheets from one template: they differ in their figures and
# names, not in where things are. The last layouts found are kept; a sheet of the same
# shape whose differing cells provably change none of the decisions above (no code, label
# or header among them, none in a place a search looked at) gets the same result with its
# own values, without searching again. Anything else is searched in full.

_LAYOUTS: dict[tuple, list[_Layout]] = {}
_LAYOUTS_MAX = 4


def _shape(
    rows: list[Sequence[Any]], plan: Plan, origin: tuple[int, int], merged: tuple
) -> tuple | None:
    """What must be equal for two sheets to be compared cell by cell (None: not a grid the
    memo takes: ragged, too large or empty)."""
    if not rows or len(rows) > MAX_ROWS:
        return None
    width = len(rows[0])
    if not 0 < width <= MAX_COLS or len(set(map(len, rows))) != 1:
        return None
    shape = (id(plan), len(rows), width, tuple(origin), merged)
    try:
        hash(shape)
    except TypeError:  # merged ranges given as lists
        return None
    return shape


def _remember(shape: tuple, layout: _Layout) -> None:
    if sum(map(len, _LAYOUTS.values())) >= _LAYOUTS_MAX:
        _LAYOUTS.clear()
    _LAYOUTS.setdefault(shape, []).append(layout)


def _copied(o: Located, values: dict, meta: dict) -> Located:
    """A Located with the containers of ``o`` copied (no caller can change a kept one)."""
    return Located(
        found=o.found,
        meta=meta,
        header_row=o.header_row,
        code_column=o.code_column,
        columns=dict(o.columns),
        rows=dict(o.rows),
        cells=dict(o.cells),
        values=values,
        code_cells=dict(o.code_cells),
        missing_indicators=list(o.missing_indicators),
        missing_columns=list(o.missing_columns),
        unknown=list(o.unknown),
        duplicates={k: list(v) for k, v in o.duplicates.items()},
    )


class _Layout:
    """One grid's :class:`Located` and where its decisions came from."""

    def __init__(
        self,
        plan: Plan,
        rows: list[Sequence[Any]],
        out: Located,
        header_i: int,
        hit0: int,
        code_col: int,
        value_cols: list[int],
        value_at: dict[tuple[str, str], tuple[int, int]],
    ):
        self.plan, self.indicators = plan, plan.indicators  # kept alive: the shape has its id
        self.codes = _plan_codes(plan)[0]
        self.rows = [list(r) for r in rows]  # copies: the caller may change its grid …
        self.out = _copied(out, dict(out.values), dict(out.meta))  # … or what it was given
        self.code_col = code_col
        self.value_cols = frozenset(value_cols)
        self.value_at = value_at
        self.value_cells = frozenset(value_at.values())
        self.header_rows = range(max(header_i - 1, 0), hit0)  # searched for the header
        self.first = header_i + 1
        self.meta_rows = 0
        self.searched: dict[int, list[tuple[int, int]]] = {}  # row → (label col, end col)
        self.meta_at: dict[tuple[int, int], str] = {}  # a found value's cell → key

    def meta_searched(self, trace: list[tuple[int, int, int, str, bool]], meta_rows: int) -> None:
        """Where :func:`_find_meta` looked (its ``trace``) in the first ``meta_rows`` rows."""
        self.meta_rows = meta_rows
        for i, j, end, key, found in trace:
            self.searched.setdefault(i, []).append((j, end))
            if found:
                self.meta_at[(i, end)] = key

    def again(self, rows: list[Sequence[Any]], codes: dict[str, str]) -> Located | None:
        """This layout's result with the values of ``rows``, or None if it may not hold."""
        if codes is not self.codes or self.indicators is not self.plan.indicators:
            return None
        figures = self.value_cells
        for i, (row, old) in enumerate(zip(rows, self.rows, strict=True)):
            if row == old:
                continue
            for j, (x, y) in enumerate(zip(row, old, strict=True)):
                if x == y or (type(x) is not str and type(y) is not str and (i, j) in figures):
                    continue  # the same, or a figure (read below) that cannot be a code
                if not self._inert(i, j, x, y, row):
                    return None
        o = self.out
        meta = dict(o.meta)
        for (i, j), key in self.meta_at.items():
            m = meta[key]
            meta[key] = MetaCell(key, rows[i][j], m.cell, m.label_cell)
        values = {}
        for key, (i, j) in self.value_at.items():
            row = rows[i]
            values[key] = row[j] if j < len(row) else None
        return _copied(o, values, meta)

    def _inert(self, i: int, j: int, x: Any, y: Any, row: Sequence[Any]) -> bool:
        """Whether a cell that changed from ``y`` to ``x`` leaves every decision as it was."""
        if _is_code(x, self.codes) or _is_code(y, self.codes):
            return False  # the code search would see another grid
        if (i, j) in self.value_cells:
            return True  # an indicator's figure: read again
        if i in self.header_rows:
            return False  # the header (and the row naming its columns above it)
        if i < self.meta_rows:
            if _is_label(x) or _is_label(y):
                return False
            for label, end in self.searched.get(i, ()):
                if label < j < end:
                    return False  # a blank the value search passed over
                if j == end:  # the value found (read again); the label ending it is a label
                    return (i, j) in self.meta_at and not _blank(x)
            return True
        if i >= self.first:
            if j == self.code_col:
                return False
            if j in self.value_cols:  # decides whether a text in the code column is reported
                code = row[self.code_col]
                return code is None or code == "" or _is_code(code, self.codes)
        return True


def _is_code(v: Any, codes: dict[str, str]) -> bool:
    if type(v) is not str or not v or len(v) > _CODE_MAX:
        return False
    return v in codes or _text_key(v) in codes


def _is_label(v: Any) -> bool:
    return isinstance(v, str) and bool(v) and len(v) <= 60 and _label(v)[0] is not None


def _blank(v: Any) -> bool:
    return v is None or v == ""


@lru_cache(maxsize=8192)
def _label(text: str) -> tuple[str | None, str | None]:
    """(metadata key, value in the same cell) of a label cell, or (None, None)."""
    key = _LABEL_KEY.get(_fold(text))
    if key is not None:
        return key, None
    if ":" in text:
        left, _, right = text.partition(":")
        key = _LABEL_KEY.get(_fold(left))
        if key is not None:
            right = clean_text(right)
            return key, (right or None)
    return None, None
