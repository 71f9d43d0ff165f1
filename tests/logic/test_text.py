"""Text rules: cleaning, loose matching, TCVN3/VNI decoding, safe output."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from logic.text import (
    _fold_in_full,
    clean_text,
    csv_safe,
    decode_for_font,
    decode_legacy,
    fold,
    from_tcvn3,
    from_vni,
    is_uppercase_legacy_font,
    legacy_font_encoding,
    looks_like_legacy,
    safe_for_cell,
    to_tcvn3,
    to_vni,
)

# Every lower-case Vietnamese letter with a diacritic, and its TCVN3 (ABC) code, written
# out by hand in the same order.
VIETNAMESE_LOWER = "àảãáạăằẳẵắặâầẩẫấậđèẻẽéẹêềểễếệìỉĩíịòỏõóọôồổỗốộơờởỡớợùủũúụưừửữứựỳỷỹýỵ"
TCVN3_LOWER = "µ¶·¸¹¨»¼½¾Æ©ÇÈÉÊË®ÌÎÏÐÑªÒÓÔÕÖ×ØÜÝÞßáâãä«åæçèé¬êëìíîïñòóô\xadõö÷øùúûüýþ"
TCVN3_CAPITALS = {"Ă": "¡", "Â": "¢", "Ê": "£", "Ô": "¤", "Ơ": "¥", "Ư": "¦", "Đ": "§"}

# Phrases from the reporting world, used for round trips and detection.
PHRASES = [
    "Công an xã Đông Sơn",
    "Phòng chống tội phạm",
    "Cộng hòa xã hội chủ nghĩa Việt Nam",
    "Độc lập - Tự do - Hạnh phúc",
    "Lực lượng tham gia bảo vệ an ninh, trật tự ở cơ sở",
    "Toàn dân bảo vệ an ninh Tổ quốc",
    "Số vụ phạm tội về trật tự xã hội",
    "Tỷ lệ điều tra khám phá",
    "Tai nạn giao thông giảm cả 3 tiêu chí",
    "Người lập biểu",
    "Thủ trưởng đơn vị",
    "Phường Trường Thi",
    "Huyện Nghĩa Đàn, tỉnh Nghệ An",
    "Thị xã Quảng Yên",
    "Thành phố Uông Bí",
    "Bằng khen, Giấy khen, Cờ thi đua",
    "Kiềm chế tái phạm tội",
    "Đăng ký tài khoản định danh điện tử",
]

# Unicode Vietnamese (many with only Latin-1 letters) and English: never legacy.
NOT_LEGACY = [
    "Công an xã",
    "Công an tỉnh Thanh Hóa",
    "Thanh Hoá",
    "THANH HOÁ",
    "Hoà Bình",
    "Khánh Hoà",
    "Tuy Hoà",
    "hoãn thi hành",
    "Bình Minh",
    "Trà Vinh",
    "Uông Bí",
    "Xã Laêê",
    "Ô Chợ Dừa",
    "Thị trấn Cô Tô",
    "Côn Đảo",
    "Phường Láng",
    "Ea Súp",
    "Krông Pắc",
    "Đắk Glong",
    "Bù Đăng",
    "Ý Yên",
    "Số vụ",
    "Tỷ lệ (%)",
    "CÔNG AN XÃ",
    "Giấy khen",
    "«Toàn dân bảo vệ an ninh Tổ quốc»",
    "Nghệ An",
    "Tổng số tin báo, tố giác tội phạm",
    "Microsoft® Excel",
    "© 2024 Police",
    "3 × 4 = 12",
    "«Quoted»",
    "naïve café",
    "Müller",
    "Total (final)",
    "infor\xadmation sys\xadtem",
    "½ day",
    "",
    "12345",
]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("  Công   an  ", "Công an", id="spaces-collapse"),
        pytest.param("Công\xa0an\u202fxã", "Công an xã", id="nbsp-and-narrow-nbsp"),
        pytest.param("Công\u200ban\ufeff", "Côngan", id="zero-width-removed"),
        pytest.param("Co\u0302ng an", "Công an", id="nfd-to-nfc"),
        pytest.param("a\tb", "a b", id="tab"),
        pytest.param("a\x00b\x07c", "abc", id="controls-removed"),
        pytest.param("Dòng 1\r\nDòng 2\nDòng 3", "Dòng 1 Dòng 2 Dòng 3", id="newlines-to-space"),
        pytest.param("x\u2028y", "x y", id="line-separator"),
        pytest.param("ab\xadc", "abc", id="soft-hyphen-removed"),
        pytest.param("\u202eabc\u202c", "abc", id="bidi-override-removed"),
        pytest.param("\u3000全角\u3000", "全角", id="ideographic-space"),
        pytest.param("", "", id="empty"),
        pytest.param(None, "", id="none"),
    ],
)
def test_clean_text(raw, expected):
    assert clean_text(raw) == expected


def test_clean_text_keeps_newlines_when_asked():
    raw = "  Dòng 1  \r\nDòng\xa0 2\n\nDòng 3\n "
    assert clean_text(raw, keep_newlines=True) == "Dòng 1\nDòng 2\n\nDòng 3"


def test_clean_text_must_come_after_tcvn3_decoding():
    # TCVN3 "ư" is the soft hyphen: cleaning first loses the letter.
    assert clean_text(from_tcvn3("Tr\xadêng")) == "Trường"
    assert clean_text("Tr\xadêng") == "Trêng"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        pytest.param("Tỷ lệ (%)", "ty le %", id="percent-header"),
        pytest.param("Tỷ lệ%", "TY LE %", id="percent-glued"),
        pytest.param("Đông Sơn", "dong son", id="d-stroke"),
        pytest.param("Thanh Hoá", "Thanh Hóa", id="old-and-new-tone-placement"),
        pytest.param("Co\u0302ng  an", "CÔNG AN", id="nfd-and-case"),
        pytest.param("Số vụ (1)", "so vu 1", id="parentheses"),
        pytest.param("Cùng kỳ\xa0năm trước", "cung-ky nam truoc", id="nbsp-and-dash"),
    ],
)
def test_fold_matches_loosely(a, b):
    assert fold(a) == fold(b)


def test_fold_shape():
    assert fold("  Tỷ lệ (%)  ") == "ty le %"
    assert fold("Mã đơn vị:") == "ma don vi"
    assert fold("Số vụ") != fold("Số người")


@pytest.mark.parametrize(
    ("font", "encoding", "upper"),
    [
        pytest.param(".VnTime", "tcvn3", False, id="VnTime"),
        pytest.param(".VnArial", "tcvn3", False, id="VnArial"),
        pytest.param(".VnArial Narrow", "tcvn3", False, id="VnArial-Narrow"),
        pytest.param(".VnTimeH", "tcvn3", True, id="VnTimeH"),
        pytest.param(".VnArialH", "tcvn3", True, id="VnArialH"),
        pytest.param(" .vntime ", "tcvn3", False, id="lower-case-name"),
        pytest.param("VNI-Times", "vni", False, id="VNI-Times"),
        pytest.param("VNI-Helve", "vni", False, id="VNI-Helve"),
        pytest.param("VNI-Helve-Condense", "vni", False, id="VNI-Helve-Condense"),
        pytest.param("Times New Roman", None, False, id="unicode-font"),
        pytest.param("Arial", None, False, id="arial"),
        pytest.param("VnTime", None, False, id="no-dot-is-not-abc"),
        pytest.param("", None, False, id="blank"),
        pytest.param(None, None, False, id="none"),
    ],
)
def test_legacy_font_encoding(font, encoding, upper):
    assert legacy_font_encoding(font) == encoding
    assert is_uppercase_legacy_font(font) is upper


def test_tcvn3_table_letter_by_letter():
    assert from_tcvn3(TCVN3_LOWER) == VIETNAMESE_LOWER
    assert to_tcvn3(VIETNAMESE_LOWER) == TCVN3_LOWER
    for capital, code in TCVN3_CAPITALS.items():
        assert from_tcvn3(code) == capital


@pytest.mark.parametrize(
    ("legacy", "unicode"),
    [
        pytest.param("C«ng an x· §«ng S¬n", "Công an xã Đông Sơn", id="cong-an-xa"),
        pytest.param("Phßng chèng téi ph¹m", "Phòng chống tội phạm", id="phong-chong"),
        pytest.param("Tr\xadêng", "Trường", id="u-horn-is-soft-hyphen"),
        pytest.param("n\xadíc", "nước", id="nuoc"),
        pytest.param("ViÖt Nam", "Việt Nam", id="viet-nam"),
        pytest.param("Céng hßa x· héi chñ nghÜa ViÖt Nam", PHRASES[2], id="quoc-hieu"),
        pytest.param("§éc lËp - Tù do - H¹nh phóc", PHRASES[3], id="tieu-ngu"),
        pytest.param("¡n, ¢m, £m, ¤ng, ¥n, ¦u", "Ăn, Âm, Êm, Ông, Ơn, Ưu", id="capitals"),
        pytest.param("Thanh Hãa 2024", "Thanh Hóa 2024", id="digits-untouched"),
    ],
)
def test_from_tcvn3(legacy, unicode):
    assert from_tcvn3(legacy) == unicode


@pytest.mark.parametrize(
    ("legacy", "unicode"),
    [
        pytest.param("C¤NG AN", "CÔNG AN", id="cong-an"),
        pytest.param("Bé C¤NG AN", "BỘ CÔNG AN", id="bo-cong-an"),
        pytest.param(
            "CéNG HßA X· HéI CHñ NGHÜA VIÖT NAM",
            "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
            id="quoc-hieu",
        ),
        pytest.param("ng\xadêi lËp biÓu", "NGƯỜI LẬP BIỂU", id="lower-codes-drawn-as-capitals"),
    ],
)
def test_from_tcvn3_uppercase_font(legacy, unicode):
    assert from_tcvn3(legacy, upper=True) == unicode
    assert decode_for_font(legacy, ".VnTimeH") == unicode


@pytest.mark.parametrize(
    ("legacy", "unicode"),
    [
        pytest.param("Vieät Nam", "Việt Nam", id="viet-nam"),
        pytest.param("Coâng an xaõ", "Công an xã", id="cong-an-xa"),
        pytest.param("Ñoâng Sôn", "Đông Sơn", id="dong-son"),
        pytest.param("Tröôøng", "Trường", id="truong"),
        pytest.param("Thaønh phoá Hoà Chí Minh", "Thành phố Hồ Chí Minh", id="hcm"),
        pytest.param("Ñaø Naüng", "Đà Nẵng", id="da-nang"),
        pytest.param("Tænh Vónh Long", "Tỉnh Vĩnh Long", id="i-letters"),
        pytest.param("Kyø hoïp", "Kỳ họp", id="y-grave"),
        pytest.param("Sôû Caûnh saùt, thuôû", "Sở Cảnh sát, thuở", id="o-horn-tones"),
        pytest.param("COÂNG AN TÆNH", "CÔNG AN TỈNH", id="capitals"),
        pytest.param("AÁp Baéc", "Ấp Bắc", id="capital-base"),
        pytest.param("Aáp", "Ấp", id="mixed-case-pair"),
        pytest.param("ñoäi 12", "đội 12", id="digits-untouched"),
    ],
)
def test_from_vni(legacy, unicode):
    assert from_vni(legacy) == unicode


def test_vni_letters_by_hand():
    # A few codes written out from the VNI table, not derived from the module.
    expected = {
        "ẵ": "aü",
        "ặ": "aë",
        "ẩ": "aå",
        "ễ": "eã",
        "ỵ": "î",
        "ĩ": "ó",
        "ị": "ò",
        "ỉ": "æ",
        "ự": "öï",
        "ỡ": "ôõ",
        "Đ": "Ñ",
        "Ữ": "ÖÕ",
    }
    for letter, code in expected.items():
        assert to_vni(letter) == code
        assert from_vni(code) == letter


def test_vni_alphabet_round_trip():
    for text in (VIETNAMESE_LOWER, VIETNAMESE_LOWER.upper()):
        encoded = to_vni(text)
        assert encoded.isascii() is False
        assert all(ord(c) <= 0xFF for c in encoded)
        assert from_vni(encoded) == text


@pytest.mark.parametrize("phrase", PHRASES, ids=[fold(p)[:30] for p in PHRASES])
def test_legacy_round_trip_and_detection(phrase):
    tcvn3, vni = to_tcvn3(phrase), to_vni(phrase)
    assert from_vni(vni) == phrase
    assert looks_like_legacy(vni) == "vni"
    assert looks_like_legacy(tcvn3) == "tcvn3"
    assert decode_legacy(vni, looks_like_legacy(vni)) == phrase
    # TCVN3 has no codes for capitals with tone marks: compare where it has them all.
    if all(to_tcvn3(c) != to_tcvn3(c.lower()) for c in phrase if c.isupper() and not c.isascii()):
        assert from_tcvn3(tcvn3) == phrase
        assert decode_legacy(tcvn3, "tcvn3") == phrase
    assert looks_like_legacy(phrase) is None


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        pytest.param("C«ng an x· §«ng S¬n", "tcvn3", id="tcvn3-cong-an"),
        pytest.param("Phßng chèng téi ph¹m", "tcvn3", id="tcvn3-phong-chong"),
        pytest.param("CéNG HßA X· HéI CHñ NGHÜA VIÖT NAM", "tcvn3", id="tcvn3-upper-font"),
        pytest.param("HUYÖN NGHÜA §µN", "tcvn3", id="tcvn3-upper-huyen"),
        pytest.param("Tr\xadêng", "tcvn3", id="tcvn3-one-word"),
        pytest.param("Vieät Nam", "vni", id="vni-viet-nam"),
        pytest.param("Coâng an xaõ", "vni", id="vni-cong-an-xa"),
        pytest.param("Ñoâng Sôn", "vni", id="vni-dong-son"),
        pytest.param("COÂNG AN TÆNH", "vni", id="vni-upper"),
    ],
)
def test_looks_like_legacy_fires(text, encoding):
    assert looks_like_legacy(text) == encoding


@pytest.mark.parametrize("text", NOT_LEGACY, ids=[repr(t)[:30] for t in NOT_LEGACY])
def test_looks_like_legacy_never_fires_on_unicode_or_english(text):
    assert looks_like_legacy(text) is None


def test_decode_legacy_leaves_unicode_alone():
    # Unicode typed into a cell that kept its .VnTime font.
    assert decode_legacy("Công an xã Đông Sơn", "tcvn3") == "Công an xã Đông Sơn"
    assert decode_legacy("Trường", "vni") == "Trường"
    assert decode_legacy("C«ng an", None) == "C«ng an"
    assert decode_for_font("C«ng an", "Times New Roman") == "C«ng an"
    assert decode_for_font("C«ng an", ".VnTime") == "Công an"
    assert decode_for_font("Coâng an", "VNI-Times") == "Công an"


def test_decode_legacy_guesses_uppercase_font():
    assert decode_legacy("CéNG AN", "tcvn3") == "CỘNG AN"
    assert decode_legacy("Céng an", "tcvn3") == "Cộng an"
    assert decode_legacy("Céng an", "tcvn3", upper=True) == "CỘNG AN"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("a\x00b\x08c\x0bd\x0ce\x1ff", "abcdef", id="controls"),
        pytest.param("tab\tnew\nline\rok", "tab\tnew\nline\rok", id="tab-newline-kept"),
        pytest.param("x\ufffey\uffff", "xy", id="xml-noncharacters"),
        pytest.param("Công an", "Công an", id="vietnamese"),
    ],
)
def test_safe_for_cell(raw, expected):
    assert safe_for_cell(raw) == expected


def test_safe_for_cell_matches_openpyxl_and_saves(tmp_path):
    every_control = "".join(chr(i) for i in range(32)) + "Xã \x7f"
    cleaned = safe_for_cell(every_control)
    assert ILLEGAL_CHARACTERS_RE.search(cleaned) is None
    assert cleaned == ILLEGAL_CHARACTERS_RE.sub("", every_control)
    assert len(safe_for_cell("a" * 40_000)) == 32_767
    book = Workbook()
    book.active["A1"] = cleaned
    path = tmp_path / "out.xlsx"
    book.save(path)
    # XML turns a lone CR into LF when the file is read back; nothing else changes.
    assert load_workbook(path).active["A1"].value == cleaned.replace("\r", "\n")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")', id="equals"),
        pytest.param("+1+1", "'+1+1", id="plus"),
        pytest.param("-1+1", "'-1+1", id="minus"),
        pytest.param("@SUM(A1)", "'@SUM(A1)", id="at"),
        pytest.param("\t=1", "'\t=1", id="tab"),
        pytest.param("\r=1", "'\r=1", id="cr"),
        pytest.param("Công an xã", "Công an xã", id="plain"),
        pytest.param("a=b", "a=b", id="equals-inside"),
        pytest.param("", "", id="empty"),
    ],
)
def test_csv_safe(raw, expected):
    assert csv_safe(raw) == expected


# --- properties -----------------------------------------------------------------------

_ASCII = "abcdeghiklmnopqrstuvxyABCDGHKLMNOPQRSTVXY 0123456789,."
_VIETNAMESE_ALL = VIETNAMESE_LOWER + VIETNAMESE_LOWER.upper()


@given(st.text())
def test_clean_text_is_idempotent(value):
    once = clean_text(value)
    assert clean_text(once) == once
    assert once == unicodedata.normalize("NFC", once)
    assert "  " not in once and once == once.strip()


@given(st.text())
def test_clean_text_keep_newlines_is_idempotent(value):
    once = clean_text(value, keep_newlines=True)
    assert clean_text(once, keep_newlines=True) == once


@given(st.text())
def test_fold_is_idempotent(value):
    once = fold(value)
    assert fold(once) == once


@given(st.text(alphabet=_ASCII + _VIETNAMESE_ALL))
def test_vni_round_trip(text):
    assert from_vni(to_vni(text)) == text


@given(st.text(alphabet=_ASCII + VIETNAMESE_LOWER + "ĂÂÊÔƠƯĐ"))
def test_tcvn3_round_trip(text):
    assert from_tcvn3(to_tcvn3(text)) == text


@given(st.text())
def test_looks_like_legacy_never_raises(value):
    assert looks_like_legacy(value) in (None, "tcvn3", "vni")


# --- the fast paths say what the character-by-character rules say ----------------------


def _clean_by_character(value: str, keep_newlines: bool) -> str:
    """``clean_text`` written character by character, as its docstring states it."""
    odd_spaces = "\t\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    odd_spaces += "\u202f\u205f\u3000"
    out = []
    for ch in value.replace("\r\n", "\n"):
        if ch in "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029":
            out.append("\n" if keep_newlines else " ")
        elif ch in odd_spaces:
            out.append(" ")
        elif unicodedata.category(ch) not in ("Cc", "Cf", "Cs"):
            out.append(ch)
    text = unicodedata.normalize("NFC", "".join(out))
    lines = [" ".join(line.split(" ")).replace("  ", " ") for line in text.split("\n")]
    lines = [" ".join(w for w in line.split(" ") if w) for line in lines]
    return "\n".join(lines).strip("\n") if keep_newlines else " ".join(lines).strip(" ")


def _fold_by_character(value: str) -> str:
    text = unicodedata.normalize("NFD", _clean_by_character(value, False).lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = unicodedata.normalize("NFC", text.replace("đ", "d").replace("ð", "d"))
    words = "".join(ch if ch.isalnum() or ch == "%" else " " for ch in text)
    return " ".join("".join(f" {c} " if c == "%" else c for c in words).split())


_ODD = "\t\n\r\x00\x0b\x85\xa0\xad\u200b\u2028\u202e\u3000\ufeff\ud800 "


@given(st.text(alphabet=st.sampled_from(_ASCII + _VIETNAMESE_ALL + _ODD + "%_-:(")) | st.text())
def test_clean_text_and_fold_match_the_character_rules(value):
    assert clean_text(value) == _clean_by_character(value, False)
    assert clean_text(value, keep_newlines=True) == _clean_by_character(value, True)
    assert fold(value) == _fold_by_character(value)


@pytest.mark.parametrize(
    "value",
    [
        "Mã đơn vị:",
        "Co\u0302ng an\u00a0xã\u200b",
        "  a\r\n b  ",
        "Tỷ lệ (%)",
        "K\u212a",
        "İstanbul",
    ],
)
def test_clean_text_and_fold_examples_match_the_character_rules(value):
    assert clean_text(value) == _clean_by_character(value, False)
    assert clean_text(value, keep_newlines=True) == _clean_by_character(value, True)
    assert fold(value) == _fold_by_character(value)


# --- fold: the short way for printable precomposed text equals the long way ----------------

VIETNAMESE = (
    "aăâbcdđeêghiklmnoôơpqrstuưvxyàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ"
)
# spaces, invisible and control characters, combining marks, letters fold keeps as they are
ODD = " \u00a0\t\x00\x01\x7f\u200b\u00ad\u0301\u0323-_.%/()\u00d7\u00df\u00e6\u00f8\u0130\u1e9e"
FOLD_ALPHABET = VIETNAMESE + VIETNAMESE.upper() + "0123456789" + ODD


@pytest.mark.parametrize(
    "text",
    [
        "Phường Phúc Xá",
        "Thị trấn Nông trường Việt Lâm",
        "XÃ ĐỒNG THÁP",
        "bao-cao-00001-phuc-xa-dot-1",
        "Phuo\u031bng Phu\u0301c Xa\u0301",  # decomposed, as a Mac writes file names
        "Xã\u00a0Ea\u200bKao",
        "Xã\x00An",  # a control character joins what it separates
        "Tỷ lệ (%)",
        "",
    ],
)
def test_fold_short_way_equals_the_long_way(text):
    assert fold(text) == _fold_in_full(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=FOLD_ALPHABET, max_size=30))
def test_fold_short_way_equals_the_long_way_on_any_mix(text):
    assert fold(text) == _fold_in_full(text)


def test_fold_short_way_equals_the_long_way_on_every_unit_name_of_a_roster():
    from workbooks.rosters import load_roster

    names = [u.name for u in load_roster("thanh-hoa").units]
    assert len(names) > 500
    assert [fold(n) for n in names] == [_fold_in_full(n) for n in names]
    assert fold("Xã\x00An") == "xaan"
