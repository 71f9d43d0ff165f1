"""Text rules: clean what clerks type, match labels loosely, decode TCVN3/VNI, write safely.

Order matters for text read from a workbook: decode legacy encodings first
(:func:`decode_for_font`, or :func:`looks_like_legacy` + :func:`decode_legacy` when the
reader gives no fonts), then :func:`clean_text`. In TCVN3 the letter "ư" is U+00AD (soft
hyphen), which :func:`clean_text` strips as an invisible character.

TCVN3 (ABC, fonts named ``.Vn…``) stores each Vietnamese letter as one character in the
Latin-1 range; it has no codes for capital letters with tone marks, so upper-case fonts
(``.VnTimeH``, names ending in "H") draw the lower-case codes as capitals. VNI (fonts named
``VNI-…``) writes a base letter followed by a mark character ("Vieät" = "Việt").
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

__all__ = [
    "LegacyEncoding",
    "clean_text",
    "csv_safe",
    "decode_for_font",
    "decode_legacy",
    "fold",
    "from_tcvn3",
    "from_vni",
    "is_uppercase_legacy_font",
    "legacy_font_encoding",
    "looks_like_legacy",
    "safe_for_cell",
    "to_tcvn3",
    "to_vni",
]

LegacyEncoding = Literal["tcvn3", "vni"]

# --- cleaning -------------------------------------------------------------------------

_NEWLINES = "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
# Spaces that look like a space but do not compare equal to one.
_ODD_SPACES = "\t\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
_SPACE_RUN = re.compile(r" {2,}")


def _char_action(ch: str) -> str | None:
    """Return the replacement for an odd character, or None to keep it."""
    if ch in _ODD_SPACES:
        return " "
    category = unicodedata.category(ch)
    # Cc: control characters; Cf: zero-width and bidi controls, soft hyphen, BOM;
    # Cs: lone surrogates (cannot be written as UTF-8).
    if category in ("Cc", "Cf", "Cs"):
        return ""
    return None


_ACTIONS: dict[str, str | None] = {}  # _char_action by character, for the ones met so far


def _odd_characters(value: str, keep_newlines: bool) -> dict[int, str]:
    """``str.translate`` table for the characters of ``value`` that cleaning changes."""
    table: dict[int, str] = {}
    for ch in set(value):
        if ch.isprintable():  # letters, marks, digits, punctuation, " ": kept as they are
            continue
        if ch in _NEWLINES:
            table[ord(ch)] = "\n" if keep_newlines else " "
            continue
        action = _ACTIONS.get(ch, ch)
        if action == ch:
            action = _char_action(ch)
            if len(_ACTIONS) < 4096:
                _ACTIONS[ch] = action
        if action is not None:
            table[ord(ch)] = action
    return table


def clean_text(value: str, *, keep_newlines: bool = False) -> str:
    """Return ``value`` in NFC with odd spaces made plain, invisible characters dropped.

    Non-breaking, thin, ideographic and other spaces and tabs become " "; control,
    zero-width, bidi-control and soft-hyphen characters are removed; runs of spaces
    collapse to one; the ends are stripped. Line breaks (``\\r\\n``, ``\\r``, U+2028 …)
    become a space, or ``"\\n"`` with ``keep_newlines`` (then each line is stripped and
    blank lines are kept). Idempotent. ``None`` gives "".

    Decode TCVN3 text *before* cleaning it: its "ư" is the soft hyphen.
    """
    if value is None:
        return ""
    if not isinstance(value, str):
        value = str(value)
    # Every character Python calls printable is kept as it is (only " " among the spaces,
    # no control, format or line-break character): nothing to translate, no line to split.
    if not value.isprintable():
        value = value.replace("\r\n", "\n")
        value = value.translate(_odd_characters(value, keep_newlines))
        if keep_newlines and "\n" in value:
            text = unicodedata.normalize("NFC", value)
            lines = [_SPACE_RUN.sub(" ", line).strip(" ") for line in text.split("\n")]
            return "\n".join(lines).strip("\n")
    text = value if value.isascii() else unicodedata.normalize("NFC", value)
    text = text.strip(" ")
    return _SPACE_RUN.sub(" ", text) if "  " in text else text


_FOLD_TOKEN = re.compile(r"[^\W_]+|%")
_ASCII_FOLD_TOKEN = re.compile(r"[0-9a-z]+|%")
_COMBINING: dict[str, bool] = {}  # unicodedata.combining(ch) != 0, for the ones met so far


def fold(value: str) -> str:
    """Return a key for loose matching of headers and labels.

    Cleans, lower-cases, removes diacritics (đ → d), keeps letters, digits and "%" and
    joins them with single spaces: "Tỷ lệ (%)" and "ty le %" both give "ty le %".
    Idempotent.

    Printable text of ASCII and precomposed Latin letters (nearly every Vietnamese name,
    label and file name) takes a short way: each letter mapped to what the long way makes
    of it alone (ten times faster; a batch folds names tens of thousands of times).
    """
    if type(value) is str and value.isprintable():
        plain = value if value.isascii() else value.translate(_fold_table())
        if plain.isascii():
            return " ".join(_ASCII_FOLD_TOKEN.findall(plain.lower()))
    return _fold_in_full(value)


def _fold_in_full(value: str) -> str:
    text = clean_text(value).lower()
    if not text.isascii():
        text = unicodedata.normalize("NFD", text)
        marks = {}
        for ch in set(text):
            combining = _COMBINING.get(ch)
            if combining is None:
                combining = unicodedata.combining(ch) != 0
                if len(_COMBINING) < 4096:
                    _COMBINING[ch] = combining
            if combining:
                marks[ord(ch)] = None
        text = text.translate(marks) if marks else text
        text = text.replace("đ", "d").replace("ð", "d")
        text = unicodedata.normalize("NFC", text)
    return " ".join(_FOLD_TOKEN.findall(text))


_FOLD_TABLE: dict[int, str] = {}


def _fold_table() -> dict[int, str]:
    """Precomposed Latin letters → what the long way of :func:`fold` makes of each alone,
    when that is ASCII (a letter it drops becomes a space: it separates words)."""
    if not _FOLD_TABLE:
        table: dict[int, str] = {}
        for cp in (*range(0xC0, 0x250), *range(0x1E00, 0x1F00)):
            ch = chr(cp)
            if unicodedata.normalize("NFC", ch) != ch or not ch.isprintable():
                continue
            key = _fold_in_full(ch)
            if key == "":
                table[cp] = " "
            elif key.isascii() and key.isalnum():
                table[cp] = key
        _FOLD_TABLE.update(table)
    return _FOLD_TABLE


# --- legacy encodings: tables -------------------------------------------------------------

# TCVN3 (ABC): legacy character -> Unicode letter. Capitals with tone marks have no code.
_TCVN3_PAIRS = (
    "¡Ă ¢Â £Ê ¤Ô ¥Ơ ¦Ư §Đ ¨ă ©â ªê «ô ¬ơ \xadư ®đ "
    "µà ¶ả ·ã ¸á ¹ạ »ằ ¼ẳ ½ẵ ¾ắ Æặ Çầ Èẩ Éẫ Êấ Ëậ "
    "Ìè Îẻ Ïẽ Ðé Ñẹ Òề Óể Ôễ Õế Öệ ×ì Øỉ Üĩ Ýí Þị "
    "ßò áỏ âõ ãó äọ åồ æổ çỗ èố éộ êờ ëở ìỡ íớ îợ "
    "ïù ñủ òũ óú ôụ õừ öử ÷ữ øứ ùự úỳ ûỷ üỹ ýý þỵ"
)
_TCVN3_DECODE: dict[str, str] = {pair[0]: pair[1] for pair in _TCVN3_PAIRS.split(" ")}
_TCVN3_TABLE = str.maketrans(_TCVN3_DECODE)

_GRAVE, _ACUTE, _HOOK, _TILDE, _DOT = "\u0300", "\u0301", "\u0309", "\u0303", "\u0323"
_CIRCUMFLEX, _BREVE, _HORN = "\u0302", "\u0306", "\u031b"
_TONES = (_GRAVE, _ACUTE, _HOOK, _TILDE, _DOT)


def _compose(base: str, *marks: str) -> str:
    return unicodedata.normalize("NFC", base + "".join(marks))


def _build_vni() -> dict[str, str]:
    """VNI sequence (one or two characters) -> Unicode letter, both cases."""
    table: dict[str, str] = {}
    # Lower-case mark characters; the upper-case ones are their .upper().
    tone_marks = dict(zip(_TONES, "øùûõï", strict=True))
    circumflex_marks = dict(zip((None, *_TONES), "âàáåãä", strict=True))
    breve_marks = dict(zip((None, *_TONES), "êèéúüë", strict=True))
    for lower in (False, True):

        def case(s: str, lower: bool = lower) -> str:
            return s if lower else s.upper()

        for base in "aeouy":
            for tone, mark in tone_marks.items():
                table[case(base) + case(mark)] = case(_compose(base, tone))
        for base in "aeo":
            for tone, mark in circumflex_marks.items():
                marks = (_CIRCUMFLEX,) if tone is None else (_CIRCUMFLEX, tone)
                table[case(base) + case(mark)] = case(_compose(base, *marks))
        for tone, mark in breve_marks.items():
            marks = (_BREVE,) if tone is None else (_BREVE, tone)
            table[case("a") + case(mark)] = case(_compose("a", *marks))
        # Letters with a character of their own.
        table[case("ñ")] = case("đ")
        table[case("ô")] = case("ơ")
        table[case("ö")] = case("ư")
        for tone, mark in tone_marks.items():
            table[case("ô") + case(mark)] = case(_compose("o", _HORN, tone))
            table[case("ö") + case(mark)] = case(_compose("u", _HORN, tone))
        for tone, char in zip(_TONES, "ìíæóò", strict=True):
            table[case(char)] = case(_compose("i", tone))
        table[case("î")] = case(_compose("y", _DOT))
    return table


_VNI_DECODE = _build_vni()
# VNI "y" + dot below is the single character "î"; "yï" is not VNI.
del _VNI_DECODE["yï"], _VNI_DECODE["YÏ"]
_VNI_MARKS = frozenset(seq[1] for seq in _VNI_DECODE if len(seq) == 2)
_VNI_BASES = frozenset(seq[0] for seq in _VNI_DECODE if len(seq) == 2)

# Unicode -> legacy, for writing test fixtures and checking round trips.
_TCVN3_ENCODE: dict[str, str] = {uni: code for code, uni in _TCVN3_DECODE.items()}
_VNI_ENCODE: dict[str, str] = {}
for _seq, _uni in _VNI_DECODE.items():
    # Prefer the first (same-case) sequence; identities like "ì" need no entry.
    if _seq != _uni:
        _VNI_ENCODE.setdefault(_uni, _seq)
del _seq, _uni


def from_tcvn3(s: str, upper: bool = False) -> str:
    """Convert TCVN3 (ABC) text to Unicode NFC.

    ``upper=True`` is for upper-case fonts (``.VnTimeH``): they draw every code, the
    lower-case ones included, as a capital, so the result is upper-cased.
    """
    text = s.translate(_TCVN3_TABLE)
    if upper:
        # Upper-case letter by letter: str.upper() would turn "ß" into "SS".
        text = "".join(u if len(u := ch.upper()) == 1 else ch for ch in text)
    return unicodedata.normalize("NFC", text)


def from_vni(s: str) -> str:
    """Convert VNI (VNI-Windows) text to Unicode NFC.

    A base letter followed by its mark becomes one letter ("Vieät" → "Việt"); a base
    and a mark of different case are accepted too (the result takes the base's case).
    """
    out: list[str] = []
    i, n = 0, len(s)
    while i < n:
        ch = s[i]
        if i + 1 < n and ch in _VNI_BASES:
            nxt = s[i + 1]
            pair = _VNI_DECODE.get(ch + nxt)
            if pair is None and nxt.swapcase() in _VNI_MARKS:
                # Base and mark of different case: read the mark in the base's case.
                pair = _VNI_DECODE.get(ch + nxt.swapcase())
            if pair is not None:
                out.append(pair)
                i += 2
                continue
        out.append(_VNI_DECODE.get(ch, ch))
        i += 1
    return unicodedata.normalize("NFC", "".join(out))


def to_tcvn3(s: str) -> str:
    """Encode Unicode text as TCVN3 (ABC), the way a ``.VnTime`` cell stores it.

    Capitals with tone marks have no TCVN3 code and get the lower-case code (what the
    ``.VnTimeH`` fonts draw as capitals). For fixtures and round-trip tests.
    """
    out: list[str] = []
    for ch in unicodedata.normalize("NFC", s):
        out.append(_TCVN3_ENCODE.get(ch) or _TCVN3_ENCODE.get(ch.lower()) or ch)
    return "".join(out)


def to_vni(s: str) -> str:
    """Encode Unicode text as VNI, the way a ``VNI-Times`` cell stores it (for fixtures)."""
    return "".join(_VNI_ENCODE.get(ch, ch) for ch in unicodedata.normalize("NFC", s))


# --- legacy encodings: which one -----------------------------------------------------------

_VNI_FONT = re.compile(r"vni[-_ ]", re.IGNORECASE)


def legacy_font_encoding(font_name: str | None) -> LegacyEncoding | None:
    """Return the legacy encoding a cell font implies, or None for a Unicode font.

    ``.VnTime``, ``.VnArial``, ``.VnTimeH`` … → "tcvn3"; ``VNI-Times``, ``VNI-Helve`` …
    → "vni". See :func:`is_uppercase_legacy_font` for the upper-case TCVN3 fonts.
    """
    if not font_name:
        return None
    name = font_name.strip()
    if name.lower().startswith(".vn"):
        return "tcvn3"
    if _VNI_FONT.match(name):
        return "vni"
    return None


def is_uppercase_legacy_font(font_name: str | None) -> bool:
    """Tell whether a TCVN3 font draws everything as capitals (``.VnTimeH``, ``.VnArialH``)."""
    if font_name is None or legacy_font_encoding(font_name) != "tcvn3":
        return False
    return font_name.strip().endswith("H")


# Vietnamese letters beyond Latin-1: their presence means the text is already Unicode.
_UNICODE_VIETNAMESE = re.compile("[ĂăĐđĨĩŨũƠơƯư\u1ea0-\u1ef9\u0300-\u036f]")


def decode_legacy(s: str, encoding: LegacyEncoding | None, upper: bool | None = None) -> str:
    """Convert ``s`` from ``encoding`` to Unicode; unchanged when ``encoding`` is None.

    Text that already holds Vietnamese letters beyond Latin-1 (ư, ơ, ạ …) is Unicode typed
    into a cell that kept its old font, and is returned unchanged. For TCVN3, ``upper=None``
    upper-cases the result when every ASCII letter in ``s`` is a capital (text from a
    ``.VnTimeH`` font read without its font name).
    """
    if encoding is None or not s or _UNICODE_VIETNAMESE.search(s):
        return s
    if encoding == "vni":
        return from_vni(s)
    if upper is None:
        letters = [ch for ch in s if ch.isascii() and ch.isalpha()]
        upper = len(letters) >= 2 and all(ch.isupper() for ch in letters)
    return from_tcvn3(s, upper=upper)


def decode_for_font(s: str, font_name: str | None) -> str:
    """Convert a cell's text to Unicode according to its font name (no change if Unicode)."""
    encoding = legacy_font_encoding(font_name)
    if encoding is None:
        return s
    return decode_legacy(s, encoding, upper=is_uppercase_legacy_font(font_name))


# Characters that occur in TCVN3 text and never in Unicode Vietnamese or in VNI.
_TCVN3_SYMBOLS = frozenset("¡¢£¤¥¦¨©ª¬µ¶·¸¹¼½¾×÷ÇÐÞßçþ")
# Latin-1 characters of Unicode Vietnamese.
_LATIN1_VIETNAMESE = frozenset("ÀÁÂÃÈÉÊÌÍÒÓÔÕÙÚÝàáâãèéêìíòóôõùúý")
# VNI letters written as one character (outside base+mark pairs).
_VNI_SINGLES = frozenset(seq for seq in _VNI_DECODE if len(seq) == 1)
# VNI "ư" before "ơ": "öô", "ÖÔ" (a TCVN3 reading, "ửụ", is no Vietnamese).
_VNI_U_O_HORN = frozenset({"öô", "ÖÔ"})
# Unicode Vietnamese with the old tone placement ("Hoà", "hoá", "hoãn") looks like VNI.
_NOT_VNI_EVIDENCE = frozenset({"oà", "oá", "oã", "OÀ", "OÁ", "OÃ"})
# After a TCVN3 "ư" (soft hyphen): ơ and its tones, as in "ươ".
_AFTER_TCVN3_U_HORN = frozenset("¬êíëìî")


def _is_letter(ch: str) -> bool:
    return ch.isalpha() or ch in _TCVN3_SYMBOLS or ch in "§®«»\xad"


_TONE_MARKS = frozenset((_GRAVE, _ACUTE, _HOOK, _TILDE, _DOT))
# A Vietnamese syllable without its tone mark: onset, then a rhyme (glide, vowel, final).
# Spelling rules on the onset (ngh/gh/k before e, ê, i; c/g/ng elsewhere) tell "nghệ" from
# "nghư"; "k" finals and a few clusters admit Central Highlands names ("Krông Búk", "Đắk").
_SYLLABLE = re.compile(
    r"(?:ngh(?=[eêi])|gh(?=[eêi])|k(?=[eêiy])|ng(?![eêi])|g(?![eêi])|c(?![eêiy])"
    r"|nh|ch|gi|kh|ph|th|tr|qu|[bdđhlmnprstvx]|[bdđgkpt][lr])?"
    r"(?:a(?:ch|nh|ng|[cmnptiyouk])?|ă(?:ng|[cmnptk])|â(?:ng|[cmnptuyk])"
    r"|e(?:ng|[cmnptok])?|ê(?:ch|nh|ng|[mnptuk])?|i(?:ch|nh|[mnptuak])?"
    r"|[iy]ê(?:ng|[cmnptu])|y|ya|o(?:ng|[cmnptik])?|oo(?:ng|c)"
    r"|oa(?:ch|nh|ng|[cmnptiyou])?|oă(?:ng|[cmnt])|oe(?:[nto])?|ô(?:ng|[cmnptik])?"
    r"|ơ(?:[mnptiu])?|u(?:ng|[cmnptiak])?|uâ(?:ng|[nty])|uê(?:ch|nh|n)?|uô(?:ng|[cmnti])"
    r"|uơ|uy(?:ch|nh|[ntpua])?|uyê(?:[nt])|ư(?:ng|[cmntiua])?|ươ(?:ng|[cmnptiu]))"
)
_WORD = re.compile(r"[^\W\d_]+")


def _syllables(text: str) -> tuple[int, int]:
    """Count (valid, all) Vietnamese syllables among the words with non-ASCII letters."""
    valid = total = 0
    for word in _WORD.findall(text.lower()):
        if word.isascii():
            continue
        total += 1
        bare = "".join(c for c in unicodedata.normalize("NFD", word) if c not in _TONE_MARKS)
        valid += _SYLLABLE.fullmatch(unicodedata.normalize("NFC", bare)) is not None
    return valid, total


def looks_like_legacy(s: str) -> LegacyEncoding | None:
    """Guess whether text read without font information is TCVN3 or VNI.

    A heuristic for readers that give no fonts (calamine). It counts evidence: TCVN3
    symbols inside words ("C«ng", "x·", "§«ng"), capitals right after small letters
    ("ViÖt"), VNI base+mark pairs that Unicode never writes ("Vieät", "xaõ"), VNI "ñ"
    starting a word. Text holding Vietnamese letters beyond Latin-1 is Unicode (None).
    Fires only on clear evidence; short or mixed text can stay undecided (None).
    """
    if not s or _UNICODE_VIETNAMESE.search(s) or s.isascii():
        return None
    tcvn = vni = 0.0
    padded = f" {s} "
    i = 1
    while i < len(padded) - 1:
        prev, ch, nxt = padded[i - 1], padded[i], padded[i + 1]
        i += 1
        pair = ch + nxt
        if pair in _VNI_U_O_HORN:
            vni += 1
        if pair in _VNI_DECODE and ch.islower() == nxt.islower():
            if pair not in _NOT_VNI_EVIDENCE:
                vni += 1
            i += 1  # the mark is spent
            continue
        if ch.isascii() or ord(ch) > 0xFF:
            continue
        # A non-ASCII Latin-1 character outside a VNI pair must be a VNI letter of its own.
        if ch not in _VNI_SINGLES:
            vni -= 1
        if ch not in _TCVN3_DECODE:
            tcvn -= 1
            continue
        prev_letter, next_letter = _is_letter(prev), _is_letter(nxt)
        if ch in "§®":  # Đ, đ: always start a syllable
            tcvn += not prev_letter and next_letter
        elif ch in "«»":  # ô, ằ; also quotation marks, which sit outside words
            tcvn += prev_letter
        elif ch == "\xad":  # ư, or a hyphenation hint in other text
            if prev_letter and (nxt in _AFTER_TCVN3_U_HORN or not next_letter):
                tcvn += 1
            elif prev_letter:
                tcvn += 0.25
        elif ch in _TCVN3_SYMBOLS:
            tcvn += prev_letter or next_letter
        elif ch in "ñÑ":  # VNI đ starts a word; TCVN3 ủ, ẹ follow a consonant
            if prev_letter:
                tcvn += 1
            elif next_letter:
                vni += 1
        elif ch.isupper() and prev.islower():
            # TCVN3 keeps small letters at Latin-1 capitals ("ViÖt", "chÝnh").
            tcvn += 1
        elif ch.islower() and prev.isupper() and nxt.isupper():
            # A small letter between capitals: an upper-case TCVN3 font ("CéNG").
            tcvn += 1
        elif ch in "öÖæÆîÎ":  # ư/ử, ỉ/ổ, ỵ/ợ: VNI or TCVN3 alike
            tcvn += 0.5
            vni += 0.5
        elif ch not in _LATIN1_VIETNAMESE and (prev_letter or next_letter):
            # Another TCVN3 letter Unicode Vietnamese never uses ("Müller" needs more).
            tcvn += 0.5
    # Weak evidence is enough when the decoded words are Vietnamese; the syllable check
    # also settles ties and vetoes foreign words ("Müller", "naïve").
    candidates: list[tuple[float, int, LegacyEncoding]] = []
    for score, encoding in ((tcvn, "tcvn3"), (vni, "vni")):
        if score >= 0.5:
            valid, total = _syllables(decode_legacy(s, encoding))
            if total and valid * 2 >= total and (score >= 1 or valid == total):
                candidates.append((score, valid, encoding))
    if not candidates:
        return None
    candidates.sort(reverse=True)
    if len(candidates) == 2 and candidates[0][:2] == candidates[1][:2]:
        return None
    if len(candidates) == 2 and candidates[0][0] == candidates[1][0]:
        # Equal evidence: the reading with more real syllables wins.
        candidates.sort(key=lambda c: c[1], reverse=True)
    return candidates[0][2]


# --- writing --------------------------------------------------------------------------

# openpyxl's ILLEGAL_CHARACTERS_RE, plus what XML 1.0 cannot hold (U+FFFE, U+FFFF, lone
# surrogates), which fails later when the workbook is saved or opened.
_ILLEGAL_IN_CELL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
EXCEL_CELL_MAX = 32767


def safe_for_cell(value: str) -> str:
    """Return ``value`` without characters a workbook cell cannot hold.

    Removes the control characters openpyxl refuses (``IllegalCharacterError``) and the
    non-characters XML cannot store, and cuts the text to Excel's 32,767-character limit.
    """
    return _ILLEGAL_IN_CELL.sub("", value)[:EXCEL_CELL_MAX]


_CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: str) -> str:
    """Prefix text starting with ``= + - @`` tab or CR with "'" (OWASP CSV injection).

    Apply it to text taken from inputs, not to numbers written as numbers.
    """
    if value.startswith(_CSV_FORMULA_START):
        return "'" + value
    return value
