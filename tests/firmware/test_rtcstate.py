"""The record that survives deep sleep (firmware/rtcstate.py), under CPython.

Run: pytest tests/firmware/test_rtcstate.py. The module is imported as the other pure
firmware modules are (tests/mpcompat.py). The expected bytes are built here
from the layout rtcstate.py documents ("DSR2", "<4sBBIIqqqH32s8s", then the
first 4 bytes of SHA-256 over all of that), not by calling the firmware, so a
change to the format in RTC memory fails here: a device woken by new firmware
must read the record the old firmware wrote.
"""

from __future__ import annotations

import hashlib
import struct

import pytest

import mpcompat

rtcstate = mpcompat.load("rtcstate")

SECRET = bytes(range(32))
DEVICE = b"testdev1"
FIELDS = ("state", "flags", "ctr_next", "ctr_limit", "drawn_at", "remind_at", "heartbeat_at", "battery_mv",
          "secret", "device_id")


def _layout(*values):
    body = struct.pack("<4sBBIIqqqH32s8s", b"DSR2", *values)
    return body + hashlib.sha256(body).digest()[:4]


def _rec(**over):
    f = dict(state=1, flags=rtcstate.RUNNING | rtcstate.LOW, ctr_next=100, ctr_limit=356, drawn_at=123456789,
             remind_at=123466789, heartbeat_at=-1, battery_mv=2900, secret=SECRET, device_id=DEVICE)
    f.update(over)
    return rtcstate.Record(**f)


def test_the_bytes_keep_the_documented_layout():
    rec = _rec()
    assert rec.pack() == _layout(1, 3, 100, 356, 123456789, 123466789, -1, 2900, SECRET, DEVICE)
    assert len(rec.pack()) == 84


def test_an_empty_record_is_a_holstered_device_with_nothing_pending():
    data = rtcstate.Record().pack()
    assert data == _layout(0, 0, 0, 0, -1, -1, -1, 0, bytes(32), bytes(8))
    rec = rtcstate.load(data)
    assert rec is not None
    assert (rec.state, rec.drawn_at, rec.remind_at, rec.heartbeat_at) == (0, rtcstate.NONE, rtcstate.NONE,
                                                                          rtcstate.NONE)


def test_round_trip():
    rec = _rec(ctr_next=0xFFFFFFFE, ctr_limit=0xFFFFFFFF, drawn_at=-(1 << 40), heartbeat_at=1 << 40)
    back = rtcstate.load(rec.pack())
    assert back is not None
    assert [getattr(back, f) for f in FIELDS] == [getattr(rec, f) for f in FIELDS]
    assert back.pack() == rec.pack()


@pytest.mark.parametrize("i", range(84))
def test_any_flipped_bit_is_refused(i):
    data = bytearray(_rec().pack())
    data[i] ^= 0x10
    assert rtcstate.load(bytes(data)) is None


@pytest.mark.parametrize("values", [
    (3, 0, 0, 0, -1, -1, -1, 0, SECRET, DEVICE),  # no such state
    (0, 0x40, 0, 0, -1, -1, -1, 0, SECRET, DEVICE),  # a flag bit no firmware sets
    (0, 0, 0, 0, -1, -1, -1, 10001, SECRET, DEVICE),  # no cell reads 10 V
])
def test_a_record_with_a_sound_check_but_impossible_fields_is_refused(values):
    assert rtcstate.load(_layout(*values)) is None


def test_no_record_is_refused():
    good = _rec().pack()
    assert rtcstate.load(b"") is None
    assert rtcstate.load(good[:-1]) is None
    assert rtcstate.load(good + b"\0") is None
    body = b"DSR1" + good[4:80]  # an older layout's magic, with a check that matches it
    assert rtcstate.load(body + hashlib.sha256(body).digest()[:4]) is None


@pytest.mark.parametrize("field", ["ctr_next", "ctr_limit"])
def test_a_counter_past_32_bits_is_never_written(field):
    with pytest.raises(ValueError):
        _rec(**{field: 1 << 32}).pack()
    with pytest.raises(ValueError):
        _rec(**{field: -1}).pack()


def test_fault_count_sits_beside_the_other_flags_and_survives_a_load():
    rec = _rec(flags=rtcstate.RUNNING | rtcstate.LOW)
    assert rec.faults() == 0
    for n in range(16):
        rec.set_faults(n)
        back = rtcstate.load(rec.pack())
        assert back is not None and back.faults() == n
        assert back.flags & (rtcstate.RUNNING | rtcstate.LOW) == rtcstate.RUNNING | rtcstate.LOW
    rec.set_faults(40)  # counted on past the field: stays at its top
    assert rec.faults() == 15
    rec.set_faults(0)
    assert rec.flags == rtcstate.RUNNING | rtcstate.LOW
