"""Bundled rosters across the 2025 reform, and rosters read from users' CSV and xlsx files."""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from pathlib import Path

import openpyxl
import pytest

from logic.errors import RosterError
from logic.roster import Roster
from workbooks.rosters import BUNDLED_DIR, bundled_rosters, load_roster, national_roster

D = dt.date
THREE_LEVELS, OLD_COMMUNES, NEW_COMMUNES = D(2024, 10, 1), D(2025, 4, 1), D(2025, 8, 1)
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "rosters"
IDS = ["nghe-an", "quang-ninh", "thanh-hoa", "tra-vinh"]

# (province, districts, communes) until 30/06/2025; (province, communes) from 01/07/2025.
COUNTS = {
    "thanh-hoa": ("38", 26, 549, "38", 166),
    "nghe-an": ("40", 20, 412, "40", 130),  # 412 → 130 as in the domain note
    "tra-vinh": ("84", 9, 104, "86", 124),  # Trà Vinh went into Vĩnh Long
    "quang-ninh": ("22", 13, 171, "22", 54),
}


@pytest.fixture(scope="module")
def rosters() -> dict[str, Roster]:
    return {rid: load_roster(rid) for rid in IDS}


def levels(tree) -> Counter:
    return Counter(u.level for u in tree.units.values())


def test_bundled_ids():
    assert bundled_rosters() == IDS


@pytest.mark.parametrize("rid", IDS)
def test_three_shapes(rosters, rid):
    roster = rosters[rid]
    roster.check()
    province, districts, communes, new_province, new_communes = COUNTS[rid]

    before = roster.tree(THREE_LEVELS)
    assert before.levels == ("province", "district", "commune")
    assert before.roots() == [province]
    assert levels(before) == {"province": 1, "district": districts, "commune": communes}

    between = roster.tree(OLD_COMMUNES)
    assert between.levels == ("province", "commune")
    assert between.roots() == [province]
    assert set(between.communes_under(province)) == set(before.communes_under(province))
    assert {between.unit(c).parent for c in between.communes_under(province)} == {province}

    after = roster.tree(NEW_COMMUNES)
    assert after.levels == ("province", "commune")
    assert after.roots() == [new_province]
    assert len(after.communes_under(new_province)) == new_communes


def test_thanh_hoa_has_26_district_units_in_the_january_2025_roster(rosters):
    # The domain note says 27, then 26: the bundled data starts from January 2025, when
    # Đông Sơn was already part of Thanh Hóa city (its communes sit under district 380).
    tree = rosters["thanh-hoa"].tree(THREE_LEVELS)
    assert len(tree.children["38"]) == 26
    assert tree.unit("16378").name == "Phường Rừng Thông"
    assert tree.unit("16378").parent == "380"


@pytest.mark.parametrize(
    ("rid", "old", "new", "new_name"),
    [
        ("thanh-hoa", "16057", "16063", "Xã Hoa Lộc"),  # code re-used from another old commune
        ("thanh-hoa", "16063", "16063", "Xã Hoa Lộc"),
        ("nghe-an", "17146", "17152", "Xã Quỳnh Sơn"),
        ("tra-vinh", "29239", "29242", "Phường Trà Vinh"),
        ("quang-ninh", "06808", "06820", "Phường Vàng Danh"),
    ],
)
def test_successor_on_the_july_tree(rosters, rid, old, new, new_name):
    tree = rosters[rid].tree(NEW_COMMUNES)
    assert rosters[rid].find(old, OLD_COMMUNES) is not None
    assert tree.successor(old) == new
    assert tree.unit(new).name == new_name


@pytest.mark.parametrize(("rid", "unmapped"), [("thanh-hoa", {"16387", "16411"}), ("nghe-an", set()),
                                               ("tra-vinh", set()), ("quang-ninh", set())])  # fmt: skip
def test_every_old_commune_has_a_successor_unless_the_source_has_none(rosters, rid, unmapped):
    roster = rosters[rid]
    old = roster.tree(OLD_COMMUNES)
    new = roster.tree(NEW_COMMUNES)
    lost = {c for c in old.communes_under(old.roots()[0]) if new.successor(c) is None}
    assert lost == unmapped


def test_tra_vinh_becomes_vinh_long(rosters):
    roster = rosters["tra-vinh"]
    assert roster.tree(D(2025, 6, 30)).roots() == ["84"]
    july = roster.tree(D(2025, 7, 1))
    assert july.unit("86").name == "Tỉnh Vĩnh Long"
    assert july.successor("84") == "86"
    # 41 of Vĩnh Long's 124 communes took over Trà Vinh communes; the rest came from
    # communes of old Vĩnh Long and Bến Tre, which this roster does not hold.
    assert sum(1 for u in july.units.values() if u.replaces and u.level == "commune") == 41


def test_uong_bi_scope_on_the_quang_ninh_roster(rosters):
    roster = rosters["quang-ninh"]
    before = roster.tree(THREE_LEVELS).subtree("196")
    assert before.roots() == ["196"]
    assert before.unit("196").name == "Thành phố Uông Bí"
    old = before.communes_under("196")
    assert len(old) == 10
    # After 01/03/2025 there is no district 196 to scope on; Uông Bí's communes are found
    # through their successors: three new wards, all made only of Uông Bí communes.
    assert "196" not in roster.tree(OLD_COMMUNES)
    july = roster.tree(NEW_COMMUNES)
    new = {july.successor(c) for c in old}
    assert sorted(july.unit(c).name for c in new) == ["Phường Uông Bí", "Phường Vàng Danh",
                                                      "Phường Yên Tử"]  # fmt: skip
    assert {r for c in new for r in july.unit(c).replaces} == set(old)


def test_bundled_files_are_plain_and_email_is_empty():
    for rid in IDS:
        with (BUNDLED_DIR / f"{rid}.csv").open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        assert list(rows[0]) == ["code", "name", "level", "parent", "valid_from", "valid_to",
                                 "replaces", "email"]  # fmt: skip
        assert all(r["email"] == "" for r in rows)


def test_bundled_rosters_are_cached_and_survive_rows(rosters):
    assert load_roster("nghe-an") is rosters["nghe-an"]
    again = Roster.from_rows(rosters["nghe-an"].to_rows())
    assert again.units == rosters["nghe-an"].units


def write_csv(path: Path, rows: list[list]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


VN_HEADER = ["Mã", "Tên", "Cấp", "Mã cấp trên", "Hiệu lực từ", "Hiệu lực đến", "Thay cho", "Email"]
GOOD = [
    VN_HEADER,
    ["01", "Tỉnh A", "tỉnh", "", "", "", "", ""],
    ["001", "Huyện B", "huyện", "01", "", "28/02/2025", "", ""],
    ["00001", "Xã C", "xã", "001", "", "28/02/2025", "", "xac@example.vn"],
    ["00001", "Xã C", "xã", "01", "01/03/2025", "", "", "xac@example.vn"],
]


def test_user_csv_with_vietnamese_headers(tmp_path):
    roster = load_roster(write_csv(tmp_path / "danh-muc.csv", GOOD))
    assert roster.name == "danh-muc"
    assert roster.tree(D(2025, 1, 1)).ancestors("00001") == ["001", "01"]
    assert roster.tree(D(2025, 3, 1)).ancestors("00001") == ["01"]
    assert roster.find("00001").email == ("xac@example.vn",)


def test_user_xlsx_with_typed_cells(tmp_path):
    book = openpyxl.Workbook()
    book.active.title = "Ghi chú"
    book.active["A1"] = "Danh mục đơn vị dùng cho kế hoạch"
    ws = book.create_sheet("Đơn vị")
    ws.append(["Mã", "Tên", "Cấp", "Mã cấp trên", "Hiệu lực từ", "Hiệu lực đến", "Thay cho"])
    ws.append([1, "Tỉnh A", "Tỉnh", None, None, None, None])
    ws.append([1001, "Xã C", "Xã", 1, None, dt.datetime(2025, 6, 30), None])
    ws.append([1004, "Xã D", "xã", 1, None, "30/06/2025", None])
    ws.append([None, None, None, None, None, None, None])
    ws.append([1001, "Xã C mới", "xã", 1, dt.datetime(2025, 7, 1), None, "1001, 1004"])
    path = tmp_path / "danh-muc.xlsx"
    book.save(path)

    roster = load_roster(path)
    assert len(roster) == 4
    july = roster.tree(D(2025, 7, 1))
    assert july.communes_under("1") == ["1001"]
    assert july.successor("1004") == "1001"
    assert roster.tree(D(2025, 6, 30)).unit("1004").name == "Xã D"


@pytest.mark.parametrize(
    ("bad_row", "message"),
    [
        (["00001", "Xã E", "xã", "01", "01/04/2025", "", "", ""],
         "mã 00001 bị trùng vào ngày 01/04/2025 \\(Xã C / Xã E\\)"),
        (["00007", "Xã F", "xã", "002", "", "", "", ""],
         "đơn vị 00007 \\(Xã F\\): đơn vị cấp trên 002 không có"),
        (["00008", "Tổ G", "thôn", "01", "", "", "", ""], "dòng 6: cấp “thôn” không hợp lệ"),
    ],
    ids=["duplicate-code-on-a-date", "unknown-parent", "bad-level"],
)  # fmt: skip
def test_broken_csv_is_refused_in_vietnamese(tmp_path, bad_row, message):
    path = write_csv(tmp_path / "hong.csv", [*GOOD, bad_row])
    with pytest.raises(RosterError, match="Danh mục đơn vị không hợp lệ") as err:
        load_roster(path)
    assert err.match(message)


def test_missing_columns_and_files_are_named(tmp_path):
    with pytest.raises(RosterError, match="thiếu cột “Cấp”"):
        load_roster(write_csv(tmp_path / "thieu.csv", [["Mã", "Tên"], ["01", "Tỉnh A"]]))
    with pytest.raises(RosterError, match="Không tìm thấy danh mục đơn vị “ha-noi”"):
        load_roster("ha-noi")
    (tmp_path / "x.txt").write_text("Mã,Cấp\n", encoding="utf-8")
    with pytest.raises(RosterError, match=r"phải là tệp \.csv hoặc \.xlsx"):
        load_roster(tmp_path / "x.txt")


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared/ not beside the work tree")
def test_national_rosters():
    before = national_roster(SHARED / "vn-2025-01-3-levels.csv")
    assert Counter(u.level for u in before.units) == {
        "province": 63,
        "district": 696,
        "commune": 10051,
    }
    tree = before.tree(THREE_LEVELS)
    # Hà Nội, Ba Đình and Phúc Xá are all "1" unpadded; padded they are distinct.
    assert tree.ancestors("00001") == ["001", "01"]
    assert len(tree.roots()) == 63

    after = national_roster(SHARED / "vn-2025-07-2-levels.csv")
    july = after.tree(NEW_COMMUNES)
    assert july.levels == ("province", "commune")
    assert len(july.roots()) == 34
    assert len(july.communes_under("40")) == 130


def test_a_plan_scoped_to_a_dissolved_district_still_finds_its_communes():
    roster = load_roster("quang-ninh")
    before = roster.scoped_tree(dt.date(2025, 1, 15), "196")
    during = roster.scoped_tree(dt.date(2025, 4, 1), "196")
    after = roster.scoped_tree(dt.date(2025, 8, 19), "196")
    old_communes = set(before.communes_under("196"))
    assert old_communes and set(during.communes_under("196")) == old_communes
    # the ten Uông Bí communes became three new wards
    new = after.communes_under("196")
    assert sorted(after.unit(c).name for c in new) == [
        "Phường Uông Bí",
        "Phường Vàng Danh",
        "Phường Yên Tử",
    ]
    assert after.unit("196").name == before.unit("196").name
