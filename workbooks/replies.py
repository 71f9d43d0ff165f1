"""Answering by email: reply drafts for reports with problems, reminders for missing ones.

``write_replies(c, out_dir)`` writes, for every submission (a workbook file or an email
attachment) that has findings, the annotated feedback workbook (``workbooks.feedback``)
and a reply draft ``.eml`` with that workbook attached; and for every expected commune with
no report whose roster entry gives an address, a reminder draft. Drafts carry
``X-Unsent: 1``, so Outlook opens them ready to send (Thunderbird opens ``.eml`` too).

A submission's findings are those whose file (and attachment or sheet) is the submission's;
a finding naming only the file of an email with several attachments is matched by unit and
phase. Superseded submissions get no reply (their replacement does). Rejected submissions
get one: they are the ones that most need it.

File names are the Vietnamese subject (NFC), made safe for Windows (no ``<>:"/\\|?*``, no
reserved device names, no trailing dot or space) and unique in the folder.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import TYPE_CHECKING

from logic.findings import Finding
from logic.roster import Unit

from .save import save_bytes
from .summary import phase_label

if TYPE_CHECKING:
    from .consolidate import Consolidation, InputRecord
    from .intake import Source

__all__ = ["safe_filename", "write_replies"]

# One line per header parameter (no RFC 2231 continuations, which some mail programs
# mishandle); 998 is RFC 5322's line limit.
_POLICY = policy.SMTP.clone(max_line_length=998)
XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
_MAIL_SUFFIXES = {".eml", ".mbox", ".mbx", ".msg"}
_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)}
_BAD_CHARS = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
MAX_NAME = 120


@dataclass
class _Submission:
    """One file or attachment that people sent, and what became of it."""

    path: str
    sha256: str | None
    source: Source | None = None
    records: list[InputRecord] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    mail: tuple[bytes | None, str | None] | None = None  # found again in its message

    @property
    def source_member(self) -> str | None:
        if self.source is not None:
            return self.source.member
        for rec in self.records:
            if rec.member and " › " in rec.member:
                return rec.member.split(" › ", 1)[0]
        if Path(self.path).suffix.lower() in _MAIL_SUFFIXES:
            return next((rec.member for rec in self.records if rec.member), None)
        return None

    @property
    def members(self) -> set[str | None]:
        return {rec.member for rec in self.records} | {self.source_member}

    @property
    def units(self) -> list[str]:
        return list(dict.fromkeys(rec.unit for rec in self.records if rec.unit))

    @property
    def phases(self) -> list[str]:
        return list(dict.fromkeys(rec.phase for rec in self.records if rec.phase))

    @property
    def sender(self) -> str | None:
        if self.source is not None and self.source.sender:
            return self.source.sender
        sender = next((rec.sender for rec in self.records if rec.sender), None)
        return sender or _from_mail(self)[1]

    @property
    def received(self) -> dt.datetime | None:
        if self.source is not None and self.source.received:
            return self.source.received
        return next((rec.received for rec in self.records if rec.received), None)

    @property
    def label(self) -> str:
        member = self.source_member
        name = Path(self.path).name or self.path
        return f"{name} › {member}" if member else name


def write_replies(
    c: Consolidation, out_dir: str | os.PathLike, *, today: dt.date | None = None
) -> list[Path]:
    """Write feedback workbooks, reply drafts and reminder drafts; return the files written.

    Reminders are drafted only for phases that have ended by ``today`` (default: today):
    a report is due at the end of its phase.
    """
    today = today or dt.date.today()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    taken = {p.name.casefold() for p in out.iterdir()} if out.exists() else set()
    written: list[Path] = []
    addresses = _units_by_address(c)
    for sub in _submissions(c):
        if sub.findings:
            written.extend(_reply(c, sub, out, taken, addresses))
    for unit, phases in _missing_by_unit(c, today):
        path = _reminder(c, unit, phases, out, taken)
        if path is not None:
            written.append(path)
    return written


# --- which submissions, which findings ------------------------------------------------


def _submissions(c: Consolidation) -> list[_Submission]:
    subs: dict[tuple[str, str | None], _Submission] = {}
    for a in [*c.accepted, *c.district_sheets]:
        key = (a.source.path, a.source.sha256)
        sub = subs.setdefault(key, _Submission(a.source.path, a.source.sha256))
        sub.source = a.source
    for rec in c.inputs:
        key = (rec.path, rec.sha256)
        if key in subs or rec.status == "rejected" or (rec.status == "ignored" and rec.unit):
            subs.setdefault(key, _Submission(rec.path, rec.sha256)).records.append(rec)
    # a file whose every sheet was replaced by a later one: the later one answers
    live = [s for s in subs.values() if any(r.status != "superseded" for r in s.records)]
    by_path: dict[str, list[_Submission]] = {}
    for s in live:
        by_path.setdefault(s.path, []).append(s)
    for f in c.findings:
        if f.code == "superseded":
            continue
        sub = _owner(f, by_path.get(f.path or "", []))
        if sub is not None:
            sub.findings.append(f)
    return live


def _owner(f: Finding, candidates: list[_Submission]) -> _Submission | None:
    if not candidates:
        return None
    if len(candidates) == 1:
        return candidates[0]
    if f.member is not None:
        hits = [
            s
            for s in candidates
            if f.member in s.members or f.member.split(" › ", 1)[0] == s.source_member
        ]
        if f.unit is not None and len(hits) > 1:
            hits = [s for s in hits if f.unit in s.units] or hits
        if len(hits) == 1:
            return hits[0]
    if f.unit is not None:
        hits = [
            s for s in candidates if f.unit in s.units and (f.phase is None or f.phase in s.phases)
        ]
        if len(hits) == 1:
            return hits[0]
    return None


def _missing_by_unit(c: Consolidation, today: dt.date) -> list[tuple[Unit, list[str]]]:
    order = {p.code: i for i, p in enumerate(c.plan.phases)}
    due = {p.code for p in c.plan.phases if p.end <= today}
    found: dict[str, tuple[Unit, list[str]]] = {}
    for code, phase in c.evaluation.missing:
        if phase not in due:
            continue
        tree = c.evaluation.trees.get(phase)
        unit = tree.units.get(code) if tree is not None else None
        unit = unit or c.roster.find(code)
        if unit is None or not unit.email:
            continue
        found.setdefault(code, (unit, []))[1].append(phase)
    out = []
    for unit, phases in found.values():
        phases.sort(key=lambda p: order.get(p, len(order)))
        out.append((unit, phases))
    return out


# --- replies --------------------------------------------------------------------------


def _reply(
    c: Consolidation, sub: _Submission, out: Path, taken: set[str], addresses: dict[str, Unit]
) -> list[Path]:
    names = [_unit_name(c, u) for u in sub.units]
    who = names[0] if names else sub.label
    if len(names) > 1:
        who = f"{names[0]} và {len(names) - 1} đơn vị khác"
    phases = ", ".join(phase_label(c.plan, p) for p in sub.phases)
    subject = " – ".join(x for x in ("Phản hồi báo cáo thi đua", who, phases) if x)
    short_who = who if names else _strip_suffix(who)
    stem = safe_filename(" – ".join(x for x in ("Phản hồi", short_who, phases) if x))
    findings = sorted(sub.findings, key=lambda f: f.severity != "error")
    written: list[Path] = []
    attachment: tuple[str, bytes] | None = None
    data = _bytes_of(sub)
    if data is not None:
        name = _unique(f"{stem}.xlsx", taken)
        from .feedback import write_feedback

        try:
            path = write_feedback(
                data, findings, out / name, name=sub.source_member or Path(sub.path).name
            )
        except (OSError, ValueError):
            taken.discard(name.casefold())
        else:
            written.append(path)
            attachment = (name, path.read_bytes())
    to = _recipients(c, sub)
    body = _reply_body(c, sub, who, findings, attachment[0] if attachment else None, addresses)
    msg = _draft(to, subject, body)
    if attachment is not None:
        msg.add_attachment(
            attachment[1],
            maintype=XLSX_TYPE[0],
            subtype=XLSX_TYPE[1],
            filename=attachment[0],
            params={"name": attachment[0]},
        )
    eml = _unique(f"{stem}.eml", taken)
    written.append(save_bytes(msg.as_bytes(policy=_POLICY), out / eml))
    return written


def _reply_body(
    c: Consolidation,
    sub: _Submission,
    who: str,
    findings: list[Finding],
    attached: str | None,
    addresses: dict[str, Unit],
) -> str:
    errors = sum(1 for f in findings if f.severity == "error")
    warnings = len(findings) - errors
    phases = ", ".join(phase_label(c.plan, p) for p in sub.phases)
    received = _when(sub.received)
    # the sender may be another unit than the one the report names (a file sent for, or
    # by mistake as, another commune): greet the sender, say whose report it is
    addr = _address(sub.sender)
    sender_unit = addresses.get(addr.lower()) if addr else None
    greet = sender_unit.name if sender_unit is not None else who
    lines = [f"Kính gửi: {greet},", ""]
    what = "báo cáo kết quả thực hiện chỉ tiêu thi đua"
    if phases:
        what += f" {phases}"
    whose = "của đơn vị"
    if sender_unit is not None and sender_unit.code not in sub.units and sub.units:
        whose = f"ghi đơn vị {who} do đơn vị gửi"
    when = f", nhận lúc {received}" if received else ""
    lines.append(f"Đã nhận {what} {whose} (tệp “{sub.label}”{when}) thuộc {c.plan.name}.")
    accepted = any(r.status == "accepted" for r in sub.records) or (
        sub.source is not None and not sub.records
    )
    rejected = [r for r in sub.records if r.status == "rejected"]
    ignored = [r for r in sub.records if r.status == "ignored"]
    counts = _counts(errors, warnings)
    if rejected and not accepted:
        reason = rejected[0].reason
        lines.append(
            "Báo cáo chưa dùng được để tổng hợp"
            + (f" ({reason.rstrip('.')})" if reason else "")
            + f". Khi kiểm tra có {counts}; đề nghị đơn vị sửa và gửi lại."
        )
    elif ignored and not accepted:
        lines.append(
            f"Báo cáo chưa có số liệu nên chưa được tổng hợp. Khi kiểm tra có {counts}; "
            "đề nghị đơn vị điền số liệu và gửi lại."
        )
    elif errors:
        lines.append(
            f"Báo cáo đã được tổng hợp, nhưng có {counts}: các số liệu bị lỗi chưa được tính. "
            "Đề nghị đơn vị sửa và gửi lại."
        )
    else:
        lines.append(
            f"Báo cáo đã được tổng hợp. Khi kiểm tra có {counts}; đề nghị đơn vị xem lại, "
            "nếu cần thì sửa và gửi lại."
        )
    lines += ["", "Các nội dung cần xem lại:"]
    for i, f in enumerate(findings, start=1):
        level = "Lỗi" if f.severity == "error" else "Cảnh báo"
        where = []
        if f.sheet:
            where.append(f"trang “{f.sheet}”")
        if f.cell:
            where.append(f"ô {f.cell}")
        place = (", ".join(where) + ": ") if where else ""
        place = place[:1].upper() + place[1:]
        lines.append(f"{i}. [{level}] {place}{f.message}")
        if f.hint:
            lines.append(f"   Cách sửa: {f.hint}")
    lines.append("")
    if attached:
        lines.append(
            f"Tệp đính kèm “{attached}” là bản sao báo cáo của đơn vị: các ô cần sửa được tô màu "
            "(đỏ: lỗi, vàng: cảnh báo) và có ghi chú; trang “Kết quả kiểm tra” liệt kê đủ các nội "
            "dung trên. Đơn vị có thể sửa ngay trên tệp này rồi gửi lại."
        )
        lines.append("")
    lines += ["Trân trọng.", ""]
    return "\n".join(lines)


def _strip_suffix(label: str) -> str:
    """A file label without its workbook or mail extension(s), for a new file's name."""
    parts = [
        re.sub(r"\.(xlsx|xlsm|xls|ods|eml|mbox)$", "", p, flags=re.IGNORECASE)
        for p in label.split(" › ")
    ]
    return " › ".join(parts)


def _counts(errors: int, warnings: int) -> str:
    parts = []
    if errors:
        parts.append(f"{errors} lỗi")
    if warnings:
        parts.append(f"{warnings} cảnh báo")
    return " và ".join(parts) or "một số điểm cần xem lại"


def _bytes_of(sub: _Submission) -> bytes | None:
    """The submitted workbook's bytes: the attachment's, the file's, or re-read from the mail."""
    try:
        if sub.source is not None:
            return sub.source.read_bytes()
        if Path(sub.path).suffix.lower() not in _MAIL_SUFFIXES:
            return Path(sub.path).read_bytes()
    except OSError:
        return None
    return _from_mail(sub)[0]


def _from_mail(sub: _Submission) -> tuple[bytes | None, str | None]:
    """(bytes, sender) of a rejected attachment, found again in its message by hash.

    Only workbook candidates keep their bytes; an attachment intake refused outright (not
    a workbook at all) still gives its sender.
    """
    if sub.sha256 is None or Path(sub.path).suffix.lower() not in _MAIL_SUFFIXES:
        return None, None
    if sub.mail is None:
        from .intake import collect

        found: tuple[bytes | None, str | None] = (None, None)
        try:
            intake = collect([sub.path])
            for src in intake.sources:
                if src.sha256 == sub.sha256:
                    found = (src.read_bytes(), src.sender)
                    break
            else:
                for skipped in intake.skipped:
                    if skipped.sha256 == sub.sha256 and skipped.member == sub.source_member:
                        found = (None, skipped.sender)
                        break
        except OSError:
            pass
        sub.mail = found
    return sub.mail


def _recipients(c: Consolidation, sub: _Submission) -> list[str]:
    sender = _address(sub.sender)
    if sender:
        return [sender]
    out: list[str] = []
    for code in sub.units:
        unit = c.roster.find(code)
        if unit is not None:
            out.extend(a for a in (_address(e) for e in unit.email) if a)
    return list(dict.fromkeys(out))


def _address(text: str | None) -> str | None:
    if not text:
        return None
    _name, addr = parseaddr(text)
    if "@" not in addr or any(ch.isspace() or ord(ch) < 32 for ch in addr):
        return None
    return addr


def _units_by_address(c: Consolidation) -> dict[str, Unit]:
    """Registered address → its unit (the latest record)."""
    return {e.lower(): u for u in c.roster.units for e in u.email}


def _unit_name(c: Consolidation, code: str) -> str:
    unit = c.roster.find(code)
    return unit.name if unit is not None and unit.name else code


def _when(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return f"{moment:%H:%M} ngày {moment:%d/%m/%Y}"


# --- reminders ------------------------------------------------------------------------


def _reminder(
    c: Consolidation, unit: Unit, phases: list[str], out: Path, taken: set[str]
) -> Path | None:
    to = [a for a in (_address(e) for e in unit.email) if a]
    if not to:
        return None
    labels = ", ".join(phase_label(c.plan, p) for p in phases)
    subject = f"Nhắc gửi báo cáo thi đua – {unit.name} – {labels}"
    lines = [f"Kính gửi: {unit.name},", ""]
    lines.append(
        f"Đến nay chưa nhận được báo cáo kết quả thực hiện chỉ tiêu thi đua ({c.plan.name}) "
        "của đơn vị cho:"
    )
    for i, p in enumerate(phases, start=1):
        try:
            ph = c.plan.phase(p)
            span = f" (từ {ph.start:%d/%m/%Y} đến {ph.end:%d/%m/%Y})"
        except KeyError:
            span = ""
        lines.append(f"{i}. {phase_label(c.plan, p)}{span}")
    lines += [
        "",
        f"Đề nghị đơn vị điền mẫu báo cáo (mã kế hoạch: {c.plan.id}; mã đơn vị: {unit.code}) và "
        "gửi về sớm. Nếu đơn vị đã gửi, đề nghị kiểm tra lại địa chỉ nhận hoặc gửi lại.",
        "",
        "Trân trọng.",
        "",
    ]
    msg = _draft(to, subject, "\n".join(lines))
    name = _unique(safe_filename(f"Nhắc báo cáo – {unit.name} – {labels}") + ".eml", taken)
    return save_bytes(msg.as_bytes(policy=_POLICY), out / name)


# --- messages and names ---------------------------------------------------------------


def _draft(to: Iterable[str], subject: str, body: str) -> EmailMessage:
    msg = EmailMessage(policy=policy.default)
    to = list(to)
    if to:
        msg["To"] = ", ".join(to)
    msg["Subject"] = _one_line(subject)
    msg["X-Unsent"] = "1"
    msg.set_content(unicodedata.normalize("NFC", body), subtype="plain", charset="utf-8")
    return msg


def _one_line(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def safe_filename(text: str, limit: int = MAX_NAME) -> str:
    """A file name (without extension) from ``text`` that Windows accepts: NFC, no
    ``<>:"/\\|?*`` or control characters, no reserved device name, no trailing dot/space."""
    name = _BAD_CHARS.sub(" ", unicodedata.normalize("NFC", text))
    name = " ".join(name.split())[:limit].rstrip(" .")
    name = name.lstrip(" ") or "thu"
    if name.split(".", 1)[0].strip().upper() in _RESERVED:
        name = f"_{name}"
    return name


def _unique(name: str, taken: set[str]) -> str:
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    candidate, n = name, 1
    while candidate.casefold() in taken:
        n += 1
        candidate = f"{stem} ({n}).{ext}" if ext else f"{stem} ({n})"
    taken.add(candidate.casefold())
    return candidate
