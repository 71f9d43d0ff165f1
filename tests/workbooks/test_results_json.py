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


def test_shared_components_and_tails_are_encoded_for_each_result(monkeypatch):
    # a national evaluation shares one components dict among communes with equal figures,
    # and one target object among the communes of an indicator
    shared, target = {"numerator": 3, "denominator": 4.5}, Target(op=">=", value=0.5)
    results = [
        Result(f"{i:05d}", "commune", "001", "1", "CT01", "ratio", shared, 0.6667, target,
               status, reported, expected, interim=i % 2 == 0, gap=None, note=None)
        for i, (status, reported, expected) in enumerate(
            [("met", 1, 1), ("met", 1, 1), ("met", 1.0, 1), ("missed", 1, 1), ("met", 1, 3)]
        )
    ]  # fmt: skip
    lines = list(result_lines(results))
    assert [json.loads(line) for line in lines] == [_expected(r) for r in results]
    assert ['"reported": 1.0' in line for line in lines] == [False, False, True, False, False]

    # dicts made and dropped one by one (their ids are reused), past the cache's bound
    monkeypatch.setattr("workbooks.results_json._KEEP", 2)

    def fresh():
        for i in range(50):
            comps = {"count": float(i)}
            yield Result(f"{i:05d}", "commune", "001", "1", "CT04", "count", comps, float(i),
                         Target(op=">=", value=i), "met", 1, 1)  # fmt: skip

    lines = list(result_lines(fresh()))
    assert [json.loads(line) for line in lines] == [_expected(r) for r in fresh()]
