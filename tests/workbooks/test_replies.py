"""Reply and reminder drafts, from a real inbox run through ``consolidate``.

The inbox: templates written by ``write_template`` and filled the way communes fill them,
one sent twice (the first copy superseded), one attached to an email, one email carrying a
file that is not a workbook at all. The drafts are parsed back with ``email.policy.default``.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import openpyxl
import pytest

from logic.plan import load_plan
from logic.roster import Roster, Unit
from workbooks.consolidate import consolidate
from workbooks.replies import safe_filename, write_replies
from workbooks.tally import write_tally
from workbooks.template import write_template

D = dt.date
PLAN = load_plan(
    {
        "id": "thu-thu",
        "name": "Phong trào thi đua thử",
        "issuer": "Công an tỉnh Thử",
        "start": D(2024, 8, 19),
        "end": D(2025, 8, 19),
        "phases": [
            {"code": "1", "name": "Đợt 1", "start": D(2024, 8, 19), "end": D(2025, 2, 3)},
            {"code": "2", "name": "Đợt 2", "start": D(2025, 2, 4), "end": D(2025, 8, 19)},
        ],
        "indicators": [
            {"code": "TIN", "name": "Tin báo do nhân dân cung cấp", "unit": "tin báo",
             "kind": "ratio", "target": {"op": ">=", "value": 0.8}},
            {"code": "TP", "name": "Tội phạm về trật tự xã hội", "unit": "vụ",
             "kind": "reduction", "target": {"op": ">=", "value": 0.07}},
        ],
    }
)  # fmt: skip
UNITS = [Unit("P", "Tỉnh Thử", "province"), Unit("D1", "Huyện Một", "district", "P")]
UNITS += [
    Unit(f"C{i}", f"Xã Số {i}", "commune", "D1", email=(f"xa{i}@example.vn",) if i < 5 else ())
    for i in range(1, 6)
]
ROSTER = Roster(UNITS)
XLSX = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def _mail(path: Path, sender: str, name: str, data: bytes) -> None:
    m = EmailMessage()
    m["From"] = sender
    m["To"] = "tong-hop@example.vn"
    m["Subject"] = "Báo cáo thi đua đợt 1"
    m["Date"] = "Mon, 03 Feb 2025 08:00:00 +0700"
    m.set_content("Kính gửi bộ phận tổng hợp.")
    m.add_attachment(data, maintype=XLSX[0], subtype=XLSX[1], filename=name)
    path.write_bytes(m.as_bytes(policy=policy.SMTP))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("hop-thu")
    inbox = root / "inbox"
    inbox.mkdir()

    def filled(code, path, day, tin, tp):
        values = {"TIN": {"numerator": tin[0], "denominator": tin[1]},
                  "TP": {"current": tp[0], "baseline": tp[1]}}  # fmt: skip
        return write_template(PLAN, ROSTER, code, "1", path, report_date=day, values=values)

    filled("C1", inbox / "xa-so-1.xlsx", D(2025, 2, 3), (8, 10), (9, 10))
    filled("C2", inbox / "xa-so-2-ban-dau.xlsx", D(2025, 2, 1), (6, 10), (None, 10))
    filled("C2", inbox / "xa-so-2.xlsx", D(2025, 2, 3), (5, 10), (None, 10))
    third = filled("C3", root / "xa-so-3.xlsx", D(2025, 2, 3), (12, 10), (1, 3))
    _mail(inbox / "thu-xa-3.eml", "Xã Số 3 <xa3@example.vn>", "Báo cáo xã số 3.xlsx",
          third.read_bytes())  # fmt: skip
    fifth = filled("C5", root / "xa-so-5.xlsx", D(2025, 2, 3), (12, 10), (1, 3))
    _mail(inbox / "thu-ho.eml", "xa1@example.vn", "Báo cáo xã số 5.xlsx", fifth.read_bytes())
    _mail(inbox / "thu-rac.eml", "xa4@example.vn", "bao-cao.xlsx", b"day khong phai bang tinh\n")
    c = consolidate([inbox], PLAN, ROSTER, use_cache=False, workers=1)
    out = root / "tra-loi"
    written = write_replies(c, out, today=D(2025, 3, 1))
    return c, out, written


def parse(path: Path) -> EmailMessage:
    with open(path, "rb") as f:
        return BytesParser(policy=policy.default).parse(f)


def body(msg: EmailMessage) -> list[str]:
    return msg.get_body(("plain",)).get_content().splitlines()


def test_files_written(run):
    _c, out, written = run
    assert sorted(p.name for p in written) == sorted(
        [
            "Phản hồi – Xã Số 2 – Đợt 1.xlsx",
            "Phản hồi – Xã Số 2 – Đợt 1.eml",
            "Phản hồi – Xã Số 3 – Đợt 1.xlsx",
            "Phản hồi – Xã Số 3 – Đợt 1.eml",
            "Phản hồi – thu-rac › bao-cao.eml",
            "Phản hồi – Xã Số 5 – Đợt 1.xlsx",
            "Phản hồi – Xã Số 5 – Đợt 1.eml",
            "Nhắc báo cáo – Xã Số 4 – Đợt 1.eml",
        ]
    )
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in written)
    for p in written:
        assert p.name == unicodedata.normalize("NFC", p.name)
        assert not set('<>:"/\\|?*') & set(p.name)


def test_reply_lists_what_to_fix_with_the_cells(run):
    c, out, _written = run
    msg = parse(out / "Phản hồi – Xã Số 2 – Đợt 1.eml")
    # a plain file has no sender: the roster's address
    assert msg["To"] == "xa2@example.vn"
    assert msg["Subject"] == "Phản hồi báo cáo thi đua – Xã Số 2 – Đợt 1"
    assert msg["X-Unsent"] == "1"
    blank = next(
        f for f in c.findings
        if f.code == "value_blank" and f.path.endswith("xa-so-2.xlsx")
    )  # fmt: skip
    lines = body(msg)
    assert lines[0] == "Kính gửi: Xã Số 2,"
    assert any("tệp “xa-so-2.xlsx”" in line for line in lines)
    assert not any("ban-dau" in line for line in lines)  # the superseded copy is not answered
    assert f"1. [Lỗi] Trang “{blank.sheet}”, ô {blank.cell}: {blank.message}" in lines
    assert f"   Cách sửa: {blank.hint}" in lines
    assert lines[-1] == "Trân trọng."


def test_reply_attaches_the_annotated_workbook_under_its_vietnamese_name(run):
    _c, out, _written = run
    path = out / "Phản hồi – Xã Số 2 – Đợt 1.eml"
    raw = path.read_bytes()
    assert b"filename*=utf-8''Ph%E1%BA%A3n%20h%E1%BB%93i" in raw  # RFC 2231
    (att,) = list(parse(path).iter_attachments())
    assert att.get_filename() == "Phản hồi – Xã Số 2 – Đợt 1.xlsx"
    assert att.get_content_type() == "/".join(XLSX)
    data = att.get_content()
    assert data == (out / "Phản hồi – Xã Số 2 – Đợt 1.xlsx").read_bytes()
    wb = openpyxl.load_workbook(out / "Phản hồi – Xã Số 2 – Đợt 1.xlsx")
    assert "Kết quả kiểm tra" in wb.sheetnames


def test_reply_to_an_emailed_report_goes_to_its_sender(run):
    _c, out, _written = run
    msg = parse(out / "Phản hồi – Xã Số 3 – Đợt 1.eml")
    assert msg["To"] == "xa3@example.vn"
    lines = body(msg)
    assert any("tệp “thu-xa-3.eml › Báo cáo xã số 3.xlsx”" in line for line in lines)
    assert any(line.startswith("1. [Lỗi] ") and "lớn hơn" in line for line in lines)


def test_a_report_sent_by_another_unit_greets_the_sender(run):
    _c, out, _written = run
    msg = parse(out / "Phản hồi – Xã Số 5 – Đợt 1.eml")
    assert msg["To"] == "xa1@example.vn"
    assert msg["Subject"] == "Phản hồi báo cáo thi đua – Xã Số 5 – Đợt 1"
    lines = body(msg)
    assert lines[0] == "Kính gửi: Xã Số 1,"
    assert lines[2].startswith(
        "Đã nhận báo cáo kết quả thực hiện chỉ tiêu thi đua Đợt 1 ghi đơn vị Xã Số 5 do đơn vị gửi"
    )


def test_a_rejected_file_is_answered_too(run):
    _c, out, _written = run
    msg = parse(out / "Phản hồi – thu-rac › bao-cao.eml")
    assert msg["To"] == "xa4@example.vn"
    assert msg["Subject"] == "Phản hồi báo cáo thi đua – thu-rac.eml › bao-cao.xlsx"
    assert any("chưa dùng được để tổng hợp" in line for line in body(msg))


def test_reminders_only_for_due_phases_and_known_addresses(run):
    _c, _out, written = run
    reminders = [p for p in written if p.name.startswith("Nhắc")]
    # Xã Số 4 sent no usable report for phase 1; Xã Số 5 has no address; phase 2 is not
    # due on 01/03/2025
    assert [p.name for p in reminders] == ["Nhắc báo cáo – Xã Số 4 – Đợt 1.eml"]
    msg = parse(reminders[0])
    assert msg["To"] == "xa4@example.vn"
    assert msg["Subject"] == "Nhắc gửi báo cáo thi đua – Xã Số 4 – Đợt 1"
    assert msg["X-Unsent"] == "1"
    lines = body(msg)
    assert "1. Đợt 1 (từ 19/08/2024 đến 03/02/2025)" in lines
    assert any("mã đơn vị: C4" in line for line in lines)


def test_writing_again_does_not_overwrite_earlier_drafts(run, tmp_path):
    c, _out, _written = run
    first = write_replies(c, tmp_path, today=D(2025, 3, 1))
    second = write_replies(c, tmp_path, today=D(2025, 3, 1))
    assert not {p.name for p in first} & {p.name for p in second}
    assert "Phản hồi – Xã Số 2 – Đợt 1 (2).eml" in {p.name for p in second}


def test_tally_of_the_same_inbox_traces_the_correction(run, tmp_path):
    c, _out, _written = run
    wb = openpyxl.load_workbook(write_tally(c, tmp_path / "tong-hop.xlsx"))
    ws = wb["Sửa đổi"]
    rows = list(ws[next(iter(ws.tables.values())).ref])
    head = [x.value for x in rows[0]]
    changes = [dict(zip(head, [x.value for x in r], strict=True)) for r in rows[1:]]
    tin = [r for r in changes if r["Mã chỉ tiêu"] == "TIN" and r["Số cũ"] == 6]
    assert [(r["Mã đơn vị"], r["Số mới"]) for r in tin] == [("C2", 5)]
    assert tin[0]["Bản cũ"].startswith("xa-so-2-ban-dau.xlsx")
    assert tin[0]["Bản mới"].startswith("xa-so-2.xlsx")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CON", "_CON"),
        ("lpt1.báo cáo", "_lpt1.báo cáo"),
        ('a<b>:c"/d\\e|f?g*h', "a b c d e f g h"),
        ("Đợt 1. ", "Đợt 1"),
        (unicodedata.normalize("NFD", "Xã Đông Sơn"), "Xã Đông Sơn"),
        ("x\x00y\r\nz", "x y z"),
        ("", "thu"),
    ],
)
def test_safe_filename(text, expected):
    assert safe_filename(text) == expected
    assert len(safe_filename("ư" * 500)) <= 120
