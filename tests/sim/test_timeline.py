"""sim/timeline.py: the text timeline says what happened in words a reader
expects."""

from __future__ import annotations

import io

import pytest

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
