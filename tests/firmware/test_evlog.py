"""The event log (firmware/evlog.py) on the real MicroPython VM.

Run: pytest tests/firmware/test_evlog.py

Where the expected values come from (never from evlog.py itself):
* RFC 4493 section 4, AES-CMAC examples 2 and 4 (16- and 64-byte messages;
  the log only signs whole blocks), hex copied from the RFC's text;
* the spec's test vector (docs/protocol.md, "Event log"), made by the host's
  own implementation (drawsense.eventlog, on the `cryptography` package's
  CMAC) and checked here against both;
* the virtual board: power cut in the middle of every flash write of a run,
  as tests/firmware/test_power_cut.py does for the counter.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import FIRMWARE, REPO, TEST_ID, TEST_LOG_KEY, TEST_SECRET
from drawsense import boards, eventlog, paths
from drawsense.sim import scenario, vboard
from test_power_cut import TWO_DRAWS  # the counter's power-cut scenario: two draws

h = bytes.fromhex


def mp(code: str, cwd: Path, firmware: Path = FIRMWARE) -> str:
    env = dict(os.environ, MICROPYPATH=str(firmware))
    p = subprocess.run([paths.micropython(), "-c", code], capture_output=True, text=True, cwd=cwd, env=env,
                       timeout=60)
    assert p.returncode == 0, p.stderr + p.stdout
    return p.stdout


# RFC 4493 section 4: K, then (message, tag) for Examples 2 and 4
RFC4493_K = "2b7e1516 28aed2a6 abf71588 09cf4f3c"
RFC4493 = [
    ("6bc1bee2 2e409f96 e93d7e11 7393172a", "070a16b4 6b4d4144 f79bdd9d d04a287c"),
    ("6bc1bee2 2e409f96 e93d7e11 7393172a ae2d8a57 1e03ac9c 9eb76fac 45af8e51 "
     "30c81c46 a35ce411 e5fbc119 1a0a52ef f69f2445 df4f9b17 ad2b417b e66c3710",
     "51f0bebf 7e3b9d92 fc497417 79363cfe"),
]


def _hex(s: str) -> bytes:
    return h(s.replace(" ", ""))


def test_cmac_matches_rfc4493_and_cryptography(tmp_path):
    msgs = [_hex(m) for m, _ in RFC4493] + [bytes(range(i, i + 32)) for i in range(5)]
    key = _hex(RFC4493_K)
    code = ("import evlog, binascii\nc = evlog.Cmac(%r)\n" % key
            + "".join("print(binascii.hexlify(c.mac(%r)).decode())\n" % m for m in msgs))
    got = mp(code, tmp_path).split()
    assert got[:2] == [t.replace(" ", "") for _, t in RFC4493]
    assert got == [eventlog.cmac(key, m).hex() for m in msgs]


# The spec's vector (docs/protocol.md): log key 40..4f, device id "testdev1",
# a boot (power-on) at RTC 1000 ms, no burst, and a draw 30 ms after the gun
# left, at 5030 ms, sent in counter epoch 1, both at 3000 mV.
VECTOR_HEADER = "44534c31" "a790a923" "7465737464657631" "00000000" "0000" "157cd6d6396e6fc43372"
VECTOR_BOOT = "00000000" "06" "00" "0bb8" "0000000003e8" "00000001" "ffffffff" "2a1a97c9aec96c7e9f94"
VECTOR_DRAW = "00000001" "01" "00" "0bb8" "0000000013a6" "0000001e" "00000001" "0b11659bf29aece98b44"


def test_the_spec_vector_is_what_the_host_and_the_firmware_make(tmp_path):
    doc = re.sub(r"[`| \n]", "", (REPO / "docs" / "protocol.md").read_text())
    for part in (VECTOR_HEADER, VECTOR_BOOT, VECTOR_DRAW):
        assert part in doc, "the vector is in the spec"
    want = h(VECTOR_HEADER + VECTOR_BOOT + VECTOR_DRAW)
    # host
    assert eventlog.genesis(TEST_LOG_KEY, TEST_ID) == want[22:32]
    assert eventlog.key_id(TEST_LOG_KEY) == want[4:8]
    rep = eventlog.verify(want, TEST_LOG_KEY, TEST_ID)
    assert rep.intact and [(r.seq, r.name, r.rtc_ms, r.arg, r.epoch) for r in rep.records] == [
        (0, "boot", 1000, 1, eventlog.NO_EPOCH), (1, "draw", 5030, 30, 1)]
    # firmware, under MicroPython, into a folder
    mp("import evlog\nl = evlog.Log(%r, %r, 4, 127)\nl.note(6, 1000, 1, 3000, 0)\nl.note(1, 5030, 30, 3000, 0)\n"
       "l.sent(1, 1)\nl.flush()\n" % (TEST_LOG_KEY, TEST_ID), tmp_path)
    assert (tmp_path / "ds_log_0.bin").read_bytes() == want


def test_ring_evicts_with_a_signed_marker_and_stays_bounded(tmp_path):
    # 2 records a segment, 3 segments: 20 events make segments 0..12, of which 3 stay
    mp("import evlog\nfor i in range(20):\n    l = evlog.Log(%r, %r, 3, 2)\n    l.note(1, 1000 * i, 30, 3000, 0)\n"
       "    l.flush()\n" % (TEST_LOG_KEY, TEST_ID), tmp_path)  # a fresh Log each time: a reboot between events
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    segs = sorted(n for n in files if n.startswith("ds_log_"))
    assert len(segs) == 3, segs
    rep = eventlog.verify(eventlog.from_files(files), TEST_LOG_KEY, TEST_ID)
    assert rep.intact, rep.findings
    assert any("ring dropped records up to seq" in n for n in rep.notes)
    assert [r.name for r in rep.records].count("evicted") >= 2
    draws = [r for r in rep.records if r.name == "draw"]
    assert draws[-1].rtc_ms == 19000  # the newest event is kept
    # without the segment the marker names, the oldest one left is a deletion
    oldest = segs[0]
    del files[oldest]
    files.pop(segs[1])
    rep = eventlog.verify(eventlog.from_files(files), TEST_LOG_KEY, TEST_ID)
    assert not rep.intact and [f.kind for f in rep.findings] == ["deleted"], rep.findings


# --------------------------------------------------------------------------- on the virtual board

@pytest.fixture(scope="module")
def small_ring(tmp_path_factory):
    """Firmware with 2 records a segment and boards with a 2-segment ring, so
    a short run makes segments, evicts, and removes, all to be cut."""
    d = tmp_path_factory.mktemp("small")
    fw = d / "firmware"
    shutil.copytree(FIRMWARE, fw)
    cfg = fw / "config.py"
    text = cfg.read_text()
    assert "LOG_SEG_RECORDS = const(127)" in text
    cfg.write_text(text.replace("LOG_SEG_RECORDS = const(127)", "LOG_SEG_RECORDS = const(2)"))
    bd = d / "boards"
    shutil.copytree(paths.BOARDS, bd)
    for b in bd.glob("*/board.py"):
        t = b.read_text()
        b.write_text(re.sub(r"^LOG_SEGMENTS = \d+$", "LOG_SEGMENTS = 2", t, flags=re.M))
    scen = d / "two-draws.toml"
    scen.write_text(TWO_DRAWS)
    return fw, bd, scenario.load(str(scen))


def _committed(run, before_index=None):
    """(seq, event) of each record the firmware reported committed ("ds .. log SEQ EVENT")."""
    out = []
    for i, e in enumerate(run.events):
        if before_index is not None and i >= before_index:
            break
        if e["type"] == "report" and e["words"][0] == "log":
            out.append((int(e["words"][1]), int(e["words"][2])))
    return out


def _run(small_ring, tmp_path, cut_at, monkeypatch):
    fw, bd, scen = small_ring
    monkeypatch.setattr(paths, "BOARDS", bd)
    img = tmp_path / f"flash-{cut_at}.img"
    run = vboard.run(scen, "esp32c3", firmware_dir=fw, secret=TEST_SECRET, device_id=TEST_ID, log_key=TEST_LOG_KEY,
                     flash_image=img, cut_at=cut_at)
    return run, eventlog.verify(eventlog.from_files(vboard.flash_files(img)), TEST_LOG_KEY, TEST_ID)


def test_power_cut_at_every_flash_write_keeps_the_chain_and_every_committed_record(small_ring, tmp_path,
                                                                                  monkeypatch):
    clean, rep = _run(small_ring, tmp_path, 0, monkeypatch)
    assert rep.intact, rep.findings
    names = [eventlog.EVENTS[e] for _, e in _committed(clean)]
    assert names.count("draw") == 2 and names.count("holster") == 2 and "evicted" in names, names
    assert [(r.seq, r.event) for r in rep.records] == _committed(clean)[-len(rep.records):]  # the newest kept
    writes = clean.stats["flash_ops"]
    assert writes >= 15, "the run should write the log's segments and evict"
    for k in range(1, writes + 1):
        run, rep = _run(small_ring, tmp_path, k, monkeypatch)
        assert run.stats["power_cuts"] == 1, f"cut {k}: power was not cut"
        assert rep.intact, f"cut {k}: {[f.text for f in rep.findings]}"
        cut = next(i for i, e in enumerate(run.events) if e["type"] == "power")
        kept = {(r.seq, r.event) for r in rep.records}
        lost = [c for c in _committed(run, cut) if c not in kept and c[0] >= min(s for s, _ in kept)]
        assert not lost, f"cut {k}: committed records lost: {lost}"
        # the sensor carries on logging after the cut: its power-on boot is
        # chained on after every record committed before the cut (an event
        # noted but not yet written when the power went is not in the log;
        # the boot record shows the gap)
        before = max((s for s, _ in _committed(run, cut)), default=-1)
        after = [c for c in _committed(run)[len(_committed(run, cut)):] if c[1] != 9]  # (eviction markers aside)
        # (the write the power cut may itself have committed its record: then
        # it is in the log though the firmware never got to say so)
        assert after and after[0][1] == 6 and after[0][0] > before, f"cut {k}: {after}"
        assert rep.records[-1].seq == _committed(run)[-1][0], f"cut {k}: the newest committed record is the log's last"


def test_the_draw_is_logged_after_its_first_advert(sim):
    """The draw's payload is handed to the radio (gap_advertise: the "radio"
    event; the controller then sends it on its own) before the log writes."""
    run = sim("draw-reholster", "esp32c3")
    drawn = next(i for i, e in enumerate(run.events) if e["type"] == "state" and e["state"] == "DRAWN")
    handed = next(i for i, e in enumerate(run.events) if i > drawn and e["type"] == "radio" and e["on"])
    logged = next(i for i, e in enumerate(run.events) if e["type"] == "report" and e["words"][:1] == ["log"]
                  and e["words"][2] == "1")
    assert drawn < handed < logged
    assert run.events[handed]["flash_reads"] == 0  # the wake path read no flash before it either


@pytest.mark.parametrize("board", ["esp32c3", "picow", "nrf52840", "virtual"])
def test_every_board_logs_boot_draw_holster(sim, board, tmp_path):
    img = tmp_path / "flash.img"
    sim("draw-reholster", board, flash_image=img)
    rep = eventlog.verify(eventlog.from_files(vboard.flash_files(img)), TEST_LOG_KEY, TEST_ID)
    assert rep.intact, rep.findings
    assert [r.name for r in rep.records] == ["boot", "draw", "holster"]
    draw, holster = rep.records[1:]
    assert 0 < draw.since_draw_ms < 300 and holster.since_draw_ms > 3000
    assert holster.rtc_ms > draw.rtc_ms


def test_a_device_without_a_log_key_keeps_no_log(sim, tmp_path):
    img = tmp_path / "flash.img"
    run = sim("draw-reholster", "esp32c3", flash_image=img, log_key=None)
    assert any(e["type"] == "adv" for e in run.events)
    assert not [n for n in vboard.flash_files(img) if n.startswith("ds_log")]


def test_every_board_sizes_its_ring():
    for name in boards.names():
        b = boards.load(name)
        assert isinstance(b.values.get("LOG_SEGMENTS"), int) and b["LOG_SEGMENTS"] >= 2, name


# --------------------------------------------------------------------------- starting again on what flash holds

def _log(folder: Path, events: list[tuple], segs: int = 8, per: int = 4, firmware: Path = FIRMWARE,
         pre: str = "") -> str:
    """The firmware's Log under MicroPython in `folder`, a fresh Log (a
    reboot) for each event; `pre`: code run first (after import evlog)."""
    return mp("import evlog\n" + pre + "for e in %r:\n    l = evlog.Log(%r, %r, %d, %d, lambda *w: print(*w))\n"
              "    l.note(*e)\n    l.flush()\n" % (events, TEST_LOG_KEY, TEST_ID, segs, per), folder, firmware)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.name.startswith("ds_log_")}


TEN = [(1, 1000 * i, 30, 3000, 0) for i in range(10)]


def test_a_forged_key_id_in_the_last_header_does_not_start_a_new_chain(tmp_path):
    """The header's key id is not signed: flipping one of its bytes must not
    make the sensor start a chain from genesis (whose records would verify
    with every older segment deleted)."""
    _log(tmp_path, TEN)  # seq 0-9 in segments 0, 1, 2 (4 a segment)
    last = tmp_path / "ds_log_2.bin"
    b = bytearray(last.read_bytes())
    b[4] ^= 1
    last.write_bytes(bytes(b))
    out = _log(tmp_path, [(2, 20000, 4000, 3000, 0)])
    assert "new-chain" not in out
    files = _files(tmp_path)
    # the attacker deletes every segment before the newest
    newest = max(files, key=lambda n: int(n[7:-4]))
    rep = eventlog.verify(files[newest], TEST_LOG_KEY, TEST_ID)
    assert rep.records[0].seq == 10
    assert "deleted" in [f.kind for f in rep.findings], rep.findings
    # kept whole, the new record chains on after seq 9
    rep = eventlog.verify(eventlog.from_files(files), TEST_LOG_KEY, TEST_ID)
    assert 10 in rep.verified and not any("new chain" in n for n in rep.notes), (rep.findings, rep.notes)
    # and the forged header itself is named: its records are under this device's key
    assert [(f.kind, f.text) for f in rep.findings] == [
        ("altered", "segment 2's header names another log key, but its records are under this device's")]


def test_a_damaged_last_segment_does_not_reuse_sequence_numbers(tmp_path):
    _log(tmp_path, TEN[:6])  # seq 0-3 in segment 0, 4-5 in segment 1
    seg = tmp_path / "ds_log_1.bin"
    seg.write_bytes(seg.read_bytes() + b"\x00" * 10)  # a torn record after seq 5
    _log(tmp_path, TEN[6:7])
    files = _files(tmp_path)
    assert sorted(files) == ["ds_log_0.bin", "ds_log_1.bin", "ds_log_2.bin"]
    new = files["ds_log_2.bin"]
    assert int.from_bytes(new[REC_:REC_ + 4], "big") == 6  # seq 6, not 0 again
    # a segment that is not a segment at all: the one before it counts
    (tmp_path / "ds_log_3.bin").write_bytes(b"junk")
    _log(tmp_path, TEN[7:8])
    assert int.from_bytes(_files(tmp_path)["ds_log_4.bin"][REC_:REC_ + 4], "big") == 7


REC_ = eventlog.REC

FAIL_ONE_REMOVE = """
class _Os:
    failed = False
    def __getattr__(self, a):
        return getattr(_os, a)
    def remove(self, p):
        if p.startswith("ds_log_") and not _Os.failed:
            _Os.failed = True
            raise OSError(5)
        _os.remove(p)
import os as _os
evlog.os = _Os()
"""


def test_a_failed_removal_is_finished_before_the_next_marker(tmp_path):
    """One Log (no reboot) through a ring of 3 segments of 2: the first
    eviction's removal fails (the flash refused it; the append still
    counts); the next rollover must cover the right segment with its
    marker, so no stretch goes missing without one."""
    # events 0-5 fill segments 0-2; event 6 starts segment 3 with the first
    # marker (the removal of segment 0 fails); event 7 starts segment 4
    for n, files in ((8, ["ds_log_2.bin", "ds_log_3.bin", "ds_log_4.bin"]),
                     (12, ["ds_log_6.bin", "ds_log_7.bin", "ds_log_8.bin"])):
        d = tmp_path / str(n)
        d.mkdir()
        mp("import evlog\n" + FAIL_ONE_REMOVE + "l = evlog.Log(%r, %r, 3, 2)\nfor i in range(%d):\n"
           "    l.note(1, 1000 * i, 30, 3000, 0)\n    l.flush()\nassert _Os.failed\n" % (TEST_LOG_KEY, TEST_ID, n), d)
        got = _files(d)
        assert sorted(got) == files
        rep = eventlog.verify(eventlog.from_files(got), TEST_LOG_KEY, TEST_ID)
        assert rep.intact, (n, rep.findings)


# --------------------------------------------------------------------------- the log never delays a draw's advert

# holstered 1 s, drawn 3 s, holstered until 3 ms after the holster is
# confirmed (1 s in), drawn 3 s, holstered 3 s: the second draw's edge comes
# while the holster's record is being written, which (2 records a segment)
# is a segment rollover
DRAW_IN_ROLLOVER = 'name = "draw-in-rollover"\n' + "".join(
    f'[[segment]]\nstate = "{state}"\nduration_ms = {ms}\n'
    for state, ms in (("holstered", 1000), ("drawn", 3000), ("holstered", 1003), ("drawn", 3000),
                      ("holstered", 3000)))


def test_a_draw_during_a_segment_rollover_is_not_delayed(small_ring, tmp_path, monkeypatch):
    """Flash writes that take time (5 ms each on the virtual board's chip;
    the firmware's own code takes none): the second draw's first advert goes
    on air when it does with writes that take no time at all, and the log
    still holds every record, in order."""
    fw, bd, _ = small_ring
    monkeypatch.setattr(paths, "BOARDS", bd)
    scen = tmp_path / "s.toml"
    scen.write_text(DRAW_IN_ROLLOVER)

    def second_draw(flash_op_us):
        img = tmp_path / f"flash-{flash_op_us}.img"
        run = vboard.run(scenario.load(str(scen)), "virtual", firmware_dir=fw, secret=TEST_SECRET,
                         device_id=TEST_ID, log_key=TEST_LOG_KEY, flash_image=img, flash_op_us=flash_op_us)
        drawn = [i for i, e in enumerate(run.events) if e["type"] == "state" and e["state"] == "DRAWN"]
        assert len(drawn) == 2
        on_air = next(e for e in run.events[drawn[1]:] if e["type"] == "radio" and e["on"])
        holster = next(e for e in run.events if e["type"] == "state" and e["state"] == "HOLSTERED")
        rep = eventlog.verify(eventlog.from_files(vboard.flash_files(img)), TEST_LOG_KEY, TEST_ID)
        return on_air["t_ms"], holster["t_ms"], rep

    at, holstered, rep = second_draw(0)
    assert 0 <= 4000 + 1003 - holstered < 10, "the draw's edge comes just after the holster, as its record is written"
    assert rep.intact, rep.findings
    slow_at, _, slow = second_draw(5000)
    assert slow_at == at, f"the draw's first advert went {slow_at - at:.1f} ms later while the log was written"
    assert slow.intact, slow.findings
    assert [r.name for r in slow.records][-3:] == ["draw", "evicted", "holster"]
    assert [r.name for r in slow.records if r.name != "evicted"] == [r.name for r in rep.records
                                                                     if r.name != "evicted"]
