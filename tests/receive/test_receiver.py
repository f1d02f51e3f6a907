"""The reference receiver end to end: `drawsense sim --keys K --json |
drawsense listen --air - --keys K --json` through bleak's real scanner code
path, plus its rules (forgery, replay, folding, one action per draw) and
the key store it keeps."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drawsense import protocol
from drawsense.keystore import KeyStore
from drawsense.receive.receiver import REASONS, Receiver
from conftest import TEST_ID, TEST_SECRET


def cli(*args, input=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "drawsense", *args], input=input, capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def pipeline(keys, scenario="draw-reholster", *extra):
    """The README's pipe, as a shell would run it."""
    cmd = (f"{sys.executable} -m drawsense sim {scenario} --keys {keys} --json | "
           f"{sys.executable} -m drawsense listen --air - --keys {keys} --json {' '.join(extra)}")
    return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=300)


def events_of(stdout):
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_sim_to_listen_one_event_per_real_draw(tmp_path):
    keys = tmp_path / "k.db"
    r = pipeline(keys)
    assert r.returncode == 0, r.stderr
    evs = events_of(r.stdout)
    assert [e["event"] for e in evs] == ["draw", "holster"]
    draw = evs[0]
    assert draw["device"] == "sim-virtual" and draw["since_draw_ms"] == 30
    for k in ("event", "device", "counter", "since_draw_ms", "battery_mv", "rssi"):
        assert k in draw
    # the holster says how long since the draw: 5 s out + the 1 s holster confirm
    assert 5_900 <= evs[1]["since_draw_ms"] <= 6_100


def test_same_air_after_a_receiver_restart_is_all_replay(tmp_path):
    keys = tmp_path / "k.db"
    air = tmp_path / "air.jsonl"
    r = cli("sim", "draw", "--keys", str(keys), "--json")
    air.write_text(r.stdout)
    first = cli("listen", "--air", str(air), "--keys", str(keys), "--json")
    assert [e["event"] for e in events_of(first.stdout)] == ["draw", "reminder"]
    again = cli("listen", "--air", str(air), "--keys", str(keys), "--json")
    assert again.returncode == 0 and events_of(again.stdout) == []
    n_adv = sum(1 for line in air.read_text().splitlines() if '"type": "adv"' in line)
    assert f"replay {n_adv}" in again.stderr


def test_a_second_sim_run_continues_the_counter(tmp_path):
    keys = tmp_path / "k.db"
    a = events_of(pipeline(keys, "draw").stdout)
    b = events_of(pipeline(keys, "draw").stdout)
    assert [e["event"] for e in b] == ["draw", "reminder"]
    assert b[0]["counter"] > a[-1]["counter"]


def _frames(tmp_path, scenario="draw-reholster"):
    from drawsense.sim import scenario as sc, vboard

    run = vboard.run(sc.load(scenario), "esp32c3", secret=TEST_SECRET, device_id=TEST_ID)
    seen, frames = set(), []
    for a in run.adverts():
        if a["data"] not in seen:
            seen.add(a["data"])
            frames.append(bytes.fromhex(a["data"]))
    return frames


def _store(tmp_path, name="dev", secret=TEST_SECRET):
    s = KeyStore(tmp_path / "k.db")
    s.add(name, secret, TEST_ID)
    return s


def test_every_single_flipped_bit_is_rejected(tmp_path):
    frames = _frames(tmp_path)
    rx = Receiver(_store(tmp_path))
    accepted = 0
    for frame in frames:
        for bit in range(len(frame) * 8):
            bad = bytearray(frame)
            bad[bit // 8] ^= 1 << (bit % 8)
            mfr = protocol.mfr_of(bytes(bad))
            if mfr is not None:  # else a scanner would not even see our company's data
                before = rx.counts["accepted"]
                rx.feed(mfr)
                assert rx.counts["accepted"] == before, f"bit {bit} of {frame.hex()} accepted"
        rx.feed(protocol.mfr_of(frame))  # the genuine frame still goes through
        accepted += 1
        assert rx.counts["accepted"] == accepted
    assert rx.counts["forged"] > 0 and rx.counts["unknown"] > 0


def test_forgery_with_another_key_and_a_sniffed_hint_is_rejected(tmp_path):
    frames = _frames(tmp_path)
    rx = Receiver(_store(tmp_path))
    genuine = frames[0]
    attacker = protocol.seal(bytes(32), 1 << 4, "draw", 0)
    # graft the genuine header and hint onto the attacker's ciphertext and tag
    forged = genuine[:9] + attacker[9:]
    assert rx.feed(protocol.mfr_of(forged)) is None
    assert rx.counts["forged"] == 1
    assert rx.feed(protocol.mfr_of(genuine)) is not None


def test_receiver_restart_keeps_the_replay_floor(tmp_path):
    frames = _frames(tmp_path)
    store = _store(tmp_path)
    rx = Receiver(store)
    for f in frames:
        rx.feed(protocol.mfr_of(f))
    rx.flush()
    store.close()
    rx2 = Receiver(KeyStore(tmp_path / "k.db"))
    for f in frames:
        assert rx2.feed(protocol.mfr_of(f)) is None
    assert rx2.counts["replay"] == len(frames) and rx2.counts["accepted"] == 0


def test_event_is_on_disk_before_it_is_reported(tmp_path):
    frames = _frames(tmp_path)
    rx = Receiver(_store(tmp_path))
    ev = rx.feed(protocol.mfr_of(frames[0]))
    assert ev is not None
    # a second process looking at the store now already sees the counter
    row = sqlite3.connect(tmp_path / "k.db").execute("SELECT last_counter FROM devices").fetchone()
    assert row[0] == ev.counter


mutations = st.lists(st.tuples(st.integers(0, 24), st.integers(0, 255)), max_size=4)


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.binary(max_size=40), st.builds(lambda m: m, mutations)), st.integers(0, 8))
def test_decoder_fuzz_only_documented_reasons(tmp_path_factory, blob, which):
    tmp = tmp_path_factory.mktemp("fz")
    store = KeyStore(tmp / "k.db")
    store.add("dev", TEST_SECRET, TEST_ID)
    rx = Receiver(store)
    base = protocol.seal(TEST_SECRET, 16 + which, "draw", 30)
    if isinstance(blob, list):  # mutate a genuine frame
        b = bytearray(base)
        for i, v in blob:
            b[i] = v
        data = protocol.mfr_of(bytes(b)) or bytes(b)
    else:
        data = blob
    ev = rx.feed(data)
    assert ev is None or ev.device == "dev"
    assert set(rx.counts) <= set(REASONS) | {"accepted", "events"}
    assert sum(rx.counts[r] for r in REASONS) + rx.counts["accepted"] == 1
    store.close()


def test_on_draw_runs_once_per_draw_with_the_event_in_its_environment(tmp_path):
    keys = tmp_path / "k.db"
    out = tmp_path / "actions"
    cmd = f"'echo \"$DRAWSENSE_EVENT $DRAWSENSE_DEVICE $DRAWSENSE_SINCE_DRAW_MS\" >> {out}'"
    r = pipeline(keys, "draw", "--on-draw", cmd)  # a draw and a reminder of the same draw
    assert r.returncode == 0, r.stderr
    assert out.read_text().splitlines() == ["draw sim-virtual 30"]


def test_a_failing_on_draw_command_is_reported_and_listening_goes_on(tmp_path):
    keys = tmp_path / "k.db"
    r = pipeline(keys, "low-battery", "--on-draw", "'echo starting; exit 3'")  # four draws
    assert r.returncode == 0, r.stderr
    failed = [line for line in r.stderr.splitlines() if line.startswith("drawsense: --on-draw failed")]
    assert len(failed) == 4 and failed[0] == "drawsense: --on-draw failed (exit status 3) for sim-virtual's draw " \
                                             "(counter 0)", r.stderr
    assert r.stderr.splitlines().count("starting") == 4  # what the command says is not mixed into the JSON events
    assert [e["event"] for e in events_of(r.stdout)].count("draw") == 4  # listening went on past each


def test_a_camera_that_missed_the_draw_starts_on_the_reminder(tmp_path):
    keys = tmp_path / "k.db"
    out = tmp_path / "actions"
    air = cli("sim", "draw", "--keys", str(keys), "--json").stdout.splitlines()
    late = [line for line in air if json.loads(line)["t_ms"] > 9_000]  # arrived 8 s after the draw
    r = cli("listen", "--air", "-", "--keys", str(keys), "--json", "--on-draw", f"echo $DRAWSENSE_EVENT >> {out}",
            input="\n".join(late) + "\n")
    assert r.returncode == 0, r.stderr
    assert [e["event"] for e in events_of(r.stdout)] == ["reminder"]
    assert out.read_text().split() == ["reminder"]


def test_a_test_event_never_counts_as_a_draw(tmp_path):
    store = _store(tmp_path)
    rx = Receiver(store)
    # even one that carries a "since the draw" time like a draw does
    ev = rx.feed(protocol.mfr_of(protocol.seal(TEST_SECRET, 16, "test", 30)))
    assert ev is not None and ev.event == "test"
    assert rx.should_act(ev) is False
    ev2 = rx.feed(protocol.mfr_of(protocol.seal(TEST_SECRET, 32, "draw", 30)))
    assert rx.should_act(ev2) is True and rx.should_act(ev2) is False


def test_ten_thousand_keys_resolve_without_trying_each(tmp_path):
    store = KeyStore(tmp_path / "k.db")
    store.db.execute("BEGIN")
    for i in range(10_000):
        store.db.execute("INSERT INTO devices (name, device_id, secret, created) VALUES (?, ?, ?, 0)",
                         (f"d{i}", os.urandom(8), os.urandom(32)))
    store.db.execute("COMMIT")
    store.add("target", TEST_SECRET, TEST_ID)
    rx = Receiver(store)
    assert 64 <= rx.window <= 100  # the automatic window for ~10,000 keys: ~10**6 index entries
    calls = 0
    real = protocol.open_mfr

    def counting(*a):
        nonlocal calls
        calls += 1
        return real(*a)

    protocol.open_mfr = counting
    try:
        ev = rx.feed(protocol.mfr_of(protocol.seal(TEST_SECRET, 16 * 3, "draw", 30)))
    finally:
        protocol.open_mfr = real
    assert ev is not None and ev.device == "target"
    assert calls == 1  # one hash lookup, one tag check: not one per key


def test_the_window_slides_with_the_sensor(tmp_path):
    # window 8: a sensor 40 bursts on is only found if each accepted burst
    # moves its window forward
    rx = Receiver(_store(tmp_path), window=8)
    for epoch in range(1, 41):
        ev = rx.feed(protocol.mfr_of(protocol.seal(TEST_SECRET, epoch << 4, "heartbeat", None)))
        assert ev is not None, f"epoch {epoch} not recognised"
    assert rx.feed(protocol.mfr_of(protocol.seal(TEST_SECRET, 60 << 4, "draw", 30))) is None  # 20 ahead: out


@pytest.mark.parametrize("last", [1, 4, 5, 8])
def test_window_bursts_past_the_last_accepted_one_are_always_found(tmp_path, last):
    # wherever the last accepted burst fell in the index, a sensor `window`
    # bursts on is still resolved (not only half of it, as once), and one
    # more than 1.5 x window on never is (the index's size is bounded)
    rx = Receiver(_store(tmp_path), window=8)
    for epoch in range(1, last + 1):
        assert rx.feed(protocol.mfr_of(protocol.seal(TEST_SECRET, epoch << 4, "heartbeat", None)))
    assert rx.feed(protocol.mfr_of(protocol.seal(TEST_SECRET, (last + 13) << 4, "draw", 30))) is None
    assert rx.counts["unknown"] == 1
    assert rx.feed(protocol.mfr_of(protocol.seal(TEST_SECRET, (last + 8) << 4, "draw", 30))) is not None


def test_a_camera_with_few_keys_finds_a_sensor_long_unseen(tmp_path):
    rx = Receiver(_store(tmp_path))  # one key: a wide automatic window
    far = 3_000  # e.g. reboots (16 epochs each) and weeks of heartbeats unseen
    ev = rx.feed(protocol.mfr_of(protocol.seal(TEST_SECRET, far << 4, "draw", 30)))
    assert ev is not None and ev.counter == far << 4


def test_listen_without_an_adapter_is_one_line(tmp_path):
    keys = tmp_path / "k.db"
    cli("keys", "--keys", str(keys), "add", "a")
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=f"unix:path={tmp_path}/no-such-bus")
    r = subprocess.run([sys.executable, "-m", "drawsense", "listen", "--keys", str(keys), "--duration", "1"],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "no Bluetooth adapter" in lines[0] and "--air" in lines[0]


@pytest.mark.parametrize("field", ['"rssi": 1e400', '"rssi": "loud"', '"t_ms": "x"'])
def test_bad_values_in_air_are_one_line_errors(tmp_path, field):
    keys = tmp_path / "k.db"
    cli("keys", "--keys", str(keys), "add", "a")
    air = tmp_path / "air.jsonl"
    line = '{"type": "adv", "t_ms": 1, "addr": "aa:bb:cc:dd:ee:ff", "data": "18ffffff10", %s}' % field
    air.write_text(line.replace('"t_ms": 1, ', "") if "t_ms" in field else line)
    r = cli("listen", "--air", str(air), "--keys", str(keys))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and f"{air}:1:" in r.stderr


def test_listen_without_a_store_or_with_bad_air_says_what_to_do(tmp_path):
    r = cli("listen", "--air", os.devnull, "--keys", str(tmp_path / "none.db"))
    assert r.returncode == 2 and "drawsense keys add" in r.stderr
    keys = tmp_path / "k.db"
    cli("keys", "--keys", str(keys), "add", "a")
    bad = tmp_path / "air.jsonl"
    bad.write_text('{"type": "adv", "t_ms": 1, "addr": "aa:bb:cc:dd:ee:ff", "data": "00"}\nnot json\n')
    r = cli("listen", "--air", str(bad), "--keys", str(keys))
    assert r.returncode == 2 and f"{bad}:2:" in r.stderr


def test_the_receiver_stops_at_the_last_epoch_and_refuses_the_last_counter():
    # A device whose last accepted counter is near the end: the window never
    # asks for epochs past 0x0FFFFFFF, and 0xFFFFFFFF (never sent) is refused
    # without raising.
    from rxhelp import OneDeviceStore

    secret = bytes(range(32))
    rx = Receiver(OneDeviceStore(secret, protocol.LAST_COUNTER - 40))
    ok = rx.feed(protocol.mfr_of(protocol.seal(secret, protocol.LAST_COUNTER - 1, "draw", 0)) or b"")
    assert ok is not None and ok.counter == protocol.LAST_COUNTER - 1
    bad = protocol.seal(secret, 0xFFFFFFFF, "draw", 0)
    assert rx.feed(protocol.mfr_of(bad) or b"") is None and rx.counts["malformed"] == 1


# ------------------------------------------------ every genuine draw acted on exactly once (issue 9, point 2)

def _frame(counter: int, event: str, since_ms: int) -> bytes:
    return protocol.mfr_of(protocol.seal(TEST_SECRET, counter, event, since_ms)) or b""


def _one_device_store(path):
    store = KeyStore(path)
    store.db.execute("INSERT INTO devices (name, device_id, secret, created) VALUES ('h1', ?, ?, 0)",
                     (b"testdev1", TEST_SECRET))
    return store


WALL = 1_700_000_000.0  # the receiver's clock at t_ms = 0 (a real radio's: the wall clock)


def test_a_draw_is_acted_on_once_across_a_restart_mid_burst(tmp_path):
    keys = tmp_path / "k.db"
    rx = Receiver(_one_device_store(keys), wall_t0=WALL)
    burst = [(16 + i, 1000 + 500 * i, 30 + 500 * i) for i in range(6)]  # the draw burst's payloads
    acted = []
    for counter, t, since in burst[:2]:
        ev = rx.feed(_frame(counter, "draw", since), t_ms=t)
        if ev is not None and rx.should_act(ev):
            acted.append(ev.event)
    rx.flush()
    rx.store.close()
    # the receiver restarts mid-burst: the rest of the burst and the reminder
    rx = Receiver(KeyStore(keys), wall_t0=WALL)
    for counter, t, since in burst[2:]:
        assert rx.feed(_frame(counter, "draw", since), t_ms=t) is None  # folded: already reported
    rem = rx.feed(_frame(32, "reminder", 10_030), t_ms=11_000)
    assert rem is not None and rem.event == "reminder" and not rx.should_act(rem)
    assert acted == ["draw"]


def test_two_draws_a_moment_apart_are_both_acted_on(tmp_path):
    rx = Receiver(_one_device_store(tmp_path / "k.db"), wall_t0=WALL)
    first = rx.feed(_frame(16, "draw", 30), t_ms=1000)
    second = rx.feed(_frame(32, "draw", 30), t_ms=2300)  # drawn again 1.3 s later
    assert first and second and rx.should_act(first) and rx.should_act(second)
    # and the reminder that follows is the second draw's: no third action
    rem = rx.feed(_frame(48, "reminder", 10_030), t_ms=12_300)
    assert rem is not None and not rx.should_act(rem)


def test_a_locked_store_still_gives_the_draw_and_its_action_and_the_floor_follows(tmp_path):
    keys = tmp_path / "k.db"
    store = _one_device_store(keys)
    logged: list[str] = []
    rx = Receiver(store, wall_t0=WALL, log=logged.append)
    other = sqlite3.connect(keys, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another program holds the store (15 s, or for ever)
    try:
        ev = rx.feed(_frame(16, "draw", 30), t_ms=1000)
        assert ev is not None and ev.event == "draw" and rx.should_act(ev)
        for i in range(1, 6):  # the rest of the burst folds into it
            assert rx.feed(_frame(16 + i, "draw", 30 + 500 * i), t_ms=1000 + 500 * i) is None
        assert logged and "locked" in logged[0]
        assert rx.retry() is False  # still held: nothing dropped
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert rx.retry() is True
    assert KeyStore(keys).get("h1").last_counter == 21
    # the replay is refused once the floor is on disk, after a restart too
    assert Receiver(KeyStore(keys), wall_t0=WALL).feed(_frame(16, "draw", 30), t_ms=1000) is None


def test_a_damaged_store_row_is_one_warning_and_the_others_are_heard(tmp_path):
    """A row edited by hand (a 2-byte secret, a counter that is not a number)
    stopped `listen` for every device with a traceback; now each is one
    warning naming the device and its row, the sound device is verified, and
    `keys list` and `fleet` flag the damaged ones."""
    keys = tmp_path / "k.db"
    air = cli("sim", "draw", "--keys", str(keys), "--name", "good", "--json").stdout
    s = KeyStore(keys)
    s.add("short")
    s.add("wordy")
    s.close()
    db = sqlite3.connect(keys)
    db.execute("UPDATE devices SET secret = x'0102' WHERE name = 'short'")
    db.execute("UPDATE devices SET last_counter = 'abc' WHERE name = 'wordy'")
    db.commit()
    rows = dict(db.execute("SELECT name, rowid FROM devices"))
    db.close()
    r = cli("listen", "--air", "-", "--keys", str(keys), "--json", input=air)
    assert r.returncode == 0, r.stderr
    assert [e["event"] for e in events_of(r.stdout)] == ["draw", "reminder"]
    warnings = [ln for ln in r.stderr.splitlines() if "warning" in ln]
    assert len(warnings) == 2 and "Traceback" not in r.stderr, r.stderr
    assert f"'short' (row {rows['short']})" in warnings[0] and "secret is 2 bytes" in warnings[0]
    assert f"'wordy' (row {rows['wordy']})" in warnings[1] and "'abc'" in warnings[1]
    listed = {d["name"]: d for d in map(json.loads, cli("keys", "--keys", str(keys), "list", "--json")
                                        .stdout.splitlines())}
    assert "damaged" not in listed["good"] and "secret is 2 bytes" in listed["short"]["damaged"]
    assert "DAMAGED (row" in cli("keys", "--keys", str(keys), "list").stdout
    fleet = {d["name"]: d["flags"] for d in map(json.loads, cli("fleet", "--keys", str(keys), "--json")
                                                .stdout.splitlines())}
    assert fleet == {"good": [], "short": ["DAMAGED"], "wordy": ["DAMAGED"]}


def test_a_removed_or_lost_device_does_not_come_back_with_its_old_flash(tmp_path):
    """`keys remove` (or a deleted store) left the simulated device's flash
    beside the store; the next `sim --keys` booted the old key and every
    advert was 'unknown' from then on. Now the flash goes with the device,
    and one provisioned with another key is not booted."""
    keys = tmp_path / "k.db"
    flash = tmp_path / "k.db.sim" / "sim-virtual.flash"
    assert [e["event"] for e in events_of(pipeline(keys, "draw").stdout)] == ["draw", "reminder"]
    r = cli("keys", "--keys", str(keys), "remove", "sim-virtual")
    assert r.returncode == 0 and "flash" in r.stdout and not flash.exists()
    again = pipeline(keys, "draw")
    assert [e["event"] for e in events_of(again.stdout)] == ["draw", "reminder"], again.stderr
    assert "rejected: none" in again.stderr
    # the store itself deleted (its flash left behind): a new store, a new key, not the old flash's
    old = flash.read_bytes()
    for f in tmp_path.glob("k.db*"):
        if f.is_file():
            f.unlink()
    third = pipeline(keys, "draw")
    assert [e["event"] for e in events_of(third.stdout)] == ["draw", "reminder"], third.stderr
    assert "rejected: none" in third.stderr and "held another key" in third.stderr
    assert flash.read_bytes() != old
