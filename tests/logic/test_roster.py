"""The roster model on hand-built rows: dated trees, successors, checks (no files)."""

from __future__ import annotations

import datetime as dt

import pytest

from logic.errors import RosterError
from logic.roster import Roster

D = dt.date

# A province with one district of two communes until 28/02/2025, the communes under the
# province until 30/06/2025, then one merged commune that re-uses the first one's code.
ROWS = [
    {"code": "01", "name": "Tỉnh A", "level": "province"},
    {"code": "001", "name": "Huyện B", "level": "district", "parent": "01", "valid_to": "28/02/2025"},
    {"code": "00001", "name": "Xã C", "level": "commune", "parent": "001", "valid_to": "2025-02-28"},
    {"code": "00004", "name": "Xã D", "level": "commune", "parent": "001", "valid_to": "2025-02-28"},
    {"code": "00001", "name": "Xã C", "level": "commune", "parent": "01",
     "valid_from": "2025-03-01", "valid_to": "2025-06-30"},
    {"code": "00004", "name": "Xã D", "level": "commune", "parent": "01",
     "valid_from": "2025-03-01", "valid_to": "2025-06-30"},
    {"code": "00001", "name": "Xã C mới", "level": "commune", "parent": "01",
     "valid_from": "2025-07-01", "replaces": "00001, 00004", "email": "XaC@Example.vn"},
]  # fmt: skip


@pytest.fixture(scope="module")
def roster() -> Roster:
    return Roster.from_rows(ROWS, name="thử")


def test_each_date_has_its_own_shape(roster):
    before, between, after = (roster.tree(D(2024, 10, 1)), roster.tree(D(2025, 4, 1)),
                              roster.tree(D(2025, 8, 1)))  # fmt: skip
    assert before.levels == ("province", "district", "commune")
    assert before.ancestors("00004") == ["001", "01"]
    assert between.levels == ("province", "commune")
    assert between.ancestors("00004") == ["01"]
    assert after.communes_under("01") == ["00001"]
    assert after.unit("00001").name == "Xã C mới"
    assert after.unit("00001").email == ("xac@example.vn",)


def test_boundary_days_belong_to_the_right_shape(roster):
    assert "001" in roster.tree(D(2025, 2, 28))
    assert "001" not in roster.tree(D(2025, 3, 1))
    assert roster.tree(D(2025, 6, 30)).unit("00001").name == "Xã C"
    assert roster.tree(D(2025, 7, 1)).unit("00001").name == "Xã C mới"


def test_successor_maps_old_communes_into_today(roster):
    after = roster.tree(D(2025, 8, 1))
    assert after.successor("00004") == "00001"
    assert after.successor("00001") == "00001"
    assert after.successor("99999") is None
    assert {c: u.name for c, u in after.former.items()} == {"00001": "Xã C", "00004": "Xã D"}


def test_subtree_keeps_one_district(roster):
    sub = roster.tree(D(2024, 10, 1)).subtree("001")
    assert sub.roots() == ["001"]
    assert sub.communes_under("001") == ["00001", "00004"]


def test_rows_round_trip(roster):
    again = Roster.from_rows(roster.to_rows())
    assert again.units == roster.units


def test_find_takes_the_record_of_the_day(roster):
    assert roster.find("00001", D(2025, 4, 1)).parent == "01"
    assert roster.find("00001", D(2024, 4, 1)).parent == "001"
    assert roster.find("00001").name == "Xã C mới"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"code": "00004", "name": "Xã E", "level": "commune", "parent": "001"},
         "mã 00004 bị trùng"),
        ({"code": "00007", "name": "Xã F", "level": "commune", "parent": "002"},
         "đơn vị cấp trên 002 không có"),
        ({"code": "00008", "name": "Xã G", "level": "thôn"}, "cấp “thôn” không hợp lệ"),
        ({"code": "", "name": "Xã H", "level": "commune"}, "thiếu mã đơn vị"),
        ({"code": "00009", "name": "Xã I", "level": "commune", "valid_from": "31/02/2025"},
         "Ngày “31/02/2025”"),
    ],
    ids=["duplicate-code", "unknown-parent", "bad-level", "no-code", "bad-date"],
)  # fmt: skip
def test_broken_rosters_are_refused_in_vietnamese(change, message):
    with pytest.raises(RosterError, match=message):
        Roster.from_rows([*ROWS, change])


def test_a_parent_that_ends_before_its_child_is_refused():
    rows = [
        {"code": "01", "name": "Tỉnh A", "level": "province"},
        {"code": "001", "name": "Huyện B", "level": "district", "parent": "01", "valid_to": "2025-02-28"},
        {"code": "00001", "name": "Xã C", "level": "commune", "parent": "001"},
    ]  # fmt: skip
    with pytest.raises(RosterError, match="đơn vị cấp trên 001 không có vào ngày 01/03/2025"):
        Roster.from_rows(rows)
