"""sim/events.py: the schema every simulation event is held to, and runs
that cannot be changed once made (the suite shares cached runs)."""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import pickle

import pytest

from drawsense.sim import events, timeline, vboard


def test_every_event_the_board_and_the_firmware_can_make_is_in_the_schema():
    # what sim/mp emits and what the parser makes of the firmware's reports,
    # read from their source: a new event type fails here before any run meets it
    import re

    from drawsense import paths

    board = set()
    for f in paths.VBOARD_MP.glob("*.py"):
        board |= set(re.findall(r"\bemit\(\s*\"(\w+)\"", f.read_text()))
    parser = set(re.findall(r'"type": "(\w+)"', (paths.PKG / "sim" / "vboard.py").read_text()))
    assert {"pin", "adv", "sleep", "end", "crash"} <= board and {"state", "burst", "report"} <= parser
    assert board | parser <= set(events.SCHEMA), (board | parser) - set(events.SCHEMA)


def test_the_parser_refuses_what_the_schema_does_not_know():
    with pytest.raises(events.SchemaError, match="unknown event type 'teleport'"):
        vboard.parse('@vb {"type": "teleport", "t": 5}')
    with pytest.raises(events.SchemaError, match="pin event: missing"):
        vboard.parse('@vb {"type": "pin", "t": 5, "out": true}')
    with pytest.raises(events.SchemaError, match="unknown fields"):
        vboard.parse('@vb {"type": "pin", "t": 5, "out": true, "level": 0, "colour": "red"}')
    evs, _, _ = vboard.parse('@vb {"type": "pin", "t": 5, "out": true, "level": 0}\nds 0 state DRAWN draw')
    assert [e["type"] for e in evs] == ["pin", "state"]


def test_a_run_cannot_be_changed_by_one_of_its_readers(sim):
    run = sim("draw")
    adv = run.adverts()[0]
    for change in (lambda: adv.__setitem__("rssi", 0), lambda: adv.update(rssi=0), lambda: adv.pop("rssi"),
                   lambda: adv.clear(), lambda: adv.setdefault("x", 1), lambda: adv.__delitem__("rssi")):
        with pytest.raises(TypeError, match="read-only"):
            change()
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.events = ()  # type: ignore[misc]
    with pytest.raises(TypeError):
        run.stats["adverts"] = 0  # type: ignore[index]
    assert isinstance(run.events, tuple) and isinstance(run.console, tuple)
    # a reader that wants to change one makes its own copy; JSON and pickle see a plain dict
    mine = copy.copy(adv)
    mine["rssi"] = 0
    assert adv["rssi"] == -60 and json.loads(json.dumps(adv)) == dict(adv) == pickle.loads(pickle.dumps(adv))


def test_json_lines_are_the_events_with_time_and_type_first(sim):
    run = sim("draw")
    buf = io.StringIO()
    timeline.write_json(run, buf)
    lines = [json.loads(x) for x in buf.getvalue().splitlines()]
    assert len(lines) == len(run.events)
    assert all(list(obj)[:2] == ["t_ms", "type"] and obj == dict(e) for obj, e in zip(lines, run.events))
