"""Email and folder intake: real .eml/.mbox files written with the stdlib, real xlsx bytes."""

from __future__ import annotations

import base64
import io
import mailbox
import re
import shutil
import struct
import unicodedata
from collections import Counter
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage, MIMEPart
from pathlib import Path

import openpyxl
import pytest
from msoffcrypto.format.ooxml import OOXMLFile

from workbooks.intake import Intake, Skipped, Source, collect

MAIL_DATA = Path(__file__).parents[1] / "data" / "mail"
ICT = timezone(timedelta(hours=7))
XLSX = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def xlsx(text: str) -> bytes:
    """A tiny real workbook; ``text`` makes its bytes (and hash) distinct."""
    wb = openpyxl.Workbook()
    wb.active["A1"] = text
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def docx() -> bytes:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


def message(
    *,
    sender: str = "Công an xã Đông Sơn <CAXA.DongSon@Example.VN>",
    subject: str = "Báo cáo thi đua đợt 1",
    date: str | None = "Mon, 04 Mar 2024 17:00:00 +0700",
    received: tuple[str, ...] = (),
    body: str = "Kinh gui phong PV01.",
) -> EmailMessage:
    msg = EmailMessage()
    for r in received:  # given top-most first, as servers prepend them
        msg["Received"] = r
    msg["From"] = sender
    msg["To"] = "thidua@congan.example.vn"
    msg["Subject"] = subject
    if date:
        msg["Date"] = date
    msg.set_content(body)
    return msg


def attach_xlsx(msg: EmailMessage, data: bytes, filename: str) -> None:
    msg.add_attachment(data, maintype=XLSX[0], subtype=XLSX[1], filename=filename)


def tnef(files: list[tuple[str, bytes]]) -> bytes:
    """A minimal real TNEF stream (what Outlook puts in winmail.dat) carrying ``files``."""

    def obj(level: int, attr: int, kind: int, data: bytes) -> bytes:
        head = struct.pack("<BHHI", level, attr, kind, len(data))
        return head + data + struct.pack("<H", sum(data) & 0xFFFF)

    out = struct.pack("<IH", 0x223E9F78, 0x0001)
    out += obj(1, 0x9006, 0x0008, struct.pack("<I", 0x10000))  # attTnefVersion
    out += obj(1, 0x9007, 0x0006, struct.pack("<II", 1252, 0))  # attOemCodepage
    for name, data in files:
        out += obj(2, 0x9002, 0x0006, b"\x01\x00\x00\x00" + bytes(10))  # attAttachRendData
        out += obj(2, 0x8010, 0x0001, name.encode() + b"\0")  # attAttachTitle
        out += obj(2, 0x800F, 0x0006, data)  # attAttachData
    return out


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def accounted(intake: Intake) -> Counter[str]:
    return Counter([s.label for s in intake.sources] + [k.label for k in intake.skipped])


def skipped_by_label(intake: Intake) -> dict[str, Skipped]:
    return {k.label: k for k in intake.skipped}


def sources_by_member(intake: Intake) -> dict[str | None, Source]:
    return {s.member: s for s in intake.sources}


# --------------------------------------------------------------------------- one message


@pytest.fixture(scope="module")
def books() -> dict[str, bytes]:
    return {k: xlsx(k) for k in ("dong-son", "dong-ve", "quang-xuong", "nameless", "tnef", "fwd")}


def test_vietnamese_attachment_name_is_rfc2231_on_the_wire_and_decoded(tmp_path, books):
    msg = message(
        received=(
            "from mail.xa.example.vn by mx.congan.example.vn with ESMTPS id 1;"
            " Tue, 05 Mar 2024 08:01:02 +0700 (ICT)",
            "from [10.0.0.5] by mail.xa.example.vn; Mon, 04 Mar 2024 23:59:00 +0700",
        )
    )
    attach_xlsx(msg, books["dong-son"], "Báo cáo xã Đông Sơn đợt 1.xlsx")
    raw = msg.as_bytes()
    assert re.search(rb"filename\*(0\*)?=utf-8''B%C3%A1o%20c%C3%A1o", raw)
    assert "Báo cáo".encode() not in raw
    eml = write(tmp_path / "thu.eml", raw)

    intake = collect([eml])

    assert intake.skipped == []
    [src] = intake.sources
    assert src.member == "Báo cáo xã Đông Sơn đợt 1.xlsx"
    assert src.label == f"{eml} › Báo cáo xã Đông Sơn đợt 1.xlsx"
    assert src.sender == "caxa.dongson@example.vn"
    assert src.subject == "Báo cáo thi đua đợt 1"
    # The top-most Received header (our server's clock), not the sender's Date.
    assert src.received == datetime(2024, 3, 5, 8, 1, 2, tzinfo=ICT)
    assert src.read_bytes() == books["dong-son"] and src.size == len(books["dong-son"])


def test_every_part_kind_of_a_realistic_message(tmp_path, books):
    """Bodies, inline logo, PDF, docx, forwarded message, NFD, traversal, nameless, winmail.dat."""
    forwarded = message(sender="Xã Quảng Xương <qx@example.vn>", subject="Fw gốc")
    attach_xlsx(forwarded, books["fwd"], "Báo cáo Quảng Xương.xlsx")

    msg = message(date="Wed, 06 Mar 2024 10:00:00 +0700")  # no Received: Date is used
    msg.add_alternative('<p>Kính gửi</p><img src="cid:logo@x">', subtype="html")
    msg.get_payload()[1].add_related(
        b"\x89PNG\r\n\x1a\n" + bytes(20), "image", "png", cid="<logo@x>", filename="image001.png"
    )
    msg.add_attachment(
        b"%PDF-1.7\n%...", maintype="application", subtype="pdf", filename="Công văn 12.pdf"
    )
    msg.add_attachment(
        docx(), maintype="application", subtype="octet-stream", filename="Kế hoạch.docx"
    )
    msg.add_attachment(forwarded)
    attach_xlsx(msg, books["dong-ve"], unicodedata.normalize("NFD", "Phường Đông Vệ.xlsx"))
    attach_xlsx(msg, books["quang-xuong"], "..\\..\\Windows\\Thị trấn.xlsx")
    nameless = MIMEPart()
    nameless.set_content(books["nameless"], "application", "octet-stream")
    msg.attach(nameless)
    msg.add_attachment(
        tnef([("Xa Hoang Hoa.xlsx", books["tnef"]), ("ghi chu.txt", b"ghi chu\n")]),
        maintype="application",
        subtype="ms-tnef",
        filename="winmail.dat",
    )
    eml = write(tmp_path / "hop thu" / "thu 2.eml", msg.as_bytes())

    intake = collect([eml])

    found = sources_by_member(intake)
    nameless_member = next(m for m in found if m and m.startswith("(không tên"))
    assert set(found) == {
        "Báo cáo Quảng Xương.xlsx",
        "Phường Đông Vệ.xlsx",
        "Thị trấn.xlsx",
        nameless_member,
        "winmail.dat/Xa Hoang Hoa.xlsx",
    }
    assert unicodedata.is_normalized("NFC", "".join(found))  # the NFD name came out NFC
    for member, data in [
        ("Báo cáo Quảng Xương.xlsx", books["fwd"]),
        ("Phường Đông Vệ.xlsx", books["dong-ve"]),
        ("Thị trấn.xlsx", books["quang-xuong"]),
        (nameless_member, books["nameless"]),
        ("winmail.dat/Xa Hoang Hoa.xlsx", books["tnef"]),
    ]:
        src = found[member]
        assert src.read_bytes() == data
        # The forwarded workbook reached us in this message: its sender and time.
        assert src.sender == "caxa.dongson@example.vn"
        assert src.received == datetime(2024, 3, 6, 10, 0, tzinfo=ICT)

    skipped = {k.member: (k.status, k.reason, k.finding and k.finding.code) for k in intake.skipped}
    assert skipped == {
        "Công văn 12.pdf": ("ignored", "không phải bảng tính (PDF)", "attachment_ignored"),
        "Kế hoạch.docx": (
            "ignored",
            "không phải bảng tính (văn bản Word (.docx))",
            "attachment_ignored",
        ),
        "winmail.dat/ghi chu.txt": (
            "ignored",
            "không phải bảng tính (văn bản)",
            "attachment_ignored",
        ),
    }
    pdf = next(k for k in intake.skipped if k.member == "Công văn 12.pdf")
    assert pdf.finding.message == "Tệp “Công văn 12.pdf” không phải bảng tính (PDF)."
    assert (pdf.finding.path, pdf.finding.member) == (str(eml), "Công văn 12.pdf")
    # Bodies and the inline logo are not inputs; everything else exactly once.
    assert set(accounted(intake).values()) == {1}
    assert len(accounted(intake)) == 8


def test_outlook_winmail_samples_are_unpacked(tmp_path):
    msg = message()
    for sample in ("two-files.tnef", "long-filename.tnef"):
        msg.add_attachment(
            (MAIL_DATA / sample).read_bytes(),
            maintype="application",
            subtype="ms-tnef",
            filename="winmail.dat",
        )
    msg.add_attachment(
        struct.pack("<IH", 0x223E9F78, 1),
        maintype="application",
        subtype="ms-tnef",
        filename="winmail.dat",
    )
    eml = write(tmp_path / "outlook.eml", msg.as_bytes())

    intake = collect([eml])

    assert intake.sources == []
    assert [(k.member, k.status, k.reason) for k in intake.skipped] == [
        ("winmail.dat/AUTHORS", "ignored", "không phải bảng tính (văn bản)"),
        ("winmail.dat/README", "ignored", "không phải bảng tính (văn bản)"),
        ("winmail.dat/allproductsmar2000.dat", "ignored", "không phải bảng tính (văn bản)"),
        ("winmail.dat", "ignored", "“winmail.dat” (Outlook) không chứa tệp đính kèm"),
    ]


def test_message_without_attachment_is_still_accounted_for(tmp_path):
    eml = write(tmp_path / "quen.eml", message(subject="Quên đính kèm").as_bytes())
    intake = collect([eml])
    assert intake.sources == []
    [k] = intake.skipped
    assert (k.path, k.member, k.status, k.reason) == (
        str(eml),
        None,
        "ignored",
        "thư “Quên đính kèm” không có tệp đính kèm",
    )
    assert k.sender == "caxa.dongson@example.vn"


# --------------------------------------------------------------------------- mbox, duplicates


def test_mbox_with_three_messages_and_a_duplicate(tmp_path, books):
    path = tmp_path / "Hop thu den.mbox"
    box = mailbox.mbox(path)
    first = message(
        received=("from a by mx.congan.example.vn; Tue, 05 Mar 2024 08:00:00 +0700",),
        body="From the commune\nFrom here on, numbers.",  # body lines starting with "From "
    )
    attach_xlsx(first, books["dong-son"], "Đông Sơn.xlsx")
    second = message(sender="Phường Đông Vệ <dongve@example.vn>", subject="Chào anh")
    third = message(
        sender="dongve@example.vn",
        subject="=?utf-8?b?R+G7rWkgbOG6oWk=?=",  # RFC 2047 "Gửi lại"
        date="Thu, 07 Mar 2024 09:30:00 +0700",
    )
    attach_xlsx(third, books["dong-son"], "Đông Sơn (bản sao).xlsx")
    attach_xlsx(third, books["dong-ve"], "Đông Vệ.xlsx")
    for m in (first, second, third):
        box.add(m)
    box.flush()
    box.close()

    intake = collect([path])

    assert [(s.message, s.member, s.sender, s.subject, s.received) for s in intake.sources] == [
        (
            1,
            "Đông Sơn.xlsx",
            "caxa.dongson@example.vn",
            "Báo cáo thi đua đợt 1",
            datetime(2024, 3, 5, 8, 0, tzinfo=ICT),
        ),
        (
            3,
            "Đông Vệ.xlsx",
            "dongve@example.vn",
            "Gửi lại",
            datetime(2024, 3, 7, 9, 30, tzinfo=ICT),
        ),
    ]
    assert intake.sources[1].label == f"{path} › thư 3 › Đông Vệ.xlsx"
    assert [(k.label, k.status, k.reason) for k in intake.skipped] == [
        (f"{path} › thư 2", "ignored", "thư thứ 2 “Chào anh” không có tệp đính kèm"),
        (
            f"{path} › thư 3 › Đông Sơn (bản sao).xlsx",
            "ignored",
            f"trùng với tệp đã nhận: {path} › thư 1 › Đông Sơn.xlsx",
        ),
    ]
    dup = intake.skipped[1]
    assert dup.sha256 == intake.sources[0].sha256 and dup.sender == "dongve@example.vn"


def test_duplicates_across_inputs_keep_the_first(tmp_path, books):
    plain = write(tmp_path / "a" / "dong-son.xlsx", books["dong-son"])
    msg = message()
    attach_xlsx(msg, books["dong-son"], "Đông Sơn.xlsx")
    eml = write(tmp_path / "b.eml", msg.as_bytes())

    intake = collect([plain, eml])

    assert [s.label for s in intake.sources] == [str(plain)]
    assert [(k.label, k.reason) for k in intake.skipped] == [
        (f"{eml} › Đông Sơn.xlsx", f"trùng với tệp đã nhận: {plain}")
    ]


# --------------------------------------------------------------------------- broken messages


def test_truncated_message_keeps_what_could_be_decoded(tmp_path, books):
    msg = message()
    attach_xlsx(msg, books["dong-son"], "a.xlsx")
    attach_xlsx(msg, books["dong-ve"], "b.xlsx")
    raw = msg.as_bytes()
    start = raw.index(b"\n\n", raw.index(b'filename="b.xlsx"')) + 2
    cut = start + (len(raw) - start) // 2
    while len(re.sub(rb"\s", b"", raw[start:cut])) % 4 == 0:  # cut mid-quantum
        cut += 1
    eml = write(tmp_path / "cut.eml", raw[:cut])

    intake = collect([eml])

    assert [s.member for s in intake.sources] == ["a.xlsx"]
    assert intake.sources[0].read_bytes() == books["dong-son"]
    by = skipped_by_label(intake)
    assert set(by) == {str(eml), f"{eml} › b.xlsx"}
    whole = by[str(eml)]
    assert (whole.status, whole.finding.code, whole.finding.severity) == (
        "rejected",
        "email_corrupt",
        "error",
    )
    assert "cắt cụt" in whole.reason
    part = by[f"{eml} › b.xlsx"]
    assert (part.status, part.finding.code) == ("rejected", "email_corrupt")
    assert part.reason == "tệp đính kèm “b.xlsx” bị cắt cụt hoặc mã hóa sai"


@pytest.mark.parametrize(
    "raw",
    [bytes(range(256)) * 8, b"\x00\x01garbage\xff" * 100, b"just some words\nno headers\n"],
    ids=["binary", "garbage", "text"],
)
def test_garbage_eml_is_rejected_never_raises(tmp_path, raw):
    eml = write(tmp_path / "rac.eml", raw)
    intake = collect([eml])
    assert intake.sources == []
    [k] = intake.skipped
    assert (k.path, k.member, k.status, k.finding.code) == (
        str(eml),
        None,
        "rejected",
        "email_corrupt",
    )
    assert k.reason == "thư điện tử bị hỏng: thư không có phần tiêu đề"


def test_mbox_not_starting_with_from_line(tmp_path, books):
    msg = message()
    attach_xlsx(msg, books["dong-son"], "a.xlsx")
    path = write(
        tmp_path / "x.mbox",
        b"garbage first\n\n" + b"From x@y Mon Mar  4 17:00:00 2024\n" + msg.as_bytes(),
    )
    intake = collect([path])
    assert [s.member for s in intake.sources] == ["a.xlsx"]
    assert [(k.status, k.finding.code) for k in intake.skipped] == [("rejected", "email_corrupt")]


# --------------------------------------------------------------------------- files and folders


def test_folder_is_walked_sorted_with_junk_accounted_for(tmp_path, books):
    inbox = tmp_path / "inbox"
    a = write(inbox / "huyen-a" / "xa-1.xlsx", books["dong-son"])
    write(inbox / "huyen-a" / "~$xa-1.xlsx", b"\x0bNguyen Van A" + bytes(150))
    write(inbox / "huyen-a" / ".DS_Store", b"\x00\x00\x00\x01Bud1")
    nfd = write(
        inbox / "huyen-b" / unicodedata.normalize("NFD", "Xã Đông Vệ.xlsx"), books["dong-ve"]
    )
    html = write(
        inbox / "huyen-b" / "bao-cao.xls", b"<html><body><table><tr><td>1</td></tr></table>"
    )
    write(inbox / "huyen-b" / "cong-van.pdf", b"%PDF-1.4\n")
    renamed = write(inbox / "huyen-b" / "so-lieu.dat", books["quang-xuong"])
    msg = message()
    attach_xlsx(msg, books["nameless"], "Xã 3.xlsx")
    eml = write(inbox / "huyen-b" / "thu.eml", msg.as_bytes())
    write(inbox / ".git" / "config", b"[core]\n")
    write(inbox / "zz-ban-sao.xlsx", books["dong-son"])
    (inbox / "trong").mkdir()

    intake = collect([inbox])

    assert [s.label for s in intake.sources] == [
        str(a),
        str(renamed),
        f"{eml} › Xã 3.xlsx",
        str(nfd),
    ]
    plain = intake.sources[0]
    assert plain.data is None  # read on demand, not held
    assert plain.read_bytes() == books["dong-son"]
    assert plain.mtime is not None and plain.mtime.tzinfo is not None
    assert plain.sender is None and plain.received is None
    rel = {k.path.removeprefix(str(inbox) + "/"): (k.status, k.reason) for k in intake.skipped}
    assert rel == {
        ".git": ("ignored", "thư mục ẩn"),
        "huyen-a/.DS_Store": ("ignored", "tệp hệ thống của macOS"),
        "huyen-a/~$xa-1.xlsx": ("ignored", "tệp khóa tạm của Excel"),
        "huyen-b/bao-cao.xls": ("rejected", "không phải bảng tính (nội dung là trang HTML)"),
        "huyen-b/cong-van.pdf": ("ignored", "không phải bảng tính (PDF)"),
        "zz-ban-sao.xlsx": ("ignored", f"trùng với tệp đã nhận: {a}"),
    }
    rejected = next(k for k in intake.skipped if k.path == str(html))
    assert rejected.finding.code == "file_not_workbook"
    assert rejected.finding.message == "Tệp không phải bảng tính Excel (nội dung là trang HTML)."
    assert set(accounted(intake).values()) == {1}

    # Deterministic: the same folder gives the same answer.
    again = collect([inbox])
    assert [s.label for s in again.sources] == [s.label for s in intake.sources]
    assert again.skipped == intake.skipped


def test_explicit_inputs(tmp_path, books):
    book = write(tmp_path / "xa.xlsx", books["dong-son"])
    pdf = write(tmp_path / "bao-cao.pdf", b"%PDF-1.4\n")
    missing = tmp_path / "khong-co.xlsx"
    empty = tmp_path / "thu-muc-trong"
    empty.mkdir()
    locked = tmp_path / "mat-khau.xlsx"
    out = io.BytesIO()
    OOXMLFile(io.BytesIO(books["dong-ve"])).encrypt("123", out)
    locked.write_bytes(out.getvalue())

    intake = collect([book, str(missing), pdf, book, empty, locked])

    # An encrypted workbook is still a workbook: the reader reports the password.
    assert [s.path for s in intake.sources] == [str(book), str(locked)]
    assert [(k.path, k.status, k.reason, k.finding and k.finding.code) for k in intake.skipped] == [
        (str(missing), "rejected", "không tìm thấy tệp hoặc thư mục", "file_unreadable"),
        (str(pdf), "rejected", "không phải bảng tính (nội dung là PDF)", "file_not_workbook"),
        (str(empty), "ignored", "thư mục không có tệp nào", None),
    ]


def test_a_single_path_is_not_iterated_as_characters(tmp_path, books):
    book = write(tmp_path / "xa.xlsx", books["dong-son"])
    assert [s.path for s in collect(book).sources] == [str(book)]


def test_loose_winmail_dat_file(tmp_path, books):
    path = write(tmp_path / "winmail.dat", tnef([("Xã Đông Sơn.xlsx", books["dong-son"])]))
    [src] = collect([path]).sources
    assert (src.path, src.member) == (str(path), "Xã Đông Sơn.xlsx")
    assert src.read_bytes() == books["dong-son"]


def test_samples_are_the_shared_ones():
    shared = Path("/work/shared/data/mail")
    if not shared.exists():
        pytest.skip("shared data not mounted")
    for sample in ("two-files.tnef", "long-filename.tnef"):
        assert (MAIL_DATA / sample).read_bytes() == (shared / sample).read_bytes()


def test_symlink_loop_and_twice_named_folder(tmp_path, books):
    inbox = tmp_path / "inbox"
    book = write(inbox / "xa.xlsx", books["dong-son"])
    try:
        (inbox / "vong").symlink_to(inbox, target_is_directory=True)
    except OSError:
        shutil.rmtree(inbox / "vong", ignore_errors=True)
    intake = collect([inbox, inbox, book])
    assert [s.label for s in intake.sources] == [str(book)]
    assert intake.skipped == []


# --------------------------------------------------------------------------- mailers in the wild


def handmade(parts: list[tuple[str, bytes]]) -> bytes:
    """A message written by hand: each part is (its header lines, its base64 body)."""
    out = [
        b"Received: from x by mx.congan.example.vn; Fri, 08 Mar 2024 07:45:00 +0700",
        b"From: =?utf-8?b?WMOjIFRo4buNIEjhuqNp?= <XaThoHai@Example.vn>",
        b"Subject: =?utf-8?q?B=C3=A1o_c=C3=A1o?=",
        b"Date: hom qua",  # unparseable: Received decides anyway
        b"MIME-Version: 1.0",
        b'Content-Type: multipart/mixed; boundary="B"',
        b"",
        b"--B",
        b"Content-Type: text/plain; charset=utf-8",
        b"",
        b"Kinh gui.",
    ]
    for head, body in parts:
        out += [b"--B", head.encode("utf-8"), b"Content-Transfer-Encoding: base64", b""]
        out += [base64.encodebytes(body).rstrip()]
    out += [b"--B--", b""]
    return b"\r\n".join(out)


def test_names_as_real_mailers_write_them(tmp_path, books):
    raw = handmade(
        [
            # Raw UTF-8 in the header (webmail), not encoded at all.
            (
                'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="Xã Thọ Hải.xlsx"',
                books["dong-son"],
            ),
            # RFC 2047 inside a quoted parameter (Outlook, Gmail).
            (
                'Content-Type: application/vnd.ms-excel; name="=?utf-8?B?UGjGsOG7nW5nIMSQw7RuZyBW4buHLnhsc3g=?="',
                books["dong-ve"],
            ),
            # Apple Mail: an attachment marked inline.
            (
                'Content-Type: application/pdf; name="CV.pdf"\r\nContent-Disposition: inline; filename="CV.pdf"',
                b"%PDF-1.3\n",
            ),
            # A name hiding its extension with a right-to-left override.
            (
                'Content-Type: application/octet-stream; name="bao\u202excod.xlsx"',
                books["quang-xuong"],
            ),
        ]
    )
    eml = write(tmp_path / "webmail.eml", raw)

    intake = collect([eml])

    assert [(s.member, s.sender, s.subject, s.received) for s in intake.sources] == [
        (name, "xathohai@example.vn", "Báo cáo", datetime(2024, 3, 8, 7, 45, tzinfo=ICT))
        for name in ("Xã Thọ Hải.xlsx", "Phường Đông Vệ.xlsx", "baoxcod.xlsx")
    ]
    assert [(k.member, k.reason) for k in intake.skipped] == [
        ("CV.pdf", "không phải bảng tính (PDF)")
    ]


def test_workbook_judged_by_content_not_name(tmp_path, books):
    msg = message()
    msg.add_attachment(books["dong-son"], "application", "pdf", filename="scan.pdf")
    msg.add_attachment(
        b"<html><table></table></html>", "application", "vnd.ms-excel", filename="Bao cao.xls"
    )
    eml = write(tmp_path / "x.eml", msg.as_bytes())
    intake = collect([eml])
    assert [s.member for s in intake.sources] == ["scan.pdf"]
    [k] = intake.skipped
    assert (k.member, k.status, k.finding.code) == ("Bao cao.xls", "rejected", "file_not_workbook")


def test_damaged_bytes_never_raise_and_are_accounted_for(tmp_path, books):
    """Cut and flip a real message at many places: no exception, every item once."""
    msg = message(received=("from a by b; Tue, 05 Mar 2024 08:00:00 +0700",))
    attach_xlsx(msg, books["dong-son"], "Đông Sơn.xlsx")
    msg.add_attachment(
        tnef([("b.xlsx", books["dong-ve"])]), "application", "ms-tnef", filename="winmail.dat"
    )
    raw = msg.as_bytes()
    variants = [raw[:cut] for cut in range(0, len(raw), max(1, len(raw) // 150))]
    for i in range(0, len(raw), max(1, len(raw) // 150)):
        variants.append(raw[:i] + bytes([raw[i] ^ 0x5A]) + raw[i + 1 :])
    for n, data in enumerate(variants):
        eml = write(tmp_path / f"v{n}.eml", data)
        intake = collect([eml])
        items = intake.sources + intake.skipped
        assert items, n
        assert all(isinstance(s.data, bytes) for s in intake.sources)
        assert all(k.status in {"ignored", "rejected"} and k.reason for k in intake.skipped)


def test_text_starting_with_from_is_not_a_mailbox(tmp_path):
    note = write(tmp_path / "inbox" / "ghi-chu.txt", b"From the district office:\nsend by Friday\n")
    [k] = collect([tmp_path / "inbox"]).skipped
    assert (k.path, k.status, k.reason) == (str(note), "ignored", "không phải bảng tính (văn bản)")
