"""The fast encoder of the JSON summary's results parses to exactly ``Result.to_dict()``."""

import json

from logic.aggregate import Result
from logic.plan import Target
from workbooks.results_json import result_lines


def _expected(r: Result):
    return json.loads(json.dumps(r.to_dict(), ensure_ascii=False, default=str))


def test_every_field_shape_round_trips():
    local = Target(op=">=", local=True, wording="theo kế hoạch của xã")
    results = [
        Result("00001", "commune", "001", "1", "CT01", "ratio", {"done": 7, "total": 8}, 0.875,
               Target(op=">=", value=0.9), "missed", 1, 1, gap=-0.025, note=None),
        Result("01", "province", None, "all", "CT02", "count", {"done": None}, None, local,
               "no_target", 0, 549, interim=True, note='Ghi chú có "ngoặc" và\nxuống dòng'),
        Result("001", "district", "01", "2", "CT03", "yes_no", {}, 1, None, "met", 3, 3,
               gap=float("nan")),
        Result("x", "commune", "001", "3", "CT04", "count", {1: 2.5e-7}, 12, None, "met", 1, 1),
    ]  # fmt: skip
    lines = list(result_lines(results))
    assert [json.loads(line) for line in lines] == [_expected(r) for r in results]
    assert all("\n" not in line for line in lines)  # one record per line, always
