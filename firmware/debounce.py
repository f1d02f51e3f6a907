# Debouncing as a pure function of (level, time). No hardware imports.
from time import ticks_add, ticks_diff


class Debouncer:
    """A raw level counts only after it has held, unchanged, for its interval.

    Asymmetric: "out" must hold `out_ms`, "in" must hold `in_ms` (draws are
    urgent, re-holsters are not). Times are ticks_ms values; every comparison
    goes through ticks_diff so the 2**30 wrap-around is harmless.
    """

    def __init__(self, out_ms, in_ms, out, now):
        self.out_ms = out_ms
        self.in_ms = in_ms
        self.out = out  # debounced level: True = sensor reads "out"
        self.raw = out  # latest raw level
        self.since = now  # tick of the latest raw edge

    def edge(self, out, t):
        # Any edge restarts the clock, even one that lands on the same
        # level: the line moved in between.
        self.raw = out
        self.since = t

    def due(self):
        """Tick at which the raw level would count, or None if nothing pends."""
        if self.raw == self.out:
            return None
        return ticks_add(self.since, self.out_ms if self.raw else self.in_ms)

    def poll(self, now):
        """True if the debounced level changed at `now`."""
        due = self.due()
        if due is not None and ticks_diff(now, due) >= 0:
            self.out = self.raw
            return True
        return False
