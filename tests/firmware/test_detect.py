"""The state machine's fault recovery and how it reads the line
(firmware/detect.py).

Run: pytest tests/firmware/test_detect.py. The unit tests import the module under
CPython as the other pure firmware modules are (tests/mpcompat.py), with the
clock just before the 2**30 tick wrap; the periods are config.py's. The last
test runs the whole firmware on the virtual board (MicroPython unix port).

The rule (issue 10): entering FAULT is a "fault" event; leaving it for the
state held before it is no event (that state was reported already), and
with the gun still out a reminder goes out at once; leaving it for the other
state is a draw or a holster.
"""

from __future__ import annotations

from types import SimpleNamespace

import mpcompat
from drawsense.sim import scenario, timeline
from conftest import simulate

detect = mpcompat.load("detect")
events = mpcompat.load("events")
config = mpcompat.load("config")

T0 = (1 << 30) - 700
CFG = SimpleNamespace(**{k: getattr(config, k) for k in dir(config) if k.isupper()})


def at(ms):
    return mpcompat.ticks_add(T0, ms)


class Line:
    """Drives a Detector as app.run does: the line's reading and the edges
    since the last look, then poll(); records every transition."""

    def __init__(self, out=False):
        self.det = detect.Detector(CFG, out, T0)
        self.out = out
        self.ms = 0
        self.seen = []  # (ms, state name, event name)

    def look(self, ms, n=0, edge_ms=0, edge_out=False):
        self.ms = ms
        self.det.update(at(ms), self.out, n, at(edge_ms), edge_out)
        new = self.det.poll(at(ms))
        if new >= 0:
            self.seen.append((ms, detect.NAMES[new], events.NAMES[self.det.event]))
        return new

    def move(self, out, ms):
        """The line settles at `out` at ms (one edge, seen by the IRQ)."""
        self.out = out
        self.look(ms, 1, ms, out)

    def chatter(self, ms, edges=CFG.FAULT_EDGES + 1, end_out=None):
        """A storm of edges 1 ms apart from ms, ending at `end_out`."""
        end_out = self.out if end_out is None else end_out
        for i in range(edges):
            self.out = (i % 2 == 0) != end_out if i < edges - 1 else end_out
            self.look(ms + i, 1, ms + i, self.out)
        return ms + edges - 1

    def wait(self, until_ms, step_ms=CFG.FAULT_POLL_MS):
        while self.ms < until_ms:
            self.look(min(self.ms + step_ms, until_ms))


def test_a_fault_that_clears_with_the_gun_still_out_is_no_second_draw():
    line = Line()
    line.move(True, 100)
    line.wait(100 + CFG.DRAW_CONFIRM_MS, 1)
    end = line.chatter(1000, end_out=True)
    line.wait(end + CFG.FAULT_CLEAR_MS + 200)
    assert [(s, e) for _, s, e in line.seen] == [("DRAWN", "draw"), ("FAULT", "fault"), ("DRAWN", "none")]
    assert line.det.event == 0


def test_a_fault_that_clears_holstered_again_is_no_event():
    line = Line()
    end = line.chatter(1000, end_out=False)
    line.wait(end + CFG.FAULT_CLEAR_MS + 200)
    assert [(s, e) for _, s, e in line.seen] == [("FAULT", "fault"), ("HOLSTERED", "none")]


def test_a_fault_that_clears_to_the_other_state_is_that_event():
    line = Line()
    end = line.chatter(1000, end_out=True)  # holstered before, out after
    line.wait(end + CFG.FAULT_CLEAR_MS + 200)
    assert [(s, e) for _, s, e in line.seen] == [("FAULT", "fault"), ("DRAWN", "draw")]
    # the draw dates from the line's last edge (ms since the draw counts from it)
    assert mpcompat.ticks_diff(line.det.changed_at, at(end)) == 0
    end = line.chatter(20_000, end_out=False)  # drawn before, holstered after
    line.wait(end + CFG.FAULT_CLEAR_MS + 200)
    assert [(s, e) for _, s, e in line.seen][2:] == [("FAULT", "fault"), ("HOLSTERED", "holster")]


def test_what_a_fault_clears_back_to_is_the_state_before_the_first_of_two_faults():
    line = Line()
    line.move(True, 100)
    line.wait(100 + CFG.DRAW_CONFIRM_MS, 1)
    end = line.chatter(1000, end_out=False)
    line.wait(end + CFG.FAULT_CLEAR_MS + 200)  # cleared holstered: a holster
    end = line.chatter(20_000, end_out=False)
    line.wait(end + CFG.FAULT_CLEAR_MS + 200)  # and again holstered: nothing new
    assert [e for _, _, e in line.seen] == ["draw", "fault", "holster", "fault", "none"]


def test_in_fault_the_line_is_sampled_and_irq_edges_are_ignored():
    line = Line()
    end = line.chatter(1000, end_out=False)
    assert line.det.state == detect.FAULT
    # edges the IRQ counted before it was disarmed move nothing
    line.look(end + 1000, 500, end + 1000, True)
    line.wait(end + CFG.FAULT_CLEAR_MS)
    assert line.det.state == detect.HOLSTERED
    # a sampled change is an edge: it restarts the calm the fault needs
    end = line.chatter(20_000, end_out=False)
    line.wait(end + 3000)
    line.out = True
    line.look(end + 3000)  # no edge counted: sampled
    line.wait(end + 3000 + CFG.FAULT_CLEAR_MS - 100)
    assert line.det.state == detect.FAULT
    line.wait(end + 3000 + CFG.FAULT_CLEAR_MS + 100)
    assert line.seen[-1][1:] == ("DRAWN", "draw")


def test_in_fault_the_next_look_is_the_next_sample_until_the_clear_comes_sooner():
    line = Line()
    end = line.chatter(1000)
    now = at(end + 50)
    assert mpcompat.ticks_diff(line.det.look_by(now), now) == CFG.FAULT_POLL_MS
    now = at(end + CFG.FAULT_CLEAR_MS - 30)
    assert line.det.look_by(now) == line.det.due() == at(end + CFG.FAULT_CLEAR_MS)
    line.wait(end + CFG.FAULT_CLEAR_MS)
    # out of FAULT nothing is sampled: only what poll() waits for
    assert line.det.look_by(now) is line.det.due() is None


def test_a_reading_the_irq_missed_is_an_edge_now():
    # the handler saw the edge with a stale level (or not at all): the
    # reading differs from the latest edge's level, so the level counts from now
    line = Line()
    line.out = True
    line.look(200, 1, 150, False)
    assert not line.det.out and not line.det.idle
    line.wait(200 + CFG.DRAW_CONFIRM_MS - 1, 1)
    assert line.seen == []
    line.look(200 + CFG.DRAW_CONFIRM_MS)
    assert line.seen == [(200 + CFG.DRAW_CONFIRM_MS, "DRAWN", "draw")]
    assert line.det.out and line.det.idle


def test_idle_only_when_no_fault_and_no_level_pending():
    line = Line()
    assert line.det.idle
    line.chatter(1000)
    assert line.det.state == detect.FAULT and not line.det.idle


def test_on_the_virtual_board_a_fault_cleared_with_the_gun_out_sends_a_reminder_at_once(tmp_path):
    toml = tmp_path / "fault-out.toml"
    toml.write_text("""
seed = 13
[[segment]]
state = "holstered"
duration_ms = 1000
[[segment]]
state = "drawn"
duration_ms = 4000
[[segment]]
state = "chatter"
duration_ms = 3000
on_line = true
[[segment]]
state = "drawn"
duration_ms = 8000
""")
    run = simulate(scenario.load(str(toml)))
    states = [(e["state"], e["event"]) for e in run.of("state")]
    assert states == [("DRAWN", "draw"), ("FAULT", "fault"), ("DRAWN", "none")]
    resumed = run.of("state")[-1]["t_ms"]
    bursts = [(b.event, b.t_ms) for b in timeline.bursts(run)]
    assert [e for e, _ in bursts][:2] == ["draw", "fault"]
    assert bursts[2] == ("reminder", resumed)
    assert all(a["since_draw_ms"] is not None for a in run.adverts() if a["event"] == "reminder")
