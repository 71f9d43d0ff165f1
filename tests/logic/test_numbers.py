"""Number, yes/no and date rules for what clerks type into cells."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logic.numbers import (
    Parsed,
    format_percent,
    format_vn,
    is_integral,
    parse_date,
    parse_number,
    parse_yes_no,
)


def _kind_number(p: Parsed) -> tuple:
    return (p.kind, p.number, p.alternatives)


@pytest.mark.parametrize(
    ("raw", "kind", "number"),
    [
        # numbers from the cell
        pytest.param(12, "number", 12.0, id="int"),
        pytest.param(12.0, "number", 12.0, id="float"),
        pytest.param(-0.5, "number", -0.5, id="negative-float"),
        pytest.param(Decimal("1.5"), "number", 1.5, id="decimal"),
        pytest.param(float("nan"), "empty", None, id="nan-is-blank"),
        pytest.param(float("inf"), "not_number", None, id="inf"),
        pytest.param(10**400, "not_number", None, id="huge-int"),
        pytest.param(True, "not_number", None, id="bool"),
        pytest.param(datetime(2024, 8, 19), "not_number", None, id="datetime"),
        pytest.param(date(2024, 8, 19), "not_number", None, id="date"),
        pytest.param([1], "not_number", None, id="list"),
        # empty
        pytest.param(None, "empty", None, id="none"),
        pytest.param("", "empty", None, id="blank"),
        pytest.param(" \xa0 ", "empty", None, id="nbsp-only"),
        pytest.param("-", "empty", None, id="dash"),
        pytest.param("—", "empty", None, id="em-dash"),
        pytest.param("–", "empty", None, id="en-dash"),
        # Vietnamese text numbers
        pytest.param("1234", "text_number", 1234.0, id="digits"),
        pytest.param("1.234", "text_number", 1234.0, id="dot-thousands"),
        pytest.param("1.234.567", "text_number", 1234567.0, id="dots-thousands"),
        pytest.param("12,5", "text_number", 12.5, id="comma-decimal"),
        pytest.param("1,5", "text_number", 1.5, id="one-comma-five"),
        pytest.param("0,125", "text_number", 0.125, id="zero-comma-three-digits"),
        pytest.param(",5", "text_number", 0.5, id="leading-comma"),
        pytest.param("1.234,5", "text_number", 1234.5, id="vn-thousands-and-decimal"),
        pytest.param("1.234.567,89", "text_number", 1234567.89, id="vn-full"),
        pytest.param("1,234,567", "text_number", 1234567.0, id="commas-thousands"),
        pytest.param("1,234.5", "text_number", 1234.5, id="english-full"),
        pytest.param("12.5", "text_number", 12.5, id="english-decimal"),
        pytest.param("1.2345", "text_number", 1.2345, id="four-decimals"),
        pytest.param("1234.567", "text_number", 1234.567, id="no-grouping-possible"),
        pytest.param("1 234", "text_number", 1234.0, id="space-thousands"),
        pytest.param("1\xa0234\xa0567", "text_number", 1234567.0, id="nbsp-thousands"),
        pytest.param("1\u202f234,5", "text_number", 1234.5, id="narrow-nbsp-thousands"),
        pytest.param("  42\xa0", "text_number", 42.0, id="padding"),
        pytest.param("'123", "text_number", 123.0, id="apostrophe"),
        pytest.param("+5", "text_number", 5.0, id="plus"),
        pytest.param("-12", "text_number", -12.0, id="minus"),
        pytest.param("−12", "text_number", -12.0, id="unicode-minus"),
        pytest.param("–12", "text_number", -12.0, id="en-dash-minus"),
        pytest.param("(12)", "text_number", -12.0, id="accounting-negative"),
        pytest.param("(1.234,5)", "text_number", -1234.5, id="accounting-vn"),
        pytest.param("-0", "text_number", 0.0, id="minus-zero"),
        # percentages
        pytest.param("80%", "percent", 0.8, id="percent"),
        pytest.param("80 %", "percent", 0.8, id="percent-space"),
        pytest.param("80,5%", "percent", 0.805, id="percent-decimal"),
        pytest.param("100%", "percent", 1.0, id="hundred"),
        pytest.param("-7%", "percent", -0.07, id="percent-negative"),
        pytest.param("95,25 %", "percent", 0.9525, id="percent-two-decimals"),
        # errors and words
        pytest.param("#DIV/0!", "error", None, id="div0"),
        pytest.param("#N/A", "error", None, id="na"),
        pytest.param("#VALUE!", "error", None, id="value"),
        pytest.param("#REF!", "error", None, id="ref"),
        pytest.param("#NAME?", "error", None, id="name"),
        pytest.param("không", "not_number", None, id="khong"),
        pytest.param("x", "not_number", None, id="x"),
        pytest.param("12 vụ", "not_number", None, id="with-unit"),
        pytest.param("1.2.3", "not_number", None, id="bad-grouping-dots"),
        pytest.param("1,23,4", "not_number", None, id="bad-grouping-commas"),
        pytest.param("12 5", "not_number", None, id="bad-grouping-spaces"),
        pytest.param("1.234.5", "not_number", None, id="short-last-group"),
        pytest.param("1.234,5,6", "not_number", None, id="two-decimal-commas"),
        pytest.param("12.", "not_number", None, id="trailing-dot"),
        pytest.param("%", "not_number", None, id="percent-only"),
        pytest.param("1e5", "not_number", None, id="exponent"),
        pytest.param("١٢", "not_number", None, id="arabic-indic-digits"),
        pytest.param("１２", "not_number", None, id="fullwidth-digits"),
        pytest.param("--5", "not_number", None, id="double-minus"),
    ],
)
def test_parse_number(raw, kind, number):
    parsed = parse_number(raw)
    assert (parsed.kind, parsed.number) == (kind, number)
    assert parsed.alternatives is None
    assert parsed.ok is (number is not None)
    assert parsed.raw is raw


@pytest.mark.parametrize(
    ("raw", "alternatives"),
    [
        pytest.param("1,234", (1.234, 1234.0), id="one-comma-three-digits"),
        pytest.param("12,500", (12.5, 12500.0), id="twelve-comma-500"),
        pytest.param("-1,234", (-1234.0, -1.234), id="negative"),
        pytest.param("1,234%", (0.01234, 12.34), id="percent"),
    ],
)
def test_parse_number_ambiguous(raw, alternatives):
    assert _kind_number(parse_number(raw)) == ("ambiguous", None, alternatives)


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        pytest.param(3.0, True, id="whole"),
        pytest.param(0.1 + 0.2 - 0.3 + 2, True, id="float-noise"),
        pytest.param(1e12 + 1e-4, True, id="big-with-noise"),
        pytest.param(2.5, False, id="half"),
        pytest.param(2.001, False, id="small-fraction"),
        pytest.param(-4.0, True, id="negative"),
        pytest.param(float("nan"), False, id="nan"),
        pytest.param(float("inf"), False, id="inf"),
    ],
)
def test_is_integral(x, expected):
    assert is_integral(x) is expected


@pytest.mark.parametrize(
    ("x", "decimals", "trim", "expected"),
    [
        pytest.param(1234, 0, False, "1.234", id="thousands"),
        pytest.param(12.5, 1, False, "12,5", id="decimal"),
        pytest.param(1234567.891, 2, False, "1.234.567,89", id="both"),
        pytest.param(-1234.5, 1, False, "-1.234,5", id="negative"),
        pytest.param(999.5, 0, False, "1.000", id="rounds-up-half"),
        pytest.param(2.675, 2, False, "2,68", id="half-away-from-zero"),
        pytest.param(-0.004, 2, False, "0,00", id="no-minus-zero"),
        pytest.param(12.0, 2, False, "12,00", id="fixed-decimals"),
        pytest.param(12.5, 2, True, "12,5", id="trim"),
        pytest.param(12.0, 2, True, "12", id="trim-all"),
        pytest.param(0, 0, False, "0", id="zero"),
        pytest.param(1e20, 0, False, "100.000.000.000.000.000.000", id="large"),
    ],
)
def test_format_vn(x, decimals, trim, expected):
    assert format_vn(x, decimals, trim=trim) == expected


@pytest.mark.parametrize(
    ("x", "kwargs", "expected"),
    [
        pytest.param(0.805, {}, "80,5%", id="default-one-decimal"),
        pytest.param(1, {}, "100,0%", id="hundred"),
        pytest.param(0.8, {"trim": True}, "80%", id="trim"),
        pytest.param(0.07, {"decimals": 0}, "7%", id="no-decimals"),
        pytest.param(0.95125, {"decimals": 2}, "95,13%", id="rounding"),
        pytest.param(-0.1, {}, "-10,0%", id="negative"),
    ],
)
def test_format_percent(x, kwargs, expected):
    assert format_percent(x, **kwargs) == expected


@pytest.mark.parametrize("bad", [float("nan"), float("inf")], ids=["nan", "inf"])
def test_format_refuses_non_finite(bad):
    with pytest.raises(ValueError):
        format_vn(bad)
    with pytest.raises(ValueError):
        format_percent(bad)


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        pytest.param("Có", "yes", id="co"),
        pytest.param("có", "yes", id="co-lower"),
        pytest.param(" CÓ ", "yes", id="co-upper-padded"),
        pytest.param("x", "yes", id="x"),
        pytest.param("X", "yes", id="X"),
        pytest.param("1", "yes", id="one-text"),
        pytest.param(1, "yes", id="one"),
        pytest.param(1.0, "yes", id="one-float"),
        pytest.param(True, "yes", id="true"),
        pytest.param("Đã thực hiện", "yes", id="da-thuc-hien"),
        pytest.param("Đạt", "yes", id="dat"),
        pytest.param("Hoàn thành.", "yes", id="hoan-thanh-dot"),
        pytest.param("co", "yes", id="co-no-diacritics"),
        pytest.param("✓", "yes", id="check-mark"),
        pytest.param("Không", "no", id="khong"),
        pytest.param("khong", "no", id="khong-no-diacritics"),
        pytest.param("Ko", "no", id="ko"),
        pytest.param("0", "no", id="zero-text"),
        pytest.param(0, "no", id="zero"),
        pytest.param(False, "no", id="false"),
        pytest.param("Chưa", "no", id="chua"),
        pytest.param("Chưa thực hiện", "no", id="chua-thuc-hien"),
        pytest.param("Không đạt", "no", id="khong-dat"),
        pytest.param(None, "empty", id="none"),
        pytest.param("", "empty", id="blank"),
        pytest.param(" \xa0", "empty", id="nbsp"),
        pytest.param("-", "empty", id="dash"),
        pytest.param(float("nan"), "empty", id="nan"),
        pytest.param("Cố", "not_yes_no", id="wrong-diacritics"),
        pytest.param("2", "not_yes_no", id="two"),
        pytest.param(2, "not_yes_no", id="two-number"),
        pytest.param("100%", "not_yes_no", id="percent"),
        pytest.param("Có thể", "not_yes_no", id="maybe"),
        pytest.param(date(2024, 1, 1), "not_yes_no", id="date"),
    ],
)
def test_parse_yes_no(raw, kind):
    parsed = parse_yes_no(raw)
    assert parsed.kind == kind
    assert parsed.value == {"yes": True, "no": False}.get(kind)
    assert parsed.raw is raw


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(datetime(2024, 8, 19, 10, 30), date(2024, 8, 19), id="datetime"),
        pytest.param(date(2024, 8, 19), date(2024, 8, 19), id="date"),
        pytest.param(45523, date(2024, 8, 19), id="serial"),
        pytest.param(45523.75, date(2024, 8, 19), id="serial-with-time"),
        pytest.param(1, date(1900, 1, 1), id="serial-1"),
        pytest.param(59, date(1900, 2, 28), id="serial-59"),
        pytest.param(60, None, id="serial-60-fake-leap-day"),
        pytest.param(61, date(1900, 3, 1), id="serial-61"),
        pytest.param(0, None, id="serial-0"),
        pytest.param(-5, None, id="serial-negative"),
        pytest.param(1e20, None, id="serial-huge"),
        pytest.param(True, None, id="bool"),
        pytest.param(None, None, id="none"),
        pytest.param("19/8/2024", date(2024, 8, 19), id="slash"),
        pytest.param("19-08-2024", date(2024, 8, 19), id="dash"),
        pytest.param("19.08.2024", date(2024, 8, 19), id="dot"),
        pytest.param(" 19 / 8 / 2024 ", date(2024, 8, 19), id="spaces"),
        pytest.param("19/8/24", date(2024, 8, 19), id="two-digit-year"),
        pytest.param("19/08/2024 10:30", date(2024, 8, 19), id="with-time"),
        pytest.param("2024-08-19", date(2024, 8, 19), id="iso"),
        pytest.param("2024-08-19T00:00:00", date(2024, 8, 19), id="iso-datetime"),
        pytest.param("ngày 19 tháng 8 năm 2024", date(2024, 8, 19), id="words"),
        pytest.param("Ngày 03 tháng 02 năm 2025", date(2025, 2, 3), id="words-capital"),
        pytest.param(
            "Thanh Hóa, ngày 19 tháng 8 năm 2024", date(2024, 8, 19), id="words-in-a-line"
        ),
        pytest.param("8/19/2024", None, id="month-first-refused"),
        pytest.param("31/2/2024", None, id="no-such-day"),
        pytest.param("29/2/2024", date(2024, 2, 29), id="leap-day"),
        pytest.param("19/8/2024/1", None, id="extra-part"),
        pytest.param("19-08/2024", None, id="mixed-separators"),
        pytest.param("hôm qua", None, id="words-no-date"),
        pytest.param("", None, id="blank"),
    ],
)
def test_parse_date(raw, expected):
    assert parse_date(raw) == expected


# --- properties -----------------------------------------------------------------------


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_format_then_parse_round_trips_integers(n):
    parsed = parse_number(format_vn(n))
    assert (parsed.kind, parsed.number) == ("text_number", float(n))


@given(st.integers(min_value=-(10**12), max_value=10**12), st.sampled_from([1, 2]))
def test_format_then_parse_round_trips_decimals(n, decimals):
    x = n / 10**decimals
    parsed = parse_number(format_vn(x, decimals))
    assert parsed.kind == "text_number"
    assert math.isclose(parsed.number, x, rel_tol=1e-12, abs_tol=1e-12)


@given(st.integers(min_value=0, max_value=100_000))
def test_format_percent_then_parse_round_trips(n):
    x = n / 1000  # 0,0% … 10000,0% in steps of 0,1%
    parsed = parse_number(format_percent(x))
    assert parsed.kind == "percent"
    assert math.isclose(parsed.number, x, rel_tol=1e-12, abs_tol=1e-12)


@given(st.text())
def test_parse_number_never_raises_on_text(value):
    parsed = parse_number(value)
    assert parsed.kind in {"empty", "text_number", "percent", "ambiguous", "not_number", "error"}
    assert parsed.number is None or math.isfinite(parsed.number)


@given(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.decimals(),
        st.datetimes(),
        st.text(alphabet="0123456789.,%-−–() '\xa0", max_size=12),
    )
)
def test_parsers_never_raise(value):
    parse_number(value)
    parse_yes_no(value)
    parse_date(value)


@given(st.dates(min_value=date(1900, 3, 1), max_value=date(9999, 12, 31)))
def test_parse_date_serial_and_text_round_trip(d):
    serial = (d - date(1899, 12, 30)).days
    assert parse_date(serial) == d
    if d.year >= 1000:
        assert parse_date(f"{d.day}/{d.month}/{d.year}") == d
        assert parse_date(f"{d:%d.%m.%Y}") == d
        assert parse_date(d.isoformat()) == d


def test_serial_counts_days_like_excel():
    # 1 March 1900 is serial 61 because Excel keeps a 29 February 1900.
    assert parse_date(61) + timedelta(days=45523 - 61) == parse_date(45523)
