"""drawsense.receive.air: one receiver code path (bleak's BleakScanner) for a real
adapter and for simulated air. These tests drive the real BleakScanner with
the SimulatedAirScanner backend; no Bluetooth adapter is needed."""

from __future__ import annotations

import asyncio
import io
import json
import os
import random
import sys
import threading
import warnings

import pytest
from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError

from drawsense.receive import air
from drawsense.sim import timeline
from drawsense.receive.air import AirError, SimulatedAirScanner, parse_ad, scan

DRAW = "0dffffff4453000101001e000000"
HOLSTER = "0dffffff4453000202001e000000"

LINES = [
    {"t_ms": 0.0, "type": "boot", "cause": "power-on"},
    {"t_ms": 1033.154, "type": "adv", "addr": "dd:01:24:47:6a:8d", "data": DRAW, "event": "draw"},
    {"t_ms": 1053.288, "type": "adv", "addr": "dd:01:24:47:6a:8d", "data": DRAW, "rssi": -71},
    {"t_ms": 1060.0, "type": "radio", "on": False},
    {"t_ms": 2000.5, "type": "adv", "addr": "aa:bb:cc:dd:ee:ff", "data": HOLSTER, "rssi": -40},
    {"t_ms": 2020.5, "type": "adv", "addr": "dd:01:24:47:6a:8d", "data": HOLSTER},
]


def jsonl(objs, blank_after=(0, 3)) -> str:
    out = []
    for i, o in enumerate(objs):
        out.append(json.dumps(o))
        if i in blank_after:
            out.append("")  # blank lines are skipped
    return "\n".join(out) + "\n"


def expected(objs):
    return [
        (o["addr"].upper(), {0xFFFF: bytes.fromhex(o["data"])[4:]}, o.get("rssi", -60), o["t_ms"])
        for o in objs if o["type"] == "adv"
    ]


class Recorder:
    def __init__(self):
        self.got: list[tuple[BLEDevice, AdvertisementData]] = []

    def __call__(self, device, adv):
        self.got.append((device, adv))

    def summary(self):
        return [(d.address, a.manufacturer_data, a.rssi, a.platform_data[0]["t_ms"]) for d, a in self.got]


async def play(source, **kw) -> tuple[Recorder, int]:
    """The real BleakScanner with the simulated backend, as a consumer would use it."""
    rec = Recorder()
    done = asyncio.get_running_loop().create_future()
    scanner = BleakScanner(rec, backend=SimulatedAirScanner, air=source, air_done=done, **kw)
    async with scanner:
        n = await asyncio.wait_for(done, 20)
    return rec, n


# ---------------------------------------------------------------- backend ----

def test_every_adv_arrives_once_in_order_through_bleak(tmp_path):
    p = tmp_path / "air.jsonl"
    p.write_text(jsonl(LINES))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no deprecated bleak API on this path
        rec, n = asyncio.run(play(str(p)))
    assert n == 4
    assert len(rec.got) == 4, "the detection callback must fire for every adv line"
    assert rec.summary() == expected(LINES)
    d, a = rec.got[0]
    assert isinstance(d, BLEDevice) and isinstance(a, AdvertisementData)
    assert a.manufacturer_data == {0xFFFF: bytes.fromhex("4453000101001e000000")}
    assert a.platform_data == (LINES[1],)  # the JSON object: t_ms and the sim's extras
    assert a.local_name is None and a.service_data == {} and a.service_uuids == [] and a.tx_power is None
    # one BLEDevice per address, as bleak's backends keep them
    assert rec.got[0][0] is rec.got[1][0] is rec.got[3][0]
    assert rec.got[2][0].address == "AA:BB:CC:DD:EE:FF"


def test_a_served_boards_events_file_is_air_as_it_stands(tmp_path):
    # `board serve --events ev.log` writes the virtual board's own "@vb" lines
    # (t in microseconds, and a boot or sleep between adverts): listen --air
    # reads them as they are, with the same adverts at the same times
    served = []
    for o in LINES:
        o = dict(o)
        o["t"] = round(o.pop("t_ms") * 1000)
        served.append("@vb " + json.dumps(o))
    p = tmp_path / "ev.log"
    p.write_text("\n".join(served) + "\n")
    rec, n = asyncio.run(play(str(p)))
    assert n == 4 and rec.summary() == expected(LINES)
    p.write_text('@vb {"type": "adv", "data": "00"}\n')
    with pytest.raises(AirError, match=r"ev.log:1: \"@vb\" line without \"t\""):
        asyncio.run(play(str(p)))


def test_backend_id_and_seen_devices():
    async def go2():
        scanner = BleakScanner(lambda d, a: None, backend=SimulatedAirScanner, air=jsonl(LINES).splitlines())
        assert scanner.backend_id == "SimulatedAirScanner"
        async with scanner:
            await scanner._backend.done
        return scanner._backend

    backend = asyncio.run(go2())
    assert set(backend.seen_devices) == {"DD:01:24:47:6A:8D", "AA:BB:CC:DD:EE:FF"}
    dev, last = backend.seen_devices["DD:01:24:47:6A:8D"]
    assert last.platform_data[0]["t_ms"] == 2020.5


def test_scan_entry_point_with_async_callback_and_path(tmp_path):
    p = tmp_path / "air.jsonl"
    p.write_text(jsonl(LINES))
    got = []

    async def cb(device, adv):  # bleak runs coroutine callbacks as tasks
        await asyncio.sleep(0)
        got.append((device.address, adv.platform_data[0]["t_ms"]))

    async def main():
        await scan(cb, air=p)  # PathLike
        await asyncio.sleep(0.01)  # let the last callback tasks finish

    asyncio.run(main())
    assert got == [(e[0], e[3]) for e in expected(LINES)]


def test_real_simulator_output_plays_in_order(sim):
    run = sim("draw")
    buf = io.StringIO()
    timeline.write_json(run, buf)
    text = buf.getvalue()
    advs = [json.loads(line) for line in text.splitlines() if json.loads(line)["type"] == "adv"]
    assert advs, "the draw scenario puts adverts on air"
    rec, n = asyncio.run(play(io.StringIO(text)))
    assert n == len(advs) == len(rec.got)
    for (d, a), o in zip(rec.got, advs):
        raw = bytes.fromhex(o["data"])
        assert d.address == o["addr"].upper()
        assert a.platform_data[0] == o
        assert a.manufacturer_data == parse_ad(raw)["manufacturer_data"]
        assert a.rssi == o.get("rssi", -60)
    assert [a.platform_data[0]["t_ms"] for _, a in rec.got] == [o["t_ms"] for o in advs]


def test_name_and_service_data_reach_the_callback_and_name_sticks():
    named = "020106" + "08" + "09" + b"holster".hex() + "04166cfe01"
    lines = [
        json.dumps({"t_ms": 1, "type": "adv", "addr": "00:25:df:00:00:01", "data": named, "rssi": -50}),
        json.dumps({"t_ms": 2, "type": "adv", "addr": "00:25:df:00:00:01", "data": DRAW}),
    ]
    rec, _ = asyncio.run(play(lines))
    (d1, a1), (d2, a2) = rec.got
    assert a1.local_name == "holster"
    assert a1.service_data == {"0000fe6c-0000-1000-8000-00805f9b34fb": b"\x01"}
    assert a2.local_name is None
    assert d2.name == "holster"  # BlueZ keeps a device's name once seen


def test_service_uuid_filter_of_bleakscanner_applies():
    with_uuid = "03031a18" + DRAW  # 16-bit service UUID 0x181A, then the drawsense data
    lines = [
        json.dumps({"t_ms": 1, "type": "adv", "addr": "00:00:00:00:00:01", "data": DRAW}),
        json.dumps({"t_ms": 2, "type": "adv", "addr": "00:00:00:00:00:02", "data": with_uuid}),
    ]
    rec, n = asyncio.run(play(lines, service_uuids=["0000181A-0000-1000-8000-00805F9B34FB"]))
    assert [d.address for d, _ in rec.got] == ["00:00:00:00:00:02"]
    assert rec.got[0][1].service_uuids == ["0000181a-0000-1000-8000-00805f9b34fb"]


def test_air_duration_is_virtual_time_from_the_first_line():
    rec, n = asyncio.run(play(jsonl(LINES).splitlines(), air_duration=1.06))
    assert [t for *_, t in rec.summary()] == [1033.154, 1053.288]  # t <= 0 + 1060 ms


def test_stop_pauses_and_start_resumes_without_loss_or_repeat():
    class Slow(SimulatedAirScanner):
        YIELD_EVERY = 1

    lines = [json.dumps({"t_ms": i, "type": "adv", "addr": "00:00:00:00:00:01", "data": DRAW})
             for i in range(50)]

    async def go():
        rec = Recorder()
        done = asyncio.get_running_loop().create_future()
        scanner = BleakScanner(rec, backend=Slow, air=lines, air_done=done)
        await scanner.start()
        for _ in range(10):
            await asyncio.sleep(0)
        await scanner.stop()
        paused = len(rec.got)
        for _ in range(10):
            await asyncio.sleep(0)
        assert len(rec.got) == paused and not done.done()
        await scanner.start()
        await asyncio.wait_for(done, 5)
        await scanner.stop()
        return paused, rec

    paused, rec = asyncio.run(go())
    assert 0 < paused < 50
    assert [t for *_, t in rec.summary()] == list(range(50))


def test_the_feed_yields_to_the_event_loop():
    lines = [json.dumps({"t_ms": i, "type": "adv", "addr": "00:00:00:00:00:01", "data": DRAW})
             for i in range(1000)]
    ticks = []

    async def main():
        async def ticker():
            while True:
                ticks.append(1)
                await asyncio.sleep(0)

        t = asyncio.create_task(ticker())
        await scan(lambda d, a: None, air=lines)
        t.cancel()

    asyncio.run(main())
    assert len(ticks) >= 1000 // SimulatedAirScanner.YIELD_EVERY - 1


def test_callback_exception_surfaces_from_scan():
    def boom(d, a):
        raise RuntimeError("callback failed")

    with pytest.raises(RuntimeError, match="callback failed"):
        asyncio.run(scan(boom, air=jsonl(LINES).splitlines()))


# ---------------------------------------------------------------- errors ----

@pytest.mark.parametrize("bad", ["{not json", "[1, 2]", "42", '"adv"'])
def test_bad_line_is_an_airerror_with_file_and_line(tmp_path, bad):
    p = tmp_path / "bad.jsonl"
    text = jsonl(LINES[:2], blank_after=(0,)).splitlines()  # lines 1..3: boot, blank, adv
    p.write_text("\n".join(text + [bad] + [json.dumps(LINES[2])]) + "\n")
    got = []
    with pytest.raises(AirError) as ei:
        asyncio.run(scan(lambda d, a: got.append(d), air=str(p)))
    assert str(ei.value) == f"{p}:4: not a JSON object"
    assert isinstance(ei.value, ValueError)
    assert len(got) == 1  # what came before the bad line was delivered


def test_bad_adv_fields_are_airerrors():
    cases = [
        ({"type": "adv", "t_ms": 1, "data": DRAW}, '"addr"'),
        ({"type": "adv", "t_ms": 1, "addr": "00:00:00:00:00:01"}, '"data"'),
        ({"type": "adv", "t_ms": 1, "addr": "00:00:00:00:00:01", "data": "zz"}, "not hex"),
        ({"type": "adv", "t_ms": 1, "addr": "00:00:00:00:00:01", "data": DRAW, "rssi": "x"}, "rssi"),
        # an address is an address: a NUL byte once reached --on-draw's environment and crashed listen
        ({"type": "adv", "t_ms": 1, "addr": "00:00:00:00:00:0\u0000", "data": DRAW}, "not a Bluetooth address"),
        ({"type": "adv", "t_ms": 1, "addr": "camera-7", "data": DRAW}, "not a Bluetooth address"),
    ]
    for obj, what in cases:
        with pytest.raises(AirError, match=r"^<air>:2: .*" + what):
            asyncio.run(scan(lambda d, a: None, air=["", json.dumps(obj)]))


def test_missing_file_and_missing_source():
    with pytest.raises(AirError, match="no-such.jsonl: cannot read"):
        asyncio.run(scan(lambda d, a: None, air="/nonexistent/no-such.jsonl"))
    with pytest.raises(TypeError, match="air="):
        BleakScanner(lambda d, a: None, backend=SimulatedAirScanner)


# ---------------------------------------------------------- file objects ----

def test_stdin_like_file_objects():
    text = jsonl(LINES)
    want = expected(LINES)
    for f in (io.StringIO(text), io.BytesIO(text.encode()), io.BufferedReader(io.BytesIO(text.encode()))):
        rec, n = asyncio.run(play(f))
        assert rec.summary() == want, type(f)
    # no trailing newline on the last line
    rec, _ = asyncio.run(play(io.BytesIO(text.rstrip("\n").encode())))
    assert rec.summary() == want


def test_dash_reads_stdin(monkeypatch):
    text = jsonl(LINES)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode()), encoding="utf-8"))
    got = Recorder()
    asyncio.run(scan(got, air="-"))
    assert got.summary() == expected(LINES)

    monkeypatch.setattr(sys, "stdin", io.StringIO("\n{oops\n"))  # no .buffer, no .name
    with pytest.raises(AirError, match=r"^<stdin>:2: not a JSON object$"):
        asyncio.run(scan(Recorder(), air="-"))


def test_a_pipe_delivers_before_eof():
    """`drawsense sim --json | drawsense listen --air -`: the first advert must
    arrive while the writer is still writing (no waiting for EOF)."""
    r, w = os.pipe()
    reader = os.fdopen(r, "rb")
    writer = os.fdopen(w, "wb")
    first = threading.Event()

    async def main():
        rec = Recorder()
        seen = asyncio.Event()

        def cb(d, a):
            rec(d, a)
            seen.set()

        done = asyncio.get_running_loop().create_future()
        async with BleakScanner(cb, backend=SimulatedAirScanner, air=reader, air_done=done):
            writer.write((json.dumps(LINES[0]) + "\n" + json.dumps(LINES[1]) + "\n").encode())
            writer.flush()
            await asyncio.wait_for(seen.wait(), 10)  # the pipe is still open
            first.set()
            assert len(rec.got) == 1
            writer.write(("\n".join(json.dumps(o) for o in LINES[2:]) + "\n").encode())
            writer.close()
            await asyncio.wait_for(done, 10)
        return rec

    try:
        rec = asyncio.run(main())
    finally:
        if not writer.closed:
            writer.close()
        reader.close()
    assert first.is_set()
    assert rec.summary() == expected(LINES)


def test_a_huge_stream_is_read_with_bounded_buffering():
    """The reader thread stays at most a few batches ahead of the consumer."""
    line = (json.dumps(LINES[1]) + "\n").encode()
    n_lines = 20000
    produced = [0]

    class Counting(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, b):
            if produced[0] >= n_lines:
                return 0
            k = min(len(b) // len(line), n_lines - produced[0])
            if k == 0:
                return 0
            b[:k * len(line)] = line * k
            produced[0] += k
            return k * len(line)

    ahead = []

    async def main():
        count = [0]

        def cb(d, a):
            count[0] += 1
            if count[0] % 1000 == 0:
                ahead.append(produced[0] - count[0])

        await scan(cb, air=io.BufferedReader(Counting(), buffer_size=1 << 16))
        return count[0]

    assert asyncio.run(main()) == n_lines
    # queue of 16 batches of <= 64 KiB each (~700 lines a batch here)
    assert max(ahead) < 20 * 1000


def _with_pad(pad_bytes: int) -> bytes:
    """The test air with a line of `pad_bytes` (a JSON object of no type the
    receiver knows) after the first advert."""
    pad = json.dumps({"t_ms": 1040, "type": "pad", "x": "x" * pad_bytes}) + "\n"
    lines = jsonl(LINES).splitlines(keepends=True)
    after = next(i for i, line in enumerate(lines) if '"adv"' in line) + 1
    return "".join(lines[:after] + [pad] + lines[after:]).encode()


@pytest.mark.parametrize("source", ["file", "pipe", "text"])
def test_a_line_longer_than_a_chunk_arrives_whole(tmp_path, source):
    data = _with_pad(5 << 16)  # five of the reader's 64 KiB chunks
    if source == "file":
        (tmp_path / "air.jsonl").write_bytes(data)
        src = str(tmp_path / "air.jsonl")
    elif source == "pipe":
        src = io.BufferedReader(io.BytesIO(data), buffer_size=1 << 12)
    else:
        src = io.StringIO(data.decode())
    rec, _ = asyncio.run(play(src))
    assert rec.summary() == expected(LINES)


@pytest.mark.parametrize("source", ["file", "text"])
def test_a_line_past_the_cap_is_one_error_not_a_long_wait(tmp_path, source):
    # one 64 MB line once took 33 s (the line's pieces were joined chunk by
    # chunk, quadratic) and was then parsed whole
    data = _with_pad(4 << 20)
    (tmp_path / "air.jsonl").write_bytes(data)
    src = str(tmp_path / "air.jsonl") if source == "file" else io.StringIO(data.decode())
    got = []
    with pytest.raises(AirError, match=r":4: a line longer than 1 MiB \(an advert line is ~300 bytes\)"):
        asyncio.run(scan(lambda d, a: got.append(d), air=src))
    assert len(got) == 1  # the advert before it was delivered


# --------------------------------------------------------------- parse_ad ----

def test_parse_ad_drawsense_advert():
    f = parse_ad(bytes.fromhex(DRAW))
    assert f["manufacturer_data"] == {0xFFFF: bytes.fromhex("4453000101001e000000")}
    assert f["local_name"] is None and f["flags"] is None and f["tx_power"] is None


def test_parse_ad_flags_names_uuids_service_data_tx_power():
    u128 = bytes(range(16))  # little-endian on air
    data = (
        bytes([2, 0x01, 0x06])
        + bytes([4, 0x08]) + b"hol"
        + bytes([8, 0x09]) + b"holster"
        + bytes([2, 0x0A, 0xF4])  # -12 dBm
        + bytes([5, 0x03, 0x0F, 0x18, 0x6C, 0xFE])
        + bytes([17, 0x07]) + u128
        + bytes([5, 0x16, 0x6C, 0xFE, 0xAA, 0xBB])
        + bytes([7, 0x20, 0x78, 0x56, 0x34, 0x12, 0x01, 0x02])
        + bytes([5, 0xFF, 0x4C, 0x00, 0x02, 0x15])
    )
    f = parse_ad(data)
    assert f["flags"] == 0x06
    assert f["local_name"] == "holster"  # complete name wins over the shortened one
    assert f["tx_power"] == -12
    assert f["service_uuids"] == [
        "0000180f-0000-1000-8000-00805f9b34fb",
        "0000fe6c-0000-1000-8000-00805f9b34fb",
        "0f0e0d0c-0b0a-0908-0706-050403020100",
    ]
    assert f["service_data"] == {
        "0000fe6c-0000-1000-8000-00805f9b34fb": b"\xaa\xbb",
        "12345678-0000-1000-8000-00805f9b34fb": b"\x01\x02",
    }
    assert f["manufacturer_data"] == {0x004C: b"\x02\x15"}
    assert parse_ad(bytes([4, 0x08]) + b"hol")["local_name"] == "hol"


def test_parse_ad_truncated_and_padded():
    good = bytes.fromhex("020106")
    # length runs past the end: stop there, keep what came before
    f = parse_ad(good + bytes([9, 0x09]) + b"hol")
    assert f["flags"] == 6 and f["local_name"] is None
    f = parse_ad(bytes.fromhex(DRAW)[:-1])
    assert f["manufacturer_data"] == {}
    # zero length = padding: the rest is not significant
    f = parse_ad(good + b"\x00" + bytes.fromhex(DRAW))
    assert f["flags"] == 6 and f["manufacturer_data"] == {}
    # too-short fields are skipped, later ones still parsed
    f = parse_ad(bytes([2, 0xFF, 0x01]) + bytes([1, 0x16]) + bytes.fromhex(DRAW))
    assert f["manufacturer_data"] == {0xFFFF: bytes.fromhex("4453000101001e000000")}
    assert f["service_data"] == {}
    assert parse_ad(b"") == parse_ad(b"\x00" * 31)


def test_parse_ad_never_raises():
    rnd = random.Random(1234)
    for _ in range(3000):
        data = bytes(rnd.randrange(256) for _ in range(rnd.randrange(40)))
        f = parse_ad(data)
        assert set(f) == {"local_name", "manufacturer_data", "service_data", "service_uuids", "tx_power", "flags"}
    parse_ad(bytearray(b"\x03\xff\x01"))
    parse_ad(memoryview(bytes.fromhex(DRAW)))


# ------------------------------------------------------------ real adapter ----

def test_real_adapter_path_passive_first_then_active(monkeypatch):
    """Without air, scan() builds bleak's own scanner: passive where the
    platform can (BlueZ needs or_patterns), the adapter through bluez= (the
    adapter= kwarg is deprecated in bleak 3), falling back to active."""
    made = []

    class FakeScanner:
        def __init__(self, callback, **kw):
            self.kw = kw
            self.stopped = False
            made.append(self)

        async def start(self):
            if self.kw.get("scanning_mode") == "passive":
                raise BleakError("passive scanning on Linux requires BlueZ >= 5.56 with --experimental")

        async def stop(self):
            self.stopped = True

    real_attempts = air._real_attempts
    monkeypatch.setattr(air, "BleakScanner", FakeScanner)
    monkeypatch.setattr(air, "_real_attempts", lambda adapter: real_attempts(adapter, "linux"))
    asyncio.run(scan(lambda d, a: None, adapter="hci1", duration=0.01))
    assert [m.kw.get("scanning_mode") for m in made] == ["passive", "active"]
    assert made[0].kw["bluez"]["adapter"] == "hci1" and made[0].kw["bluez"]["or_patterns"]
    assert made[1].kw == {"scanning_mode": "active", "bluez": {"adapter": "hci1"}}
    assert "adapter" not in made[1].kw and made[1].stopped

    assert real_attempts(None, "darwin") == [{}]  # CoreBluetooth: no passive
    assert real_attempts(None, "win32")[0] == {"scanning_mode": "passive"}


def test_real_adapter_scan_is_cancellable(monkeypatch):
    stopped = []

    class FakeScanner:
        def __init__(self, callback, **kw):
            pass

        async def start(self):
            pass

        async def stop(self):
            stopped.append(True)

    monkeypatch.setattr(air, "BleakScanner", FakeScanner)

    async def main():
        t = asyncio.create_task(scan(lambda d, a: None))  # forever
        await asyncio.sleep(0.01)
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t

    asyncio.run(main())
    assert stopped == [True]


def test_the_scanner_remembers_a_bounded_number_of_addresses():
    # every burst comes from a fresh random address: a long listen must not
    # keep them all (100k addresses once held 161 MB)
    from drawsense.receive.air import MAX_SEEN

    lines = [json.dumps({"type": "adv", "t_ms": i, "addr": "c0:00:%02x:%02x:%02x:01" % (i >> 16, (i >> 8) & 255, i & 255),
                         "data": DRAW}) for i in range(MAX_SEEN + 500)]

    async def go():
        scanner = BleakScanner(lambda d, a: None, backend=SimulatedAirScanner, air=lines)
        async with scanner:
            await scanner._backend.done
        return scanner._backend

    backend = asyncio.run(go())
    assert len(backend.seen_devices) == MAX_SEEN
    assert "C0:00:00:11:F3:01" in backend.seen_devices  # the newest are kept
