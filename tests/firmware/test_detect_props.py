"""Property tests of the pure firmware logic under CPython (hypothesis).

The debouncer and the state machine are driven the way app.run drives them
(edges at their instants, polls at the instants the logic asks for), with the
clock starting just before the 2**30 tick wrap. Their output is compared with
a reference written from the definition in the issue:

* a draw needs DRAW_CONFIRM_MS of continuous "out" while holstered, and every
  such stretch while holstered is exactly one draw;
* a re-holster needs HOLSTER_CONFIRM_MS of continuous "in" while drawn;
* one event per transition.
"""

from __future__ import annotations

from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

import mpcompat

detect = mpcompat.load("detect")
burst = mpcompat.load("burst")
advert = mpcompat.load("events")
config = mpcompat.load("config")

T0 = (1 << 30) - 700  # start 0.7 s before the tick counter wraps


def cfg(**over):
    c = {k: getattr(config, k) for k in dir(config) if k.isupper()}
    c.update(over)
    return SimpleNamespace(**c)


NO_FAULT = cfg(FAULT_EDGES=10**9)


def drive(c, gaps_ms, initial_out=False, tail_ms=3000):
    """Edges at cumulative gaps (ms from the previous edge), each toggling the
    line; returns [(t_ms_since_start, state_name)] transitions. An edge and a
    deadline at the same tick: the edge first, as on the virtual board (the
    IRQ has fired before the woken loop polls)."""
    det = detect.Detector(c, initial_out, T0)
    out = initial_out
    t = 0
    edge_times = []
    for g in gaps_ms:
        t += g
        edge_times.append(t)
    end = t + tail_ms
    events = []
    i = 0
    now = 0
    while True:
        due = det.due()
        due_rel = None if due is None else mpcompat.ticks_diff(due, T0)
        nxt = edge_times[i] if i < len(edge_times) else None
        if due_rel is not None and due_rel <= end and (nxt is None or due_rel < nxt):
            now = due_rel
        elif nxt is not None:
            now = nxt
            out = not out
            i += 1
            t_edge = mpcompat.ticks_add(T0, now)
            det.update(t_edge, out, 1, t_edge, out)  # as app.run: the IRQ's count, then the line read
        else:
            break
        new = det.poll(mpcompat.ticks_add(T0, now))
        if new >= 0:
            events.append((now, detect.NAMES[new]))
    return events


def reference(c, gaps_ms, initial_out=False, tail_ms=3000):
    """Stretches of constant level -> transitions, straight from the definition."""
    t, out = 0, initial_out
    stretches = []
    for g in gaps_ms:
        stretches.append((t, t + g, out))
        t += g
        out = not out
    stretches.append((t, t + tail_ms, out))
    state = "DRAWN" if initial_out else "HOLSTERED"
    events = []
    for a, b, lvl in stretches:
        # "continuously for N ms": still at that level when N ms have passed,
        # so an edge at exactly a + N (same tick) cancels it.
        if state == "HOLSTERED" and lvl and b - a > c.DRAW_CONFIRM_MS:
            state = "DRAWN"
            events.append((a + c.DRAW_CONFIRM_MS, state))
        elif state == "DRAWN" and not lvl and b - a > c.HOLSTER_CONFIRM_MS:
            state = "HOLSTERED"
            events.append((a + c.HOLSTER_CONFIRM_MS, state))
    return events


gaps = st.lists(st.one_of(st.integers(1, 40), st.integers(1, 2500)), max_size=60)


@settings(max_examples=400, deadline=None)
@given(gaps, st.booleans())
def test_transitions_match_the_definition(g, initial_out):
    assert drive(NO_FAULT, g, initial_out) == reference(NO_FAULT, g, initial_out)


@settings(max_examples=300, deadline=None)
@given(gaps)
def test_never_a_draw_without_confirm_ms_of_continuous_out(g):
    events = drive(NO_FAULT, g)
    edges = []
    t = 0
    for x in g:
        t += x
        edges.append(t)
    for when, state in events:
        if state == "DRAWN":
            last_edge = max([e for e in edges if e <= when] or [0])
            n_before = sum(1 for e in edges if e <= when)
            assert n_before % 2 == 1  # the line is "out"
            assert when - last_edge >= NO_FAULT.DRAW_CONFIRM_MS


@settings(max_examples=300, deadline=None)
@given(gaps, st.booleans())
def test_one_event_per_transition(g, initial_out):
    states = [s for _, s in drive(NO_FAULT, g, initial_out)]
    start = "DRAWN" if initial_out else "HOLSTERED"
    for prev, cur in zip([start] + states, states):
        assert prev != cur


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 20), min_size=45, max_size=300))
def test_an_edge_storm_is_one_fault(g):
    c = cfg()
    gaps_ms = [x + 1 for x in g]  # >= 1 ms apart
    events = drive(c, gaps_ms, tail_ms=100)
    edges_in_first_window = sum(1 for t in _cum(gaps_ms) if t < _cum(gaps_ms)[0] + c.FAULT_WINDOW_MS)
    if edges_in_first_window > c.FAULT_EDGES:
        assert ("FAULT" in [s for _, s in events])
    assert [s for _, s in events].count("FAULT") <= 1 + len(gaps_ms) // (c.FAULT_EDGES + 1)


def _cum(gs):
    out, t = [], 0
    for g in gs:
        t += g
        out.append(t)
    return out


def test_fault_clears_after_calm_to_the_level_then_present():
    c = cfg()
    det = detect.Detector(c, False, T0)
    t = T0
    for i in range(c.FAULT_EDGES + 1):
        t = mpcompat.ticks_add(t, 2)
        det.edges(1, i % 2 == 0, t)
    assert det.poll(t) == detect.FAULT
    calm_from = t
    # sampled every FAULT_POLL_MS, line holstered ("in")
    while det.state == detect.FAULT:
        t = mpcompat.ticks_add(t, c.FAULT_POLL_MS)
        det.update(t, False)  # FAULT: the IRQ is off, the line is read
        new = det.poll(t)
    assert new == detect.HOLSTERED
    assert mpcompat.ticks_diff(t, calm_from) >= c.FAULT_CLEAR_MS


def test_draw_burst_schedule():
    c = cfg()
    b = burst.Bursts(c)
    now = T0
    b.start(advert.DRAW, now, drawn_at=mpcompat.ticks_add(now, -30))
    actions = []
    for ms in range(0, 12_001, 10):
        t = mpcompat.ticks_add(T0, ms)
        a = b.poll(t)
        if a != burst.IDLE:
            actions.append((ms, a, b.event, b.since_draw(t)))
    sends = [x for x in actions if x[1] in (burst.SEND, burst.START)]
    assert sends[0] == (0, burst.START, advert.DRAW, 30)
    assert [x[0] for x in sends if x[2] == advert.DRAW] == list(range(0, 3000, c.REFRESH_MS))
    assert (3000, burst.STOP, 0, 3030) in actions
    reminder = [x for x in sends if x[2] == advert.REMINDER]
    assert reminder and reminder[0][0] == 10_000 - 30 and reminder[0][3] == 10_000


def test_holster_cancels_reminders():
    c = cfg()
    b = burst.Bursts(c)
    b.start(advert.DRAW, T0, drawn_at=T0)
    b.start(advert.HOLSTER, mpcompat.ticks_add(T0, 5000))
    events = set()
    for ms in range(5000, 40_000, 10):
        b.poll(mpcompat.ticks_add(T0, ms))
        events.add(b.event)
    assert advert.REMINDER not in events


def test_bounce_after_a_quiet_week_is_no_fault():
    # The fault window's start must not go stale while the line is quiet:
    # after 2**29 ms (~6 days) ticks_diff would read it as in the future and
    # every later bounce would count into one endless window, until a draw
    # came out as a FAULT. The firmware polls at least every IDLE_MS.
    det = detect.Detector(config, False, T0)
    t = T0
    states = []

    def bounce(t, end_out):
        for i in range(11):  # 11 edges a draw or re-holster, well under FAULT_EDGES
            t = mpcompat.ticks_add(t, 1)
            det.edges(1, (i % 2 == 0) == end_out, t)
        t = mpcompat.ticks_add(t, 2 * config.HOLSTER_CONFIRM_MS)
        states.append(detect.NAMES[det.poll(t)])
        return t

    for week in range(3):
        for _ in range(3):
            t = bounce(t, True)
            t = bounce(t, False)
        for _ in range(7 * 24):  # a holstered week, polled hourly as app.run does
            t = mpcompat.ticks_add(t, config.IDLE_MS)
            assert det.poll(t) == -1
    assert states == ["DRAWN", "HOLSTERED"] * 9
