"""Host-side decoder for the v0 advert payload (see firmware/advert.py).

Written independently of the firmware's encoder, so a test that round-trips
through both checks the format rather than one piece of code against itself.
"""

from __future__ import annotations

import struct

EVENTS = {1: "draw", 2: "holster", 3: "reminder", 4: "heartbeat", 5: "fault", 6: "boot", 7: "test"}
NO_DRAW = 0xFFFFFFFF


def decode(data: bytes) -> dict:
    """Fields of a drawsense v0 advert, or {"format": "unknown"}."""
    if len(data) != 14 or data[0] != 13 or data[1] != 0xFF or data[2:6] != b"\xff\xffDS" or data[6] != 0:
        return {"format": "unknown"}
    event, seq, since = struct.unpack_from("<BHI", data, 7)
    return {
        "event": EVENTS.get(event, f"type{event}"),
        "seq": seq,
        "since_draw_ms": None if since == NO_DRAW else since,
    }
