"""``thidua validate``: check workbooks, list the findings, optionally write annotated copies.

``validate_files`` reads every file with ``workbooks.reader`` (pre-check first, inputs never
modified), adds the checks that need several reports (figures far from the other
communes' or from the same commune's previous phase) and, with ``feedback_dir``, writes an
annotated copy of each file (``workbooks.feedback``). ``format_findings_table`` renders
the findings for a terminal.

The plan is ``plan_ref`` (a bundled id or a plan file) or, without it, the plan each
workbook carries in its ``_thidua`` sheet (``thidua template`` embeds it). Exit codes
(contract): 0 no errors, 1 errors found, 2 bad arguments (no such file, a broken
``--plan``, a workbook whose plan cannot be known).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from logic.checks import outliers_vs_peers, outliers_vs_previous
from logic.errors import ThiduaError
from logic.findings import Finding, finding, has_errors
from logic.plan import Plan
from logic.roster import Roster

from .feedback import SEVERITY_LABELS, feedback_name, write_feedback
from .reader import SheetReport, WorkbookRead, read_workbook

__all__ = ["SUFFIXES", "ValidateResult", "format_findings_table", "validate_files"]

#: Files taken from a folder given on the command line.
SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")


@dataclass
class ValidateResult:
    """What ``validate_files`` found.

    ``findings``: every finding, file by file (file-level, then each sheet's, then the
    cross-file ones); ``reports``: the report sheets read; ``exit_code``: 0/1/2;
    ``message``: why the exit code is 2 (Vietnamese), else None; ``plan``: the plan used
    (``--plan``, or the one every workbook carries); ``inputs``: one record per
    file or report sheet (contract: JSON ``inputs``); ``feedback``: annotated copies written.
    """

    findings: list[Finding]
    reports: list[SheetReport]
    exit_code: int
    message: str | None = None
    plan: Plan | None = None
    inputs: list[dict] = field(default_factory=list)
    feedback: list[Path] = field(default_factory=list)

    def summary(self) -> dict:
        """The JSON summary (contract schema 1); ``results`` and ``missing`` are empty:
        validation judges no targets (``thidua consolidate`` does)."""
        return {
            "schema": 1,
            "plan": {"id": self.plan.id, "name": self.plan.name} if self.plan else None,
            "inputs": self.inputs,
            "findings": [_finding_dict(f) for f in self.findings],
            "results": [],
            "missing": [],
            "exit_code": self.exit_code,
            "message": self.message,
        }


def validate_files(
    paths: Iterable[str | os.PathLike],
    plan_ref: str | os.PathLike | None = None,
    feedback_dir: str | os.PathLike | None = None,
    *,
    roster: Roster | None = None,
) -> ValidateResult:
    """Check workbooks (files, or folders of them) and return the findings.

    ``plan_ref``: a bundled plan id or a plan file; None: the plan each workbook carries.
    ``roster``: default, the plan's bundled roster (or the one the workbook carries).
    ``feedback_dir``: write ``<name>-kiem-tra.xlsx`` there for each file. Never raises on
    user data; raises ``workbooks.save.SaveError`` if a feedback copy cannot be written.
    """
    plan: Plan | None = None
    if plan_ref is not None:
        from .plans import load

        try:
            plan = load(plan_ref)
        except ThiduaError as e:
            return ValidateResult([], [], 2, message=str(e))
        if roster is None and plan.roster:
            from .rosters import load_roster

            try:
                roster = load_roster(plan.roster)
            except ThiduaError as e:
                return ValidateResult([], [], 2, message=str(e), plan=plan)
    files, missing = _expand(paths)
    result = ValidateResult([], [], 0, plan=plan)
    if not files and not missing:
        result.exit_code, result.message = 2, "Không có tệp bảng tính nào để kiểm tra."
        return result
    reads: list[tuple[Path, WorkbookRead, list[Finding]]] = []
    for path in missing:
        f = finding("file_unreadable", path=str(path), why="không tìm thấy tệp")
        reads.append((path, WorkbookRead("unknown", findings=[f]), [f]))
        result.inputs.append(_input(path, None, None, "rejected", f.message))
    no_plan: list[str] = []
    embedded: dict[str, Plan] = {}
    for path in files:
        read = read_workbook(path, name=path.name, path=str(path), plan=plan, roster=roster)
        if plan is None and not read.sheets and _plan_unknown(read):
            no_plan.append(path.name)
        file_findings = list(read.findings)
        for sheet in read.sheets:
            file_findings += sheet.findings
        reads.append((path, read, file_findings))
        if plan is None and read.embedded is not None:
            embedded.setdefault(read.embedded.id, read.embedded)
        result.reports += read.sheets
        _record_inputs(result, path, read)
    if plan is None and len(embedded) == 1:
        result.plan = next(iter(embedded.values()))  # every workbook carries the same plan
    cross = _cross_checks(result.reports, plan, embedded)
    for path, _read, file_findings in reads:
        mine = [f for f in cross if f.path == str(path)]
        result.findings += file_findings + mine
        if feedback_dir is not None and path.exists():
            out = _feedback_path(Path(feedback_dir), path, result.feedback)
            result.feedback.append(write_feedback(path, file_findings + mine, out))
    if no_plan:
        result.exit_code = 2
        result.message = (
            "Không xác định được kế hoạch của tệp: " + ", ".join(no_plan)
            + ". Hãy chỉ rõ kế hoạch bằng --plan (mã kế hoạch có sẵn hoặc tệp kế hoạch)."
        )  # fmt: skip
    elif missing and not files:
        result.exit_code = 2
        result.message = "Không tìm thấy tệp: " + ", ".join(str(p) for p in missing)
    else:
        result.exit_code = 1 if has_errors(result.findings) else 0
    return result


def format_findings_table(findings: Iterable[Finding], width: int | None = None) -> str:
    """The findings as a table for a terminal: Mức độ | Tệp | Trang | Ô | Nội dung.

    Long messages wrap inside their column; the last line counts errors and warnings.
    """
    findings = list(findings)
    if not findings:
        return "Không phát hiện lỗi nào."
    width = width or shutil.get_terminal_size((120, 24)).columns
    rows = [
        (
            SEVERITY_LABELS.get(f.severity, f.severity),
            _file_label(f),
            f.sheet or "",
            f.cell or "",
            f.message,
        )
        for f in findings
    ]
    heads = ("Mức độ", "Tệp", "Trang", "Ô", "Nội dung")
    caps = (8, 30, 20, 6)
    widths = [
        min(cap, max(len(heads[i]), *(len(r[i]) for r in rows))) for i, cap in enumerate(caps)
    ]
    message_width = max(30, width - sum(widths) - 3 * len(widths) - 1)
    sep = " │ "
    lines = [
        sep.join(h.ljust(w) for h, w in zip(heads, [*widths, 0], strict=True)).rstrip(),
        "─┼─".join("─" * w for w in [*widths, min(message_width, 60)]),
    ]
    for row in rows:
        cells = [_cut(v, w).ljust(w) for v, w in zip(row[:4], widths, strict=True)]
        wrapped = textwrap.wrap(row[4], message_width) or [""]
        lines.append(sep.join([*cells, wrapped[0]]))
        pad = sep.join(" " * w for w in widths)
        lines += [pad + sep + more for more in wrapped[1:]]
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    lines.append(f"Tổng cộng: {errors} lỗi, {warnings} cảnh báo.")
    return "\n".join(lines)


# --- internals ------------------------------------------------------------------------


def _expand(paths: Iterable[str | os.PathLike]) -> tuple[list[Path], list[Path]]:
    files: list[Path] = []
    missing: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            files += sorted(
                q
                for q in path.rglob("*")
                if q.is_file() and q.suffix.lower() in SUFFIXES and not q.name.startswith("~$")
            )
        elif path.is_file():
            files.append(path)
        else:
            missing.append(path)
    return files, missing


def _plan_unknown(read: WorkbookRead) -> bool:
    return any("kế hoạch" in reason for _sheet, reason in read.ignored_sheets)


def _record_inputs(result: ValidateResult, path: Path, read: WorkbookRead) -> None:
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None
    if not read.sheets:
        errors = [f for f in read.findings if f.severity == "error"]
        if errors:
            status, reason = "rejected", errors[0].message
        else:
            status = "ignored"
            reason = read.ignored_sheets[0][1] if read.ignored_sheets else "không có trang báo cáo"
        result.inputs.append(_input(path, digest, None, status, reason))
        return
    many = len(read.sheets) > 1
    for s in read.sheets:
        errors = [f for f in read.findings + s.findings if f.severity == "error"]
        status, reason = ("rejected", errors[0].message) if errors else ("accepted", None)
        if s.empty and not errors:
            status, reason = "ignored", "mẫu chưa điền số liệu"
        result.inputs.append(
            _input(path, digest, s.sheet if many else None, status, reason, s.unit, s.phase)
        )


def _input(path, digest, member, status, reason, unit=None, phase=None) -> dict:
    return {
        "path": str(path),
        "sha256": digest,
        "member": member,
        "status": status,
        "reason": reason,
        "unit": unit,
        "phase": phase,
    }


def _cross_checks(
    reports: list[SheetReport], plan: Plan | None, embedded: dict[str, Plan]
) -> list[Finding]:
    """Outliers among the commune reports that carry a unit and a phase (per plan)."""
    by_plan: dict[str, list[SheetReport]] = {}
    for s in reports:
        if s.unit and s.phase and s.level == "commune" and not s.empty:
            by_plan.setdefault(plan.id if plan else (s.plan_id or ""), []).append(s)
    out: list[Finding] = []
    for plan_id, sheets in by_plan.items():
        p = plan or embedded.get(plan_id)
        if p is None:
            continue
        reports = [s.to_report() for s in sheets]
        origin = {id(r): s for r, s in zip(reports, sheets, strict=True)}

        def where(r, ind, comp, origin=origin):
            s = origin[id(r)]
            return {"path": s.path, "member": s.member, "sheet": s.sheet,
                    "cell": s.cells.get((ind, comp))}  # fmt: skip

        out += outliers_vs_peers(reports, p, where=where)
        out += outliers_vs_previous(reports, p, where=where)
    return out


def _feedback_path(folder: Path, src: Path, taken: list[Path]) -> Path:
    out = folder / feedback_name(src)
    n = 2
    while out in taken or out.resolve() == src.resolve():
        out = folder / f"{Path(feedback_name(src)).stem}-{n}.xlsx"
        n += 1
    return out


def _file_label(f: Finding) -> str:
    name = Path(f.path).name if f.path else ""
    return f"{name} › {f.member}" if f.member else name


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _finding_dict(f: Finding) -> dict:
    return {
        "code": f.code,
        "severity": f.severity,
        "path": f.path,
        "sheet": f.sheet,
        "cell": f.cell,
        "unit": f.unit,
        "phase": f.phase,
        "message": f.message,
        "hint": f.hint,
        "member": f.member,
    }
