"""Number, yes/no and date rules for what clerks type into cells.

Vietnamese conventions: "." groups thousands, "," marks decimals, dates are day first.
``float("1.234")`` gives 1.234 where a clerk meant 1234, so text goes through explicit
rules here, never through ``float()`` alone. Nothing here raises on user data: the result
says what was found and the caller turns it into a finding.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any, Literal

from logic.text import clean_text, fold

__all__ = [
    "NumberKind",
    "Parsed",
    "ParsedYesNo",
    "format_percent",
    "format_vn",
    "is_integral",
    "parse_date",
    "parse_number",
    "parse_yes_no",
]

NumberKind = Literal[
    "empty", "number", "text_number", "percent", "ambiguous", "not_number", "error"
]


@dataclass(frozen=True, slots=True)
class Parsed:
    """What a cell value says as a number.

    ``kind``:

    - ``empty``: nothing (None, blank text, or a lone dash "-", "–", "—", which clerks
      type for "nothing"; the caller decides whether empty means 0 or missing);
    - ``number``: a real number from the cell (``number`` holds it);
    - ``text_number``: text that reads as one number ("1.234", "12,5", "'123");
    - ``percent``: text with "%" ("80,5%" → 0.805);
    - ``ambiguous``: text with two readings ("1,234" is 1.234 or 1234): ``number`` is
      None and ``alternatives`` holds both, smaller first;
    - ``not_number``: anything else (words, booleans, dates, "x", "không");
    - ``error``: an Excel error value ("#DIV/0!", "#N/A" …).

    ``raw`` is the value as given.
    """

    number: float | None
    kind: NumberKind
    alternatives: tuple[float, float] | None = None
    raw: Any = None

    @property
    def ok(self) -> bool:
        """True when ``number`` holds a usable value."""
        return self.number is not None


EXCEL_ERRORS = frozenset(
    {
        "#NULL!",
        "#DIV/0!",
        "#VALUE!",
        "#REF!",
        "#NAME?",
        "#NUM!",
        "#N/A",
        "#GETTING_DATA",
        "#SPILL!",
        "#CALC!",
        "#FIELD!",
        "#BLOCKED!",
        "#CONNECT!",
        "#BUSY!",
        "#UNKNOWN!",
        "#EXTERNAL!",
        "#PYTHON!",
    }
)
_DASHES = frozenset({"-", "–", "—", "−", "--", "---"})
_MINUS = "-−–"  # hyphen-minus, minus sign (U+2212), en dash used as minus
_DIGITS = re.compile(r"[0-9]+")
_BODY = re.compile(r"[0-9., ]+")


def _grouped(text: str, sep: str) -> bool:
    """True when ``text`` is digits grouped by threes with ``sep`` ("1.234.567")."""
    parts = text.split(sep)
    return (
        1 <= len(parts[0]) <= 3
        and all(p.isdigit() and p.isascii() for p in parts)
        and all(len(p) == 3 for p in parts[1:])
    )


def _decimal(int_part: str, frac_part: str) -> float:
    return float(f"{int_part or '0'}.{frac_part}")


def _parse_body(body: str) -> tuple[float | None, tuple[float, float] | None]:
    """Read unsigned digits with separators; (number, None), (None, alternatives) or (None, None)."""
    if not _BODY.fullmatch(body) or not any(c.isdigit() for c in body):
        return None, None
    if " " in body:
        # Space groups thousands; what follows the last group may be a decimal part.
        head, sep, frac = body.rpartition(",") if "," in body else body.rpartition(".")
        if not sep:
            head, frac = body, ""
        if "." in head or "," in head or not _grouped(head, " "):
            return None, None
        if sep and not _DIGITS.fullmatch(frac):
            return None, None
        return (
            _decimal(head.replace(" ", ""), frac) if sep else float(head.replace(" ", ""))
        ), None
    dots, commas = body.count("."), body.count(",")
    if dots and commas:
        # Both: the last one is the decimal mark ("1.234,5" or "1,234.5").
        dec = "," if body.rfind(",") > body.rfind(".") else "."
        thousands = "." if dec == "," else ","
        head, _, frac = body.rpartition(dec)
        if body.count(dec) != 1 or not _grouped(head, thousands) or not _DIGITS.fullmatch(frac):
            return None, None
        return _decimal(head.replace(thousands, ""), frac), None
    if dots + commas == 0:
        return float(body), None
    sep = "." if dots else ","
    if dots + commas > 1:
        # Several of one kind can only group thousands ("1.234.567", "1,234,567").
        if not _grouped(body, sep):
            return None, None
        return float(body.replace(sep, "")), None
    head, _, frac = body.partition(sep)
    if not _DIGITS.fullmatch(frac) or (head and not _DIGITS.fullmatch(head)):
        return None, None
    grouping = len(frac) == 3 and 1 <= len(head) <= 3 and head.lstrip("0") != ""
    if not grouping:
        return _decimal(head, frac), None  # "12,5", "12.5", "0,125", ",5"
    if sep == ".":
        return float(head + frac), None  # "1.234": Vietnamese thousands
    # "1,234": a decimal comma (Vietnamese) or a thousands comma (English Excel).
    return None, (_decimal(head, frac), float(head + frac))


def _parse_text(raw: Any, text: str) -> Parsed:
    text = clean_text(text)
    if not text:
        return Parsed(None, "empty", raw=raw)
    if text in _DASHES:
        return Parsed(None, "empty", raw=raw)
    if text.upper() in EXCEL_ERRORS:
        return Parsed(None, "error", raw=raw)
    if text.startswith("'"):
        text = text[1:].strip()
    percent = text.endswith("%")
    if percent:
        text = text[:-1].rstrip()
    negative = False
    if text.startswith("(") and text.endswith(")"):
        negative, text = True, text[1:-1].strip()
    elif text and text[0] in _MINUS + "+":
        negative, text = text[0] != "+", text[1:].lstrip()
    if not text or not text.isascii():
        return Parsed(None, "not_number", raw=raw)
    number, alternatives = _parse_body(text)

    def signed(v: float) -> float:
        if percent:
            # Divide as decimals so that "80,5%" gives 0.805, not 0.8049999999999999.
            v = float(Decimal(repr(v)) / 100)
        return (-v if negative else v) + 0.0  # + 0.0 turns -0.0 into 0.0

    if alternatives is not None:
        a, b = sorted(signed(v) for v in alternatives)
        return Parsed(None, "ambiguous", (a, b), raw)
    if number is None or not math.isfinite(number):
        return Parsed(None, "not_number", raw=raw)
    return Parsed(signed(number), "percent" if percent else "text_number", raw=raw)


def parse_number(value: Any) -> Parsed:
    """Read a cell value as a number, by Vietnamese rules; never raises.

    Numbers from the cell (int, float, Decimal) are ``number``; a NaN counts as empty
    (pandas' blank), infinities as ``not_number``; bool, dates and other types are
    ``not_number``. Text is cleaned (NFC, non-breaking and thin spaces) and read with
    ASCII digits only:

    - "1.234", "1.234.567" → thousands; "1 234" (space groups) → 1234;
    - "12,5", "1,5", "0,125" → decimals; "1.234,5" → 1234.5; "1,234.5" → 1234.5;
      "12.5" → 12.5 (no thousands reading);
    - "1,234,567" → 1234567; "1,234" alone → ``ambiguous`` (1.234, 1234);
    - "80%", "80 %", "80,5%" → ``percent`` 0.8, 0.8, 0.805;
    - "-12", "−12" (U+2212), "–12" (en dash), "(12)" (accounting) → -12; "'123" → 123;
    - "#DIV/0!", "#N/A", "#VALUE!", "#REF!" … → ``error``;
    - "", "-", "–", "—" → ``empty``; "x", "không", "12 vụ", "١٢" → ``not_number``.
    """
    try:
        if value is None:
            return Parsed(None, "empty", raw=value)
        if isinstance(value, bool):
            return Parsed(None, "not_number", raw=value)
        if isinstance(value, int | float | Decimal):
            number = float(value)
            if math.isnan(number):
                return Parsed(None, "empty", raw=value)
            if math.isinf(number):
                return Parsed(None, "not_number", raw=value)
            return Parsed(number + 0.0, "number", raw=value)
        if isinstance(value, str):
            return _parse_text(value, value)
        return Parsed(None, "not_number", raw=value)
    except (ValueError, OverflowError, InvalidOperation, ArithmeticError):
        return Parsed(None, "not_number", raw=value)


def is_integral(x: float) -> bool:
    """True when ``x`` is a whole number, allowing float noise (1e-9 relative)."""
    if not math.isfinite(x):
        return False
    return abs(x - round(x)) <= 1e-9 * max(1.0, abs(x))


# Enough digits for any float (up to ~1.8e308) plus its decimals.
_FORMAT_CONTEXT = Context(prec=400, rounding=ROUND_HALF_UP)


def _format_decimal(d: Decimal, decimals: int, trim: bool) -> str:
    quantum = Decimal(1).scaleb(-max(decimals, 0))
    d = d.quantize(quantum, context=_FORMAT_CONTEXT)
    sign = "-" if d < 0 else ""  # a rounded "-0,0" is shown as "0,0"
    int_part, _, frac = f"{abs(d):f}".partition(".")
    grouped = f"{int(int_part):,}".replace(",", ".")
    if trim:
        frac = frac.rstrip("0")
    return f"{sign}{grouped},{frac}" if frac else f"{sign}{grouped}"


def format_vn(x: float, decimals: int = 0, *, trim: bool = False) -> str:
    """Format ``x`` the Vietnamese way: "1.234", "12,5", "-1.234.567,89".

    Rounds half away from zero to ``decimals`` places; ``trim=True`` drops trailing
    zeros of the decimal part ("12,50" → "12,5", "12,00" → "12"). Raises ValueError for
    NaN and infinities (a bug upstream, not user data).
    """
    if not math.isfinite(x):
        raise ValueError(f"cannot format {x!r}")
    return _format_decimal(Decimal(repr(float(x))), decimals, trim)


def format_percent(x: float, decimals: int = 1, *, trim: bool = False) -> str:
    """Format a ratio as a Vietnamese percentage: 0.805 → "80,5%", 1 → "100,0%"."""
    if not math.isfinite(x):
        raise ValueError(f"cannot format {x!r}")
    return _format_decimal(Decimal(repr(float(x))) * 100, decimals, trim) + "%"


# --- yes/no -----------------------------------------------------------------------------

YesNoKind = Literal["yes", "no", "empty", "not_yes_no"]


@dataclass(frozen=True, slots=True)
class ParsedYesNo:
    """What a cell value says as a yes/no indicator.

    ``value`` is True (``kind`` "yes"), False ("no") or None ("empty": blank or a lone
    dash; "not_yes_no": anything else, for a ``value_not_yes_no`` finding). ``raw`` is the
    value as given.
    """

    value: bool | None
    kind: YesNoKind
    raw: Any = None


# Matched on the cleaned, lower-cased text; text typed without diacritics is matched on
# its folded form, so "Co" and "khong" work but "Cố" does not pass for "Có".
_YES = frozenset(
    {
        "có",
        "x",
        "1",
        "đã thực hiện",
        "đã làm",
        "đã có",
        "đạt",
        "đã đạt",
        "hoàn thành",
        "đã hoàn thành",
        "thực hiện",
        "yes",
        "y",
        "true",
        "✓",
        "✔",
        "☑",
        "☒",
    }
)
_NO = frozenset(
    {
        "không",
        "0",
        "chưa",
        "chưa thực hiện",
        "không thực hiện",
        "chưa làm",
        "chưa có",
        "không có",
        "không đạt",
        "chưa đạt",
        "chưa hoàn thành",
        "không hoàn thành",
        "ko",
        "k",
        "no",
        "n",
        "false",
        "✗",
        "✘",
        "☐",
    }
)
_YES_FOLDED = frozenset(fold(w) for w in _YES if fold(w))
_NO_FOLDED = frozenset(fold(w) for w in _NO if fold(w))


def parse_yes_no(value: Any) -> ParsedYesNo:
    """Read a yes/no indicator ("Có"/"Không", "x", 1/0, True/False, "Đạt"/"Chưa"); never raises.

    Numbers 1 and 0 (also 1.0, "1", "0") are yes and no; other numbers, dates and words
    are ``not_yes_no``. Blank text, None and a lone dash are ``empty``.
    """
    if value is None:
        return ParsedYesNo(None, "empty", value)
    if isinstance(value, bool):
        return ParsedYesNo(value, "yes" if value else "no", value)
    if isinstance(value, int | float | Decimal):
        number = parse_number(value)
        if number.kind == "empty":
            return ParsedYesNo(None, "empty", value)
        if number.number in (0.0, 1.0):
            flag = number.number == 1.0
            return ParsedYesNo(flag, "yes" if flag else "no", value)
        return ParsedYesNo(None, "not_yes_no", value)
    if not isinstance(value, str):
        return ParsedYesNo(None, "not_yes_no", value)
    text = clean_text(value).lower().rstrip(".!")
    if not text or text in _DASHES:
        return ParsedYesNo(None, "empty", value)
    if text in _YES:
        return ParsedYesNo(True, "yes", value)
    if text in _NO:
        return ParsedYesNo(False, "no", value)
    if text.isascii():
        key = fold(text)
        if key in _YES_FOLDED:
            return ParsedYesNo(True, "yes", value)
        if key in _NO_FOLDED:
            return ParsedYesNo(False, "no", value)
    number = parse_number(text)
    if number.ok and number.number in (0.0, 1.0) and number.kind != "percent":
        flag = number.number == 1.0
        return ParsedYesNo(flag, "yes" if flag else "no", value)
    return ParsedYesNo(None, "not_yes_no", value)


# --- dates ------------------------------------------------------------------------------

_EXCEL_EPOCH = date(1899, 12, 30)  # serial 0 in the 1900 system, after the 1900-02-29 bug
_SERIAL_MAX = 2958465  # 9999-12-31
_TIME_SUFFIX = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_DMY = re.compile(r"(\d{1,2})\s*([/.\-])\s*(\d{1,2})\s*\2\s*(\d{4}|\d{2})" + _TIME_SUFFIX)
_YMD = re.compile(r"(\d{4})([/.\-])(\d{1,2})\2(\d{1,2})" + _TIME_SUFFIX)
_WORDS = re.compile(r"\bngay (\d{1,2}) thang (\d{1,2}) nam (\d{4})\b")


def _make_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _from_serial(serial: float) -> date | None:
    if not math.isfinite(serial) or serial < 1 or serial >= _SERIAL_MAX + 1:
        return None
    days = int(serial)  # the fraction is the time of day
    if days == 60:
        return None  # 1900-02-29, a day that never was (kept by Excel for Lotus 1-2-3)
    if days < 60:
        return date(1899, 12, 31) + timedelta(days=days)
    return _EXCEL_EPOCH + timedelta(days=days)


def parse_date(value: Any) -> date | None:
    """Read a date, day first; None when it is not one. Never raises.

    Accepts ``datetime``/``date``; Excel serial numbers (1900 system; the time of day is
    dropped); text "19/8/2024", "19-08-2024", "19.08.2024", "19/8/24" (years 00–99 are
    20xx), "2024-08-19" (ISO, optionally with a time), and "ngày 19 tháng 8 năm 2024"
    (also inside a longer line such as "Thanh Hóa, ngày 19 tháng 8 năm 2024").
    "8/19/2024" is None: month 19 does not exist, and days always come first.
    """
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | Decimal):
        try:
            return _from_serial(float(value))
        except (OverflowError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    text = clean_text(value)
    match = _DMY.fullmatch(text)
    if match:
        day, month, year_text = int(match[1]), int(match[3]), match[4]
        year = int(year_text) + (2000 if len(year_text) == 2 else 0)
        return _make_date(year, month, day)
    match = _YMD.fullmatch(text)
    if match:
        return _make_date(int(match[1]), int(match[3]), int(match[4]))
    match = _WORDS.search(fold(text))  # without diacritics: "ngày" → "ngay"
    if match:
        day, month, year = (int(g) for g in match.groups())
        return _make_date(year, month, day)
    return None
