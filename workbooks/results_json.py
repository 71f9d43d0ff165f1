"""The JSON summary's ``results``, one record per line, encoded without a dict per record.

A national consolidation has about 200,000 results. ``json.dumps(result.to_dict())`` per
record spends most of its time building the dict and entering the encoder; here each
record is one f-string whose repeated parts (unit codes, levels, phases, indicator codes,
kinds, statuses, targets) are encoded once and looked up. The text parses to exactly
``Result.to_dict()`` (a test compares them on a real consolidation).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from typing import Any

from logic.aggregate import Result

_dumps = json.JSONEncoder(ensure_ascii=False, default=str).encode


def _number(x: Any) -> str:
    """What ``json.dumps`` writes for a number or None (floats by ``repr``, like it)."""
    t = type(x)
    if t is float and math.isfinite(x):
        return repr(x)
    if t is int:
        return str(x)
    if x is None:
        return "null"
    return _dumps(x)


def result_lines(results: Iterable[Result]) -> Iterator[str]:
    """Each result as the JSON text of ``Result.to_dict()``, in order."""
    text: dict[Any, str] = {}  # repeated strings (and None) → their JSON
    targets: dict[int, tuple[Any, str]] = {}  # id(target) → (target kept alive, its JSON)
    # The components and the members from "target" to "interim" repeat too: a national
    # evaluation shares one components dict among the communes (and views) with the same
    # figures, 18,693 dicts for 194,580 results, and its 1,811 kinds of tails.
    comps_json: dict[int, tuple[Any, str]] = {}  # id(components) → (dict kept alive, JSON)
    tails: dict[tuple, str] = {}

    def enc(value: Any) -> str:
        hit = text.get(value)
        if hit is None:
            hit = text[value] = _dumps(value)
        return hit

    def components_json(comps: Any) -> str:
        if type(comps) is dict and all(type(k) is str for k in comps):
            inner = ", ".join(f"{text.get(k) or enc(k)}: {_number(v)}" for k, v in comps.items())
            return "{" + inner + "}"
        return _dumps(comps)

    heads: dict[tuple, str] = {}  # (unit, level, parent) → its JSON members
    mids: dict[tuple, str] = {}  # (phase, indicator, kind)
    for r in results:
        key = (r.unit, r.level, r.parent)
        head = heads.get(key)
        if head is None:
            head = heads[key] = (
                f'{{"unit": {enc(r.unit)}, "level": {enc(r.level)}, "parent": {enc(r.parent)}, '
            )
        key = (r.phase, r.indicator, r.kind)
        mid = mids.get(key)
        if mid is None:
            mid = mids[key] = (
                f'"phase": {enc(r.phase)}, "indicator": {enc(r.indicator)}, "kind": {enc(r.kind)}, '
            )
        comps = r.components
        hit = comps_json.get(id(comps))  # a dict held here lives on: its id is its own
        if hit is None:
            if len(comps_json) >= _KEEP:  # all different: memory stays bounded
                comps_json.clear()
            hit = comps_json[id(comps)] = (comps, components_json(comps))
        t = r.target
        rep, exp = r.reported, r.expected
        key = (id(t), r.status, rep, exp, type(rep), type(exp), r.interim)  # 1 and 1.0 differ
        tail = tails.get(key)  # targets are held in ``targets``: their ids are their own
        if tail is None:
            if t is None:
                target = "null"
            else:
                known = targets.get(id(t))
                if known is None:
                    body = {"op": t.op, "value": t.value} | ({"local": True} if t.local else {})
                    known = targets[id(t)] = (t, _dumps(body))
                target = known[1]
            tail = tails[key] = (
                f'"target": {target}, "status": {enc(r.status)}, '
                f'"reported": {rep if type(rep) is int else _number(rep)}, '
                f'"expected": {exp if type(exp) is int else _number(exp)}, '
                f'"interim": {"true" if r.interim else "false"}, '
            )
        note = r.note
        yield (
            f'{head}{mid}"components": {hit[1]}, "value": {_number(r.value)}, {tail}'
            f'"gap": {_number(r.gap)}, "note": {"null" if note is None else text.get(note) or enc(note)}}}'
        )


#: Components kept encoded at most (each with its dict) before the cache starts again.
_KEEP = 65_536
