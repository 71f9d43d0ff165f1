"""Pre-check: decide whether untrusted bytes may be handed to a spreadsheet reader at all.

Emailed workbooks can kill a reader: a 5 KB file with a cell at XFD1048576 makes
python-calamine abort the whole process, a zip bomb costs gigabytes, a ``<!DOCTYPE`` can carry
entity expansion. :func:`precheck` looks at the bytes without any spreadsheet reader and
without any XML parser: magic bytes, the zip central directory, the first bytes of every XML
part, and the real extent of every sheet (the ``<c r="…">`` references, never the
``<dimension>`` tag). A small workbook takes a fraction of a millisecond.

Readers get a :class:`CheckedWorkbook`, which only :func:`precheck` can make (``.workbook``
of an ``ok`` result), and open it through :meth:`CheckedWorkbook.open_calamine` or
:meth:`CheckedWorkbook.open_openpyxl`; a refused file has no workbook, so it cannot reach a
reader by mistake. Reading still belongs in a child process (``workbooks.isolate``): the
pre-check bounds the damage, isolation contains what is left. Readers must still iterate
with explicit bounds (``sheet_extents``).

A reader that reads only some sheets says which (``precheck(…, sheets=…)``): only those are
measured, and the checked workbook then opens no other sheet (``CheckedWorkbook.readable``).
Every part still gets the directory checks and its XML prolog checked; what a reader will
parse anyway (the workbook part, relationships, the measured sheets) is inflated once and
handed on (:meth:`CheckedWorkbook.part`). python-calamine is given the package rebuilt
(:func:`_slim_package`): without the sheets not measured (it cannot open one even by
mistake), the parts the pre-check inflated stored as they are (the bytes it scanned, not
inflated again), the styles cut to the number formats, no theme or document properties.

Codes :func:`precheck` can yield: ``file_not_workbook``, ``file_unreadable``,
``file_encrypted``, ``file_bad_password``, ``file_too_large``, ``file_path_traversal``,
``file_dangerous_xml``, ``file_macros`` (warning), ``sheet_too_large``.
"""

from __future__ import annotations

import codecs
import html
import io
import posixpath
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from logic.findings import Finding, finding, has_errors
from workbooks.layout import col_letter
from workbooks.settings import Settings, get_settings, limit_name

__all__ = [
    "CheckedWorkbook",
    "Decrypted",
    "Kind",
    "Precheck",
    "SheetNotChecked",
    "decrypt",
    "precheck",
]

Kind = Literal["xlsx", "xlsm", "xls", "ods", "encrypted", "unknown"]

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
_HEAD = 64 * 1024  # first bytes read from every member: the XML prolog must end inside them
# A real prolog ends within a hundred bytes: look at this much first, and at _HEAD only when
# the root element does not start inside it.
_SMALL_HEAD = 1024
_WHOLE = 8 * 1024 * 1024  # parts up to this size are inflated in one piece, larger ones streamed
_KEEP = 4 * 1024 * 1024  # inflated parts kept for readers, in all (CheckedWorkbook.part)
_ONE_SHOT = 16 * 1024  # stored size up to which a deflated part is inflated in one call
_CHUNK = 1024 * 1024  # streaming unit for sheets larger than _HEAD
_RATIO_FLOOR = 1024 * 1024  # small members compress well legitimately; ratio only above this
_MAX_FINDINGS_PER_KIND = 5  # a hostile zip can have 10,000 bad members; five say enough
# Office's default is 100,000 SHA-512 rounds; msoffcrypto accepts up to 10 million (seconds of
# pure Python per attempt), which a hostile file can ask for.
_MAX_SPIN_COUNT = 1_000_000
_LEGACY_PASSWORD = "VelvetSweatshop"  # Excel encrypts "protected" .xls files with this one

_TOKEN = object()


@dataclass(frozen=True, slots=True, eq=False)
class CheckedWorkbook:
    """Bytes that passed :func:`precheck`; the only thing a reader should accept.

    ``data`` is the readable workbook (already decrypted when a password was given);
    ``sheet_extents`` maps a sheet name (or, for a sheet no workbook part names, its part
    name) to the real ``(max_row, max_col)`` of its cells, 1-based, ``(0, 0)`` when empty.
    ``readable`` names the sheets a reader may open when the pre-check measured only some
    (``precheck(…, sheets=…)``); None when every sheet was measured.
    """

    name: str
    kind: Kind
    data: bytes = field(repr=False)
    sheet_extents: Mapping[str, tuple[int, int]]
    _token: object = field(default=None, repr=False)
    readable: frozenset[str] | None = None
    _members: Mapping[str, _Member] = field(default_factory=dict, repr=False)
    _unmeasured: frozenset[str] = frozenset()  # sheet parts no reader may open

    def __post_init__(self) -> None:
        if self._token is not _TOKEN:
            raise TypeError("a CheckedWorkbook comes from precheck() only")

    def open_calamine(self) -> Any:
        """A ``python_calamine.CalamineWorkbook`` over the checked bytes.

        When only some sheets were measured, a wrapper that opens those only (any other
        raises :class:`SheetNotChecked`).
        """
        from python_calamine import CalamineWorkbook

        source = _slim_package(self.data, self._members, self._unmeasured) or self.data
        book = CalamineWorkbook.from_filelike(io.BytesIO(source))
        return book if self.readable is None else _CheckedCalamine(book, self.readable)

    def open_openpyxl(self, *, read_only: bool = True, data_only: bool = True) -> Any:
        """An openpyxl workbook (xlsx/xlsm only); macros are never kept, links never loaded.

        openpyxl may load every sheet: a workbook checked for some sheets only is refused.
        """
        if self.kind not in ("xlsx", "xlsm"):
            raise ValueError(f"openpyxl cannot read {self.kind} files")
        if self.readable is not None:
            raise ValueError("openpyxl may read every sheet: precheck this file with sheets=None")
        import openpyxl

        return openpyxl.load_workbook(
            io.BytesIO(self.data),
            read_only=read_only,
            data_only=data_only,
            keep_vba=False,
            keep_links=False,
        )

    def part(self, name: str) -> bytes:
        """The bytes of a zip member as stored (inflated), b"" if there is none.

        Parts the pre-check inflated (the workbook part, relationships, measured sheets) are
        not inflated again. Raises ``zipfile.BadZipFile`` when the content fails its CRC.
        """
        member = self._members.get(name)
        return b"" if member is None else member.raw(self.data)


class SheetNotChecked(ValueError):
    """A reader asked for a sheet the pre-check did not measure."""


class _CheckedCalamine:
    """A calamine workbook that opens only the sheets the pre-check measured."""

    __slots__ = ("_book", "_readable")

    def __init__(self, book: Any, readable: frozenset[str]):
        self._book = book
        self._readable = readable

    @property
    def sheet_names(self) -> list[str]:
        return self._book.sheet_names

    @property
    def sheets_metadata(self) -> list[Any]:
        return self._book.sheets_metadata

    def get_sheet_by_name(self, name: str) -> Any:
        if name not in self._readable:
            raise SheetNotChecked(f"sheet {name!r} was not pre-checked")
        return self._book.get_sheet_by_name(name)

    def get_sheet_by_index(self, index: int) -> Any:
        return self.get_sheet_by_name(self._book.sheet_names[index])

    def close(self) -> None:
        self._book.close()

    def __enter__(self) -> _CheckedCalamine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(slots=True)
class Precheck:
    """What the pre-check found.

    ``kind`` is what the bytes are (for an encrypted file opened with its password, the kind
    of the decrypted workbook); ``findings`` every problem (errors refuse the file, warnings
    do not); ``sheet_extents`` and ``readable`` as in :class:`CheckedWorkbook`; ``workbook``
    is set exactly when ``ok``.
    """

    kind: Kind
    findings: list[Finding]
    sheet_extents: dict[str, tuple[int, int]] = field(default_factory=dict)
    workbook: CheckedWorkbook | None = None
    readable: frozenset[str] | None = None

    @property
    def ok(self) -> bool:
        """True when no finding is an error: the file may go to a reader."""
        return not has_errors(self.findings)


@dataclass(frozen=True, slots=True)
class Decrypted:
    """Outcome of :func:`decrypt`: ``data`` (the plain workbook) or ``findings`` saying why not."""

    data: bytes | None
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return self.data is not None


def precheck(
    data: bytes,
    name: str,
    settings: Settings | None = None,
    *,
    password: str | None = None,
    sheets: Callable[[str], bool] | None = None,
) -> Precheck:
    """Check untrusted bytes before any reader sees them; never raises on bad input.

    ``name`` is the file name for findings (``path``). With ``password``, an encrypted
    workbook is decrypted and its content checked (a wrong password gives
    ``file_bad_password``); without it, an encrypted workbook gives ``file_encrypted``.

    ``sheets`` tells, by sheet name, which sheets the reader will read: in an .xlsx/.xlsm
    whose sheets every reader finds at the same parts, the others are not measured (a
    problem there is no finding) and the checked workbook will not open them
    (``readable``). In any other file, and in .xls/.ods (their readers parse every sheet on
    opening), every sheet is measured. None measures every sheet.
    """
    settings = settings or get_settings()
    data = bytes(data)
    check = _Check(data, name, settings, sheets)
    result = check.run()
    if result.kind == "encrypted" and _only_encrypted(result.findings):
        # An .xls "protected" without a user password is encrypted with Excel's default one.
        attempt = _LEGACY_PASSWORD if password is None and check.legacy_xls else password
        if attempt is not None:
            dec = decrypt(data, attempt, name=name)
            if not dec.ok:
                return (
                    result if attempt is _LEGACY_PASSWORD else Precheck("encrypted", dec.findings)
                )
            inner_check = _Check(dec.data, name, settings, sheets)
            inner = inner_check.run()
            if inner.kind == "encrypted":  # encrypted inside encrypted: nobody does that
                return Precheck("encrypted", [finding("file_encrypted", path=name)])
            return _seal(inner, dec.data, name, inner_check)
    return _seal(result, data, name, check)


def decrypt(data: bytes, password: str, *, name: str | None = None) -> Decrypted:
    """Decrypt an encrypted OOXML or .xls file with msoffcrypto-tool.

    Never raises on bad input: a wrong password gives ``Decrypted(None, [file_bad_password])``,
    a broken or exotic encryption ``file_unreadable``. A file that is not encrypted comes back
    unchanged. The result is untrusted like any input: pass it to :func:`precheck` (or give
    :func:`precheck` the password and let it do both).
    """
    import msoffcrypto
    from msoffcrypto import exceptions as mx

    def unreadable(why: str) -> Decrypted:
        return Decrypted(None, [finding("file_unreadable", path=name, why=why)])

    try:
        office = msoffcrypto.OfficeFile(io.BytesIO(data))
        if not office.is_encrypted():
            return Decrypted(bytes(data), [])
        info = getattr(office, "info", None)
        spin = info.get("spinValue", 0) if isinstance(info, dict) else 0
        if spin > _MAX_SPIN_COUNT:
            return unreadable(f"kiểu mã hóa bất thường (lặp {spin:,} lần)".replace(",", "."))
        if getattr(office, "format", None) == "ooxml":
            office.load_key(password=password, verify_password=True)
        else:
            office.load_key(password=password)
        out = io.BytesIO()
        office.decrypt(out)
    except mx.InvalidKeyError:
        return Decrypted(None, [finding("file_bad_password", path=name)])
    except mx.DecryptionError as exc:
        if "No key" in str(exc):  # an empty password is simply a wrong one
            return Decrypted(None, [finding("file_bad_password", path=name)])
        return unreadable(f"không giải mã được ({exc})")
    except Exception as exc:  # hostile bytes can break the decoder in any way
        return unreadable(f"không giải mã được ({type(exc).__name__})")
    return Decrypted(out.getvalue(), [])


# --------------------------------------------------------------------------------------
# internals


def _only_encrypted(findings: list[Finding]) -> bool:
    return [f.code for f in findings if f.severity == "error"] == ["file_encrypted"]


def _seal(result: Precheck, data: bytes, name: str, check: _Check) -> Precheck:
    if result.ok:
        result.workbook = CheckedWorkbook(
            name,
            result.kind,
            data,
            dict(result.sheet_extents),
            _TOKEN,
            readable=result.readable,
            _members=check.members,
            _unmeasured=frozenset(check.unmeasured),
        )
    return result


class _Check:
    """One run of the pre-check over one file."""

    def __init__(
        self,
        data: bytes,
        name: str,
        settings: Settings,
        wanted: Callable[[str], bool] | None = None,
    ):
        self.data = data
        self.name = name
        self.s = settings
        self.wanted = wanted  # which sheets a reader will read (None: all)
        self.kind: Kind = "unknown"
        self.findings: list[Finding] = []
        self.extents: dict[str, tuple[int, int]] = {}
        self.readable: frozenset[str] | None = None
        self.members: dict[str, _Member] = {}  # of an OOXML package, for CheckedWorkbook.part
        self.unmeasured: set[str] = set()  # sheet parts not measured (``wanted`` said no)
        self.legacy_xls = False  # an encrypted .xls (RC4/XOR), not an encrypted OOXML
        self._counts: dict[str, int] = {}

    # -- plumbing ------------------------------------------------------------------------
    def add(self, code: str, **kw: Any) -> None:
        n = self._counts[code] = self._counts.get(code, 0) + 1
        if n <= _MAX_FINDINGS_PER_KIND:
            self.findings.append(finding(code, path=self.name, **kw))

    def too_large(self, limit: str, value: float, *, member: str | None = None) -> None:
        self.add(
            "file_too_large",
            member=member,
            limit_name=limit_name(limit),
            value=value,
            limit=getattr(self.s, limit),
        )

    def refused(self) -> bool:
        return has_errors(self.findings)

    def run(self) -> Precheck:
        self._run()
        return Precheck(self.kind, self.findings, self.extents, readable=self.readable)

    def _run(self) -> None:
        data = self.data
        if len(data) > self.s.max_file_bytes:
            self.kind = _kind_from_magic(data)
            self.too_large("max_file_bytes", len(data))
            return
        if data.startswith(_ZIP_MAGIC):
            self._zip()
        elif data.startswith(_OLE_MAGIC):
            self._ole()
        else:
            self.add("file_not_workbook", what=_describe(data))

    # -- zip: xlsx, xlsm, ods --------------------------------------------------------------
    def _zip(self) -> None:
        s = self.s
        declared = _eocd_entries(self.data)
        if declared is not None and declared > s.max_zip_members:
            # refuse before zipfile builds an object for each of them
            self.too_large("max_zip_members", declared)
            return
        try:
            infos = _plain_directory(self.data)
            if infos is None:  # anything unusual: zipfile's own reading, with its checks
                infos = zipfile.ZipFile(io.BytesIO(self.data)).infolist()
        except Exception:  # untrusted bytes: any failure means the archive is broken
            self.add(
                "file_unreadable", why="tệp nén bị hỏng hoặc không đầy đủ (có thể tải về chưa hết)"
            )
            return
        self.kind = _kind_from_names({i.filename for i in infos})
        self._zip_directory(infos)
        if self.refused():
            return  # nothing is decompressed from a refused archive
        try:
            self._zip_content(self.data, infos)
        except _Smuggled as exc:
            self.add("file_path_traversal", name=str(exc), member=str(exc))
        except Exception as exc:  # zlib errors, CRC mismatches, lying headers …
            self.add("file_unreadable", why=f"tệp nén bị hỏng ({type(exc).__name__})")

    def _zip_directory(self, infos: list[zipfile.ZipInfo]) -> None:
        """Checks on the central directory alone: count, names, sizes, ratios, methods."""
        s = self.s
        if len(infos) > s.max_zip_members:
            self.too_large("max_zip_members", len(infos))
            return
        seen: set[str] = set()
        total = 0
        for info in infos:
            raw = info.orig_filename
            # a duplicated name is as bad: two readers may pick different copies
            if _bad_member_name(raw) or raw.casefold() in seen:
                self.add("file_path_traversal", name=raw, member=raw)
            seen.add(raw.casefold())
            size = info.file_size
            total += size
            if size > s.max_member_bytes:
                self.too_large("max_member_bytes", size, member=raw)
            elif size > _RATIO_FLOOR and size / max(info.compress_size, 1) > s.max_ratio:
                self.too_large("max_ratio", round(size / max(info.compress_size, 1)), member=raw)
            if info.flag_bits & 0x1:
                self.add("file_unreadable", why=f"phần tử “{raw}” bị mã hóa", member=raw)
            elif info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                self.add(
                    "file_unreadable",
                    why=f"phần tử “{raw}” nén theo cách Excel không dùng",
                    member=raw,
                )
        if total > s.max_uncompressed_bytes:
            self.too_large("max_uncompressed_bytes", total)
        sheets = sum(1 for info in infos if _sheet_path(info.filename))
        if sheets > s.max_sheets:  # before inflating thousands of parts
            self.too_large("max_sheets", sheets)

    def _zip_content(self, data: bytes, infos: list[zipfile.ZipInfo]) -> None:
        members: dict[str, _Member] = {}
        for info in infos:
            if info.is_dir():
                continue
            m = _Member(data, info, _read_whole(info.filename))
            members[info.filename] = m
            if m.danger:
                self.add("file_dangerous_xml", what=m.danger, member=info.filename)
        if self.refused():
            return
        if "mimetype" in members and "[Content_Types].xml" not in members:
            self._ods(data, members)
            return
        ct = members.get("[Content_Types].xml")
        if ct is None:
            self.add(
                "file_unreadable", why="thiếu phần [Content_Types].xml, không phải tệp Excel hợp lệ"
            )
            return
        kind, other = _kind_from_content_types(ct.whole(data))
        if other:
            if other.startswith("."):
                self.add("file_unreadable", why=f"định dạng {other} chưa được hỗ trợ")
            else:
                self.add("file_not_workbook", what=other)
            return
        if kind is None:
            self.add("file_unreadable", why="không tìm thấy bảng tính trong tệp")
            return
        self.kind = kind
        self._ooxml(data, members)
        if not self.refused():
            self._hand_on(members)

    def _ooxml(self, data: bytes, members: dict[str, _Member]) -> None:
        rels = {
            n: _relationships(n, m.whole(data)) for n, m in members.items() if n.endswith(".rels")
        }
        macros = _has_vba_project(members)
        # Sheets are found by name the same way by every reader (see _plain_sheets): measure
        # only those the reader will read. Else the names of every workbook part count.
        plain = None if self.wanted is None else _plain_sheets(data, members, rels)
        if plain is not None:
            if len(plain) > self.s.max_sheets:
                self.too_large("max_sheets", len(plain))
                return
            wb_parts = []
            sheet_names = {}
            for name, part in plain.items():
                sheet_names.setdefault(part.casefold(), name)
        else:
            # the workbook part named by the package, and xl/workbook.xml where some look
            wb_parts = [t for _i, t, typ in rels.get("_rels/.rels", []) if typ == "officedocument"]
            wb_parts.append("xl/workbook.xml")
            sheet_names = {}
        counted = False
        for wb in dict.fromkeys(wb_parts):
            if wb not in members:
                continue
            sheets = _workbook_sheets(members[wb].whole(data))
            if not counted:
                counted = True
                if len(sheets) > self.s.max_sheets:
                    self.too_large("max_sheets", len(sheets))
                    return
            wb_rels = {rid: target for rid, target, _t in rels.get(_rels_path(wb), [])}
            for sheet_name, rid in sheets:
                target = wb_rels.get(rid)
                if target is not None:
                    sheet_names.setdefault(target.casefold(), sheet_name)
        # Every part that any reader could take for a sheet: named as one by any relationship,
        # rooted in a sheet element, or stored where sheets live.
        targets = {
            t.casefold()
            for pairs in rels.values()
            for _i, t, typ in pairs
            if typ in _SHEET_REL_TYPES
        }
        macro_types = {typ for pairs in rels.values() for _i, _t, typ in pairs}
        if macro_types & {"xlmacrosheet", "xlintlmacrosheet", "macrosheet"}:
            macros = True
        candidates = []
        for n, m in members.items():
            if m.root in ("worksheet", "dialogsheet", "macrosheet"):
                macros = macros or m.root == "macrosheet"
                candidates.append(n)
            elif n.casefold() in targets or _sheet_path(n):
                candidates.append(n)
        if macros:
            self.add("file_macros")
            self.kind = "xlsm"
        if len(candidates) > self.s.max_sheets:
            self.too_large("max_sheets", len(candidates))
            return
        skipped: set[str] = set()
        if plain is not None:
            wanted = self.wanted
            read = {n for n in plain if wanted(n)}
            skipped = {plain[n] for n in plain if n not in read} - {plain[n] for n in read}
            self.readable = frozenset(n for n, part in plain.items() if part not in skipped)
            self.unmeasured = skipped
        for n in candidates:
            if n in skipped:
                continue  # a sheet no reader will open (self.readable): not measured
            label = sheet_names.get(n.casefold(), n)
            scan = _scan_cells(members[n], data, self.s)
            self._extent(label, scan)

    def _hand_on(self, members: dict[str, _Member]) -> None:
        """Keep what readers will parse again (the workbook, relationships, measured
        sheets), up to ``_KEEP`` bytes in all; let go of the rest."""
        budget = _KEEP
        for m in members.values():
            keep = m.content is not None and len(m.content) <= budget and m.encoding is None
            if keep:
                budget -= len(m.content)
            m.release(keep)
        self.members = members

    def _extent(self, sheet: str, scan: _Extent) -> None:
        prev = self.extents.get(sheet)
        if prev is not None:  # a duplicated name: keep the larger extent
            scan.max_row, scan.max_col = max(prev[0], scan.max_row), max(prev[1], scan.max_col)
        self.extents[sheet] = (scan.max_row, scan.max_col)
        if scan.over is not None:
            limit, cell = scan.over
            self.add(
                "sheet_too_large",
                sheet=sheet,
                cell=cell,
                limit_name=limit_name(limit),
                limit=getattr(self.s, limit),
            )

    # -- ods -------------------------------------------------------------------------------
    def _ods(self, data: bytes, members: dict[str, _Member]) -> None:
        mime = members["mimetype"].whole(data).strip()
        if not mime.startswith(b"application/vnd.oasis.opendocument.spreadsheet"):
            what = _ODF_KINDS.get(mime, "tài liệu OpenDocument không phải bảng tính")
            self.add("file_not_workbook", what=what)
            return
        self.kind = "ods"
        content = members.get("content.xml")
        if content is None:
            self.add("file_unreadable", why="thiếu phần content.xml")
            return
        sheets = _scan_ods(content, data, self.s)
        if len(sheets) > self.s.max_sheets:
            self.too_large("max_sheets", len(sheets))
            return
        for sheet, scan in sheets:
            self._extent(sheet, scan)

    # -- ole: xls, encrypted ooxml -------------------------------------------------------
    def _ole(self) -> None:
        import olefile

        try:
            ole = olefile.OleFileIO(io.BytesIO(self.data))
            streams = {"/".join(p).casefold(): p for p in ole.listdir(streams=True)}
        except Exception:  # untrusted bytes
            self.add("file_unreadable", why="tệp Excel 97-2003 bị hỏng")
            return
        if "encryptioninfo" in streams and "encryptedpackage" in streams:
            self.kind = "encrypted"
            self.add("file_encrypted")
            return
        book = streams.get("workbook") or streams.get("book")
        if book is None:
            if "worddocument" in streams:
                what = "tài liệu Word 97-2003 (.doc)"
            elif "powerpoint document" in streams:
                what = "bản trình chiếu PowerPoint 97-2003 (.ppt)"
            else:
                what = "tệp Office không phải bảng tính"
            self.add("file_not_workbook", what=what)
            return
        self.kind = "xls"
        try:
            stream = ole.openstream(book).read()
            biff = _scan_biff(stream, self.s)
        except Exception:
            self.add("file_unreadable", why="tệp Excel 97-2003 bị hỏng")
            return
        if biff.encrypted:
            self.kind = "encrypted"
            self.add("file_encrypted")
            self.legacy_xls = True
            return
        if len(biff.sheets) > self.s.max_sheets:
            self.too_large("max_sheets", len(biff.sheets))
            return
        for sheet, scan in biff.sheets:
            self._extent(sheet, scan)


# --------------------------------------------------------------------------------------
# zip members and XML prologs


class _Member:
    """One zip member: its first bytes, the XML root element and any prolog danger.

    Read straight from the archive bytes (stored or deflated only; the directory check
    refused everything else): several times cheaper than ``ZipFile.open`` on small parts.
    CRCs are verified only when a reader takes the part (:meth:`raw`): a corrupt sheet makes
    the (isolated) reader fail, nothing worse.
    """

    __slots__ = ("complete", "content", "danger", "encoding", "head", "info", "root", "start")

    def __init__(self, data: bytes, info: zipfile.ZipInfo, whole: bool = False):
        self.info = info
        off = info.header_offset
        if data[off : off + 4] != _ZIP_MAGIC:
            raise zipfile.BadZipFile("no local header")
        n, e = struct.unpack_from("<HH", data, off + 26)
        local = data[off + 30 : off + 30 + n]
        codec = "ascii" if local.isascii() else "utf-8" if info.flag_bits & 0x800 else "cp437"
        if local.decode(codec, "replace") != info.orig_filename:
            raise _Smuggled(local.decode(codec, "replace"))
        self.start = off + 30 + n + e
        if self.start + info.compress_size > len(data):
            raise zipfile.BadZipFile("member runs past the end")
        # Parts read whole anyway (workbook, relationships) come in one piece; of the others
        # only the start, unless the root element does not begin inside it.
        size = _HEAD if whole else _SMALL_HEAD
        key = None
        if info.compress_size <= _SAME_HEAD:
            key = (
                info.compress_type,
                info.file_size,
                size,
                data[self.start : self.start + info.compress_size],
            )
            known = _HEADS.get(key)
            if known is not None:
                self.head, self.complete, self.encoding, self.danger, self.root = known
                self.content = self.head if self.complete else None
                return
        self.head = next(self._inflate(data, size), b"")
        if size < _HEAD and info.file_size > size and not _prolog_inside(self.head):
            size = _HEAD
            self.head = next(self._inflate(data, size), b"")
        self.complete = info.file_size <= size
        self.content: bytes | None = self.head if self.complete else None  # the whole part
        self.encoding, self.danger, self.root = _prolog(self.head, self.complete)
        if key is not None:
            _remember(
                _HEADS, key, (self.head, self.complete, self.encoding, self.danger, self.root)
            )

    def _inflate(self, data: bytes, size: int) -> Iterator[bytes]:
        info = self.info
        src = memoryview(data)[self.start : self.start + info.compress_size]
        if info.compress_type == zipfile.ZIP_STORED:
            for pos in range(0, min(len(src), info.file_size), size):
                yield bytes(src[pos : min(pos + size, info.file_size)])
            return
        inflater = zlib.decompressobj(-15)
        left, pos = info.file_size, 0
        pending: bytes | memoryview = b""
        # Input goes in slices so that the unconsumed tail zlib copies stays small.
        while left > 0 and not inflater.eof:
            if not pending:
                pending = src[pos : pos + _CHUNK]
                pos += len(pending)
                if not pending:
                    return  # truncated stream: the reader will say so
            out = inflater.decompress(pending, min(size, left))
            pending = inflater.unconsumed_tail
            if out:
                left -= len(out)
                yield out

    def inflated(self, data: bytes) -> bytes | None:
        """The whole part as stored, inflated in one piece (None above ``_WHOLE``: stream it)."""
        info = self.info
        if self.content is None and info.file_size <= _WHOLE:
            if info.compress_type == zipfile.ZIP_DEFLATED and info.compress_size <= _ONE_SHOT:
                # one call into an exactly sized buffer; unbounded, but deflate inflates at
                # most 1032-fold, so a part stored this small cannot become a bomb
                try:
                    src = memoryview(data)[self.start : self.start + info.compress_size]
                    self.content = zlib.decompress(src, -15, info.file_size)[: info.file_size]
                    return self.content
                except zlib.error:
                    pass  # truncated or damaged: inflate what there is, as below
            self.content = b"".join(self._inflate(data, _WHOLE))
        return self.content

    def chunks(self, data: bytes) -> Iterator[bytes]:
        """The member's content as UTF-8 bytes, in chunks."""
        content = self.inflated(data)
        if content is not None:
            yield _to_utf8(content, self.encoding)
            return
        dec = codecs.getincrementaldecoder(self.encoding)("replace") if self.encoding else None
        for chunk in self._inflate(data, _CHUNK):
            yield dec.decode(chunk).encode("utf-8") if dec else chunk
        if dec:
            yield dec.decode(b"", final=True).encode("utf-8")

    def whole(self, data: bytes) -> bytes:
        return b"".join(self.chunks(data))

    def raw(self, data: bytes) -> bytes:
        """The whole part as stored (no transcoding), its CRC checked."""
        info = self.info
        key = None
        if info.compress_size <= _SAME_PART and info.file_size <= _SAME_PART_INFLATED:
            stored = data[self.start : self.start + info.compress_size]
            key = (info.compress_type, info.file_size, info.CRC, stored)
            known = _PARTS.get(key)
            if known is not None:
                return known
        content = self.inflated(data)
        if content is None:
            content = b"".join(self._inflate(data, _CHUNK))
        if zlib.crc32(content) != info.CRC:
            raise zipfile.BadZipFile(f"bad CRC-32 for file {info.filename!r}")
        if key is not None:
            _remember(_PARTS, key, content)
        return content

    def release(self, keep: bool) -> None:
        """Drop what the check needed (and the content unless ``keep``) once it is done."""
        self.head = b""
        if not keep:
            self.content = None


_LOCAL = struct.Struct("<4s5H3L2H")  # zipfile.structFileHeader
_CENTRAL_OUT = struct.Struct("<4s6H3L5H2L")  # a central directory entry, as written here
_END = struct.Struct("<4s4H2LH")


# Parts no cell value depends on, which python-calamine would still parse (the theme, for
# the colours of the styles it is no longer given).
_NOT_FOR_READERS = ("docProps/", "xl/theme/")


def _slim_package(
    data: bytes, members: Mapping[str, _Member], unmeasured: frozenset[str]
) -> bytes | None:
    """The checked package rebuilt for a reader: every part but the sheets not measured and
    the document properties and theme, the parts the pre-check inflated stored as inflated
    (not inflated a second time), the others as they were compressed, the styles cut to the
    number formats (:func:`_cell_formats`). None when there are no members (not an OOXML package).

    A reader of this archive can open no part the pre-check did not measure, and reads the
    very bytes the pre-check scanned.
    """
    if not members:
        return None
    body: list[bytes] = []
    central: list[bytes] = []
    offset = 0
    for name, m in members.items():
        if name in unmeasured or name.startswith(_NOT_FOR_READERS):
            continue
        info = m.info
        content = m.content
        crc, full = info.CRC, info.file_size
        formats = _cell_formats(m, data) if name == _STYLES else None
        if formats is not None:
            method, payload, crc = zipfile.ZIP_STORED, formats[0], formats[1]
            full = len(payload)
        elif content is not None and len(content) == full:
            method, payload = zipfile.ZIP_STORED, content
        else:  # not inflated (or not whole): as stored in the input
            method = info.compress_type
            payload = data[m.start : m.start + info.compress_size]
        raw = name.encode()
        flags = 0 if raw.isascii() else 0x800
        size = len(payload)
        # flags, method, time, date (1980-01-01), CRC, sizes, name length
        common = (flags, method, 0, 0x21, crc, size, full, len(raw))
        body += (_LOCAL.pack(b"PK\x03\x04", 20, *common, 0), raw, payload)
        central.append(_CENTRAL_OUT.pack(b"PK\x01\x02", 20, 20, *common, 0, 0, 0, 0, 0, offset))
        central.append(raw)
        offset += _LOCAL.size + len(raw) + size
    count = len(central) // 2
    size = sum(map(len, central))
    central.append(_END.pack(b"PK\x05\x06", 0, 0, count, count, size, offset, 0))
    return b"".join(body + central)  # one copy of the parts: they can weigh megabytes


_STYLES = "xl/styles.xml"  # where python-calamine looks for the styles, whatever the rels say
_STYLE_SHEET = re.compile(
    rb'(\xef\xbb\xbf)?(<\?xml[^<>]*\?>)?\s*<styleSheet(?:\s+[\w.:-]+="[^"<>]*")*\s*>'
)
_NUM_FMTS = re.compile(rb"<numFmts\b[^<>]*/>|<numFmts\b[^<>]*>.*?</numFmts>", re.S)
_CELL_XFS = re.compile(rb"<cellXfs\b[^<>]*>(.*?)</cellXfs>", re.S)
_XF = re.compile(rb'<xf((?:\s+[\w.:-]+="[^"<>]*")*)\s*/?>')
_XF_FORMAT = re.compile(rb'\s(?:numFmtId|applyNumberFormat)="[^"]*"')  # what calamine reads
_XF_CHILD = re.compile(rb"</?(?:alignment|protection)\b[^<>]*>|</xf>|\s+")


def _cell_formats(member: _Member, data: bytes) -> tuple[bytes, int] | None:
    """``(part, CRC)``: the styles part cut to what python-calamine needs of it (the number
    formats and each cell style's format: dates are told from numbers by them; fonts, fills
    and borders cost it more to parse than the rest of the package), or None to hand on the
    part as it is.

    Only a plain part is cut (one ``numFmts`` and one ``cellXfs`` block, no prefixes,
    comments or CDATA, cell styles holding nothing but alignment or protection): the same
    cell styles at the same indexes, the same format codes, byte for byte.
    """
    info = member.info
    if info.file_size > _SAME_PART_INFLATED or info.compress_size > _SAME_PART:
        return None  # a template's styles are small; inflating a large one costs more
    try:
        raw = member.raw(data)
    except Exception:  # a damaged part: hand it on, the reader says what it finds
        return None
    return _formats_of_styles(raw)


@lru_cache(maxsize=8)  # the styles of a template are the same bytes file after file
def _formats_of_styles(raw: bytes) -> tuple[bytes, int] | None:
    root = _STYLE_SHEET.match(raw)
    if root is None or b"<!" in raw or raw.count(b"<cellXfs") != 1:
        return None
    if raw.count(b"<numFmts") > 1 or b":numFmt" in raw or b":cellXfs" in raw or b":xf" in raw:
        return None
    xfs = _CELL_XFS.search(raw)
    if xfs is None:
        return None
    body = xfs.group(1)
    tags = _XF.findall(body)
    if len(tags) != body.count(b"<xf") or _XF_CHILD.sub(b"", _XF.sub(b"", body)):
        return None  # something else among the cell styles: keep the part whole
    formats = _NUM_FMTS.search(raw)
    part = b"".join(
        [
            root.group(0),
            formats.group(0) if formats else b"",
            b'<cellXfs count="%d">' % len(tags),
            *(b"<xf%s/>" % b"".join(_XF_FORMAT.findall(attrs)) for attrs in tags),
            b"</cellXfs></styleSheet>",
        ]
    )
    return part, zlib.crc32(part)


# Reports of one campaign come from one template: most parts of a package (content types,
# relationships, styles, theme, the instructions sheet) are the same bytes in every file.
# What is derived from a part depends on its bytes alone, so it is kept by the part's
# stored bytes themselves (exact: no hash stands for the content), for small parts only.
_SAME_HEAD = 2 * 1024  # stored size of a part whose head and prolog are kept
_SAME_PART = 16 * 1024  # stored size of a part whose content readers take is kept …
_SAME_PART_INFLATED = 64 * 1024  # … when it inflates to no more than this
_SAME_ENTRIES = 64
_HEADS: dict[tuple, tuple] = {}
_PARTS: dict[tuple, bytes] = {}


def _remember(cache: dict, key: Any, value: Any) -> None:
    """Keep ``value`` under ``key``; a full cache starts over (a batch refills it at once)."""
    if len(cache) >= _SAME_ENTRIES:
        cache.clear()
    cache[key] = value


class _Smuggled(Exception):
    """A local header names its member differently from the central directory."""


def _to_utf8(raw: bytes, encoding: str | None) -> bytes:
    return raw.decode(encoding, "replace").encode("utf-8") if encoding else raw


_ALLOWED_ENCODINGS = re.compile(
    rb"(?i)(utf-?8|utf-?16(le|be)?|(us-)?ascii|latin-?1|iso-?8859-\d+|(windows|cp)-?125\d)"
)
_XML_DECL_ENCODING = re.compile(rb"""<\?xml[^>]*?\sencoding\s*=\s*["']([^"']*)["']""")
_PLAIN_PROLOG = re.compile(
    rb"(?:<\?xml\s[^<>]*\?>)?[ \t\r\n]*<(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)"
)
_ROOT = re.compile(rb"<(?:[\w.-]+:)?([\w.-]+)")


def _prolog_inside(head: bytes) -> bool:
    """Whether the usual prolog and the whole root element name are inside ``head``: then
    more bytes cannot change what :func:`_prolog` says."""
    fast = _PLAIN_PROLOG.match(head)
    return fast is not None and fast.end() < len(head)


def _prolog(head: bytes, complete: bool) -> tuple[str | None, str | None, str | None]:
    """``(encoding, danger, root)`` of a member's first bytes.

    ``encoding`` is set for UTF-16 parts (None: bytes are ASCII-compatible); ``danger``
    names what makes the part refused (a DTD, an exotic encoding, a prolog too long to
    check); ``root`` is the local name of the root element (None for non-XML parts).
    """
    fast = _PLAIN_PROLOG.match(head)  # "<?xml …?>" then the root: nearly every real part
    if fast:
        decl = _XML_DECL_ENCODING.match(fast.group(0))
        if decl and not _ALLOWED_ENCODINGS.fullmatch(decl.group(1)):
            return None, f"bảng mã XML lạ “{decl.group(1).decode('ascii', 'replace')}”", None
        return None, None, fast.group(1).decode("ascii")
    b = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    first = b[:4]
    if first in (b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00", b"\x00\x00\x00<", b"<\x00\x00\x00"):
        return None, "bảng mã UTF-32", None
    if first == b"\x4c\x6f\xa7\x94":
        return None, "bảng mã EBCDIC", None
    encoding = None
    if first[:2] in (b"\xff\xfe", b"<\x00"):
        encoding = "utf-16-le"
    elif first[:2] in (b"\xfe\xff", b"\x00<"):
        encoding = "utf-16-be"
    if encoding:
        if first[:2] in (b"\xff\xfe", b"\xfe\xff"):
            b = b[2:]
        b = b[: len(b) // 2 * 2].decode(encoding, "replace").encode("utf-8")
    s = b.lstrip()
    if not s.startswith(b"<"):
        return encoding, None, None  # not XML (images, vbaProject.bin, mimetype …)
    decl = _XML_DECL_ENCODING.match(s)
    if decl and not _ALLOWED_ENCODINGS.fullmatch(decl.group(1)):
        name = decl.group(1).decode("ascii", "replace")
        return encoding, f"bảng mã XML lạ “{name}”", None
    pos = 0
    while True:
        while pos < len(s) and s[pos] in b" \t\r\n":
            pos += 1
        if s.startswith(b"<?", pos):
            end = s.find(b"?>", pos)
            pos = -1 if end < 0 else end + 2
        elif s.startswith(b"<!--", pos):
            end = s.find(b"-->", pos + 4)
            pos = -1 if end < 0 else end + 3
        elif s.startswith(b"<!", pos):
            # A DTD (and with it any entity) can only sit here, before the root element;
            # after it, every parser rejects the part anyway.
            word = s[pos + 2 : pos + 9].upper()
            for what in (b"DOCTYPE", b"ENTITY"):
                if word.startswith(what):
                    return encoding, f"khai báo {what.decode()}", None
            return encoding, "khai báo XML bất thường", None
        elif s.startswith(b"<", pos):
            m = _ROOT.match(s, pos)
            return encoding, None, m.group(1).decode("ascii", "replace") if m else None
        else:
            return encoding, None, None  # text before the root: not well-formed, not ours
        if pos < 0:
            # The prolog runs past what was read: a DTD could hide behind it.
            return encoding, None if complete else "phần mở đầu XML quá dài", None


# --------------------------------------------------------------------------------------
# package structure


_SHEET_REL_TYPES = {"worksheet", "dialogsheet", "macrosheet", "xlmacrosheet", "xlintlmacrosheet"}
_SHEET_PATH = re.compile(r"(?i)(^|/)(worksheets|dialogsheets|macrosheets)/[^/]+$")


@lru_cache(maxsize=1024)
def _sheet_path(name: str) -> bool:
    """Whether a part is stored where sheets live (names repeat from file to file)."""
    return _SHEET_PATH.search(name) is not None


# Possessive: a tag's attributes split one way only, and an unclosed tag fails in linear time.
_TAG_ATTRS = rb"""((?:[^>"']++|"[^"]*+"|'[^']*+')*+)"""
_RELATIONSHIP = re.compile(rb"<(?:[\w.-]+:)?Relationship(?=[\s/>])" + _TAG_ATTRS + rb">")
_SHEET_TAG = re.compile(rb"<(?:[\w.-]+:)?sheet(?=[\s/>])" + _TAG_ATTRS + rb">")
_ATTR = re.compile(rb"""(?:^|\s)([\w.:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_CONTENT_TYPE = re.compile(rb"""ContentType\s*=\s*["']([^"']+)["']""")
_ODF_KINDS = {
    b"application/vnd.oasis.opendocument.text": "văn bản OpenDocument (.odt)",
    b"application/vnd.oasis.opendocument.presentation": "bản trình chiếu OpenDocument (.odp)",
}


def _attrs(raw: bytes, *names: bytes) -> dict[bytes, str]:
    """The named attributes of a tag (any prefix), decoded and unescaped."""
    out = {}
    for key, v1, v2 in _ATTR.findall(raw):
        local = key.rpartition(b":")[2]
        if local in names:
            value = v1 or v2
            text = value.decode("utf-8", "replace")
            out[local] = html.unescape(text) if b"&" in value else text
    return out


def _relationships(rels_name: str, raw: bytes) -> list[tuple[str, str, str]]:
    """``(id, target part name, last segment of the type in lower case)`` of a .rels part."""
    if len(raw) <= _SAME_HEAD * 8:
        return list(_relationships_of_small_part(rels_name, raw))
    return _read_relationships(rels_name, raw)


@lru_cache(maxsize=_SAME_ENTRIES)
def _relationships_of_small_part(rels_name: str, raw: bytes) -> tuple[tuple[str, str, str], ...]:
    return tuple(_read_relationships(rels_name, raw))


def _read_relationships(rels_name: str, raw: bytes) -> list[tuple[str, str, str]]:
    base = posixpath.dirname(posixpath.dirname(rels_name))
    out = []
    for m in _RELATIONSHIP.finditer(raw):
        a = _attrs(m.group(1), b"Id", b"Type", b"Target", b"TargetMode")
        if b"Target" not in a or a.get(b"TargetMode", "").lower() == "external":
            continue
        kind = a.get(b"Type", "").rsplit("/", 1)[-1].lower()
        out.append((a.get(b"Id", ""), _resolve(base, a[b"Target"]), kind))
    return out


@lru_cache(maxsize=256)
def _resolve(base: str, target: str) -> str:
    if "." not in target.rpartition("/")[0] and "\\" not in target and target[:1] != "/":
        return f"{base}/{target}" if base else target  # the usual "worksheets/sheet1.xml"
    target = target.replace("\\", "/")
    path = target.lstrip("/") if target.startswith("/") else posixpath.join(base, target)
    return posixpath.normpath(path).lstrip("/")


def _rels_path(part: str) -> str:
    head, tail = posixpath.split(part)
    return posixpath.join(head, "_rels", tail + ".rels")


def _read_whole(name: str) -> bool:
    """Whether the pre-check parses this part whole (package structure, workbook part)."""
    return name.endswith(".rels") or name in ("[Content_Types].xml", "mimetype", "xl/workbook.xml")


_WORKBOOK = "xl/workbook.xml"
_WORKBOOK_RELS = "xl/_rels/workbook.xml.rels"
# "sheet" first: a literal start makes the search fast; the character before is checked after
_ANY_SHEET_TAG = re.compile(rb"sheet(?=[\s/>])")
_ANY_RELATIONSHIP_TAG = re.compile(rb"Relationship(?=[\s/>])")


def _tags_named(pattern: re.Pattern[bytes], raw: bytes) -> int:
    """How many ``<name`` or ``<prefix:name`` tags (open or close with a prefix) ``raw`` holds."""
    return sum(1 for m in pattern.finditer(raw) if m.start() and raw[m.start() - 1] in b"<:")


_PLAIN_PART = re.compile(r"xl/[A-Za-z0-9_-][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_-][A-Za-z0-9_.-]*)+")


_PLAIN_ATTRS = re.compile(rb'(?:\s++[\w.:-]++="[^"&<]*+")*+\s*+/?')
_PLAIN_ATTR = re.compile(rb'([\w.:-]+)="([^"]*)"')


def _plain_attrs(raw: bytes) -> dict[bytes, bytes] | None:
    """The attributes of a tag, if every reader reads them alike: ``name="value"`` pairs
    (double quotes, no character reference), no name twice with or without a prefix.
    Else None."""
    if len(raw) <= 512:  # the tags of a template repeat from file to file
        found = _plain_attrs_of_small_tag(raw)
        return None if found is None else dict(found)
    return _read_plain_attrs(raw)


@lru_cache(maxsize=256)
def _plain_attrs_of_small_tag(raw: bytes) -> tuple[tuple[bytes, bytes], ...] | None:
    found = _read_plain_attrs(raw)
    return None if found is None else tuple(found.items())


def _read_plain_attrs(raw: bytes) -> dict[bytes, bytes] | None:
    if not _PLAIN_ATTRS.fullmatch(raw):
        return None
    pairs = _PLAIN_ATTR.findall(raw)
    if len(pairs) != len({key.rpartition(b":")[2] for key, _v in pairs}):
        return None
    return dict(pairs)


@lru_cache(maxsize=_SAME_ENTRIES)
def _plain_targets(raw: bytes) -> dict[bytes, str] | None:
    return _read_plain_targets(raw)


def _read_plain_targets(raw: bytes) -> dict[bytes, str] | None:
    """Relationship id → target of a plain workbook relationships part (else None)."""
    tags = _RELATIONSHIP.findall(raw)
    if len(tags) != _tags_named(_ANY_RELATIONSHIP_TAG, raw):
        return None
    targets: dict[bytes, str] = {}
    for tag in tags:
        a = _plain_attrs(tag)
        if a is None or b"Id" not in a or b"Target" not in a or a[b"Id"] in targets:
            return None
        if b"TargetMode" in a:
            return None
        targets[a[b"Id"]] = a[b"Target"].decode("ascii", "replace")
    return targets


def _plain_sheets(
    data: bytes, members: dict[str, _Member], rels: dict[str, list[tuple[str, str, str]]]
) -> dict[str, str] | None:
    """Sheet name → sheet part, when no reader can map a sheet name to another part.

    That holds for what Excel, LibreOffice and openpyxl write: one workbook part at
    ``xl/workbook.xml``, plain ``<sheet name="…" r:id="…">`` and ``<Relationship Id="…"
    Target="…">`` tags, unique names, targets that resolve to an existing part the same way
    however a reader joins them (python-calamine prefixes "xl/", the package rules resolve
    against "xl/"). Anything else gives None, and then every sheet is measured.
    """
    office = [t for _i, t, typ in rels.get("_rels/.rels", []) if typ == "officedocument"]
    book, book_rels = members.get(_WORKBOOK), members.get(_WORKBOOK_RELS)
    if office != [_WORKBOOK] or book is None or book_rels is None:
        return None
    raw = book_rels.whole(data)
    targets = _plain_targets(raw) if len(raw) <= _SAME_HEAD * 8 else _read_plain_targets(raw)
    if targets is None:
        return None
    raw = book.whole(data)
    tags = _SHEET_TAG.findall(raw)
    if len(tags) != _tags_named(_ANY_SHEET_TAG, raw):
        return None
    out: dict[str, str] = {}
    folded: set[str] = set()
    for tag in tags:
        a = _plain_attrs(tag)
        if a is None or b"name" not in a:
            return None
        rid = a.get(b"r:id", a.get(b"relationships:id"))
        if rid is None or sum(k.rpartition(b":")[2] == b"id" for k in a) != 1:
            return None
        target = targets.get(rid)
        if target is None:
            return None
        # python-calamine's join, then the package's: they must agree
        if target.startswith("/xl/"):
            part = target[1:]
        elif target.startswith("xl/"):
            part = target
        else:
            part = f"xl/{target}"
        if not _PLAIN_PART.fullmatch(part) or part != _resolve("xl", target):
            return None
        if part not in members:
            return None
        try:
            name = a[b"name"].decode("utf-8")
        except UnicodeDecodeError:
            return None
        if "\t" in name or "\n" in name or "\r" in name:
            return None  # an XML parser may turn these into spaces: another sheet's name
        if name.casefold() in folded:
            return None
        folded.add(name.casefold())
        out[name] = part
    return out


def _workbook_sheets(raw: bytes) -> list[tuple[str, str]]:
    """``(sheet name, relationship id)`` of every ``<sheet>`` in a workbook part."""
    out = []
    for m in _SHEET_TAG.finditer(raw):
        a = _attrs(m.group(1), b"name", b"id")
        out.append((a.get(b"name", ""), a.get(b"id", "")))
    return out


_MACRO_BOOKS = (b"sheet", b"template", b"addin")


def _kind_from_content_types(raw: bytes) -> tuple[Kind | None, str | None]:
    """The workbook kind, or a description of what else the package is."""
    if len(raw) <= _SAME_HEAD * 8:
        return _kind_of_small_content_types(raw)
    return _read_kind(raw)


@lru_cache(maxsize=_SAME_ENTRIES)
def _kind_of_small_content_types(raw: bytes) -> tuple[Kind | None, str | None]:
    return _read_kind(raw)


def _read_kind(raw: bytes) -> tuple[Kind | None, str | None]:
    types = b" ".join(_CONTENT_TYPE.findall(raw)).lower()
    if b"ms-excel.sheet.binary.macroenabled.main" in types:
        return None, ".xlsb (bảng tính nhị phân)"
    if any(b"ms-excel." + t + b".macroenabled.main+xml" in types for t in _MACRO_BOOKS):
        return "xlsm", None
    if b"spreadsheetml.sheet.main+xml" in types or b"spreadsheetml.template.main+xml" in types:
        return "xlsx", None
    if b"wordprocessingml" in types:
        return None, "tài liệu Word (.docx)"
    if b"presentationml" in types:
        return None, "bản trình chiếu PowerPoint (.pptx)"
    return None, None


def _has_vba_project(names: Iterable[str]) -> bool:
    """Whether a part is named vbaProject.bin (any case, any folder)."""
    names = list(names)
    if "vbaproject.bin" not in "\n".join(names).lower():  # one pass over the names
        return False
    return any(n.rpartition("/")[2].lower() == "vbaproject.bin" for n in names)


def _kind_from_names(names: set[str]) -> Kind:
    if "mimetype" in names and "content.xml" in names:
        return "ods"
    if _has_vba_project(names):
        return "xlsm"
    if any(n.startswith("xl/") for n in names):
        return "xlsx"
    return "unknown"


def _kind_from_magic(data: bytes) -> Kind:
    if data.startswith(_ZIP_MAGIC):
        return "xlsx"
    if data.startswith(_OLE_MAGIC):
        return "xls"
    return "unknown"


def _bad_member_name(name: str) -> bool:
    if not name or name.startswith("/") or "\\" in name or "\x00" in name:
        return True
    if len(name) > 1 and name[1] == ":" and name[0].isalpha():
        return True
    return ".." in name and ".." in name.split("/")


class _Entry:
    """A central directory entry, with the ``zipfile.ZipInfo`` attributes the checks use."""

    __slots__ = (
        "CRC",
        "compress_size",
        "compress_type",
        "file_size",
        "filename",
        "flag_bits",
        "header_offset",
        "orig_filename",
    )

    def is_dir(self) -> bool:
        return self.filename[-1:] == "/"


_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")  # zipfile.structCentralDir


def _plain_directory(data: bytes) -> list[_Entry] | None:
    """The central directory of a plain archive, read the way ``zipfile`` reads it.

    Plain: the end record is the last 22 bytes (no archive comment, no ZIP64), nothing is
    prepended, no entry has an extra field, a comment or a NUL in its name. What Excel,
    LibreOffice and openpyxl write; anything else gives None (let zipfile read it).
    """
    end = len(data) - 22
    if end < 0 or data[end : end + 4] != b"PK\x05\x06":
        return None
    if end >= 20 and data[end - 20 : end - 16] == b"PK\x06\x07":
        return None  # a ZIP64 locator: zipfile would read the ZIP64 record instead
    disk, cd_disk, on_disk, count, size_cd, offset_cd, comment = struct.unpack_from(
        "<4H2LH", data, end + 4
    )
    if disk or cd_disk or on_disk != count or comment or offset_cd + size_cd != end:
        return None
    out = []
    pos, stop = offset_cd, end
    while pos < stop:
        if pos + 46 > stop:
            return None
        cd = _CENTRAL.unpack_from(data, pos)
        if cd[0] != b"PK\x01\x02" or cd[3] > 63 or cd[13] or cd[14]:  # version, extra, comment
            return None
        name_end = pos + 46 + cd[12]
        raw = data[pos + 46 : name_end]
        if name_end > stop or b"\x00" in raw:
            return None
        entry = _Entry()
        entry.flag_bits, entry.compress_type = cd[5], cd[6]
        try:
            name = raw.decode("utf-8" if cd[5] & 0x800 else "cp437")
        except UnicodeDecodeError:
            return None
        entry.filename = entry.orig_filename = name
        entry.CRC, entry.compress_size, entry.file_size = cd[9], cd[10], cd[11]
        entry.header_offset = cd[18]
        out.append(entry)
        pos = name_end
    return out if pos == stop else None


def _eocd_entries(data: bytes) -> int | None:
    """The member count the end-of-central-directory record declares (None if not found)."""
    pos = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if pos < 0 or pos + 22 > len(data):
        return None
    count = struct.unpack_from("<H", data, pos + 10)[0]
    if count == 0xFFFF and pos >= 20 and data[pos - 20 : pos - 16] == b"PK\x06\x07":
        z64 = struct.unpack_from("<Q", data, pos - 12)[0]
        if z64 + 40 <= len(data) and data[z64 : z64 + 4] == b"PK\x06\x06":
            count = struct.unpack_from("<Q", data, z64 + 32)[0]
    return count


# --------------------------------------------------------------------------------------
# the real extent of a sheet


@dataclass(slots=True)
class _Extent:
    max_row: int = 0
    max_col: int = 0
    over: tuple[str, str] | None = None  # (settings field, offending cell)


def _col_number(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ch - 64
    return n


class _Limits:
    __slots__ = ("cells", "cols", "rows")

    def __init__(self, s: Settings):
        self.rows, self.cols, self.cells = s.max_rows, s.max_cols, s.max_cells

    def over(self, row: int, col: int) -> str | None:
        if row > self.rows:
            return "max_rows"
        if col > self.cols:
            return "max_cols"
        if row * col > self.cells:
            return "max_cells"
        return None


# Excel and every writer we know put r first: <c r="B7" s="1" t="s">. A buffer where every
# cell tag has that shape takes the fast path (no Python step per cell). One pass finds every
# cell tag: the usual shape gives its reference, any other b"".
_C_TAG = re.compile(rb'<c(?: r="([A-Z]{1,3}[0-9]{1,7})"|[\s/>])')
_LETTERS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DIGITS = b"0123456789"
_C_PREFIXED = re.compile(rb":c[\s/>]")  # <x:c …>: cells of a prefixed namespace
_XTAG = re.compile(rb"<(/?)(?:[\w.-]+:)?(row|c)(?=[\s/>])" + _TAG_ATTRS + rb">")
_ATTR_R = re.compile(rb"""(?:^|\s)r\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_REF = re.compile(rb"\s*\$?([A-Za-z]{1,9})\$?([0-9]{1,15})\s*")


def _buffers(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Chunks re-cut so that no tag straddles two buffers (a tag never contains ``<``)."""
    carry = b""
    for chunk in chunks:
        buf = carry + chunk
        cut = buf.rfind(b"<")
        if cut <= 0:
            carry = buf
            continue
        carry = buf[cut:]
        yield buf[:cut]
    if carry:
        yield carry


def _scan_cells(member: _Member, data: bytes, s: Settings) -> _Extent:
    """Max row/col over every cell tag of a sheet part; stops at the first cell over a limit."""
    limits = _Limits(s)
    ext = _Extent()
    content = member.inflated(data)
    # a part inflated whole is one buffer: no tag can straddle two
    bufs = _buffers(member.chunks(data)) if content is None else member.chunks(data)
    for buf in bufs:
        refs = _C_TAG.findall(buf)
        # every cell tag of the usual shape (an other one gives b""), none prefixed: else
        # cell by cell
        if b"" in refs or _C_PREFIXED.search(buf):
            return _scan_cells_slow(member, data, limits)
        if not refs:
            continue
        row, col = _farthest(refs)
        row, col = max(ext.max_row, row), max(ext.max_col, col)
        ext.max_row, ext.max_col = row, col
        limit = limits.over(row, col)
        if limit:
            for ref in refs:  # the first real cell that crosses the limit
                letters = ref.rstrip(_DIGITS)
                r, c = int(ref[len(letters) :]), _col_number(letters)
                if limits.over(r, c) == limit or (limit == "max_cells" and (r == row or c == col)):
                    ext.over = (limit, ref.decode())
                    return ext
    return ext


def _farthest(refs: list[bytes]) -> tuple[int, int]:
    """The largest row and column among cell references ("A1", "F17" …), without a Python
    step per cell: "A1 F1 A2 …" is split into rows and columns by ``bytes.translate``."""
    joined = b" ".join(refs)
    row = max(map(int, set(joined.translate(None, _LETTERS).split())))
    columns = joined.translate(None, _DIGITS)
    if len(columns) - columns.count(b" ") == len(refs):  # one letter each: the last there
        return row, next(26 - i for i, ch in enumerate(_LETTERS_DOWN) if ch in columns)
    return row, _col_number(max(set(columns.split()), key=lambda c: (len(c), c)))


_LETTERS_DOWN = [bytes([c]) for c in reversed(_LETTERS)]


def _scan_cells_slow(member: _Member, data: bytes, limits: _Limits) -> _Extent:
    """Cell by cell, for cells without ``r`` (position implied) or with unusual references."""
    ext = _Extent()
    row = col = 0
    for buf in _buffers(member.chunks(data)):
        for closing, tag, attrs in _XTAG.findall(buf):
            if closing:
                continue
            m = _ATTR_R.search(attrs)
            ref = _unescape(m.group(1) or m.group(2)) if m else None
            if tag == b"row":
                number = _number(ref)
                row = row + 1 if number is None else number
                col = 0
                continue
            parsed = _REF.fullmatch(ref) if ref else None
            if parsed:
                col, row = _col_number(parsed.group(1)), int(parsed.group(2))
            else:
                col += 1
                row = max(row, 1)
            if row > ext.max_row:
                ext.max_row = row
            if col > ext.max_col:
                ext.max_col = col
            limit = limits.over(ext.max_row, ext.max_col)
            if limit:
                ext.over = (limit, f"{col_letter(col)}{row}")
                return ext
    return ext


_OTAG = re.compile(
    rb"<(/?)(?:[\w.-]+:)?(table-row|table-cell|covered-table-cell|table)(?=[\s/>])"
    + _TAG_ATTRS
    + rb">"
)


def _ods_attr(attrs: bytes, local: bytes) -> bytes | None:
    m = re.search(rb"(?:^|\s)(?:[\w.-]+:)?" + local + rb"""\s*=\s*(?:"([^"]*)"|'([^']*)')""", attrs)
    return _unescape(m.group(1) or m.group(2)) if m else None


def _repeat(attrs: bytes, local: bytes) -> int:
    number = _number(_ods_attr(attrs, local))
    return 1 if number is None else number


def _unescape(value: bytes) -> bytes:
    """Attribute text as a parser sees it: ``&#88;FD1`` is ``XFD1``."""
    return html.unescape(value.decode("utf-8", "replace")).encode() if b"&" in value else value


_NUMBER = re.compile(rb"\s*\+?([0-9]{1,18})\s*")


def _number(value: bytes | None) -> int | None:
    m = _NUMBER.fullmatch(value) if value else None
    return int(m.group(1)) if m else None


def _scan_ods(member: _Member, data: bytes, s: Settings) -> list[tuple[str, _Extent]]:
    """Real extent of each table in content.xml: the farthest non-empty cell.

    Repeats count: LibreOffice pads every sheet with empty rows repeated to row 1048576,
    which readers skip, but a non-empty cell repeated a million times is a million cells.
    """
    limits = _Limits(s)
    sheets: list[tuple[str, _Extent]] = []
    ext: _Extent | None = None
    depth = row = col = 0
    for buf in _buffers(member.chunks(data)):
        for closing, tag, attrs in _OTAG.findall(buf):
            if tag == b"table":
                if closing:
                    depth = max(depth - 1, 0)
                    continue
                depth += 1
                if depth == 1:
                    name = _ods_attr(attrs, b"name") or f"Sheet{len(sheets) + 1}".encode()
                    ext = _Extent()
                    sheets.append((html.unescape(name.decode("utf-8", "replace")), ext))
                    if len(sheets) > s.max_sheets:
                        return sheets
                    row = col = 0
                if attrs.endswith(b"/"):
                    depth -= 1
                continue
            if closing or ext is None:
                continue
            if tag == b"table-row":
                row += _repeat(attrs, b"number-rows-repeated")
                col = 0
                continue
            col += _repeat(attrs, b"number-columns-repeated")
            empty = attrs.endswith(b"/") and _ods_attr(attrs, b"value-type") is None
            if empty or ext.over:
                continue
            ext.max_row = max(ext.max_row, row)
            ext.max_col = max(ext.max_col, col)
            limit = limits.over(ext.max_row, ext.max_col)
            if limit:
                ext.over = (limit, f"{col_letter(col)}{row}")
    return sheets


# BIFF8 cell records whose body starts with (row, col); MULRK/MULBLANK end with the last col.
_BIFF_CELLS = {0x0006, 0x00FD, 0x0203, 0x027E, 0x0201, 0x0205, 0x0204, 0x00D6}
_BIFF_MULTI = {0x00BD, 0x00BE}
_BOF, _EOF, _BOUNDSHEET, _FILEPASS = 0x0809, 0x000A, 0x0085, 0x002F


@dataclass(slots=True)
class _Biff:
    encrypted: bool = False
    sheets: list[tuple[str, _Extent]] = field(default_factory=list)


def _scan_biff(stream: bytes, s: Settings) -> _Biff:
    """Sheet names, encryption and real extents from an .xls Workbook stream."""
    limits = _Limits(s)
    out = _Biff()
    names: dict[int, str] = {}
    ext: _Extent | None = None
    pos, end, depth = 0, len(stream), 0
    while pos + 4 <= end:
        rtype, size = struct.unpack_from("<HH", stream, pos)
        body = pos + 4
        pos = body + size
        if rtype == _BOF:
            depth += 1
            if depth == 1 and (body - 4) in names:
                ext = _Extent()
                out.sheets.append((names[body - 4], ext))
        elif rtype == _EOF:
            depth = max(depth - 1, 0)
            if depth == 0:
                ext = None
        elif rtype == _FILEPASS and not out.sheets:
            out.encrypted = True
            return out
        elif rtype == _BOUNDSHEET and size >= 8:
            offset = struct.unpack_from("<I", stream, body)[0]
            names[offset] = _biff_sheet_name(stream[body + 6 : body + size])
            if len(names) > s.max_sheets:
                out.sheets = [(n, _Extent()) for n in names.values()]
                return out
        elif ext is not None and size >= 4 and (rtype in _BIFF_CELLS or rtype in _BIFF_MULTI):
            r, c = struct.unpack_from("<HH", stream, body)
            if rtype in _BIFF_MULTI and size >= 6:
                c = struct.unpack_from("<H", stream, body + size - 2)[0]
            r, c = r + 1, c + 1
            if r > ext.max_row or c > ext.max_col:
                ext.max_row, ext.max_col = max(ext.max_row, r), max(ext.max_col, c)
                limit = limits.over(ext.max_row, ext.max_col) if ext.over is None else None
                if limit:
                    ext.over = (limit, f"{col_letter(c)}{r}")
    return out


def _biff_sheet_name(raw: bytes) -> str:
    if len(raw) < 2:
        return ""
    count, flags = raw[0], raw[1]
    if flags & 0x01:
        return raw[2 : 2 + 2 * count].decode("utf-16-le", "replace")
    return raw[2 : 2 + count].decode("latin-1")


# --------------------------------------------------------------------------------------
# describing what a non-workbook is


_MAGIC_DESCRIPTIONS = [
    (b"%PDF", "tài liệu PDF"),
    (b"{\\rtf", "văn bản RTF"),
    (b"PK\x05\x06", "tệp nén ZIP rỗng"),
    (b"PK\x07\x08", "tệp nén ZIP nhiều phần"),
    (b"Rar!", "tệp nén RAR"),
    (b"7z\xbc\xaf\x27\x1c", "tệp nén 7-Zip"),
    (b"\x1f\x8b", "tệp nén GZIP"),
    (b"\x89PNG", "ảnh PNG"),
    (b"\xff\xd8\xff", "ảnh JPEG"),
    (b"GIF8", "ảnh GIF"),
    (b"MZ", "chương trình Windows (.exe)"),
    (b"\x7fELF", "chương trình Linux"),
]


def _describe(data: bytes) -> str:
    """What a file that is not a workbook looks like, in Vietnamese, for ``file_not_workbook``."""
    if not data:
        return "tệp rỗng (0 byte)"
    for magic, what in _MAGIC_DESCRIPTIONS:
        if data.startswith(magic):
            return what
    head = data[:4096]
    for bom, enc in (
        (b"\xef\xbb\xbf", "utf-8"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\xfe\xff", "utf-16-be"),
    ):
        if head.startswith(bom):
            text = head[len(bom) :].decode(enc, "replace")
            break
    else:
        if b"\x00" in head:
            return "dữ liệu nhị phân không rõ định dạng"
        text = head.decode("utf-8", "replace")
    low = text.lstrip().lower()
    if "urn:schemas-microsoft-com:office:spreadsheet" in low:
        return "bảng tính XML 2003 (SpreadsheetML), không phải .xlsx"
    if low.startswith(("<!doctype html", "<html")) or "<html" in low or "<table" in low:
        return "trang web HTML (có thể là tệp .xls giả do phần mềm khác xuất ra)"
    if low.startswith("<?xml") or low.startswith("<"):
        return "tệp XML"
    if text.count("\ufffd") > len(text) // 20:
        return "dữ liệu nhị phân không rõ định dạng"
    lines = [ln for ln in text.splitlines()[:5] if ln.strip()]
    for sep in (",", ";", "\t"):
        if len(lines) >= 2 and all(ln.count(sep) >= 1 for ln in lines):
            return "văn bản dạng CSV"
    return "văn bản thuần"
