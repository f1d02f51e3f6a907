# Sensor edge capture: the only code that runs in hard-IRQ context.
from time import ticks_ms

from micropython import const

# The edge counter wraps at 2**29: count + 1 is computed before the mask,
# and on a 32-bit port a small int ends at 2**30 - 1, so a 2**30 wrap
# would allocate a long int in the hard IRQ once per 2**30 edges.
_WRAP = const(0x1FFFFFFF)


class EdgeLog:
    """Last raw edge of the sensor line, written by a hard IRQ.

    The handler stores the tick and the line level in preallocated slots and
    bumps a counter (the "something happened" flag). It allocates nothing and
    never calls micropython.schedule: a bouncing reed switch makes more edges
    in a millisecond than the schedule queue holds (4-8 entries).

    The debouncer needs only the latest edge (a level counts once it has held
    since the last edge) plus how many edges there were (fault detection), so
    no ring buffer is needed and none can overflow.
    """

    def __init__(self):
        self.count = 0  # edges seen, mod 2**29
        self.t = ticks_ms()  # ticks_ms of the latest edge
        self.level = 0  # line level read in the handler (0/1)
        self._taken = 0

    def irq(self, pin):
        # IRQ context (hard): no allocation, no printing, no schedule.
        self.t = ticks_ms()
        self.level = pin.value()
        self.count = (self.count + 1) & _WRAP

    def fresh(self):
        """True if an edge came since the last take (main context, or a
        select.poll ioctl: a read, no allocation)."""
        return self.count != self._taken

    def take(self):
        """(new_edges, t, level) since the last take; main context only.

        Reads count before and after the slots, so a handler that fires
        in between makes us read again (a seqlock without disabling IRQs).
        """
        while True:
            c = self.count
            t = self.t
            level = self.level
            if c == self.count:
                break
        n = (c - self._taken) & _WRAP
        self._taken = c
        return n, t, level
