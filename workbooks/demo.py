"""``thidua demo``: a realistic sample inbox for a bundled plan, consolidated end to end.

The inbox is built from the project's own templates, filled with plausible figures and
then damaged the way real submissions are: a late report, a correction sent twice,
numbers typed as text, a decomposed (Mac) file name, a forwarded mail, a commune that
sends another commune's file name, and one unreadable file. Everything is seeded, so the
same command gives the same inbox.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import unicodedata
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from logic.plan import Indicator, Plan
from logic.roster import Roster, Tree
from logic.text import fold

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TZ = dt.timezone(dt.timedelta(hours=7))


@dataclass
class Submission:
    """One report in the demo inbox, as the test and the demo know it."""

    unit: str
    phase: str
    values: dict[str, dict[str, object]]
    report_date: dt.date
    file: Path
    via: str  # "email", "forwarded", "folder"
    note: str = ""


@dataclass
class Inbox:
    folder: Path
    submissions: list[Submission] = field(default_factory=list)
    broken: list[Path] = field(default_factory=list)
    communes: dict[str, list[str]] = field(default_factory=dict)  # phase → units that report


def figures(ind: Indicator, rnd: random.Random, phase: str) -> dict[str, object]:
    """Plausible components for one indicator."""
    target = ind.target_for(phase)
    match ind.kind:
        case "ratio":
            den = rnd.choice([0] + [rnd.randint(3, 60)] * 12)
            rate = (
                rnd.uniform(0.6, 1.0)
                if target.value is None
                else rnd.uniform(max(0.0, target.value - 0.25), 1.0)
            )
            return {"numerator": min(den, round(den * rate)), "denominator": den}
        case "reduction":
            base = rnd.randint(0, 25)
            return {"current": max(0, round(base * rnd.uniform(0.7, 1.12))), "baseline": base}
        case "count":
            goal = target.value or 5
            return {"count": max(0, round(goal * rnd.uniform(0.6, 1.5)))}
        case "minimum":
            return {"count": rnd.choice([0, 1, 1, 1, 2, 2, 3])}
        case "yes_no":
            return {"done": "Có" if rnd.random() < 0.88 else "Không"}
    return {}


def build_inbox(
    plan: Plan,
    roster: Roster,
    folder: Path,
    *,
    districts: int = 3,
    per_district: int = 8,
    seed: int = 2024,
) -> Inbox:
    """Write a sample inbox for ``plan`` into ``folder``; return what was sent."""
    from .template import write_template

    rnd = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tu-usb").mkdir(exist_ok=True)
    inbox = Inbox(folder)
    first = roster.scoped_tree(plan.phases[0].end, plan.scope)
    chosen = _pick_communes(first, districts, per_district)
    work = folder.parent / ".demo-workbooks"
    work.mkdir(parents=True, exist_ok=True)
    for phase in plan.phases:
        tree = roster.scoped_tree(phase.end, plan.scope)
        units = list(dict.fromkeys(c for c in (tree.successor(x) for x in chosen) if c))
        inbox.communes[phase.code] = units
        for n, unit in enumerate(units):
            if n == len(units) - 1 and phase.code == plan.phases[-1].code:
                continue  # one commune never reports the last phase: "Chưa báo cáo"
            values = {i.code: figures(i, rnd, phase.code) for i in plan.reported_indicators}
            day = min(phase.end + dt.timedelta(days=rnd.randint(-6, 3)), phase.end)
            note = ""
            if n == 1:  # numbers typed as text, Vietnamese style
                ind = next(i for i in plan.reported_indicators if i.kind == "ratio")
                values[ind.code] = {"numerator": "1.020", "denominator": "1.234"}
                note = "số gõ dạng chữ"
            if n == 2 and phase.code == plan.phases[0].code:  # a count with a fraction
                ind = next(
                    (i for i in plan.reported_indicators if i.kind in ("count", "minimum")), None
                )
                if ind is not None:
                    values[ind.code] = {"count": "2,5"}
                    note = "số đếm có phần lẻ"
            if n == 3:  # sent late, after the phase ended
                day = phase.end + dt.timedelta(days=9)
                note = "gửi muộn"
            name = tree.unit(unit).name
            path = work / f"{_slug(name)}-dot-{phase.code}.xlsx"
            write_template(plan, roster, unit, phase.code, path, report_date=day, values=values)
            via = "folder" if n % 5 == 4 else ("forwarded" if n == 5 else "email")
            sub = Submission(unit, phase.code, values, day, path, via, note)
            inbox.submissions.append(sub)
            # n == 7: the clerk attaches the file under the previous commune's name
            shown = tree.unit(units[n - 1]).name if n == 7 else name
            if n == 7:
                sub.note = "tên tệp của xã khác"
            _deliver(inbox, sub, shown, rnd, nfd=(n == 6))
            if n == 0:  # the same commune corrects its report two days later
                fixed = {k: dict(v) for k, v in values.items()}
                ind = next(i for i in plan.reported_indicators if i.kind == "ratio")
                comps = fixed[ind.code]
                if isinstance(comps.get("denominator"), int):
                    comps["numerator"] = comps["denominator"]
                later = day + dt.timedelta(days=2)
                path2 = work / f"{_slug(name)}-dot-{phase.code}-bo-sung.xlsx"
                write_template(
                    plan, roster, unit, phase.code, path2, report_date=later, values=fixed
                )
                sub2 = Submission(unit, phase.code, fixed, later, path2, "email", "bản sửa")
                inbox.submissions.append(sub2)
                _deliver(inbox, sub2, name, rnd, subject_prefix="Bổ sung, sửa đổi: ")
    broken = folder / "tu-usb" / "bao-cao-xa-bi-loi.xlsx"
    data = inbox.submissions[0].file.read_bytes()
    broken.write_bytes(data[: len(data) // 3])  # a truncated download
    inbox.broken.append(broken)
    return inbox


def _pick_communes(tree: Tree, districts: int, per_district: int) -> list[str]:
    if "district" in tree.levels:
        ds = [c for c, u in tree.units.items() if u.level == "district"][:districts]
        return [c for d in ds for c in tree.communes_under(d)[:per_district]]
    communes = [c for c, u in tree.units.items() if u.level == "commune"]
    return communes[: districts * per_district]


def _slug(name: str) -> str:
    return fold(name).replace(" ", "-")


def _deliver(
    inbox: Inbox,
    sub: Submission,
    unit_name: str,
    rnd: random.Random,
    *,
    nfd: bool = False,
    subject_prefix: str = "",
) -> None:
    data = sub.file.read_bytes()
    filename = f"Báo cáo {unit_name} đợt {sub.phase}.xlsx"
    if nfd:
        filename = unicodedata.normalize("NFD", filename)
    if sub.via == "folder":
        (inbox.folder / "tu-usb" / filename).write_bytes(data)
        return
    sender = f"conganxa.{_slug(unit_name).replace('-', '')}@thanhhoa.gov.vn"
    sent = dt.datetime.combine(
        sub.report_date, dt.time(8 + rnd.randint(0, 8), rnd.randint(0, 59)), TZ
    )
    msg = _mail(
        sender,
        f"{subject_prefix}Báo cáo thi đua {unit_name} đợt {sub.phase}",
        sent,
        "Kính gửi Công an tỉnh,\nĐơn vị gửi báo cáo kết quả thi đua theo mẫu.\n",
        [(filename, data)],
    )
    if sub.via == "forwarded":
        outer = _mail(
            "vanthu.conganhuyen@thanhhoa.gov.vn",
            f"Fwd: Báo cáo thi đua {unit_name} đợt {sub.phase}",
            sent + dt.timedelta(hours=3),
            "Chuyển tiếp báo cáo của xã.\n",
            [],
        )
        outer.add_attachment(msg)
        msg = outer
    name = f"{sent:%Y%m%d-%H%M}-{_slug(unit_name)}-dot-{sub.phase}.eml"
    (inbox.folder / name).write_bytes(bytes(msg))


def _mail(
    sender: str, subject: str, sent: dt.datetime, body: str, files: list[tuple[str, bytes]]
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "tonghop.pv01@thanhhoa.gov.vn"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(sent)
    msg["Received"] = (
        f"from mail.thanhhoa.gov.vn; {format_datetime(sent + dt.timedelta(minutes=1))}"
    )
    msg.set_content(body)
    for fname, data in files:
        maintype, subtype = XLSX.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=fname)
    return msg


def run_demo(out: Path, plan_ref: str = "thanh-hoa-2024") -> int:
    """Build the inbox under ``out``, consolidate it and say where the results are."""
    from .cli import write_outputs
    from .consolidate import console_status, consolidate
    from .plans import load
    from .rosters import load_roster
    from .summary import print_summary

    plan = load(plan_ref)
    roster = load_roster(plan.roster)
    out = Path(out)
    print(f"Đang tạo hộp thư mẫu cho kế hoạch “{plan.name}”…")
    inbox = build_inbox(plan, roster, out / "hop-thu")
    tally = out / "tong-hop.xlsx"
    with console_status() as status:
        result = consolidate(
            [inbox.folder], plan, roster, use_cache=False, progress=status.progress
        )
        replies = write_outputs(result, status, tally, out / "tong-hop.json", out / "thu-tra-loi")
    print_summary(result, tally)
    print(f"Hộp thư mẫu: {inbox.folder}")
    print(f"Tóm tắt JSON: {out / 'tong-hop.json'}")
    print(f"Thư trả lời soạn sẵn: {len(replies)} tệp trong {out / 'thu-tra-loi'}")
    sys.stdout.flush()
    return 0
