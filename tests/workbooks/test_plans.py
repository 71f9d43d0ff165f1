"""Plans as files: the six bundled plans against their articles, TOML and Excel plans."""

from __future__ import annotations

import csv
import datetime as dt
import json
import unicodedata
from pathlib import Path

import openpyxl
import pytest

from logic.errors import PlanError
from logic.plan import COMPONENTS, load_plan
from logic.roster import Roster
from workbooks import plans
from workbooks.plans import (
    PLANS_DIR,
    bundled_plans,
    describe,
    load,
    plan_to_dict,
    read_plan_units,
    read_plan_workbook,
    write_plan_workbook,
)

D = dt.date
BUNDLED = [
    "nghe-an-2024",
    "tra-vinh-cong-an-2024",
    "tra-vinh-co-so-2024",
    "uong-bi-2024",
    "thanh-hoa-2024",
    "vi-an-ninh-to-quoc-2022",
]
ROSTERS_DIR = Path(plans.__file__).parent / "data" / "rosters"
LOCAL_NOTE = "Chỉ tiêu do địa phương xác định"


def targets(plan) -> dict[str, tuple]:
    """code -> (kind, op, value, local) for every indicator."""
    return {i.code: (i.kind, i.target.op, i.target.value, i.target.local) for i in plan.indicators}


def problems(excinfo) -> list[str]:
    return [line for p in excinfo.value.problems for line in p.splitlines()]


# --- the bundled plans ----------------------------------------------------------------------


def test_the_bundled_ids_are_the_contract_ones():
    assert bundled_plans() == sorted(BUNDLED)


@pytest.mark.parametrize("plan_id", BUNDLED)
def test_every_bundled_plan_loads_and_is_sourced(plan_id):
    plan = load(plan_id)
    assert plan.id == plan_id
    assert plan.source and plan.source.startswith(("000_", "001_", "002_", "003_", "004_"))
    assert plan.issuer
    assert [p.code for p in plan.phases] == [str(n) for n in range(1, len(plan.phases) + 1)]
    assert plan.groups and all(i.group for i in plan.indicators)
    for ind in plan.indicators:
        assert unicodedata.is_normalized("NFC", ind.name)
        assert ind.unit != "trường hợp", ind.code  # every indicator says what it counts
        assert set(ind.labels) == set(COMPONENTS[ind.kind]), ind.code
        t = ind.target
        # No figure without a value; a missing figure is local and says so.
        assert t.value is not None or t.local, ind.code
        if t.local:
            assert t.value is None, ind.code
            assert ind.note and ind.note.startswith(LOCAL_NOTE), ind.code


PHASES = {
    "nghe-an-2024": [(D(2024, 10, 18), D(2025, 2, 3)), (D(2025, 2, 4), D(2025, 8, 19))],
    "tra-vinh-cong-an-2024": [
        (D(2024, 8, 19), D(2025, 2, 3)),
        (D(2025, 2, 4), D(2025, 5, 19)),
        (D(2025, 5, 20), D(2025, 8, 19)),
    ],
    "tra-vinh-co-so-2024": [(D(2024, 8, 19), D(2025, 2, 3)), (D(2025, 2, 4), D(2025, 8, 19))],
    "uong-bi-2024": [(D(2024, 8, 19), D(2025, 2, 3)), (D(2025, 2, 4), D(2025, 8, 19))],
    "thanh-hoa-2024": [
        (D(2024, 8, 19), D(2025, 2, 3)),
        (D(2025, 2, 4), D(2025, 5, 19)),
        (D(2025, 5, 20), D(2025, 8, 19)),
    ],
    "vi-an-ninh-to-quoc-2022": [(D(2022, 1, 1), D(2022, 12, 31))],
}


@pytest.mark.parametrize("plan_id", BUNDLED)
def test_phases_are_the_articles_dates(plan_id):
    plan = load(plan_id)
    expected = PHASES[plan_id]
    assert [(p.start, p.end) for p in plan.phases] == expected
    assert (plan.start, plan.end) == (expected[0][0], expected[-1][1])


def test_thanh_hoa_phase_themes_are_the_articles():
    plan = load("thanh-hoa-2024")
    assert "95 năm Ngày thành lập Đảng" in plan.phase("1").theme
    assert "135 năm Ngày sinh Chủ tịch Hồ Chí Minh" in plan.phase("2").theme
    assert "80 năm Ngày truyền thống Công an Nhân dân" in plan.phase("3").theme


ROSTER_SCOPES = {
    "nghe-an-2024": ("nghe-an", "40", "Tỉnh Nghệ An"),
    "tra-vinh-cong-an-2024": ("tra-vinh", "84", "Tỉnh Trà Vinh"),
    "tra-vinh-co-so-2024": ("tra-vinh", "84", "Tỉnh Trà Vinh"),
    "uong-bi-2024": ("quang-ninh", "196", "Thành phố Uông Bí"),
    "thanh-hoa-2024": ("thanh-hoa", "38", "Tỉnh Thanh Hóa"),
}


@pytest.mark.parametrize("plan_id", sorted(ROSTER_SCOPES))
def test_roster_and_scope_are_bundled_units(plan_id):
    roster_id, scope, name = ROSTER_SCOPES[plan_id]
    plan = load(plan_id)
    assert (plan.roster, plan.scope) == (roster_id, scope)
    with (ROSTERS_DIR / f"{roster_id}.csv").open(encoding="utf-8") as f:
        names = {row["code"]: row["name"] for row in csv.DictReader(f)}
    assert names[scope] == name


def test_tra_vinh_police_targets_are_exactly_the_articles():
    plan = load("tra-vinh-cong-an-2024")
    t = targets(plan)
    assert t["CT01"] == ("reduction", ">=", 0.07, False)  # kéo giảm ít nhất 07%
    assert t["CT02"] == ("reduction", ">=", 0.10, False)  # giảm 10% vụ, việc tạm đình chỉ
    assert t["CT03"] == ("ratio", ">=", 1.0, False)  # tiếp nhận, xử lý 100% tin báo
    assert t["CT04"] == ("ratio", ">", 0.95, False)  # tỷ lệ giải quyết trên 95%
    assert t["CT05"] == ("ratio", ">", 0.80, False)  # điều tra khám phá trên 80%
    assert t["CT06"] == ("ratio", ">", 0.95, False)  # rất nghiêm trọng, ĐBNT trên 95%
    for code in ("CT07", "CT08", "CT09", "CT11"):  # TNGT 3 tiêu chí; cháy nổ ĐBNT
        assert t[code] == ("reduction", ">", 0, False)
    assert plan.indicator("CT10").kind == "all_of"
    assert plan.indicator("CT10").parts == ("CT07", "CT08", "CT09")
    assert [plan.indicator(c).unit for c in ("CT07", "CT08", "CT09")] == ["vụ", "người", "người"]
    assert plan.indicator("CT01").target.wording.startswith("phấn đấu kéo giảm ít nhất 07%")
    assert plan.indicator("CT04").target.wording == "tỷ lệ giải quyết đạt trên 95%"
    judged = [c for c, (_, _, value, _) in t.items() if value is not None]
    assert judged == [f"CT{n:02}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13)]


def test_uong_bi_targets_are_exactly_the_articles():
    plan = load("uong-bi-2024")
    t = targets(plan)
    assert t["CT01"] == ("ratio", ">=", 0.8, False)  # 80% nguồn tin từ Nhân dân
    assert plan.indicator("CT01").unit == "tin báo"
    assert t["CT02"] == ("minimum", ">=", 1, False)  # ít nhất 01 mô hình mỗi phường, xã
    assert t["CT03"] == ("ratio", ">=", 1.0, False)  # 100% hoạt động PCCC phối hợp
    assert t["CT04"] == ("ratio", ">=", 1.0, False)  # 100% dưới 14 tuổi cấp căn cước
    assert t["CT05"] == ("ratio", ">=", 0.8, False)  # 80% định danh điện tử
    assert t["CT06"] == ("reduction", ">=", 0, False)  # kiềm chế tái phạm
    assert t["CT07"] == ("reduction", ">", 0, False)  # giảm tai nạn giao thông
    assert {c for c, v in t.items() if v[3]} == {"CT08", "CT09", "CT10"}
    assert plan.indicator("CT02").target.wording.startswith("phát triển ít nhất 01 mô hình")


def test_nghe_an_has_the_seven_content_groups_and_no_figures():
    plan = load("nghe-an-2024")
    assert len(plan.groups) == 7
    assert plan.groups[0].name == "Thi đua hỗ trợ Công an cấp xã nắm tình hình ANTT"
    assert plan.groups[-1].name.startswith(
        "Thi đua xây dựng, phát huy, nhân rộng những hình ảnh đẹp"
    )
    assert {i.group for i in plan.indicators} == {g.code for g in plan.groups}
    assert all(i.target.local for i in plan.indicators)
    assert (
        plan.theme == "Lực lượng mới, khí thế mới, thi đua bảo đảm ANTT ở cơ sở trong tình hình mới"
    )


def test_tra_vinh_grassroots_plan_has_seven_groups_all_local():
    plan = load("tra-vinh-co-so-2024")
    assert len(plan.groups) == 7
    assert all(i.target.local for i in plan.indicators)


def test_thanh_hoa_has_every_kind_and_says_where_its_figures_come_from():
    plan = load("thanh-hoa-2024")
    assert {i.kind for i in plan.indicators} == {
        "ratio", "reduction", "count", "minimum", "yes_no", "all_of"
    }  # fmt: skip
    # The article has no figures: every figure is the nationwide one as published for Trà Vinh.
    tra_vinh = targets(load("tra-vinh-cong-an-2024"))
    for ind in plan.indicators:
        if ind.kind in ("ratio", "reduction") and ind.target.value is not None:
            assert "Trà Vinh" in (ind.note or ""), ind.code
            same = [
                v
                for v in tra_vinh.values()
                if v[0] == ind.kind and v[1:3] == (ind.target.op, ind.target.value)
            ]
            assert same, ind.code
    assert sum(1 for i in plan.indicators if i.target.local) == 5
    assert "27" in plan.source


def test_vi_an_ninh_2022_reports_last_years_results_as_notes_not_targets():
    plan = load("vi-an-ninh-to-quoc-2022")
    assert [(p.name, p.start, p.end) for p in plan.phases] == [
        ("Năm 2022", D(2022, 1, 1), D(2022, 12, 31))
    ]
    assert {i.kind for i in plan.indicators} == {"count"}
    assert all(i.target.local and i.target.value is None for i in plan.indicators)
    figures = {i.code: i.note for i in plan.indicators}
    for code, figure in {
        "CT01": "17 mô hình", "CT02": "2 trong 17", "CT03": "2 tập thể", "CT04": "10 tập thể",
        "CT05": "8 tập thể", "CT06": "12 cá nhân", "CT07": "18 tập thể", "CT08": "56 cá nhân",
    }.items():  # fmt: skip
        assert figure in figures[code]
        assert "Kết quả năm 2021" in figures[code] and "không phải chỉ tiêu" in figures[code]
    assert plan.roster is None  # the article names no province


# --- TOML files and plain data ---------------------------------------------------------------


@pytest.mark.parametrize("plan_id", BUNDLED)
def test_plan_to_dict_round_trips(plan_id):
    plan = load(plan_id)
    assert load_plan(plan_to_dict(plan)) == plan
    as_json = json.loads(json.dumps(plan_to_dict(plan, json_safe=True)))
    assert load_plan(as_json) == plan


def test_a_toml_path_loads_and_dates_may_be_dd_mm_yyyy(tmp_path):
    text = (PLANS_DIR / "uong-bi-2024.toml").read_text(encoding="utf-8")
    text = text.replace("end = 2025-02-03", 'end = "03/02/2025"')
    path = tmp_path / "ke-hoach.toml"
    path.write_text(unicodedata.normalize("NFD", text), encoding="utf-8")  # as saved on a Mac
    plan = load(path)
    assert plan.phase("1").end == D(2025, 2, 3)
    assert plan == load("uong-bi-2024")
    assert load(str(path)) == plan


def test_toml_errors_name_line_and_field(tmp_path):
    text = (PLANS_DIR / "uong-bi-2024.toml").read_text(encoding="utf-8")
    bad_date = tmp_path / "ngay.toml"
    bad_date.write_text(text.replace("end = 2025-02-03", "end = 2025-02-30"), encoding="utf-8")
    with pytest.raises(PlanError) as e:
        load(bad_date)
    line = text.splitlines().index("end = 2025-02-03") + 1
    assert problems(e) == [
        f"tệp TOML sai cú pháp ở dòng {line}, cột 7: ngày không hợp lệ (ghi dạng yyyy-mm-dd, ví dụ 2024-08-19)"
    ]
    assert str(e.value).startswith("Kế hoạch không hợp lệ (ngay.toml):")

    overlap = tmp_path / "chong.toml"
    overlap.write_text(text.replace("start = 2025-02-04", "start = 2025-02-01"), encoding="utf-8")
    with pytest.raises(PlanError) as e:
        load(overlap)
    assert problems(e) == ["đợt 1 (19/08/2024–03/02/2025) chồng lên đợt 2 (01/02/2025–19/08/2025)"]

    part = tmp_path / "thanh-phan.toml"
    tv = (PLANS_DIR / "tra-vinh-cong-an-2024.toml").read_text(encoding="utf-8")
    part.write_text(tv.replace('"CT08", "CT09"]', '"CT08", "CT90"]'), encoding="utf-8")
    with pytest.raises(PlanError) as e:
        load(part)
    assert problems(e) == ["chỉ tiêu CT10: chỉ tiêu thành phần “CT90” không có trong kế hoạch"]


def test_unknown_id_lists_the_bundled_ones_and_missing_file_is_named(tmp_path):
    with pytest.raises(PlanError) as e:
        load("thanh-hoa-2025")
    [message] = problems(e)
    assert message.startswith("không có kế hoạch có sẵn mã “thanh-hoa-2025”. Các kế hoạch có sẵn:")
    assert all(pid in message for pid in BUNDLED)
    with pytest.raises(PlanError) as e:
        load(tmp_path / "khong-co.toml")
    assert problems(e) == [f"không tìm thấy tệp kế hoạch “{tmp_path / 'khong-co.toml'}”"]
    other = tmp_path / "ke-hoach.txt"
    other.write_text("x", encoding="utf-8")
    with pytest.raises(PlanError) as e:
        load(other)
    assert "chỉ đọc được tệp .toml hoặc .xlsx" in problems(e)[0]


# --- Excel plans ------------------------------------------------------------------------------


@pytest.mark.parametrize("plan_id", BUNDLED)
def test_plan_workbook_round_trips(plan_id, tmp_path):
    plan = load(plan_id)
    path = write_plan_workbook(plan, tmp_path / f"{plan_id}.xlsx")
    assert load(path) == plan
    assert load_plan(read_plan_workbook(path)) == plan
    assert read_plan_units(path) is None


def test_phase_and_level_targets_and_units_round_trip(tmp_path):
    data = plan_to_dict(load("uong-bi-2024"))
    ind = data["indicators"][1]  # CT02, minimum
    ind["targets_by_phase"] = {"2": {"op": ">=", "value": 2, "wording": "đợt 2: ít nhất 02"}}
    ind["level_targets"] = {"district": {"op": ">=", "value": 0.9}}
    ind["coverage"] = 0.9
    ind["levels"] = ["commune", "district"]
    plan = load_plan(data)
    roster = Roster.from_rows([
        {"code": "196", "name": "Thành phố Uông Bí", "level": "district", "valid_to": "2025-02-28"},
        {"code": "06832", "name": "Phường Vàng Danh", "level": "commune", "parent": "196",
         "valid_from": "2024-01-01", "valid_to": "2025-02-28", "email": "vangdanh@example.vn"},
    ])  # fmt: skip
    path = write_plan_workbook(plan, tmp_path / "uong-bi.xlsx", units=roster)
    assert load(path) == plan
    back = read_plan_units(path)
    assert list(back.units) == list(roster.units)


def user_workbook(path: Path) -> Path:
    """A plan typed by a clerk: moved columns, Vietnamese words, text dates and numbers."""
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "Kế hoạch"
    rows = [
        ("KẾ HOẠCH THI ĐUA", None),
        ("Mã kế hoạch", "xa-mau-2024"),
        ("Tên kế hoạch", "Thi đua\u00a0đặc biệt xã mẫu"),
        ("Ngày bắt đầu", "19/8/2024"),
        ("Ngày kết thúc", dt.datetime(2025, 8, 19)),
        ("Đơn vị phạm vi", 196),
    ]
    for r in rows:
        ws.append(r)
    ph = book.create_sheet("Các đợt")
    ph.append(["Từ ngày", "Đến ngày", "Mã đợt", "Tên đợt"])
    ph.append(["19/08/2024", "03/02/2025", 1, "Đợt 1"])
    ph.append([dt.datetime(2025, 2, 4), dt.datetime(2025, 8, 19), 2, "Đợt 2"])
    ind = book.create_sheet(unicodedata.normalize("NFD", "Chỉ tiêu "))  # Mac, trailing space
    ind.append(["Mã", "Nội dung", "Loại", "Phép so sánh", "Giá trị", "Do địa phương đặt",
                "Tên tử số", "Tên mẫu số", "Thành phần", "Đơn vị tính"])  # fmt: skip
    ind.append(
        [
            "T1",
            "Tin từ Nhân dân",
            "tỉ lệ",
            "đạt",
            "80%",
            None,
            "Tin do dân báo",
            "Tổng số tin",
            None,
            "tin báo",
        ]
    )
    ind.append(
        ["T2", "Tái phạm", "Giảm so với cùng kỳ", "ít nhất", "0", None, None, None, None, "người"]
    )
    ind.append([])
    ind.append(["T3", "Giải quyết", "Tỷ lệ", "trên", "0,95", "", None, None, None, "tin báo"])
    ind.append(
        ["T4", "Mô hình", "tối thiểu mỗi xã", "≥", 1, None, "Số mô hình", None, None, "mô hình"]
    )
    ind.append(["T5", "Tuần tra", "số lượng", None, None, "x", None, None, None, "lượt"])
    ind.append(["T6", "Lập kế hoạch", "có/không", None, None, None, None, None, None, "đơn vị"])
    ind.append(["T7", "Cả hai", "đạt tất cả", None, None, None, None, None, "T2; T3", "tiêu chí"])
    ind.append(["T8", "Giảm vụ", "reduction", ">", "7%", None, None, None, None, "vụ"])
    book.save(path)
    return path


def test_a_clerks_workbook_is_read_the_way_it_is_meant(tmp_path):
    plan = load(user_workbook(tmp_path / "ke-hoach.xlsx"))
    assert (plan.id, plan.name, plan.scope) == ("xa-mau-2024", "Thi đua đặc biệt xã mẫu", "196")
    assert (plan.start, plan.end) == (D(2024, 8, 19), D(2025, 8, 19))
    assert [(p.code, p.start, p.end) for p in plan.phases] == [
        ("1", D(2024, 8, 19), D(2025, 2, 3)),
        ("2", D(2025, 2, 4), D(2025, 8, 19)),
    ]
    assert targets(plan) == {
        "T1": ("ratio", ">=", 0.8, False),
        "T2": ("reduction", ">=", 0, False),
        "T3": ("ratio", ">", 0.95, False),
        "T4": ("minimum", ">=", 1, False),
        "T5": ("count", ">=", None, True),
        "T6": ("yes_no", ">=", 1, False),
        "T7": ("all_of", ">=", 1, False),
        "T8": ("reduction", ">", 0.07, False),
    }
    assert plan.indicator("T1").labels == {
        "numerator": "Tin do dân báo",
        "denominator": "Tổng số tin",
    }
    assert plan.indicator("T7").parts == ("T2", "T3")


def edit(path: Path, out: Path, changes: dict[tuple[str, str], object]) -> Path:
    book = openpyxl.load_workbook(path)
    for (sheet, cell), value in changes.items():
        book[sheet][cell] = value
    book.save(out)
    return out


@pytest.fixture(scope="module")
def thanh_hoa_xlsx(tmp_path_factory) -> Path:
    return write_plan_workbook(load("thanh-hoa-2024"), tmp_path_factory.mktemp("plan") / "th.xlsx")


def test_bad_cells_are_named_by_sheet_row_and_column(thanh_hoa_xlsx, tmp_path):
    # Row 2 holds CT01; row 7 CT06. Column E is "Loại", G "Giá trị chỉ tiêu".
    bad = edit(thanh_hoa_xlsx, tmp_path / "bad.xlsx", {
        ("Chỉ tiêu", "E7"): "phần trăm",
        ("Chỉ tiêu", "G3"): "80",
        ("Chỉ tiêu", "F4"): "khoảng",
        ("Các đợt", "D3"): "31/02/2025",
        ("Kế hoạch", "B6"): "ngày 19 tháng 8",
    })  # fmt: skip
    with pytest.raises(PlanError) as e:
        load(bad)
    assert str(e.value).startswith("Kế hoạch không hợp lệ (bad.xlsx):")
    assert problems(e) == [
        "Trang “Kế hoạch”, dòng 6, cột Giá trị (Ngày bắt đầu): ngày “ngày 19 tháng 8” không hợp lệ (ghi dạng dd/mm/yyyy, ví dụ 19/08/2024)",
        "Trang “Các đợt”, dòng 3, cột Từ ngày: ngày “31/02/2025” không hợp lệ (ghi dạng dd/mm/yyyy, ví dụ 19/08/2024)",
        "Trang “Chỉ tiêu”, dòng 3, cột Giá trị chỉ tiêu: “80” lớn hơn 100%; chỉ tiêu loại “Giảm so với cùng kỳ” ghi dạng 80% hoặc 0,8",
        "Trang “Chỉ tiêu”, dòng 4, cột Phép so sánh: “khoảng” không phải phép so sánh; ghi ≥, >, ≤, <, = hoặc chữ: trên, đạt, ít nhất, tối thiểu, dưới, tối đa",
        "Trang “Chỉ tiêu”, dòng 7, cột Loại: “phần trăm” không phải loại chỉ tiêu; chọn một trong: Tỷ lệ, Giảm so với cùng kỳ, Số lượng, Tối thiểu mỗi xã, Có/Không, Đạt tất cả",
    ]
    with pytest.raises(PlanError):
        read_plan_workbook(bad)


def test_a_row_problem_names_its_cell(thanh_hoa_xlsx, tmp_path):
    bad = edit(thanh_hoa_xlsx, tmp_path / "bad1.xlsx", {
        ("Chỉ tiêu", "G2"): None,  # CT01 loses its value
        ("Các đợt", "B4"): None,  # phase 3 loses its name
    })  # fmt: skip
    with pytest.raises(PlanError) as e:
        load(bad)
    assert problems(e) == [
        "Trang “Các đợt”, dòng 4, cột Tên đợt: thiếu (bắt buộc)",
        "Trang “Chỉ tiêu”, dòng 2, cột Giá trị chỉ tiêu: chỉ tiêu chưa có giá trị: ghi giá trị hoặc đánh dấu “do địa phương đặt” (local = true)",
    ]


def test_whole_plan_problems_point_at_their_rows(thanh_hoa_xlsx, tmp_path):
    bad = edit(thanh_hoa_xlsx, tmp_path / "bad2.xlsx", {
        ("Các đợt", "D3"): "01/02/2025",  # phase 2 starts inside phase 1
        ("Chỉ tiêu", "J11"): "CT07, CT99",  # CT10 names an unknown part
        ("Chỉ tiêu", "B4"): "Z",  # CT03 in an unknown group
        ("Chỉ tiêu", "A5"): "CT02",  # CT04 renamed to an existing code
    })  # fmt: skip
    with pytest.raises(PlanError) as e:
        load(bad)
    assert sorted(problems(e)) == sorted([
        "Trang “Chỉ tiêu”, dòng 5, cột Mã: mã chỉ tiêu “CT02” bị trùng",
        "Trang “Các đợt”, dòng 3, cột Từ ngày: đợt 1 (19/08/2024–03/02/2025) chồng lên đợt 2 (01/02/2025–19/05/2025)",
        "Trang “Chỉ tiêu”, dòng 4, cột Nhóm: chỉ tiêu CT03: nhóm “Z” không có trong danh sách nhóm nội dung",
        "Trang “Chỉ tiêu”, dòng 11, cột Thành phần (mã chỉ tiêu): chỉ tiêu CT10: chỉ tiêu thành phần “CT99” không có trong kế hoạch",
    ])  # fmt: skip


def test_missing_sheets_and_files_that_are_not_workbooks(tmp_path):
    book = openpyxl.Workbook()
    book.active.title = "Kế hoạch"
    book.save(tmp_path / "thieu.xlsx")
    with pytest.raises(PlanError) as e:
        load(tmp_path / "thieu.xlsx")
    assert problems(e) == [
        "thiếu trang “Các đợt” (các trang cần có: Kế hoạch, Các đợt, Chỉ tiêu)",
        "thiếu trang “Chỉ tiêu” (các trang cần có: Kế hoạch, Các đợt, Chỉ tiêu)",
    ]
    fake = tmp_path / "gia.xlsx"
    fake.write_text("<html>không phải Excel</html>", encoding="utf-8")
    with pytest.raises(PlanError) as e:
        load(fake)
    assert problems(e)[0].startswith("không mở được tệp như một bảng tính Excel (.xlsx)")


def test_a_sheet_without_its_header_row_says_which_column_is_missing(thanh_hoa_xlsx, tmp_path):
    bad = edit(thanh_hoa_xlsx, tmp_path / "bad3.xlsx", {("Các đợt", "A1"): "Số thứ tự"})
    with pytest.raises(PlanError) as e:
        load(bad)
    assert problems(e) == [
        "Trang “Các đợt”: không tìm thấy dòng tiêu đề có cột “Mã đợt” trong 10 dòng đầu"
    ]


def test_text_starting_with_equals_is_written_as_text(tmp_path):
    data = plan_to_dict(load("uong-bi-2024"))
    data["indicators"][0]["note"] = '=HYPERLINK("http://x")'
    plan = load_plan(data)
    path = write_plan_workbook(plan, tmp_path / "p.xlsx")
    assert load(path) == plan
    book = openpyxl.load_workbook(path)
    assert book["Chỉ tiêu"]["O2"].data_type == "s"


# --- describe -----------------------------------------------------------------------------------


def test_describe_says_phases_and_targets_in_words():
    text = describe(load("tra-vinh-cong-an-2024"))
    assert "Thời gian: 19/08/2024 – 19/08/2025 (366 ngày)" in text
    assert "  Đợt 2: 04/02/2025 – 19/05/2025 (105 ngày)" in text
    assert "  A. Bảo vệ an ninh - trật tự" in text
    assert (
        "    CT01  Số vụ phạm tội về trật tự xã hội [Giảm so với cùng kỳ, vụ]: giảm ≥ 7% so với cùng kỳ"
        in text
    )
    assert "[Tỷ lệ, tin báo]: > 95%" in text
    assert "[Tỷ lệ, vụ]: > 80%" in text
    assert "[Đạt tất cả, tiêu chí]: đạt tất cả CT07, CT08, CT09" in text
    assert "[Số lượng, lượt]: do địa phương đặt" in text
    assert "Chỉ tiêu (13, trong đó 1 do địa phương đặt):" in text
    uong_bi = describe(load("uong-bi-2024"))
    assert "[Tỷ lệ, tin báo]: ≥ 80%" in uong_bi
    assert "[Tối thiểu mỗi xã, mô hình]: ≥ 1 mô hình mỗi xã" in uong_bi
    assert "không tăng so với cùng kỳ (kiềm chế)" in uong_bi


def test_describe_counts_units_under_the_scope_at_each_phase():
    roster = Roster.from_rows([
        {"code": "22", "name": "Tỉnh Quảng Ninh", "level": "province"},
        {"code": "196", "name": "Thành phố Uông Bí", "level": "district", "parent": "22",
         "valid_to": "2025-02-28"},
        {"code": "06832", "name": "Phường Vàng Danh", "level": "commune", "parent": "196",
         "valid_to": "2025-02-28"},
        {"code": "06835", "name": "Phường Thanh Sơn", "level": "commune", "parent": "196",
         "valid_to": "2025-02-28"},
        {"code": "06838", "name": "Phường Yên Thanh", "level": "commune", "parent": "196",
         "valid_to": "2024-12-31"},
    ])  # fmt: skip
    text = describe(load("uong-bi-2024"), roster)
    assert "Danh mục đơn vị: quang-ninh, phạm vi 196" in text
    assert "  Đợt 1 (19/08/2024): 1 huyện, 3 xã" in text
    assert "  Đợt 2 (04/02/2025): 1 huyện, 2 xã" in text
