"""``--roster``: a plan without a roster of its own, and the shared national list format."""

import datetime as dt
import json
import random

import openpyxl

from workbooks.cli import main
from workbooks.demo import figures
from workbooks.plans import load
from workbooks.rosters import load_roster
from workbooks.template import write_template

PLAN = "vi-an-ninh-to-quoc-2022"  # the article names no province: the plan carries no roster

# The shared format: codes unpadded, so Hà Nội, its first district and commune are all "1".
SHARED_CSV = """code,name,level,parent_code
1,Thành phố Hà Nội,province,
1,Quận Ba Đình,district,1
1,Phường Phúc Xá,commune,1
4,Phường Trúc Bạch,commune,1
2,Tỉnh Hà Giang,province,
24,Thành phố Hà Giang,district,2
688,Phường Quang Trung,commune,24
"""


def _roster_file(tmp_path):
    path = tmp_path / "vn-3-cap.csv"
    path.write_text(SHARED_CSV, encoding="utf-8")
    return path


def test_the_shared_format_loads_with_official_padded_codes(tmp_path):
    roster = load_roster(_roster_file(tmp_path))
    assert {u.code: u.level for u in roster.units} == {
        "01": "province", "001": "district", "00001": "commune", "00004": "commune",
        "02": "province", "024": "district", "00688": "commune",
    }  # fmt: skip


def test_template_and_consolidate_with_a_given_roster(tmp_path, capsys):
    roster = _roster_file(tmp_path)
    inbox = tmp_path / "hop-thu"
    inbox.mkdir()
    code = main(["template", "--plan", PLAN, "--unit", "00688", "--phase", "1",
                 "--roster", str(roster), "--out", str(inbox)])  # fmt: skip
    assert code == 0 and (inbox / "bao-cao-00688-dot-1.xlsx").is_file()
    # Phúc Xá filled its report (figures typed in by the project's own writer)
    plan, rnd = load(PLAN), random.Random(7)
    values = {i.code: figures(i, rnd, "1") for i in plan.reported_indicators}
    write_template(plan, load_roster(roster), "00001", "1", inbox / "phuc-xa.xlsx",
                   report_date=dt.date(2022, 12, 20), values=values)  # fmt: skip
    out, js = tmp_path / "tong-hop.xlsx", tmp_path / "tong-hop.json"
    code = main(["consolidate", str(inbox), "--roster", str(roster), "--out", str(out),
                 "--json", str(js), "--no-cache"])  # fmt: skip
    assert code == 0
    # a plan over the whole country: the console speaks of the provinces, not the first one
    printed = capsys.readouterr().out
    assert "Kết quả của 2 tỉnh, thành phố (toàn quốc):" in printed
    assert "Kết quả của Thành phố Hà Nội" not in printed
    summary = json.loads(js.read_text(encoding="utf-8"))
    assert {r["unit"]: r["status"] for r in summary["inputs"]} == {
        "00001": "accepted",
        "00688": "ignored",  # a blank template
    }
    assert {r["unit"] for r in summary["missing"]} == {"00004", "00688"}
    assert {r["unit"] for r in summary["results"]} >= {"00001", "001", "01", "02"}
    assert "Chưa báo cáo" in openpyxl.load_workbook(out, read_only=True).sheetnames


def test_a_plan_without_roster_asks_for_one(tmp_path, capsys):
    code = main(["template", "--plan", PLAN, "--unit", "00001", "--phase", "1",
                 "--out", str(tmp_path)])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "không gắn với danh mục đơn vị nào" in err and "--roster" in err
