"""Batch consolidation: inboxes in, one judged tally out (``thidua consolidate``).

Steps: collect the inputs (files, folders, ``.eml``, ``.mbox``) → pre-check and read every
workbook in isolated worker processes (cached by content hash) → decide each sheet's state
(accepted, rejected, superseded, ignored) → reconcile district tally sheets → roll up and
judge with ``logic.aggregate.evaluate`` → a ``Consolidation`` that the tally writer, the
JSON summary and the console summary all render.

Every input named, and every attachment or sheet considered, ends in exactly one
``InputRecord``: nothing is silently dropped.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from logic.aggregate import Evaluation, Report, evaluate
from logic.findings import Finding, finding
from logic.plan import Plan
from logic.roster import Roster, Tree
from logic.text import fold

from . import cache as cache_mod
from .intake import Intake, Source, collect
from .reader import SheetReport, WorkbookRead

SCHEMA = 1
# On a re-run, up to this many new or changed files are hashed here (~50 µs each); more
# (a folder copied anew, say) are hashed by the workers, in parallel, as they read them.
_HASH_HERE = 500
FATAL_IDENTITY = {
    "unit_missing",
    "unit_unknown",
    "unit_not_commune",
    "phase_missing",
    "phase_unknown",
    "plan_mismatch",
}


@dataclass
class InputRecord:
    """One input considered (contract: JSON summary ``inputs``)."""

    path: str
    sha256: str | None
    member: str | None
    status: str  # accepted | rejected | superseded | ignored
    reason: str | None = None
    unit: str | None = None
    phase: str | None = None
    sheet: str | None = None
    sender: str | None = None
    received: dt.datetime | None = None
    report_date: dt.date | None = None

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "sha256": self.sha256,
            "member": self.member,
            "status": self.status,
            "reason": self.reason,
            "unit": self.unit,
            "phase": self.phase,
            "sheet": self.sheet,
            "sender": self.sender,
            "received": self.received.isoformat() if self.received else None,
        }


@dataclass
class Change:
    """A value that changed between a superseded report and the one that replaced it."""

    unit: str
    phase: str
    indicator: str
    component: str
    cell: str | None
    old: float | None
    new: float | None
    old_source: str
    new_source: str


@dataclass
class Accepted:
    sheet: SheetReport
    source: Source
    record: InputRecord


@dataclass
class Consolidation:
    plan: Plan
    roster: Roster
    inputs: list[InputRecord] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    accepted: list[Accepted] = field(default_factory=list)
    district_sheets: list[Accepted] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    evaluation: Evaluation = field(default_factory=Evaluation)
    elapsed_s: float = 0.0
    fresh_reads: int = 0  # workbooks read afresh; the others came from the cache

    @property
    def exit_code(self) -> int:
        """0 all inputs used, 1 some rejected, 2 nothing usable (contract)."""
        if not self.accepted:
            return 2
        return 1 if any(r.status == "rejected" for r in self.inputs) else 0

    def counts(self) -> dict[str, int]:
        out = {"accepted": 0, "rejected": 0, "superseded": 0, "ignored": 0}
        for r in self.inputs:
            out[r.status] += 1
        return out

    def summary(self, results: bool = True) -> dict:
        """The JSON summary, schema 1 (``../shared/contract.md``), plus optional extensions."""
        return {
            "schema": SCHEMA,
            "plan": {"id": self.plan.id, "name": self.plan.name, "version": self.plan.version},
            "inputs": [r.to_dict() for r in self.inputs],
            "findings": [_finding_dict(f) for f in self.findings],
            "results": [r.to_dict() for r in self.evaluation.results] if results else [],
            "missing": [{"unit": u, "phase": p} for u, p in self.evaluation.missing],
            "changes": [vars(c) for c in self.changes],
        }


def summary_json(data: dict) -> bytes:
    """The JSON summary as UTF-8 text, one record per line (see :func:`write_summary`)."""
    buf = io.BytesIO()
    _write_json_lines(buf, data.items())
    return buf.getvalue()


def write_summary(c: Consolidation, path: str | os.PathLike) -> Path:
    """Write ``c.summary()`` as JSON, atomically, without holding it all in memory.

    ``json.dumps(indent=…)`` falls back to the pure-Python encoder, which took over a
    minute on a national tally; here each record is one line, the results encoded by
    ``results_json.result_lines`` as they are written.
    """
    from .results_json import result_lines
    from .save import atomic_write

    head = c.summary(results=False)
    results = _Encoded(result_lines(c.evaluation.results))
    items = [(k, results if k == "results" else v) for k, v in head.items()]
    return atomic_write(path, lambda fh: _write_json_lines(fh, items))


@dataclass
class _Encoded:
    """Records already encoded as JSON text."""

    lines: Iterator[str]


# What ``json.dumps(value, ensure_ascii=False, default=str)`` writes, without building an
# encoder for each of the 10,000 inputs and findings.
_one = json.JSONEncoder(ensure_ascii=False, default=str).encode


def _write_json_lines(fh, items) -> None:
    one = _one
    fh.write(b"{")
    for n, (key, value) in enumerate(items):
        fh.write(b"\n  " if n == 0 else b",\n  ")
        fh.write(one(key).encode("utf-8") + b": ")
        if isinstance(value, list | _Encoded):
            lines = value.lines if isinstance(value, _Encoded) else map(one, value)
            fh.write(b"[")
            empty = True
            while chunk := list(islice(lines, 4096)):  # one write per few thousand records
                fh.write(((",\n    " if not empty else "\n    ") + ",\n    ".join(chunk)).encode())
                empty = False
            fh.write(b"]" if empty else b"\n  ]")
        else:
            fh.write(one(value).encode("utf-8"))
    fh.write(b"\n}\n")


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


Progress = Callable[[int, int], None]


def consolidate(
    inputs: Iterable[str | os.PathLike],
    plan: Plan,
    roster: Roster,
    *,
    use_cache: bool = True,
    cache_dir: Path | None = None,
    workers: int | None = None,
    passwords: dict[str, str] | None = None,
    progress: Progress | None = None,
) -> Consolidation:
    """Read every input and judge the plan's targets; never raises on bad inputs.

    With the cache (``use_cache``), a re-run reads only workbooks whose content it has not
    read before, and hashes only files whose size or times changed since the last run.
    """
    t0 = time.perf_counter()
    out = Consolidation(plan, roster)
    intake, reads, out.fresh_reads = _read_inputs(
        inputs,
        plan,
        roster,
        use_cache=use_cache,
        cache_dir=cache_dir,
        workers=workers,
        passwords=passwords or {},
        progress=progress,
    )
    _skipped(out, intake)
    candidates: list[Accepted] = []
    for source, read in zip(intake.sources, reads, strict=True):
        candidates.extend(_states_of(out, source, read))
    _supersede(out, candidates, roster)
    _check_senders_and_names(out, roster)
    _reconcile_districts(out)
    out.evaluation = evaluate(plan, roster, [_report_of(a.sheet) for a in out.accepted])
    for rep in out.evaluation.unplaced:
        out.findings.append(
            finding("unit_unknown", code=rep.unit, unit=rep.unit, phase=rep.phase, path=rep.source)
        )
    out.elapsed_s = time.perf_counter() - t0
    return out


def _report_of(sheet: SheetReport) -> Report:
    """``sheet.to_report()`` without copying the figures (``evaluate`` only reads them).

    The copy cost 0.1 s at national scale; the sheet's figures are not changed after
    reading either.
    """
    if sheet.unit is None or sheet.phase is None:
        raise ValueError(f"sheet {sheet.sheet!r} of {sheet.path!r} has no unit or phase")
    return Report(sheet.unit, sheet.phase, sheet.values, sheet.report_date, sheet.path)


def _skipped(out: Consolidation, intake: Intake) -> None:
    for s in intake.skipped:
        out.inputs.append(
            InputRecord(
                s.path,
                s.sha256,
                _skipped_member(s),
                s.status,
                s.reason,
                sender=s.sender,
                received=s.received,
            )
        )
        if s.finding is not None:
            out.findings.append(s.finding.at(path=s.path, member=s.member))


def _skipped_member(s) -> str | None:
    if s.member and getattr(s, "message", None):
        return f"thư {s.message} › {s.member}"
    return s.member


def _read_inputs(
    inputs: Iterable[str | os.PathLike],
    plan: Plan,
    roster: Roster,
    *,
    use_cache: bool,
    cache_dir: Path | None,
    workers: int | None,
    passwords: dict[str, str],
    progress: Progress | None,
) -> tuple[Intake, list[WorkbookRead], int]:
    """Collect, then read each source (``None`` never: a failed read is findings).

    A plain file's hash is known from the last run when its stat is unchanged; otherwise
    the worker that reads it hashes it (a few new or touched files on a re-run are hashed
    here instead). Copies of one content are therefore set aside after reading.
    """
    from .parallel import read_many, warm_up

    if isinstance(inputs, str | bytes | os.PathLike):
        inputs = [inputs]
    inputs = list(inputs)
    # Nearly every run has something to read (a re-run: the reports that came since): the
    # workers' fork server imports the readers (~0.5 s) while this process collects the
    # inputs and takes the cached reads. When all is cached, only that import was wasted.
    warm_up()
    store = cache_mod.Cache.open(cache_dir) if use_cache else None
    try:
        seen_ns = time.time_ns()
        hashes = store.file_hashes(inputs) if store is not None else None
        intake = collect(
            inputs, known_hash=hashes.lookup if hashes is not None else None, hash_files=False
        )
        unhashed = [s for s in intake.sources if s.sha256 is None]
        if hashes is not None and hashes.rows and len(unhashed) <= _HASH_HERE:
            # A re-run with a few new or touched files: hashing them here costs less than
            # starting a worker for files whose reads may well be cached.
            for s in unhashed:
                s.sha256 = _hash_file(s.path)
        reads, fresh = read_many(
            intake.sources,
            plan,
            roster,
            store=store,
            workers=workers,
            passwords=passwords,
            progress=progress,
        )
        if hashes is not None:
            for s in unhashed:
                if s.sha256 is not None and s.stat is not None:
                    hashes.remember(s.path, s.stat, s.sha256, seen_ns)
            hashes.save()
    finally:
        if store is not None:
            store.close()
    removed = intake.remove_duplicates()
    if removed:
        gone = set(removed)
        reads = [r for i, r in enumerate(reads) if i not in gone]
    return intake, reads, fresh


def _hash_file(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError:
        return None  # the worker says why it cannot read it


def _states_of(out: Consolidation, source: Source, read: WorkbookRead) -> list[Accepted]:
    """Record the file-level outcome and return the sheets that may be used."""
    located = [f.at(path=source.path, member=source.member) for f in read.findings]
    out.findings.extend(located)
    fatal = [f for f in located if f.severity == "error"]
    if not read.sheets:
        if fatal:
            status, reason = "rejected", fatal[0].message
        else:
            status = "ignored"
            reason = read.ignored_sheets[0][1] if read.ignored_sheets else "không có trang báo cáo"
        out.inputs.append(
            InputRecord(
                source.path,
                source.sha256,
                source.member,
                status,
                reason,
                sender=source.sender,
                received=source.received,
            )
        )
        return []
    many = len(read.sheets) > 1
    usable: list[Accepted] = []
    for sheet in read.sheets:
        member = _member(source, sheet, many)
        out.findings.extend(f.at(path=source.path, member=source.member) for f in sheet.findings)
        rec = InputRecord(
            source.path,
            source.sha256,
            member,
            "accepted",
            None,
            sheet.unit,
            sheet.phase,
            sheet=sheet.sheet,
            sender=source.sender,
            received=source.received,
            report_date=sheet.report_date,
        )
        out.inputs.append(rec)
        blocking = [f for f in sheet.findings if f.code in FATAL_IDENTITY]
        if blocking:
            rec.status, rec.reason = "rejected", blocking[0].message
        elif sheet.empty:
            rec.status, rec.reason = "ignored", "mẫu chưa điền số liệu"
        else:
            usable.append(Accepted(sheet, source, rec))
    return usable


def _member(source: Source, sheet: SheetReport, many: bool) -> str | None:
    member = source.member
    if member and source.message:  # two messages of one .mbox may attach the same name
        member = f"thư {source.message} › {member}"
    if not many:
        return member
    return f"{member} › {sheet.sheet}" if member else sheet.sheet


def _order_key(a: Accepted, index: int):
    s = a.sheet
    received = a.source.received.timestamp() if a.source.received else float("-inf")
    mtime = a.source.mtime.timestamp() if a.source.mtime else float("-inf")
    return (s.report_date or dt.date.min, received, mtime, index)


def _supersede(out: Consolidation, candidates: list[Accepted], roster: Roster) -> None:
    """The same unit and phase twice: the latest wins (report date, received, file time)."""
    groups: dict[tuple[str, str], list[tuple[int, Accepted]]] = {}
    for i, a in enumerate(candidates):
        if a.sheet.level == "district":
            out.district_sheets.append(a)
            a.record.reason = "bảng tổng hợp của huyện: dùng để đối chiếu"
            continue
        groups.setdefault((a.sheet.unit, a.sheet.phase), []).append((i, a))
    for (unit, phase), items in groups.items():
        if len(items) == 1:  # the usual case: nothing to supersede
            out.accepted.append(items[0][1])
            continue
        items.sort(key=lambda t: _order_key(t[1], t[0]))
        latest = items[-1][1]
        out.accepted.append(latest)
        for _, old in items[:-1]:
            old.record.status = "superseded"
            old.record.reason = f"được thay bằng {_label(latest)}"
            out.findings.append(
                finding(
                    "superseded",
                    unit=unit,
                    phase=phase,
                    by=_label(latest),
                    path=old.source.path,
                    member=old.record.member,
                    sheet=old.sheet.sheet,
                )
            )
            out.changes.extend(_diff(old, latest))
    out.accepted.sort(key=lambda a: (a.sheet.phase or "", a.sheet.unit or ""))


def _label(a: Accepted) -> str:
    name = Path(a.source.path).name
    where = f"{name} › {a.record.member}" if a.record.member else name
    day = a.sheet.report_date
    return f"{where}, ngày báo cáo {day:%d/%m/%Y}" if day else where


def _diff(old: Accepted, new: Accepted) -> list[Change]:
    changes = []
    keys = sorted(set(old.sheet.values) | set(new.sheet.values))
    for ind in keys:
        a, b = old.sheet.values.get(ind, {}), new.sheet.values.get(ind, {})
        for comp in sorted(set(a) | set(b)):
            if a.get(comp) != b.get(comp):
                changes.append(
                    Change(
                        new.sheet.unit,
                        new.sheet.phase,
                        ind,
                        comp,
                        new.sheet.cells.get((ind, comp)),
                        a.get(comp),
                        b.get(comp),
                        _label(old),
                        _label(new),
                    )
                )
    return changes


def _check_senders_and_names(out: Consolidation, roster: Roster) -> None:
    """A file named after one commune but claiming another; a sender the roster doesn't know."""
    trees: dict[str, Tree] = {}
    names_of: dict[int, dict[str, str]] = {}  # by tree: phases often share one
    for a in out.accepted:
        phase = a.sheet.phase or ""
        tree = trees.get(phase)
        if tree is None:
            tree = trees[phase] = roster.tree(out.plan.phase(phase).end)
        unit = tree.units.get(a.sheet.unit or "") or roster.find(a.sheet.unit or "")
        if unit is None:
            continue
        label = fold(_stem(a.source.member or a.source.path)).replace(" ", "")
        own = _name_key(unit.name)
        if own and own not in label:
            names = names_of.get(id(tree))
            if names is None:  # folding every commune's name: only when a file needs it
                names = names_of[id(tree)] = _commune_names(tree)
            other = next((code for key, code in names.items() if key in label and key != own), None)
            if other is not None:
                out.findings.append(
                    finding(
                        "unit_claims_other",
                        name=a.source.member or Path(a.source.path).name,
                        expected=tree.units[other].name,
                        code=f"{unit.code} ({unit.name})",
                        unit=unit.code,
                        phase=a.sheet.phase,
                        path=a.source.path,
                        member=a.record.member,
                        sheet=a.sheet.sheet,
                    )
                )
        if unit.email and a.source.sender and a.source.sender not in unit.email:
            out.findings.append(
                finding(
                    "sender_not_registered",
                    code=unit.code,
                    sender=a.source.sender,
                    expected=", ".join(unit.email),
                    unit=unit.code,
                    phase=a.sheet.phase,
                    path=a.source.path,
                    member=a.record.member,
                )
            )


def _commune_names(tree: Tree) -> dict[str, str]:
    names: dict[str, str] = {}
    for code, u in tree.units.items():
        if u.level == "commune":
            key = _name_key(u.name)
            if len(key) >= 4:
                names.setdefault(key, code)
    return names


def _stem(path: str) -> str:
    """``Path(path).stem``, without building a Path (once per report)."""
    name = os.path.basename(path)
    dot = name.rfind(".")
    return name[:dot] if 0 < dot < len(name) - 1 else name


@functools.lru_cache(maxsize=1 << 16)
def _name_key(name: str) -> str:
    key = fold(name)
    for prefix in ("thi tran ", "phuong ", "xa "):
        if key.startswith(prefix):
            key = key[len(prefix) :]
            break
    return key.replace(" ", "")


def _reconcile_districts(out: Consolidation) -> None:
    """A district tally sheet next to its communes' sheets: say where the sums differ."""
    for d in out.district_sheets:
        day = out.plan.phase(d.sheet.phase).end if d.sheet.phase else None
        if day is None:
            continue
        tree = out.roster.tree(day)
        if d.sheet.unit not in tree:
            continue
        communes = set(tree.communes_under(d.sheet.unit))
        kids = [
            a
            for a in out.accepted
            if a.sheet.phase == d.sheet.phase and tree.successor(a.sheet.unit or "") in communes
        ]
        if not kids:
            continue
        for ind, comps in d.sheet.values.items():
            for comp, reported in comps.items():
                if reported is None or comp == "done":
                    continue
                vals = [k.sheet.values.get(ind, {}).get(comp) for k in kids]
                computed = sum(v for v in vals if v is not None)
                if abs(computed - reported) > 1e-9:
                    out.findings.append(
                        finding(
                            "district_tally_mismatch",
                            indicator=ind,
                            component=comp,
                            reported=reported,
                            computed=computed,
                            diff=reported - computed,
                            unit=d.sheet.unit,
                            phase=d.sheet.phase,
                            path=d.source.path,
                            member=d.record.member,
                            sheet=d.sheet.sheet,
                            cell=d.sheet.cells.get((ind, comp)),
                        )
                    )


def console_status(stream=None) -> ConsoleStatus:
    """What a run is doing, on one line of a terminal (default ``sys.stderr``).

    Silent when the stream is not a terminal (a log, a pipe, a scheduled task).
    """
    # sys.stderr looked up now, not at import: it may have been replaced since (pytest does)
    stream = sys.stderr if stream is None else stream
    return ConsoleStatus(stream, live=stream.isatty())


class ConsoleStatus:
    """One status line: the files read as they are read (``progress``), then each step
    after the reading (``step``), which nationally take seconds each. Leaving the ``with``
    block clears the line; the count of files read stays on screen, the steps do not."""

    def __init__(self, stream, *, live: bool):
        self.stream = stream
        self.live = live
        self.start = time.perf_counter()
        self.width = 0  # characters now on the status line

    def __enter__(self) -> ConsoleStatus:
        return self

    def __exit__(self, *exc) -> None:
        self.clear()  # an error message, or the summary, starts on a clean line

    @property
    def progress(self) -> Progress | None:
        return self._progress if self.live else None

    def _progress(self, done: int, total: int) -> None:
        rate = done / max(time.perf_counter() - self.start, 1e-6)
        per_s = f"{rate:,.0f}".replace(",", ".")  # 1.234: the Vietnamese thousands mark
        self._show(f"Đã đọc {done}/{total} tệp ({per_s} tệp/giây)")
        if done == total:
            self.stream.write("\n")
            self.width = 0
            self._show("Đang tổng hợp và đánh giá chỉ tiêu…")

    def step(self, text: str) -> None:
        if self.live:
            self._show(text + "…")

    def clear(self) -> None:
        if self.live and self.width:
            self._show("")
            self.stream.write("\r")
            self.stream.flush()

    def _show(self, text: str) -> None:
        self.stream.write("\r" + text + " " * max(0, self.width - len(text)))
        self.width = len(text)
        self.stream.flush()
