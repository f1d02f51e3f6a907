# Radio schedule: which burst is on air and when to refresh, stop or remind.
# Pure logic; times are ticks_ms values.
from time import ticks_add, ticks_diff

import events
from micropython import const

IDLE = const(0)
SEND = const(1)  # (re)start advertising with a fresh payload for self.event
STOP = const(2)  # stop advertising
START = const(3)  # as SEND, the first payload of a new burst (a new epoch and address)


def jittered(period, rand, part=4):
    """period +- period/part, drawn with rand(n) -> 0..n-1 (no jitter
    without one). A fixed period would let a passive scanner link a
    device's bursts by their phase (start time modulo the period), whatever
    its addresses and hints (docs/protocol.md, privacy). Heartbeats: +-25 %;
    reminders +-10 % (a camera that arrives late still hears one soon)."""
    if rand is None:
        return period
    q = period // part
    return period - q + rand(2 * q + 1)


class Bursts:
    def __init__(self, cfg, rand=None):
        self._cfg = cfg
        self._rand = rand
        self.event = 0  # advert event type on air, 0 = radio quiet
        self.drawn_at = None  # tick of the draw (start of the "out" stretch)
        self.length = 0  # ms of the current burst
        self._fresh = False  # started, and poll() has not yet said START
        self._until = 0
        self._refresh = 0
        self.remind = None
        self.heartbeat = None  # tick of the next heartbeat (None: none; see restore)

    def start(self, event, now, drawn_at=None):
        """Begin the burst for `event` now (replacing any burst on air)."""
        cfg = self._cfg
        if event == events.DRAW:
            self.drawn_at = drawn_at
            self.remind = ticks_add(drawn_at, jittered(cfg.REMINDER_MS, self._rand, 10))
            ms = cfg.BURST_MS
        elif event == events.REMINDER:
            ms = cfg.REMINDER_BURST_MS
        elif event == events.HOLSTER:
            self.remind = None
            ms = cfg.HOLSTER_BURST_MS
        elif event == events.HEARTBEAT:
            ms = cfg.HEARTBEAT_BURST_MS
        elif event == events.BOOT:
            ms = cfg.BOOT_BURST_MS
        else:
            self.remind = None
            ms = cfg.FAULT_BURST_MS
        self.event = event
        self.length = ms
        self._fresh = True
        self._until = ticks_add(now, ms)
        self._refresh = now  # due at once: poll() returns START

    def restore(self, now, drawn_at=None, remind=None, heartbeat=None):
        """Begin the schedule at `now`, resuming what deep sleep kept: the
        draw instant, the next reminder and the next heartbeat (ticks, or
        None: none kept). Without a kept heartbeat the first is a jittered
        period from now."""
        self.drawn_at = drawn_at
        self.remind = remind
        if heartbeat is None:
            heartbeat = ticks_add(now, jittered(self._cfg.HEARTBEAT_H * 3600000, self._rand))
        self.heartbeat = heartbeat

    def remind_now(self, now):
        """A fault cleared with the gun still out: remind at once, then on
        the usual cadence (the fault burst had stopped the reminders)."""
        if self.drawn_at is not None:
            self.remind = now

    def since_draw(self, now):
        if self.drawn_at is None:
            return events.NO_DRAW
        return ticks_diff(now, self.drawn_at)

    def poll(self, now):
        """IDLE, START (a new burst's first payload due), SEND (a payload
        refresh due) or STOP; starts heartbeats and reminders when due."""
        if self.heartbeat is not None and ticks_diff(now, self.heartbeat) >= 0:
            self.heartbeat = ticks_add(self.heartbeat, jittered(self._cfg.HEARTBEAT_H * 3600000, self._rand))
            if not self.event:  # a burst on air carries the battery already
                self.start(events.HEARTBEAT, now)
        if self.event and ticks_diff(now, self._until) >= 0:
            self.event = 0
            if self.remind is None or ticks_diff(now, self.remind) < 0:
                return STOP
        if self.remind is not None and ticks_diff(now, self.remind) >= 0 and self.event in (0, events.REMINDER):
            self.remind = ticks_add(self.remind, jittered(self._cfg.REMINDER_MS, self._rand, 10))
            self.start(events.REMINDER, now)
        if self.event and ticks_diff(now, self._refresh) >= 0:
            self._refresh = ticks_add(now, self._cfg.REFRESH_MS)
            if self._fresh:
                self._fresh = False
                return START
            return SEND
        return IDLE

    def due(self):
        """Tick of the next thing poll() will do, or None."""
        due = None
        if self.event:
            due = self._refresh if ticks_diff(self._refresh, self._until) < 0 else self._until
        if self.remind is not None and (due is None or ticks_diff(self.remind, due) < 0):
            due = self.remind
        if self.heartbeat is not None and (due is None or ticks_diff(self.heartbeat, due) < 0):
            due = self.heartbeat
        return due
