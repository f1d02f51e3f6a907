"""sim/timeline.py: the text timeline says what happened in words a reader
expects."""

from __future__ import annotations

import io

import pytest

from vcd import reader as vcd_reader  # pyvcd, in the [test] extra

from drawsense.sim import timeline
from drawsense.sim.events import make
from drawsense.sim.vboard import SimResult


def _text(*events: dict) -> str:
    run = SimResult("t", "virtual", tuple(make(e) for e in events), {}, 0.0)
    buf = io.StringIO()
    timeline.write_text(run, buf)
    return buf.getvalue()


@pytest.mark.parametrize("cause, says", [
    ("power-on", "firmware running, sensor"),
    ("watchdog", "firmware running (after a watchdog reset)"),
    ("reset", "firmware running (after a reset)"),
    ("soft-reset", "firmware running (after a soft reset)"),        # not "a soft-reset reset"
    ("deep-sleep", "firmware running (after a deep-sleep wake)"),
    ("unknown", "firmware running (the port does not say why"),        # not "after a unknown reset"
])
def test_a_boot_says_how_the_firmware_started(cause, says):
    out = _text({"t_ms": 5.0, "type": "firmware", "board": "virtual", "state": "HOLSTERED", "cause": cause})
    assert f"ready   {says}" in out


def test_a_run_reads_as_a_story(sim):
    out = io.StringIO()
    timeline.write_text(sim("draw"), out)
    lines = out.getvalue().splitlines()
    kinds = [ln.split()[1] for ln in lines[1:] if ln.strip() and ln.split()[0].replace(".", "").isdigit()]
    assert kinds[:3] == ["boot", "device", "ready"] and "state" in kinds and "air" in kinds
    assert "1 draw(s), 0 holster(s), 0 fault(s)" in out.getvalue()


# ---------------------------------------------------------------- VCD
#
# What sigrok's VCD importer reads (libsigrok src/input/vcd.c at 0.5.2, the
# sigrok-cli 0.7 / PulseView one): $var wire/reg of size 1 only, a scalar
# change "0!" or "1!", and a vector change only of one bit ("b1 !"); a longer
# vector ("b01 #") ends the parsing of its block, so no samples come out.
# pyvcd's tokenizer is the independent reader here; sigrok-cli and GTKWave
# are not on CI (the issue 13 note says how the files were checked with them).



def _vcd(run) -> str:
    buf = io.StringIO()
    timeline.write_vcd(run, buf)
    return buf.getvalue()


def _wires(text: str) -> tuple[dict, dict[str, list[tuple[int, int]]], int]:
    """(the header tokens by kind, each wire's (t_us, value) as pyvcd reads them, the last time)."""
    head: dict = {}
    names: dict[str, str] = {}
    changes: dict[str, list[tuple[int, int]]] = {}
    t = 0
    for tok in vcd_reader.tokenize(io.BytesIO(text.encode())):
        kind = tok.kind.name
        if kind == "VAR":
            assert tok.data.type_.value == "wire" and tok.data.size == 1, tok  # what sigrok reads
            names[tok.data.id_code] = tok.data.reference
            changes[tok.data.reference] = []
        elif kind == "CHANGE_TIME":
            assert tok.data >= t
            t = tok.data
        elif kind == "CHANGE_SCALAR":
            changes[names[tok.data.id_code]].append((t, int(tok.data.value)))
        elif kind.startswith("CHANGE_"):
            raise AssertionError(f"a {kind} in the VCD: sigrok's importer stops at it")
        else:
            head.setdefault(kind, tok.data)
    return head, changes, t


def _edges(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The level from each change on, dropping repeats (as a sampled view sees it)."""
    out: list[tuple[int, int]] = []
    for t, v in pairs:
        if out and out[-1][0] == t:
            out.pop()
        if not out or out[-1][1] != v:
            out.append((t, v))
    return out


@pytest.mark.parametrize("name, board", [("draw-reholster", "virtual"), ("brownout", "esp32c3"),
                                         ("chatter", "virtual")])
def test_vcd_wires_are_the_runs_events(sim, name, board):
    run = sim(name, board)
    head, wires, end = _wires(_vcd(run))
    assert [n for n, _ in timeline.VCD_WIRES] == list(wires)
    assert end == round(run.duration_ms * 1000)
    assert str(head["TIMESCALE"]) == "1 us"
    us = lambda e: round(e["t_ms"] * 1000)  # noqa: E731
    want = {
        "sensor": [(us(e), e["level"]) for e in run.of("pin")],
        "debounced_out": [(us(e), int(e["level"] == "out")) for e in run.of("level")],
        "radio_on": [(us(e), int(e["on"])) for e in run.of("radio")],
        "asleep": [(us(e), int(e["type"] == "sleep")) for e in run.events if e["type"] in ("sleep", "wake")],
    }
    for state in ("HOLSTERED", "DRAWN", "FAULT"):
        want[f"state_{state.lower()}"] = [(us(e), int(e["state"] == state)) for e in run.events
                                          if e["type"] in ("state", "firmware")]
    for wire, changes in want.items():
        got = _edges(wires[wire])
        assert got[1:] == _edges(got[:1] + changes)[1:], wire
    # pulses: one per advert, per boot (its boot time long), per brownout
    assert sum(v for _, v in wires["adv"]) == len(run.adverts())
    boots = run.of("boot")
    assert [t for t, v in _edges(wires["boot"]) if v] == [us(b) for b in boots]
    assert [t for t, v in _edges(wires["boot"]) if not v][-1] == us(boots[-1]) + boots[-1]["boot_ms"] * 1000
    assert sum(v for _, v in _edges(wires["brownout"])) == len(run.of("brownout"))
    deep = [e for e in run.of("sleep") if e["mode"] == "deep"]
    assert sum(v for _, v in _edges(wires["deep_sleep"])) == len(deep)


def test_vcd_brownout_lasts_until_the_chip_has_booted_again(sim):
    run = sim("brownout", "esp32c3")
    _, wires, _ = _wires(_vcd(run))
    assert run.of("brownout")
    for b, (rise, fall) in zip(run.of("brownout"), zip(*[iter(_edges(wires["brownout"])[1:])] * 2)):
        boot = next(e for e in run.of("boot") if e["t_ms"] >= b["t_ms"])
        assert rise == (round(b["t_ms"] * 1000), 1)
        assert fall == (round(boot["t_ms"] * 1000) + boot["boot_ms"] * 1000, 0)


def test_vcd_has_a_real_date_and_says_what_each_wire_is(sim):
    from datetime import datetime, timezone

    head, _, _ = _wires(_vcd(sim("draw")))
    when = datetime.strptime(head["DATE"], "%Y-%m-%d %H:%M:%S UTC").replace(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - when).total_seconds()) < 600
    for name, what in timeline.VCD_WIRES:
        assert f"{name}: {what}" in head["COMMENT"]
