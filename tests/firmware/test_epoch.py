"""The burst epoch's width (counter.EPOCH_BITS) is one contract: the counter
rounds each burst up to it, the advert splits the counter by it (the low bits
on air, the rest into the hint), and the receiver joins them again.

Run: pytest tests/firmware/test_epoch.py (CPython; firmware imported through
tests/mpcompat.py). The advert bytes themselves are checked on the
MicroPython VM against the host's implementation in tests/test_protocol.py.
"""

from __future__ import annotations

import mpcompat

counter = mpcompat.load("counter")


class _Store:
    def __init__(self, mark):
        self.mark = mark

    def read(self):
        return self.mark

    def write(self, mark):
        self.mark = mark


def test_a_burst_starts_on_an_epoch_boundary():
    size = 1 << counter.EPOCH_BITS
    assert counter.EPOCH_MASK == size - 1
    for start in range(0, 3 * size):
        c = counter.Counter(_Store(start), 256)
        c.new_epoch()
        first = c.take()
        assert first % size == 0 and start <= first < start + size
        # the burst's payloads share the epoch until it is full
        same = [c.take() for _ in range(size - 1)]
        assert {v >> counter.EPOCH_BITS for v in same} == {first >> counter.EPOCH_BITS}


def test_the_last_epoch_ends_at_the_counter_s_end():
    c = counter.Counter(_Store(counter.LAST - 3), 256)
    c.new_epoch()
    assert c.next == counter.LAST and c.take() == -1


def test_the_receiver_splits_the_counter_where_the_firmware_does():
    # two implementations of one spec (docs/protocol.md: epoch = counter >> 4)
    from drawsense import protocol

    assert protocol.EPOCH_SHIFT == counter.EPOCH_BITS == 4
    assert protocol.EPOCH_MASK == counter.EPOCH_MASK == 0x0F
    assert protocol.LAST_EPOCH == counter.LAST >> counter.EPOCH_BITS == 0x0FFFFFFF
