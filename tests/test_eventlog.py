"""`drawsense log --verify`: a saved event log, genuine and tampered with.

Run: pytest tests/test_eventlog.py

The genuine logs are written by the firmware's own writer (firmware/evlog.py)
on the real MicroPython VM, into a folder, with small segments (4 records)
so a log spans several segment files and the ring evicts; then each tamper
case edits the saved bytes as an attacker with the file (but not the log
key) could, and the real CLI must name what was done and exit 1.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from benchhelp import cli
from conftest import FIRMWARE, TEST_ID, TEST_LOG_KEY, TEST_SECRET
from drawsense import eventlog, paths
from drawsense.cli import log as logcli
from drawsense.keystore import Clock, KeyStore

REC = eventlog.REC
OTHER_ID = b"otherdev"
OTHER_KEY = bytes(range(0x60, 0x70))


def write_log(folder: Path, key: bytes, device_id: bytes, events: list[tuple], segs=8, per=4) -> None:
    """Run the firmware's Log under MicroPython in `folder` (a reboot, i.e. a
    fresh Log, between events, as a sensor that sleeps deep)."""
    folder.mkdir(exist_ok=True)
    code = ("import evlog\nfor e in %r:\n    l = evlog.Log(%r, %r, %d, %d)\n    l.note(*e)\n    l.flush()\n"
            % (events, key, device_id, segs, per))
    p = subprocess.run([paths.micropython(), "-c", code], capture_output=True, text=True, cwd=folder,
                       env=dict(os.environ, MICROPYPATH=str(FIRMWARE)), timeout=60)
    assert p.returncode == 0, p.stderr


def read_folder(folder: Path) -> bytes:
    return eventlog.from_files({p.name: p.read_bytes() for p in folder.iterdir()})


# boot, then draw/holster pairs 10 s apart: 9 records, 3 segment files of 4
EVENTS = [(6, 1000, 1, 3000, 0)] + [e for i in range(4) for e in
                                     ((1, 10000 * (i + 1), 30, 2990, 0), (2, 10000 * (i + 1) + 4000, 4000, 2990, 0))]


@pytest.fixture(scope="module")
def genuine(tmp_path_factory) -> bytes:
    d = tmp_path_factory.mktemp("log")
    write_log(d, TEST_LOG_KEY, TEST_ID, EVENTS)
    return read_folder(d)


@pytest.fixture
def keys(tmp_path):
    path = tmp_path / "k.db"
    s = KeyStore(path)
    s.add("holster-1", TEST_SECRET, TEST_ID, TEST_LOG_KEY)
    s.add("holster-2", bytes(32), OTHER_ID, OTHER_KEY)
    s.close()
    return path


def units(raw: bytes) -> list[bytes]:
    return [raw[i:i + REC] for i in range(0, len(raw), REC)]


def record_at(raw: bytes, seq: int) -> int:
    """Index (in 32-byte units) of the record with this seq."""
    for i, u in enumerate(units(raw)):
        if u[:4] != eventlog.MAGIC and int.from_bytes(u[:4], "big") == seq:
            return i
    raise AssertionError(seq)


def verify(tmp_path, keys, raw: bytes, capfd, *extra) -> tuple[int, list[str]]:
    f = tmp_path / "saved.dslog"
    f.write_bytes(raw)
    capfd.readouterr()
    rc = cli("log", "--verify", str(f), "--keys", str(keys), *extra)
    out, err = capfd.readouterr()
    return rc, (out + err).splitlines()


def test_genuine_log_is_intact_first_line_and_table(tmp_path, keys, genuine, capfd):
    assert len([u for u in units(genuine) if u[:4] == eventlog.MAGIC]) == 3
    rc, lines = verify(tmp_path, keys, genuine, capfd)
    assert rc == 0, lines
    assert lines[0].startswith("intact: 9 records (seq 0-8) of holster-1"), lines[0]
    table = [ln.split() for ln in lines[2:]]
    assert [row[1] for row in table] == ["boot"] + ["draw", "holster"] * 4
    assert table[1][2:4] == ["10.000", "s"] and "0.030" in lines[3]  # device time; since the draw


def _tamper(raw: bytes, kind: str) -> bytes:
    u = units(raw)
    if kind == "deleted":
        del u[record_at(raw, 4)]
    elif kind == "altered":
        i = record_at(raw, 5)
        rec = bytearray(u[i])
        rec[8:14] = (int.from_bytes(rec[8:14], "big") + 60000).to_bytes(6, "big")  # its RTC time, a minute later
        u[i] = bytes(rec)
    elif kind == "reordered":
        i, j = record_at(raw, 2), record_at(raw, 3)
        u[i], u[j] = u[j], u[i]
    elif kind == "truncated":
        return raw[:-10]
    elif kind == "replayed":
        u.append(u[record_at(raw, 1)])  # the first draw again, at the end
    return b"".join(u)


@pytest.mark.parametrize("kind", ["deleted", "altered", "reordered", "truncated", "replayed"])
def test_each_tamper_is_named_and_fails(tmp_path, keys, genuine, capfd, kind):
    rc, lines = verify(tmp_path, keys, _tamper(genuine, kind), capfd)
    assert rc == 1, lines
    assert lines[0].startswith("NOT INTACT"), lines[0]
    named = [ln.split(":")[0].strip() for ln in lines[1:] if ln.startswith("  ") and not ln.startswith("  note")]
    assert named[0] == kind, lines


def test_tamper_json_names_it_too(tmp_path, keys, genuine, capfd):
    rc, lines = verify(tmp_path, keys, _tamper(genuine, "deleted"), capfd, "--json")
    out = json.loads(lines[0])
    assert rc == 1 and out["intact"] is False
    assert out["findings"][0]["kind"] == "deleted" and out["findings"][0]["seq"] == 4


def test_only_the_altered_record_is_named(genuine):
    rep = eventlog.verify(_tamper(genuine, "altered"), TEST_LOG_KEY, TEST_ID)
    assert [(f.kind, f.seq) for f in rep.findings] == [("altered", 5)]


def test_splicing_another_devices_log_is_named(tmp_path, keys, genuine, capfd):
    other = tmp_path / "other"
    write_log(other, OTHER_KEY, OTHER_ID, EVENTS[:3])
    theirs = read_folder(other)
    segs = [i for i, u in enumerate(units(genuine)) if u[:4] == eventlog.MAGIC]
    # their segment in place of our middle one
    spliced = b"".join(units(genuine)[:segs[1]]) + theirs + b"".join(units(genuine)[segs[2]:])
    rc, lines = verify(tmp_path, keys, spliced, capfd, "--name", "holster-1")
    assert rc == 1 and lines[0].startswith("NOT INTACT")
    kinds = [ln.split(":")[0].strip() for ln in lines[1:] if ln.startswith("  ") and not ln.startswith("  note")]
    assert "spliced" in kinds and "deleted" in kinds, lines


def test_a_log_from_a_reprovisioned_device_says_so(tmp_path, genuine, capfd):
    """The device was provisioned again with a new log key: its firmware goes
    on logging under the new key (a new chain, the seq counting on), and the
    store now holds only the new key; the old records cannot be verified."""
    d = tmp_path / "dev"
    write_log(d, TEST_LOG_KEY, TEST_ID, EVENTS[:5])
    new_key = bytes(range(0x70, 0x80))
    write_log(d, new_key, TEST_ID, EVENTS[5:])
    keys = tmp_path / "new.db"
    s = KeyStore(keys)
    s.add("holster-1", TEST_SECRET, TEST_ID, new_key)
    s.close()
    rc, lines = verify(tmp_path, keys, read_folder(d), capfd)
    assert rc == 1 and lines[0].startswith("NOT INTACT"), lines
    assert lines[1].startswith("  rekeyed: records seq 0-4 were written under another log key"), lines
    assert "re-provisioned" in lines[1]
    assert any("a new chain starts at seq 5" in ln for ln in lines)
    # with the old key, the old part verifies and the new part is the other key's
    rep = eventlog.verify(read_folder(d), TEST_LOG_KEY, TEST_ID)
    assert [f.kind for f in rep.findings] == ["rekeyed"] and rep.verified == [0, 1, 2, 3, 4]


def test_truncation_at_a_record_boundary_shows_against_the_stores_mark(tmp_path, keys, genuine, capfd):
    s = KeyStore(keys)
    last = eventlog.verify(genuine, TEST_LOG_KEY, TEST_ID).records[-1]
    s.read_log("holster-1", (last.seq, last.mac), None)
    s.close()
    cut = genuine[:-2 * REC]  # the last segment (its header and record 8), whole
    rc, lines = verify(tmp_path, keys, cut, capfd)
    assert rc == 1 and lines[1].startswith("  truncated: the log ends at seq 7, but seq 8 was read from this device")


def test_eviction_is_not_deletion(tmp_path, keys, capfd):
    d = tmp_path / "ring"
    write_log(d, TEST_LOG_KEY, TEST_ID, EVENTS * 3, segs=3, per=4)  # 27 events through a 12-record ring
    raw = read_folder(d)
    rc, lines = verify(tmp_path, keys, raw, capfd)
    assert rc == 0 and lines[0].startswith("intact"), lines
    assert any("ring dropped records up to seq" in ln for ln in lines)
    # but dropping the oldest segment left is a deletion the marker does not cover
    segs = [i for i, u in enumerate(units(raw)) if u[:4] == eventlog.MAGIC]
    rc, lines = verify(tmp_path, keys, b"".join(units(raw)[segs[1]:]), capfd)
    assert rc == 1 and lines[1].startswith("  deleted: the oldest records"), lines


def test_bad_input_is_one_line_exit_2(tmp_path, keys, capfd):
    f = tmp_path / "junk"
    f.write_bytes(b"hello")
    assert cli("log", "--verify", str(f), "--keys", str(keys)) == 2
    assert "not a drawsense event log" in capfd.readouterr().err
    assert cli("log", "--verify", str(tmp_path / "none"), "--keys", str(keys)) == 2
    assert "cannot read it" in capfd.readouterr().err
    assert cli("log", "--keys", str(keys)) == 2
    assert "give --port P" in capfd.readouterr().err


def test_wall_clock_from_a_reading_in_the_same_run_with_its_bound(genuine):
    rep = eventlog.verify(genuine, TEST_LOG_KEY, TEST_ID)
    recs = rep.records
    # a reading taken when seq 8 was the newest: device RTC 50 s = unix 1.8e9, +-0.2 s, on the esp32c3 (1 %)
    c = Clock(8, 50000, 1.8e9, 0.2, "esp32c3")
    t, err = logcli.wall_clock(recs[1], [c], recs)  # the first draw, at RTC 10 s: 40 s before the reading
    assert t == pytest.approx(1.8e9 - 40) and err == pytest.approx(0.2 + 40 * 0.01)
    # a reading from before the power-on boot (seq 0) does not date what came after it
    assert logcli.wall_clock(recs[1], [Clock(-1, 0, 1.7e9, 0.1, "esp32c3")], recs) is None


def test_which_boots_restart_the_clock_depends_on_the_port():
    def boot(seq, cause, flags=0):
        return eventlog.Record(seq, 6, flags, 3000, 0, eventlog.CAUSES.index(cause), eventlog.NO_EPOCH, b"", 0, b"")
    recs = [boot(0, "power-on"), boot(1, "reset"), boot(2, "watchdog"), boot(3, "soft-reset"),
            boot(4, "reset", eventlog.FLAG_BROWNOUT), boot(5, "unknown")]
    assert logcli.run_breaks(recs, "esp32") == [0, 4, 5]  # the RTC counts on through resets
    assert logcli.run_breaks(recs, "rp2") == [0, 1, 2, 4, 5]  # set again at every hardware boot


# holstered 1 s, a 12 s draw (a reminder at 10 s), 3 s in, a 3 s draw, 3 s in
SEGMENTS = (("holstered", 1000), ("drawn", 12000), ("holstered", 3000), ("drawn", 3000), ("holstered", 3000))
TWO_DRAWS_ONE_LONG = 'name = "two-draws-one-long"\n' + "".join(
    f'[[segment]]\nstate = "{state}"\nduration_ms = {ms}\n' for state, ms in SEGMENTS)


def test_heard_lines_the_log_up_with_what_listen_verified(tmp_path, capfd):
    """sim --keys (the device keeps its log in its flash beside the store)
    -> the air, with the first draw's own burst missing (a camera out of
    range; it hears the reminder 10 s later) -> listen --air --json -> log
    --verify --heard: the first draw 'late', the second 'yes', both holsters
    'yes', by the counter epoch each record carries."""
    from drawsense.sim import vboard

    keys, scen = tmp_path / "k.db", tmp_path / "two.toml"
    scen.write_text(TWO_DRAWS_ONE_LONG)
    assert cli("sim", str(scen), "--keys", str(keys), "--json") == 0
    air = [json.loads(ln) for ln in capfd.readouterr().out.splitlines()]
    advs = [a for a in air if a["type"] == "adv"]
    first_draw = min(a["counter"] >> 4 for a in advs if a["event"] == "draw")
    kept = [a for a in air if not (a["type"] == "adv" and a["counter"] >> 4 == first_draw)]
    (tmp_path / "air.jsonl").write_text("".join(json.dumps(a) + "\n" for a in kept))
    assert cli("listen", "--air", str(tmp_path / "air.jsonl"), "--keys", str(keys), "--json") == 0
    heard = tmp_path / "heard.jsonl"
    heard.write_text(capfd.readouterr().out)
    saved = tmp_path / "sim.dslog"
    saved.write_bytes(eventlog.from_files(vboard.flash_files(Path(str(keys) + ".sim") / "sim-virtual.flash")))
    capfd.readouterr()
    assert cli("log", "--verify", str(saved), "--keys", str(keys), "--heard", str(heard), "--json") == 0
    out = json.loads(capfd.readouterr().out)
    assert out["intact"]
    got = [(r["event"], r["heard"]) for r in out["records"] if r["heard"] is not None]
    assert got == [("draw", "late"), ("holster", "yes"), ("draw", "yes"), ("holster", "yes")], out["records"]
    assert cli("log", "--verify", str(saved), "--keys", str(keys), "--heard", str(heard)) == 0
    table = capfd.readouterr().out.splitlines()
    assert "heard" in table[1] and table[3].split()[1:2] == ["draw"] and " late " in table[3], table


def test_heard_without_the_burst_or_any_reminder_is_no(genuine):
    rep = eventlog.verify(genuine, TEST_LOG_KEY, TEST_ID)
    assert [logcli.heard_state(r, [], rep.records) for r in rep.records][:3] == [None, "unsent", "unsent"]
    bad = Path(__file__)  # not JSON lines
    with pytest.raises(ValueError, match="not a JSON line"):
        logcli._heard(bad, "x")


def _segments(raw: bytes) -> list[bytes]:
    """The log's segment files (header and records each), in order."""
    u = units(raw)
    heads = [i for i, x in enumerate(u) if x[:4] == eventlog.MAGIC] + [len(u)]
    return [b"".join(u[a:b]) for a, b in zip(heads, heads[1:])]


def test_a_chain_started_afresh_is_no_cover_for_deleting_what_came_before(tmp_path, keys, capfd):
    """What a sensor that took a forged header key id for a re-key wrote: a
    new chain from genesis at seq 5 (the seq counting on) after seq 0-4.
    With the segments before it deleted, the oldest records are missing
    and no eviction marker covers them: deleted, not intact."""
    d = tmp_path / "dev"
    write_log(d, OTHER_KEY, TEST_ID, EVENTS[:5])  # seq 0-4 under a key the device took for another
    write_log(d, TEST_LOG_KEY, TEST_ID, EVENTS[5:])  # seq 5-8: a new chain from genesis
    raw = read_folder(d)
    segs = _segments(raw)
    rest = b"".join(s for s in segs if s[4:8] == eventlog.key_id(TEST_LOG_KEY))
    assert int.from_bytes(rest[REC:REC + 4], "big") == 5
    rc, lines = verify(tmp_path, keys, rest, capfd)
    assert rc == 1 and lines[1].startswith("  deleted: the oldest records (seq 0-4) are missing"), lines
    # the store's mark (read at seq 4) among the records gone: the same finding
    rep = eventlog.verify(rest, TEST_LOG_KEY, TEST_ID, high=(4, b"\0" * 10))
    assert [(f.kind, f.seq) for f in rep.findings] == [("deleted", 0)] and not rep.intact


def _read_at(keys: Path, *seqs_macs) -> None:
    s = KeyStore(keys)
    for seq, mac in seqs_macs:
        s.read_log("holster-1", (seq, mac), None)
    s.close()


def test_an_older_saved_copy_ending_where_a_read_ended_is_intact(tmp_path, keys, genuine, capfd):
    """Read at seq 4 (and a copy saved then), read again later at seq 8:
    the older copy is genuine; it only ends earlier."""
    recs = {r.seq: r for r in eventlog.verify(genuine, TEST_LOG_KEY, TEST_ID).records}
    _read_at(keys, (4, recs[4].mac), (8, recs[8].mac))
    older = genuine[:(record_at(genuine, 4) + 1) * REC]
    rc, lines = verify(tmp_path, keys, older, capfd)
    assert rc == 0 and lines[0].startswith("intact: 5 records (seq 0-4)"), lines
    assert any("a copy from before the newest read: it ends at seq 4" in ln for ln in lines), lines
    # one that ends at a record no read ended at is still cut short
    rc, lines = verify(tmp_path, keys, genuine[:record_at(genuine, 3 + 1) * REC], capfd)
    assert rc == 1 and lines[1].startswith("  truncated: the log ends at seq 3, but seq 8 was read"), lines


def test_a_saved_copy_whose_last_record_is_not_the_one_read_is_altered(tmp_path, keys, genuine, capfd):
    recs = {r.seq: r for r in eventlog.verify(genuine, TEST_LOG_KEY, TEST_ID).records}
    _read_at(keys, (4, b"\x55" * 10), (8, recs[8].mac))  # what was read at seq 4 had another MAC
    rc, lines = verify(tmp_path, keys, genuine[:(record_at(genuine, 4) + 1) * REC], capfd)
    assert rc == 1 and lines[1].startswith("  altered: record seq 4, the last of this copy, is not the one read"), \
        lines
    # and in a whole copy, any record that is not the one read at its seq
    rc, lines = verify(tmp_path, keys, genuine, capfd)
    assert rc == 1 and lines[1].startswith("  altered: record seq 4 is not the one read from this device"), lines


@pytest.mark.parametrize("exc", [KeyboardInterrupt, OSError(28, "No space left on device")])
def test_save_leaves_no_part_file_and_the_old_file_whole(tmp_path, monkeypatch, exc):
    """Ctrl-C, SIGTERM (raised as an exception by the CLI) or a full disk
    while --save writes: the old FILE as it was, no FILE.tmp or part file."""
    dest = tmp_path / "h1.dslog"
    dest.write_bytes(b"the old copy")

    def boom(fd):
        raise exc
    monkeypatch.setattr(logcli.os, "fsync", boom)
    with pytest.raises(type(exc) if isinstance(exc, BaseException) else exc):
        logcli._save(dest, b"DSL1" + bytes(60))
    assert dest.read_bytes() == b"the old copy"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h1.dslog"]
