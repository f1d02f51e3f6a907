# Draw-detection state machine: pure logic over debounced levels and edge
# counts. No hardware imports; times are ticks_ms values.
from time import ticks_add, ticks_diff

import events
from debounce import Debouncer
from micropython import const

HOLSTERED = const(0)
DRAWN = const(1)
FAULT = const(2)
NAMES = ("HOLSTERED", "DRAWN", "FAULT")


class Detector:
    """HOLSTERED <-> DRAWN on debounced levels; FAULT on an edge storm.

    step functions return the new state on a transition, else -1, so the
    caller sees exactly one transition per change; `event` then says what
    it means on air.
    """

    def __init__(self, cfg, out, now, state=-1):
        """Line reads `out` since tick `now`. `state`: the state to resume
        (after deep sleep); by default the one the line shows."""
        self._cfg = cfg
        if state < 0:
            state = DRAWN if out else HOLSTERED
        self._deb = Debouncer(cfg.DRAW_CONFIRM_MS, cfg.HOLSTER_CONFIRM_MS, state == DRAWN, now)
        self._deb.edge(out, now)
        self.state = state
        self.event = 0  # the latest transition's advert event (see _go)
        self._settled = state  # the latest state but FAULT: what a fault cleared back to
        self.changed_at = now  # tick the current level began (raw edge time)
        self._win_start = now
        self._win_edges = 0
        self._hold = None  # no transition before this tick

    def hold_until(self, t):
        self._hold = t

    @property
    def out(self):
        """The debounced level: True = the sensor reads "out"."""
        return self._deb.out

    @property
    def idle(self):
        """Nothing to wait for: no fault, and no level waiting to count."""
        return self.state != FAULT and self._deb.due() is None

    @property
    def settling(self):
        """A level waiting to count (not in FAULT, where the line is sampled
        and nothing counts before FAULT_CLEAR_MS): a draw may be confirmed soon."""
        return self.state != FAULT and self._deb.due() is not None

    def update(self, now, out, n=0, t=0, edge_out=False):
        """What the line did: it reads `out` at tick `now`, and the pin IRQ
        counted n edges since the last call, the latest at tick t leaving it
        `edge_out`. In FAULT the IRQ is off and the line is sampled instead:
        the edges are stale and a changed reading counts as an edge.
        Otherwise a reading that differs from the latest edge's level is an
        edge the handler saw with a stale level."""
        if n and self.state != FAULT:
            self.edges(n, edge_out, t)
        if out != self._deb.raw:
            self.edges(1, out, now)

    def edges(self, n, out, t):
        """n raw edges happened, the latest at tick t leaving the line `out`."""
        cfg = self._cfg
        if self.state != FAULT:
            if ticks_diff(t, self._win_start) >= cfg.FAULT_WINDOW_MS:
                self._win_start = t
                self._win_edges = 0
            self._win_edges += n
        self._deb.edge(out, t)

    def poll(self, now):
        """Advance to `now`; return the new state on a transition, else -1."""
        cfg = self._cfg
        deb = self._deb
        if self._hold is not None:
            if ticks_diff(now, self._hold) < 0:
                return -1
            self._hold = None
        if self.state == FAULT:
            if ticks_diff(now, deb.since) >= cfg.FAULT_CLEAR_MS:
                deb.out = deb.raw
                self.changed_at = deb.since
                self._win_start = now
                self._win_edges = 0
                return self._go(DRAWN if deb.raw else HOLSTERED)
            return -1
        if self._win_edges > cfg.FAULT_EDGES:
            self._win_edges = 0
            return self._go(FAULT)
        if ticks_diff(now, self._win_start) >= cfg.FAULT_WINDOW_MS:
            # An expired window's start must stay within ticks_diff's reach
            # (2**29 ms, ~6 days), or after a quiet week it would read as in
            # the future and ordinary bounce would add up to a FAULT. poll()
            # runs at least every IDLE_MS; the next edge opens a new window.
            self._win_start = ticks_add(now, -cfg.FAULT_WINDOW_MS)
        if deb.poll(now):
            self.changed_at = deb.since
            if deb.out and self.state == HOLSTERED:
                return self._go(DRAWN)
            if not deb.out and self.state == DRAWN:
                return self._go(HOLSTERED)
        return -1

    def due(self):
        """Tick of the next time poll() could act, or None."""
        if self.state == FAULT:
            return ticks_add(self._deb.since, self._cfg.FAULT_CLEAR_MS)
        due = self._deb.due()
        if due is not None and self._hold is not None and ticks_diff(self._hold, due) > 0:
            return self._hold
        return due

    def look_by(self, now):
        """Tick by which update() and poll() must run again, or None: due(),
        and in FAULT (pin IRQ off, the line sampled) FAULT_POLL_MS from now."""
        due = self.due()
        if self.state == FAULT:
            sample = ticks_add(now, self._cfg.FAULT_POLL_MS)
            if ticks_diff(sample, due) < 0:
                return sample
        return due

    def _go(self, state):
        # What the transition means on air: a fault, a draw or a holster;
        # none (0) when a fault clears back to the state held before it,
        # which was reported already (a resume).
        if state == FAULT:
            self.event = events.FAULT
        elif state == self._settled:
            self.event = 0
        else:
            self.event = events.DRAW if state == DRAWN else events.HOLSTER
            self._settled = state
        self.state = state
        return state
