"""The radio schedule (firmware/burst.py) under CPython: heartbeats, and how
poll() says a new burst begins.

Run: pytest tests/firmware/test_burst.py. The module is imported as the other pure
firmware modules are (tests/mpcompat.py), with MicroPython's tick arithmetic;
the clock starts just before the 2**30 tick wrap. The periods are config.py's.
"""

from __future__ import annotations

from types import SimpleNamespace

import mpcompat

burst = mpcompat.load("burst")
events = mpcompat.load("events")
config = mpcompat.load("config")

T0 = (1 << 30) - 700
CFG = SimpleNamespace(**{k: getattr(config, k) for k in dir(config) if k.isupper()})
HOUR = 3_600_000
PERIOD = CFG.HEARTBEAT_H * HOUR


def at(ms):
    return mpcompat.ticks_add(T0, ms)


def rel(t):
    return None if t is None else mpcompat.ticks_diff(t, T0)


class Rand:
    """A rand(n) that answers from a list and records what it was asked."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.asked = []

    def __call__(self, n):
        self.asked.append(n)
        return self.answers.pop(0)


def run(b, start_ms, end_ms, step_ms=10):
    """poll() every step_ms; [(ms, action, event on air)] for every action but IDLE."""
    out = []
    for ms in range(start_ms, end_ms, step_ms):
        a = b.poll(at(ms))
        if a != burst.IDLE:
            out.append((ms, a, b.event))
    return out


def test_the_first_heartbeat_is_a_jittered_period_after_boot():
    rand = Rand(0)  # the earliest the +-25 % jitter allows
    b = burst.Bursts(CFG, rand)
    b.restore(T0)
    assert rand.asked == [PERIOD // 2 + 1]
    assert rel(b.heartbeat) == PERIOD - PERIOD // 4
    assert rel(b.due()) == PERIOD - PERIOD // 4


def test_a_heartbeat_kept_across_deep_sleep_is_resumed_without_a_new_draw():
    rand = Rand()
    b = burst.Bursts(CFG, rand)
    b.restore(T0, heartbeat=at(5000))
    assert rand.asked == [] and rel(b.due()) == 5000


def test_a_heartbeat_is_a_short_burst_and_the_next_follows_a_period_after_the_last():
    b = burst.Bursts(CFG)  # no rand: no jitter
    b.restore(T0)
    assert b.poll(at(PERIOD - 1)) == burst.IDLE and b.event == 0
    late = PERIOD + 7  # the loop woke a little after it was due
    acts = run(b, late, late + 1000)
    assert acts[0][0] == late and acts[0][2] == events.HEARTBEAT
    assert acts[-1] == (late + CFG.HEARTBEAT_BURST_MS, burst.STOP, 0)
    # rescheduled from when it was due, not from when it was polled: no drift
    assert rel(b.due()) == 2 * PERIOD


def test_each_heartbeat_draws_its_own_jitter_in_turn():
    rand = Rand(0, 2 * (PERIOD // 4))  # earliest, then latest
    b = burst.Bursts(CFG, rand)
    b.restore(T0)
    first = PERIOD - PERIOD // 4
    assert rel(b.due()) == first
    b.poll(at(first))
    assert rand.asked == [PERIOD // 2 + 1] * 2
    assert rel(b.heartbeat) == first + PERIOD + PERIOD // 4


def test_no_heartbeat_over_a_burst_on_air_but_the_next_is_still_scheduled():
    b = burst.Bursts(CFG)
    b.restore(T0)
    b.start(events.DRAW, at(PERIOD - 100), drawn_at=at(PERIOD - 130))
    acts = run(b, PERIOD - 100, PERIOD + CFG.BURST_MS)
    assert {e for _, a, e in acts if a != burst.STOP} == {events.DRAW}
    assert rel(b.heartbeat) == 2 * PERIOD


def test_due_is_the_heartbeat_when_it_comes_before_the_reminder():
    b = burst.Bursts(CFG)
    b.restore(T0, drawn_at=T0, remind=at(PERIOD + 5), heartbeat=at(PERIOD))
    assert rel(b.due()) == PERIOD
    b.restore(T0, drawn_at=T0, remind=at(PERIOD - 5), heartbeat=at(PERIOD))
    assert rel(b.due()) == PERIOD - 5


def test_without_restore_there_is_no_heartbeat():
    b = burst.Bursts(CFG)
    assert b.due() is None
    assert run(b, 0, 10_000, 1000) == []


def test_a_burst_opens_with_start_then_refreshes_with_send():
    b = burst.Bursts(CFG)
    b.start(events.DRAW, T0, drawn_at=T0)
    acts = run(b, 0, CFG.BURST_MS + 1)
    assert acts[0] == (0, burst.START, events.DRAW)
    assert acts[1:-1] == [(ms, burst.SEND, events.DRAW) for ms in range(CFG.REFRESH_MS, CFG.BURST_MS, CFG.REFRESH_MS)]
    assert acts[-1] == (CFG.BURST_MS, burst.STOP, 0)


def test_every_new_burst_opens_with_start_also_one_that_replaces_a_burst_on_air():
    b = burst.Bursts(CFG)
    b.restore(T0, heartbeat=at(60_000))
    b.start(events.DRAW, T0, drawn_at=T0)
    acts = run(b, 0, 1000)
    b.start(events.HOLSTER, at(1000))  # re-holstered while the draw is on air
    acts += run(b, 1000, 70_000)
    starts = [(ms, e) for ms, a, e in acts if a == burst.START]
    assert [e for _, e in starts] == [events.DRAW, events.HOLSTER, events.HEARTBEAT]
    assert starts[1][0] == 1000 and starts[2][0] == 60_000
    # between them only SEND and one STOP per burst that ran out
    assert [a for _, a, _ in acts].count(burst.STOP) == 2


def test_a_reminder_started_by_poll_opens_with_start():
    b = burst.Bursts(CFG)
    b.start(events.DRAW, T0, drawn_at=T0)
    acts = run(b, 0, CFG.REMINDER_MS + CFG.REMINDER_BURST_MS + 10)
    assert (CFG.REMINDER_MS, burst.START, events.REMINDER) in acts
    assert [a for _, a, e in acts if e == events.REMINDER].count(burst.START) == 1


def test_two_starts_before_a_poll_are_one_new_burst():
    b = burst.Bursts(CFG)
    b.start(events.DRAW, T0, drawn_at=T0)
    b.start(events.FAULT, T0)
    assert b.poll(T0) == burst.START and b.event == events.FAULT
    assert b.poll(at(CFG.REFRESH_MS)) == burst.SEND
