"""Buttons of the add-in: one ``do_x(book)`` each, wrapped for every runtime.

``do_x(book)`` uses only the ``xw.Book`` API shared by COM and the remote engine (see
:mod:`addin.sheets`). ``@xw.script def x(book)`` serves xlwings Server and Lite (sheets the
button never reads are excluded from what Excel sends); ``x_macro()`` serves the classic
ribbon (``RunPython "import addin.buttons; addin.buttons.x_macro()"``) and shows a user
error as a message box instead of a traceback.

=====================  =======================================================================
Kiểm tra báo cáo       check every report sheet; colour bad cells (red: error, yellow: warning)
                       with a note saying what is wrong and how to fix it; list everything on
                       the sheet "Kết quả kiểm tra" (marks of an earlier check are removed)
Tổng hợp               roll the commune sheets up the roster the workbook carries into the
                       sheet "Tổng hợp": every district and province figure, missed ones red
Đánh giá chỉ tiêu      judge every indicator of every report sheet on the sheet "Đánh giá"
                       (status, gap); a sheet whose own assessment cell says otherwise is
                       marked
Tạo báo cáo mới        add a blank report sheet for the unit and phase typed on the sheet
                       "Tạo mới" (made, with instructions, on the first click)
=====================  =======================================================================

Problems the user can fix raise ``xw.XlwingsError`` with a Vietnamese message (HTTP 400
in xlwings Server, shown as an alert).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import xlwings as xw

from logic.aggregate import ALL_PHASES, Result, evaluate
from logic.checks import check_phase
from logic.errors import ThiduaError
from logic.findings import Finding
from logic.numbers import format_percent, format_vn, parse_date
from logic.plan import Indicator, Plan, Target
from logic.roster import LEVEL_LABELS
from logic.targets import NOT_OCCURRED, STATUS_LABELS, TARGET_NOT_SET, target_text
from logic.text import clean_text, fold
from workbooks.layout import INPUT_FILL, STATUS_NO_TARGET, report_layout
from workbooks.locate import a1

from .assess import MET, MISSED, NO_DATA, Verdict, elapsed_share, judge_all_of, judge_row, row_spec
from .report import SheetCheck, check_grid
from .sheets import (
    ERROR_FILL,
    FONT,
    MET_FILL,
    WARNING_FILL,
    as_cell,
    book_plan,
    find_sheet,
    fresh_sheet,
    input_fill,
    scan_reports,
    set_colors,
    set_widths,
    sheet_grid,
    write_layout,
    write_table,
    write_title,
)
from .state import StateError

__all__ = [
    "ASSESS_SHEET",
    "NEW_SHEET",
    "RESULTS_SHEET",
    "TALLY_SHEET",
    "danh_gia_chi_tieu",
    "danh_gia_chi_tieu_macro",
    "do_danh_gia_chi_tieu",
    "do_kiem_tra_bao_cao",
    "do_tao_bao_cao_moi",
    "do_tong_hop",
    "kiem_tra_bao_cao",
    "kiem_tra_bao_cao_macro",
    "tao_bao_cao_moi",
    "tao_bao_cao_moi_macro",
    "tong_hop",
    "tong_hop_macro",
]

RESULTS_SHEET = "Kết quả kiểm tra"
TALLY_SHEET = "Tổng hợp"
ASSESS_SHEET = "Đánh giá"
NEW_SHEET = "Tạo mới"
GUIDE_SHEET = "Hướng dẫn"
TITLE = "Thi đua"
SEVERITY = {"error": "Lỗi", "warning": "Cảnh báo"}
ALL_PHASES_LABEL = "Cả đợt thi đua"
#: Sheets a button never reads: Excel does not send their cells (xlwings Server, Lite).
NOT_READ = [GUIDE_SHEET, TALLY_SHEET, ASSESS_SHEET]


# --- Kiểm tra báo cáo -------------------------------------------------------------------------

RESULT_HEADER = ("Mức độ", "Mã lỗi", "Trang", "Ô", "Nội dung", "Cách sửa")


def do_kiem_tra_bao_cao(book: xw.Book) -> None:
    """Check every report sheet, mark the cells, list the findings on "Kết quả kiểm tra"."""
    bp = book_plan(book)
    before = _previous_marks(book)
    checks, _skipped = scan_reports(book, bp.plan, bp.roster)
    if not checks:
        raise StateError(_no_reports(book, bp.plan))
    findings = [f for c in checks for f in c.findings]
    notes_ok = True
    marked: set[tuple[str, str]] = set()
    for (sheet_name, cell), items in _by_cell(findings).items():
        sheet = book.sheets[sheet_name]
        rng = sheet.range(cell)
        worst = "error" if any(f.severity == "error" for f in items) else "warning"
        rng.color = ERROR_FILL if worst == "error" else WARNING_FILL
        if notes_ok:
            notes_ok = _set_note(rng, _note_text(items))
        marked.add((sheet_name, cell))
    by_sheet = {c.sheet: c for c in checks}
    for sheet_name, cell in sorted(before - marked):
        sheet = find_sheet(book, sheet_name)
        check = by_sheet.get(sheet_name)
        if sheet is None or check is None:
            continue
        rng = sheet.range(cell)
        rng.color = input_fill(check, bp.plan, cell)
        if rng.note is not None:
            rng.note.delete()

    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    ordered = sorted(findings, key=lambda f: f.severity != "error")  # errors first, stable
    rows = [
        (SEVERITY.get(f.severity, f.severity), f.code, f.sheet, f.cell or "", f.message, f.hint)
        for f in ordered
    ] or [("", "", "", "", "Không phát hiện lỗi nào.", "")]
    summary = (
        f"Đã kiểm tra {len(checks)} trang báo cáo ({', '.join(c.sheet for c in checks)}): "
        f"{errors} lỗi, {warnings} cảnh báo."
    )
    out = fresh_sheet(book, RESULTS_SHEET)
    write_title(out, ["KẾT QUẢ KIỂM TRA BÁO CÁO", f"{bp.plan.name} ({bp.plan.id})", summary], 6)
    write_table(out, 5, RESULT_HEADER, rows, widths=(11, 24, 20, 8, 70, 55))
    if findings:
        set_colors(
            out, "A", 6, [ERROR_FILL if f.severity == "error" else WARNING_FILL for f in ordered]
        )
    out.activate()
    if findings:
        where = "Các ô có vấn đề được tô màu (đỏ: lỗi, vàng: cảnh báo)"
        where += " và có ghi chú cách sửa" if notes_ok else ""
        message = f"{summary}\n{where}; danh sách ở trang “{RESULTS_SHEET}”."
    else:
        message = f"{summary}\nKhông phát hiện lỗi nào."
    book.app.alert(message, title=f"{TITLE}: kiểm tra báo cáo", mode="info")


@xw.script(exclude=NOT_READ)
def kiem_tra_bao_cao(book: xw.Book):
    """Kiểm tra báo cáo"""
    with _user_errors():
        do_kiem_tra_bao_cao(book)


def kiem_tra_bao_cao_macro() -> None:
    """Classic ribbon: Kiểm tra báo cáo."""
    _run_macro(do_kiem_tra_bao_cao)


def _by_cell(findings: list[Finding]) -> dict[tuple[str, str], list[Finding]]:
    out: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        if f.sheet and f.cell:
            out.setdefault((f.sheet, f.cell), []).append(f)
    return out


def _note_text(items: list[Finding]) -> str:
    text = "\n\n".join(
        f"[{SEVERITY.get(f.severity, f.severity)}] {f.message}"
        + (f"\nCách sửa: {f.hint}" if f.hint else "")
        for f in items
    )
    return text[:30_000]


def _set_note(rng: Any, text: str) -> bool:
    """Put ``text`` in the cell's note; False if this Excel cannot hold notes."""
    try:
        note = rng.note
        if note is not None:
            note.text = text
        else:
            rng.add_note(text)
    except NotImplementedError:
        return False
    return True


def _previous_marks(book: xw.Book) -> set[tuple[str, str]]:
    """(sheet, cell) listed by an earlier check on "Kết quả kiểm tra"."""
    sheet = find_sheet(book, RESULTS_SHEET)
    if sheet is None:
        return set()
    rows, _origin = sheet_grid(sheet)
    out: set[tuple[str, str]] = set()
    header = None
    for i, row in enumerate(rows):
        if header is None:
            if [str(v or "") for v in row[:4]] == list(RESULT_HEADER[:4]):
                header = i
            continue
        sheet_name, cell = (row + [None] * 4)[2:4]
        if isinstance(sheet_name, str) and isinstance(cell, str) and sheet_name and cell:
            out.add((sheet_name, cell))
    return out


def _no_reports(book: xw.Book, plan: Plan) -> str:
    names = ", ".join(f"“{s.name}”" for s in book.sheets if s.visible) or "không có"
    return (
        f"Không tìm thấy trang báo cáo nào của kế hoạch “{plan.id}” trong sổ này (các trang: "
        f"{names}). Trang báo cáo cần có cột “Mã chỉ tiêu” với các mã của kế hoạch."
    )


# --- Tổng hợp -----------------------------------------------------------------------------------

TALLY_HEADER = (
    "Đợt",
    "Cấp",
    "Mã đơn vị",
    "Tên đơn vị",
    "Mã chỉ tiêu",
    "Nội dung chỉ tiêu",
    "Chỉ tiêu",
    "Số thực hiện / Số xã đạt",
    "Tổng số / Cùng kỳ / Số xã có số liệu",
    "Kết quả",
    "Đánh giá",
    "Còn thiếu / Ghi chú",
    "Số xã đã báo cáo",
)


def do_tong_hop(book: xw.Book) -> None:
    """Roll the commune sheets up into "Tổng hợp": district and province figures judged."""
    bp = book_plan(book)
    plan, roster = bp.plan, bp.roster
    if roster is None:
        raise StateError(
            "Sổ này không mang danh mục đơn vị (trang ẩn “_thidua”) nên không biết xã nào "
            "thuộc huyện nào. Hãy chép các trang báo cáo của các xã vào một tệp báo cáo được "
            "tạo từ mẫu của phần mềm rồi bấm lại."
        )
    checks, _skipped = scan_reports(book, plan, roster)
    if not checks:
        raise StateError(_no_reports(book, plan))
    used: dict[tuple[str, str], SheetCheck] = {}
    left_out: list[str] = []
    for c in checks:
        if not c.usable:
            left_out.append(f"“{c.sheet}”: {c.reason}")
        elif c.identity.level not in (None, "commune"):
            left_out.append(
                f"“{c.sheet}”: báo cáo của đơn vị cấp {LEVEL_LABELS[c.identity.level]}, "
                "không phải cấp xã"
            )
        else:
            key = (c.identity.unit, c.identity.phase)
            if key in used:
                left_out.append(
                    f"“{used[key].sheet}”: trùng đơn vị {key[0]} đợt {key[1]} với trang "
                    f"“{c.sheet}” (dùng trang sau)"
                )
            used[key] = c
    if not used:
        raise StateError(
            "Không có trang báo cáo cấp xã nào dùng được để tổng hợp:\n- " + "\n- ".join(left_out)
        )
    phases = [p.code for p in plan.phases if any(ph == p.code for _u, ph in used)]
    ev = evaluate(plan, roster, [c.to_report() for c in used.values()], phases=phases)
    order = [*phases, *([ALL_PHASES] if len(phases) > 1 else [])]
    results = [r for r in ev.results if r.level != "commune"]
    results.sort(key=lambda r: (order.index(r.phase), _level_rank(r.level)))
    rows = [_tally_row(plan, r) for r in results]
    missed = sum(r.status == "missed" for r in results)
    missing = [(u, ph) for u, ph in ev.missing if ph in phases]
    summary = (
        f"Tổng hợp từ {len(used)} trang báo cáo cấp xã; "
        + "; ".join(
            f"đợt {ph}: {sum(1 for _u, p in used if p == ph)}/"
            f"{sum(1 for u in ev.trees[ph].units.values() if u.level == 'commune')} xã"
            for ph in phases
        )
        + "."
    )
    out = fresh_sheet(book, TALLY_SHEET)
    title = [
        "TỔNG HỢP KẾT QUẢ THỰC HIỆN CHỈ TIÊU THI ĐUA",
        f"{plan.name} ({plan.id})",
        summary,
    ]
    write_title(out, title, len(TALLY_HEADER))
    widths = (14, 8, 10, 24, 9, 40, 16, 12, 14, 12, 14, 28, 10)
    write_table(out, 5, TALLY_HEADER, rows, widths=widths)
    words = [row[10] for row in rows]
    set_colors(out, "K", 6, [_status_fill(w) for w in words])
    set_colors(out, "L", 6, [ERROR_FILL if w == MISSED else None for w in words])
    if missing:
        top = 6 + len(rows) + 1
        names = {u.code: u.name for t in ev.trees.values() for u in t.units.values()}
        out.range(f"A{top}").value = "ĐƠN VỊ CHƯA CÓ BÁO CÁO"
        out.range(f"A{top}").font.bold = True
        write_table(
            out,
            top + 1,
            ("Đợt", "Cấp", "Mã đơn vị", "Tên đơn vị"),
            [(f"Đợt {ph}", "xã", u, names.get(u, "")) for u, ph in missing],
        )
    out.activate()
    message = f"{summary}\nĐã ghi vào trang “{TALLY_SHEET}”: {missed} chỉ tiêu không đạt (tô đỏ)."
    if missing:
        message += f"\nCòn {len(missing)} báo cáo cấp xã chưa có (liệt kê cuối trang)."
    if left_out:
        message += "\nKhông dùng:\n- " + "\n- ".join(left_out[:8])
        if len(left_out) > 8:
            message += f"\n- … và {len(left_out) - 8} trang khác"
    book.app.alert(message, title=f"{TITLE}: tổng hợp", mode="info")


@xw.script(exclude=[*NOT_READ, RESULTS_SHEET])
def tong_hop(book: xw.Book):
    """Tổng hợp"""
    with _user_errors():
        do_tong_hop(book)


def tong_hop_macro() -> None:
    """Classic ribbon: Tổng hợp."""
    _run_macro(do_tong_hop)


def _level_rank(level: str) -> int:
    return {"province": 0, "district": 1}.get(level, 2)


def _tally_row(plan: Plan, r: Result) -> tuple:
    ind = plan.indicator(r.indicator)
    c = r.components
    if ind.kind == "ratio":
        a, b = c.get("numerator", ""), c.get("denominator", "")
    elif ind.kind == "reduction":
        a, b = c.get("current", ""), c.get("baseline", "")
    elif ind.kind == "all_of":
        a, b = "", ""
    else:
        a, b = c.get("units_meeting", ""), c.get("units_reported", "")
    phase = ALL_PHASES_LABEL if r.phase == ALL_PHASES else f"Đợt {r.phase}"
    note = r.note or ""
    if note in (NOT_OCCURRED, TARGET_NOT_SET):
        note = ""
    if r.interim:
        note = ("Báo cáo giữa đợt. " + note).strip()
    return (
        phase,
        LEVEL_LABELS.get(r.level, r.level),
        r.unit,
        r.name,
        ind.code,
        ind.name,
        _target_words(ind, r.level, r.target),
        a,
        b,
        _value_words(ind, r),
        _result_word(r),
        note,
        f"{r.reported}/{r.expected}",
    )


def _target_words(ind: Indicator, level: str, t: Target | None) -> str:
    if t is None:
        return "Không đánh giá ở cấp này"
    if (
        level != "commune"
        and ind.kind in ("count", "minimum", "yes_no")
        and (ind.kind == "yes_no" or level not in ind.level_targets)
        and t.value is not None
        and t.value <= 1
    ):
        if t.value >= 1:
            return "Tất cả các xã đạt"
        return f"≥ {format_percent(t.value, 0)} số xã đạt"
    return target_text(ind, t)


def _value_words(ind: Indicator, r: Result) -> str:
    v = r.value
    if v is None:
        return ""
    if ind.kind == "reduction":
        return f"Giảm {format_percent(v)}" if v >= 0 else f"Tăng {format_percent(-v)}"
    if ind.kind in ("ratio", "all_of") or r.level != "commune":
        return format_percent(v)
    return format_vn(v, 2, trim=True)


def _result_word(r: Result) -> str:
    if r.status == "not_applicable" and r.note == NOT_OCCURRED:
        return NOT_OCCURRED
    if r.status == "not_applicable" and r.note == TARGET_NOT_SET:
        return STATUS_NO_TARGET
    return STATUS_LABELS.get(r.status, r.status)


def _status_fill(word: str) -> str | None:
    return {MISSED: ERROR_FILL, MET: MET_FILL}.get(word)


# --- Đánh giá chỉ tiêu ----------------------------------------------------------------------

ASSESS_HEADER = (
    "Trang",
    "Mã đơn vị",
    "Tên đơn vị",
    "Đợt",
    "Mã chỉ tiêu",
    "Nội dung chỉ tiêu",
    "Chỉ tiêu",
    "Kỳ này / Số thực hiện",
    "Tổng số / Cùng kỳ năm trước",
    "Đánh giá",
    "Còn thiếu",
    "Trang báo cáo ghi",
)


def do_danh_gia_chi_tieu(book: xw.Book) -> None:
    """Judge every indicator of every report sheet onto "Đánh giá"."""
    bp = book_plan(book)
    plan = bp.plan
    checks, _skipped = scan_reports(book, plan, bp.roster)
    if not checks:
        raise StateError(_no_reports(book, plan))
    rows: list[tuple] = []
    mismatches: list[tuple[SheetCheck, str, str, str]] = []
    left_out: list[str] = []
    for check in checks:
        phase = check.identity.phase
        if phase is None:
            left_out.append(f"“{check.sheet}”: không ghi đợt thi đua")
            continue
        verdicts = _judge_sheet(plan, check, phase)
        loc = check.located
        for ind in plan.indicators:
            row = loc.rows.get(ind.code)
            if row is None:
                continue
            verdict = verdicts[ind.code]
            shown = _cell(check, row, "assess")
            if isinstance(shown, str) and shown.strip() and shown.strip() != verdict.word:
                col = loc.columns["assess"]
                ref = a1(row, col)
                mismatches.append((check, ref, shown.strip(), verdict.word))
            target = _cell(check, row, "target")
            rows.append(
                (
                    check.sheet,
                    check.identity.unit or "",
                    check.identity.unit_name or "",
                    phase,
                    ind.code,
                    ind.name,
                    target if target not in (None, "") else _plan_target(ind, phase),
                    _shown(check, ind.code, 0),
                    _shown(check, ind.code, 1),
                    verdict.word,
                    verdict.gap,
                    shown.strip()
                    if isinstance(shown, str) and shown.strip() != verdict.word
                    else "",
                )
            )
    if not rows:
        raise StateError("Không có trang báo cáo nào ghi đợt thi đua:\n- " + "\n- ".join(left_out))
    for check, ref, shown, word in mismatches:
        rng = book.sheets[check.sheet].range(ref)
        rng.color = WARNING_FILL
        _set_note(
            rng,
            f"Theo số liệu, chỉ tiêu này được đánh giá là “{word}”, nhưng ô này ghi “{shown}”. "
            "Không gõ đè lên cột Đánh giá: dùng lại công thức của mẫu báo cáo.",
        )
    out = fresh_sheet(book, ASSESS_SHEET)
    counts = {w: sum(r[9] == w for r in rows) for w in (MET, MISSED, NO_DATA)}
    summary = (
        f"Đã đánh giá {len(rows)} chỉ tiêu trên {len(checks) - len(left_out)} trang báo cáo: "
        f"{counts[MET]} đạt, {counts[MISSED]} không đạt, {counts[NO_DATA]} chưa có số liệu."
    )
    write_title(out, ["ĐÁNH GIÁ CHỈ TIÊU THI ĐUA", f"{plan.name} ({plan.id})", summary], 12)
    widths = (16, 10, 24, 6, 9, 40, 16, 12, 14, 16, 26, 16)
    write_table(out, 5, ASSESS_HEADER, rows, widths=widths)
    set_colors(out, "J", 6, [_status_fill(r[9]) for r in rows])
    out.activate()
    message = f"{summary}\nKết quả ở trang “{ASSESS_SHEET}”."
    if mismatches:
        message += (
            f"\n{len(mismatches)} ô Đánh giá trên trang báo cáo ghi khác với số liệu "
            "(tô vàng, có ghi chú)."
        )
    if left_out:
        message += "\nKhông đánh giá:\n- " + "\n- ".join(left_out[:8])
    book.app.alert(message, title=f"{TITLE}: đánh giá chỉ tiêu", mode="info")


@xw.script(exclude=[*NOT_READ, RESULTS_SHEET])
def danh_gia_chi_tieu(book: xw.Book):
    """Đánh giá chỉ tiêu"""
    with _user_errors():
        do_danh_gia_chi_tieu(book)


def danh_gia_chi_tieu_macro() -> None:
    """Classic ribbon: Đánh giá chỉ tiêu."""
    _run_macro(do_danh_gia_chi_tieu)


def _judge_sheet(plan: Plan, check: SheetCheck, phase: str) -> dict[str, Verdict]:
    """Each located indicator of a sheet judged as its template formula would."""
    level = check.identity.level or "commune"
    p = plan.phase(phase)
    elapsed = elapsed_share(p.start, p.end, check.identity.report_date)
    loc = check.located
    words: dict[str, str] = {}
    out: dict[str, Verdict] = {}
    for ind in plan.indicators:
        row = loc.rows.get(ind.code)
        if row is None or ind.kind == "all_of":
            continue
        spec = row_spec(ind.code, _cell(check, row, "target"), plan=plan, phase=phase, level=level)
        raw = [loc.values.get((ind.code, comp)) for comp in ind.components]
        out[ind.code] = judge_row(spec, *raw, elapsed=elapsed)
        words[ind.code] = out[ind.code].word
    for ind in plan.indicators:
        if ind.kind == "all_of" and ind.code in loc.rows:
            spec = row_spec(ind.code, None, plan=plan, phase=phase, level=level)
            if spec is not None and spec.target is None:
                out[ind.code] = Verdict(STATUS_LABELS["not_applicable"])
            else:
                out[ind.code] = judge_all_of(ind.parts, words)
    return out


def _cell(check: SheetCheck, row: int, role: str) -> Any:
    col = check.located.columns.get(role)
    return None if col is None else check.value_at(row, col)


def _shown(check: SheetCheck, code: str, position: int) -> Any:
    comps = [comp for (ind, comp) in check.located.values if ind == code]
    if position >= len(comps):
        return ""
    raw = check.located.values[(code, comps[position])]
    return "" if raw is None else raw


def _plan_target(ind: Indicator, phase: str) -> str:
    return target_text(ind, ind.target_for(phase))


# --- Tạo báo cáo mới -------------------------------------------------------------------------


def do_tao_bao_cao_moi(book: xw.Book) -> None:
    """Add a blank report sheet for the unit and phase typed on "Tạo mới"."""
    bp = book_plan(book)
    plan, roster = bp.plan, bp.roster
    if roster is None:
        raise StateError(
            "Sổ này không mang danh mục đơn vị (trang ẩn “_thidua”) nên không tạo được báo "
            "cáo mới. Hãy tạo báo cáo bằng lệnh thidua template, hoặc mở một tệp báo cáo được "
            "tạo từ mẫu của phần mềm."
        )
    form = find_sheet(book, NEW_SHEET)
    if form is None:
        _new_form(book, plan)
        return
    rows, origin = sheet_grid(form)
    fields = _form_fields(rows, origin)
    problems = []
    unit_code, phase_value, day_value = (fields.get(k, (None, "")) for k in _FORM_KEYS)
    if unit_code[0] in (None, ""):
        problems.append(f"ô {unit_code[1] or 'B4'}: chưa ghi mã đơn vị")
    if phase_value[0] in (None, ""):
        problems.append(f"ô {phase_value[1] or 'B5'}: chưa ghi đợt thi đua")
    if problems:
        raise StateError(_form_problem(problems))
    phase, found = check_phase(plan, phase_value[0])
    if phase is None:
        raise StateError(_form_problem([f"ô {phase_value[1]}: {found[0].message}"]))
    p = plan.phase(phase)
    code = _code(unit_code[0])
    unit = roster.find(code, p.end) or roster.find(code, p.start) or roster.find(code)
    if unit is None and code.isdigit():
        unit = next(
            (roster.find(code.zfill(w)) for w in (5, 3, 2) if roster.find(code.zfill(w))), None
        )
    if unit is None:
        raise StateError(
            _form_problem([f"ô {unit_code[1]}: mã đơn vị “{code}” không có trong danh mục đơn vị"])
        )
    if unit.level == "province":
        raise StateError(
            _form_problem(
                [f"ô {unit_code[1]}: {unit.name} là cấp tỉnh; báo cáo lập cho xã hoặc huyện"]
            )
        )
    day = None
    if day_value[0] not in (None, ""):
        day = parse_date(day_value[0])
        if day is None:
            raise StateError(
                _form_problem([f"ô {day_value[1]}: ngày báo cáo “{day_value[0]}” không đọc được"])
            )
    layout = report_layout(plan, phase, unit, report_date=day)
    title = _free_title(book, layout.title)
    sheet = book.sheets.add(title, after=book.sheets[len(book.sheets) - 1])
    write_layout(sheet, layout)
    sheet.activate()
    inputs = "“Kỳ này / Số thực hiện” và “Tổng số / Cùng kỳ năm trước”"
    book.app.alert(
        f"Đã thêm trang “{title}”: báo cáo của {unit.name} (mã {unit.code}), đợt {p.code} "
        f"({p.start:%d/%m/%Y} – {p.end:%d/%m/%Y}).\n"
        f"Hãy điền: số liệu vào các ô nền vàng ở hai cột {inputs}; ngày báo cáo (ô "
        f"{layout.meta['report_date']}); người lập biểu (ô {layout.meta['prepared_by']}); "
        "chỉ tiêu ở những ô ghi “Do địa phương đặt”. Cột Đánh giá tự tính.",
        title=f"{TITLE}: tạo báo cáo mới",
        mode="info",
    )


@xw.script(exclude=[*NOT_READ, RESULTS_SHEET])
def tao_bao_cao_moi(book: xw.Book):
    """Tạo báo cáo mới"""
    with _user_errors():
        do_tao_bao_cao_moi(book)


def tao_bao_cao_moi_macro() -> None:
    """Classic ribbon: Tạo báo cáo mới."""
    _run_macro(do_tao_bao_cao_moi)


_FORM_KEYS = ("unit", "phase", "report_date")
_FORM_LABELS = {"unit": "Mã đơn vị:", "phase": "Đợt thi đua:", "report_date": "Ngày báo cáo:"}


def _new_form(book: xw.Book, plan: Plan) -> None:
    """Make the "Tạo mới" sheet, pre-filled from the active report sheet."""
    unit, phase = "", ""
    active = book.sheets.active
    rows, origin = sheet_grid(active)
    check = check_grid(rows, plan, None, sheet=active.name, origin=origin)
    if check.found:
        unit = check.identity.unit or ""
        codes = [p.code for p in plan.phases]
        if check.identity.phase in codes:
            nxt = codes.index(check.identity.phase) + 1
            phase = codes[min(nxt, len(codes) - 1)]
    sheet = book.sheets.add(NEW_SHEET, after=book.sheets[len(book.sheets) - 1])
    phases = ", ".join(f"{p.code} ({p.start:%d/%m/%Y} – {p.end:%d/%m/%Y})" for p in plan.phases)
    values = [
        ["TẠO BÁO CÁO MỚI", None],
        [f"Kế hoạch: {plan.name} ({plan.id})", None],
        [None, None],
        [_FORM_LABELS["unit"], as_cell(unit)],
        [_FORM_LABELS["phase"], as_cell(phase)],
        [_FORM_LABELS["report_date"], None],
        [None, None],
        [
            "Cách dùng: ghi mã đơn vị (theo danh mục), đợt thi đua và ngày báo cáo (nếu có) "
            "vào các ô nền vàng, rồi bấm lại “Tạo báo cáo mới”.",
            None,
        ],
        [f"Các đợt: {phases}.", None],
    ]
    sheet.range("A1").value = values
    whole = sheet.range("A1:B9")
    whole.font.name = FONT
    whole.font.size = 12
    sheet.range("A1").font.bold = True
    sheet.range("A1").font.size = 14
    inputs = sheet.range("B4:B6")
    inputs.color = "#" + INPUT_FILL
    inputs.number_format = "@"
    sheet.range("B6").number_format = "dd/mm/yyyy"
    inputs.borders.set("all", line_style="continuous", weight="thin")
    sheet.range("B5").data_validation.set_list([p.code for p in plan.phases])
    set_widths(sheet, {"A": 18, "B": 24})
    sheet.activate()
    book.app.alert(
        f"Đã thêm trang “{NEW_SHEET}”. Ghi mã đơn vị vào ô B4, đợt thi đua vào ô B5 (các đợt: "
        f"{', '.join(p.code for p in plan.phases)}) và ngày báo cáo vào ô B6 nếu có, rồi bấm "
        "lại “Tạo báo cáo mới”.",
        title=f"{TITLE}: tạo báo cáo mới",
        mode="info",
    )


def _form_fields(rows: list[list[Any]], origin: tuple[int, int]) -> dict[str, tuple[Any, str]]:
    """Label → (value, cell of the value) on the "Tạo mới" sheet (labels in any column)."""
    wanted = {fold(label): key for key, label in _FORM_LABELS.items()}
    out: dict[str, tuple[Any, str]] = {}
    for i, row in enumerate(rows[:30]):
        for j, v in enumerate(row):
            key = wanted.get(fold(v)) if isinstance(v, str) else None
            if key is None or key in out:
                continue
            value, col = None, j + 1
            for k in range(j + 1, len(row)):
                if row[k] not in (None, ""):
                    value, col = row[k], k
                    break
            out[key] = (value, a1(i + origin[0] + 1, col + origin[1]))
    return out


def _form_problem(problems: list[str]) -> str:
    return f"Trang “{NEW_SHEET}” chưa đúng:\n- " + "\n- ".join(problems)


def _code(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return clean_text(str(value))


def _free_title(book: xw.Book, title: str) -> str:
    taken = {s.name.casefold() for s in book.sheets}
    if title.casefold() not in taken:
        return title
    n = 2
    while True:
        candidate = f"{title[:26]} ({n})"
        if candidate.casefold() not in taken:
            return candidate
        n += 1


# --- runtime plumbing -------------------------------------------------------------------------


@contextmanager
def _user_errors() -> Iterator[None]:
    """Problems the user can fix as an ``XlwingsError`` (a 400 alert, never a 500)."""
    try:
        yield
    except ThiduaError as e:
        raise xw.XlwingsError(str(e)) from None


def _run_macro(do: Callable[[Any], None]) -> None:
    """A classic ribbon button: the caller's book; a user error as a message box."""
    book = xw.Book.caller()
    try:
        do(book)
    except (ThiduaError, xw.XlwingsError) as e:
        book.app.alert(str(e), title=TITLE, mode="critical")
