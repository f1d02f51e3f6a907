# Advert payload: one function builds the bytes that go on air.
#
# Format v0 (unsigned placeholder; the signed, private format replaces it):
# one manufacturer-specific AD structure in a legacy advert (<= 31 bytes).
#   off len field
#   0   1   AD length (13: the bytes that follow)
#   1   1   AD type 0xFF (manufacturer specific data)
#   2   2   company 0xFFFF (Bluetooth SIG: for tests before an ID is assigned)
#   4   2   magic b"DS"
#   6   1   format version (0)
#   7   1   event type (see below)
#   8   2   sequence, uint16 little-endian, +1 per payload
#   10  4   ms since the draw, uint32 LE; 0xFFFFFFFF = no draw
# The receiver uses "ms since the draw" to keep the right span of its
# pre-event video buffer.
import struct

from micropython import const

DRAW = const(1)
HOLSTER = const(2)
REMINDER = const(3)
HEARTBEAT = const(4)
FAULT = const(5)
BOOT = const(6)
TEST = const(7)
NAMES = ("none", "draw", "holster", "reminder", "heartbeat", "fault", "boot", "test")

NO_DRAW = const(0xFFFFFFFF)
_MAX_ADV = const(31)


def build(event, since_draw_ms, seq):
    """Advert bytes for one event; raises ValueError if it would not fit."""
    if since_draw_ms < 0 or since_draw_ms > NO_DRAW:
        since_draw_ms = NO_DRAW
    data = struct.pack("<BBHBBBBHI", 13, 0xFF, 0xFFFF, 0x44, 0x53, 0, event, seq & 0xFFFF, since_draw_ms)
    if len(data) > _MAX_ADV:
        raise ValueError("advert over 31 bytes")
    return data
