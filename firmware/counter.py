# Monotonic 32-bit advert counter that survives power loss at any instant.
#
# Never reuse a counter value with the same key: it is the CCM nonce. The
# live value sits in RAM; flash holds only a reserved high-water mark. Before
# a value at or past the mark is used, the mark moves RESERVE ahead (one
# atomic file write), so after a power cut the device resumes at the stored
# mark and at worst skips unused values (reserve-ahead, shared/REFERENCE.md).
import os
import struct

from micropython import const

PATH = "ds_ctr.bin"
# counter >> EPOCH_BITS is the burst epoch (the advert's hint rotates with
# it); the low EPOCH_BITS go on air as they are (advert.py): a burst has at
# most 2**EPOCH_BITS payloads. The advert format has a nibble for them.
EPOCH_BITS = const(4)
EPOCH_MASK = const((1 << EPOCH_BITS) - 1)
LAST = const(0xFFFFFFFF)


class FileStore:
    """The high-water mark in a small file, replaced atomically.

    Written to path + ".tmp", then renamed over path: littlefs leaves either
    the old or the new file after a power cut (FAT cannot rename over an
    existing file; the boards here use littlefs). The value is stored with its complement so a torn or foreign
    file is recognised and never trusted as a smaller mark.
    """

    def __init__(self, path):
        self.path = path

    def read(self):
        """The stored mark. Raises ValueError if the file is missing or
        damaged: provisioning writes it beside the key (mark 0), so a key
        without it is a device whose counter is lost, and guessing (say, 0)
        would reuse nonces."""
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except OSError:
            raise ValueError("counter file missing")
        if len(data) != 8:
            raise ValueError("counter file damaged")
        mark, check = struct.unpack("<II", data)
        if mark ^ check != 0xFFFFFFFF:
            raise ValueError("counter file damaged")
        return mark

    def write(self, mark):
        tmp = self.path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(struct.pack("<II", mark, mark ^ 0xFFFFFFFF))
        os.rename(tmp, self.path)


class Counter:
    def __init__(self, store, reserve, next=-1, limit=0):
        """From flash (a cold boot), or from the values RTC memory kept
        across deep sleep (next, limit), with no flash access at all."""
        self._store = store
        self._reserve = reserve
        if next < 0:
            next = limit = store.read()  # nothing reserved yet this boot
        self.next = next  # first value this boot may use
        self.limit = limit  # values below it are reserved in flash

    def take(self):
        """Next unused value, or -1 when the counter is exhausted (re-key)."""
        c = self.next
        if c >= LAST:
            return -1
        if c >= self.limit:
            self._reserve_from(c)  # reserved before it is used
        self.next = c + 1
        return c

    def ensure(self, ahead):
        """Reserve now if fewer than `ahead` values are left, so the next
        burst (after a deep-sleep wake) needs no flash write before its advert."""
        if self.next + ahead > self.limit and self.next < LAST:
            self._reserve_from(self.next)

    def _reserve_from(self, c):
        # On flash first: if the write fails, nothing above the old mark is
        # handed out (a value past the stored mark could be reused after a
        # power loss).
        limit = min(c + self._reserve, LAST)
        self._store.write(limit)
        self.limit = limit

    def new_epoch(self):
        """Start a burst: round up to the next epoch boundary, so a burst's
        payloads share one epoch and no two bursts do. Never past LAST: at
        the end the next value is LAST, which take() refuses (2**32 would not
        fit the RTC record's 32 bits and come back as 0, a used nonce)."""
        if self.next & EPOCH_MASK:
            self.next = min((self.next | EPOCH_MASK) + 1, LAST)
