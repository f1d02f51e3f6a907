"""The key store (drawsense/keystore.py): devices and secrets kept private,
the battery history (readings go in only through accept(), as the receiver
writes them), schema 1 -> 2 migration, locking, a copy made safely while a
listener writes to it, and `drawsense keys`."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import sys

import pytest

from drawsense import keystore, protocol
from drawsense.keystore import KeyStore, KeyStoreError
from drawsense.receive.receiver import Receiver

from rxhelp import T0, Feeder

DAY = 86400.0


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "drawsense", *args], capture_output=True, text=True,
                          timeout=60)


def test_a_store_others_can_read_is_refused_with_the_fix(tmp_path):
    keys = tmp_path / "k.db"
    KeyStore(keys).add("alice")
    os.chmod(keys, 0o644)
    before = keys.read_bytes()
    r = cli("keys", "--keys", str(keys), "list")
    assert r.returncode == 2
    [line] = r.stderr.strip().splitlines()
    assert "mode 644" in line and f"chmod 600 {keys}" in line
    assert keys.read_bytes() == before  # nothing written to it
    os.chmod(keys, 0o600)
    assert cli("keys", "--keys", str(keys), "list").returncode == 0


def test_an_empty_file_made_with_touch_becomes_private_before_a_secret_goes_in(tmp_path):
    keys = tmp_path / "k.db"
    keys.touch(mode=0o666)
    os.chmod(keys, 0o666)
    assert cli("keys", "--keys", str(keys), "add", "alice").returncode == 0
    assert keys.stat().st_mode & 0o777 == 0o600


def test_export_copies_every_replay_floor_while_the_store_is_in_use(tmp_path):
    keys = tmp_path / "k.db"
    store = KeyStore(keys)
    dev = store.add("alice")
    rx = Receiver(store)
    # a listener accepts a draw: its replay floor is committed, in the WAL
    ev = rx.feed(protocol.mfr_of(protocol.seal(dev.secret, 5, "draw", 0)) or b"")
    assert ev is not None
    rx.flush()
    # the listener still has the store open; a plain copy of the file misses the floor
    plain = tmp_path / "plain.db"
    shutil.copyfile(keys, plain)
    os.chmod(plain, 0o600)
    try:
        stale = KeyStore(plain).get("alice")
        plain_floor = stale.last_counter if stale else None
    except KeyStoreError:
        plain_floor = None
    r = cli("keys", "--keys", str(keys), "export", str(tmp_path / "copy.db"))
    assert r.returncode == 0, r.stderr
    copy = tmp_path / "copy.db"
    assert copy.stat().st_mode & 0o777 == 0o600
    assert KeyStore(copy).get("alice").last_counter == 5
    assert plain_floor != 5  # what the docs warn about
    # and the copy refuses the replay
    again = Receiver(KeyStore(copy)).feed(protocol.mfr_of(protocol.seal(dev.secret, 5, "draw", 0)) or b"")
    assert again is None
    store.close()


def test_export_never_overwrites(tmp_path):
    keys = tmp_path / "k.db"
    KeyStore(keys).add("alice")
    (tmp_path / "there.db").write_text("mine")
    r = cli("keys", "--keys", str(keys), "export", str(tmp_path / "there.db"))
    assert r.returncode == 2 and "already exists" in r.stderr
    assert (tmp_path / "there.db").read_text() == "mine"


def test_an_interrupted_export_leaves_no_half_copy(tmp_path):
    keys = KeyStore(tmp_path / "k.db")
    keys.add("alice")
    real = keys.db

    class Interrupted:  # the store's connection, Ctrl-C arriving in the middle of the copy
        def backup(self, copy):
            real.backup(copy, pages=1)
            raise KeyboardInterrupt

    keys.db = Interrupted()
    with pytest.raises(KeyboardInterrupt):
        keys.export(tmp_path / "copy.db")
    keys.db = real
    keys.close()
    assert not (tmp_path / "copy.db").exists()


def test_the_served_boards_trace_shows_no_file_contents():
    # a provisioned key crosses the served board's line: the trace says how
    # much went by and which REPL control bytes, never what
    from drawsense.sim import serve

    shown = serve._traced(b"\x01f=open('ds_key.bin','wb');f.write(b'\\x8f\\x12 secret')\x04")
    assert "secret" not in shown and "ds_key" not in shown and "\\x01" in shown and "\\x04" in shown


# ------------------------------------------------------------ the history --

def test_accept_appends_readings_throttled_to_one_per_10_minutes(store):
    store.add("a")
    feed = Feeder(store)
    for i in range(0, 3601, 60):          # a frame a minute for an hour
        assert feed("a", T0 + i, 2900 - i // 600)
    got = store.readings("a")
    assert [r.t - T0 for r in got] == [0, 600, 1200, 1800, 2400, 3000, 3600]
    assert [r.mv for r in got] == [2900, 2899, 2898, 2897, 2896, 2895, 2894]
    # the device row still carries the very latest report
    assert store.get("a").battery_mv == 2900 - 3600 // 600
    # a burst of frames 1 s apart adds nothing more
    for i in range(10):
        feed("a", T0 + 3601 + i, 2800)
    assert len(store.readings("a")) == 7


def test_readings_only_from_accepted_frames_with_a_battery(store):
    store.add("a")
    store.add("b")
    assert store.accept("a", 100, T0, 2950, False)
    assert not store.accept("a", 100, T0 + DAY, 2000, True)      # replay: rejected, not recorded
    assert not store.accept("a", 50, T0 + 2 * DAY, 2000, True)
    assert store.accept("a", 116, T0 + 3 * DAY, None, False)       # no battery field
    assert store.readings("a") == [keystore.Reading(T0, 2950, False)]
    assert store.readings("b") == []
    assert store.get("a").battery_mv == 2950 and store.get("a").last_seen == T0 + 3 * DAY


def test_readings_are_per_device_and_carry_the_low_flag(store):
    store.add("a")
    store.add("b")
    feed = Feeder(store)
    feed("a", T0, 2600, low=True)
    feed("b", T0 + 1, 2950)                 # another device inside a's 10 minutes: its own history
    assert store.readings("a") == [(T0, 2600, True)]
    assert store.readings("b") == [(T0 + 1, 2950, False)]
    assert store.readings("a", since=T0 + 1) == []
    assert store.readings("b", since=T0, until=T0 + 1) == [(T0 + 1, 2950, False)]


def test_clock_jumping_back_does_not_stop_the_history(store):
    """Virtual seconds after unix seconds (simulated air into a used store)."""
    store.add("a")
    feed = Feeder(store)
    feed("a", T0, 2900)
    feed("a", 5.0, 3000)
    feed("a", 100.0, 3000)                  # within 10 minutes of the 5.0 one
    assert [r.t for r in store.readings("a")] == [5.0, T0]


def test_remove_drops_the_history_so_a_new_device_starts_clean(store):
    store.add("a")
    Feeder(store)("a", T0, 2600)
    store.remove("a")
    store.add("a")
    assert store.readings("a") == []


def test_new_store_is_schema_4(tmp_path):
    path = tmp_path / "k.db"
    KeyStore(path).close()
    db = sqlite3.connect(path)
    assert dict(db.execute("SELECT k, v FROM meta"))["schema"] == str(keystore.SCHEMA) == "4"
    assert db.execute("SELECT count(*) FROM battery").fetchone()[0] == 0


# -------------------------------------------------------------- migration --

_V1_TABLES = (
    "CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)",
    "CREATE TABLE devices ("
    " name TEXT PRIMARY KEY, device_id BLOB NOT NULL UNIQUE, secret BLOB NOT NULL,"
    " last_counter INTEGER NOT NULL DEFAULT -1, last_seen REAL, battery_mv INTEGER,"
    " battery_low INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL)",
)


def _schema1_store(path):
    """A key store exactly as the schema-1 code (git HEAD) writes it: its
    CREATE statements, its meta rows, WAL mode, mode 0600."""
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    for sql in _V1_TABLES:
        db.execute(sql)
    db.execute("INSERT INTO meta VALUES ('app', 'drawsense-keys'), ('schema', '1')")
    rows = [("alpha", b"A" * 8, bytes(range(32)), 4711, T0 - 5 * DAY, 2870, 0, T0 - 90 * DAY),
            ("bravo", b"B" * 8, bytes(range(1, 33)), 12, T0 - DAY, 2480, 1, T0 - 90 * DAY),
            ("charlie", b"C" * 8, bytes(range(2, 34)), -1, None, None, 0, T0 - 1)]
    db.executemany("INSERT INTO devices VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.execute("COMMIT")
    db.execute("PRAGMA journal_mode=WAL")
    db.close()
    return rows


def test_schema1_store_from_the_current_code_opens_and_gains_the_history(tmp_path):
    path = tmp_path / "old.db"
    rows = _schema1_store(path)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT v FROM meta WHERE k = 'schema'").fetchone()[0] == "1"
        assert "battery" not in {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    s = KeyStore(path, create=False)
    # nothing lost: every device, secret, counter, last seen and battery as it was
    devs = {d.name: d for d in s.devices()}
    for name, did, secret, counter, seen, mv, low, _ in rows:
        d = devs[name]
        assert (d.device_id, d.secret, d.last_counter, d.last_seen, d.battery_mv, d.battery_low) == \
            (did, secret, counter, seen, mv, bool(low))
    # the history starts from each device's last known reading
    assert s.readings("alpha") == [(T0 - 5 * DAY, 2870, False)]
    assert s.readings("bravo") == [(T0 - DAY, 2480, True)]
    assert s.readings("charlie") == []
    # and works as a schema-2 store: the replay floor holds, readings append
    assert not s.accept("alpha", 4711, T0, 2860, False)
    assert s.accept("alpha", 4712, T0, 2860, False)
    assert [r.mv for r in s.readings("alpha")] == [2870, 2860]
    s.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT v FROM meta WHERE k = 'schema'").fetchone()[0] == str(keystore.SCHEMA)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # opening again is a no-op (no second seeding)
    s = KeyStore(path, create=False)
    assert [r.mv for r in s.readings("alpha")] == [2870, 2860]
    s.close()


def _old_keystore(schema, tmp_path, monkeypatch):
    """The KeyStore module of the newest commit in git history that wrote `schema`."""
    import importlib.util
    import subprocess

    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # the repository root

    def git(*a):
        return subprocess.run(["git", *a], cwd=here, capture_output=True, text=True, check=True).stdout

    src = None
    try:
        for rev in git("log", "--format=%H", "--", "tools/drawsense/keystore.py").split():
            text = git("show", f"{rev}:tools/drawsense/keystore.py")
            if f"\nSCHEMA = {schema}\n" in text:
                src = text
                break
    except (OSError, subprocess.CalledProcessError):
        pass
    if src is None:
        pytest.skip(f"no schema-{schema} key store in the available git history")
    mod_path = tmp_path / f"keystore_v{schema}.py"
    mod_path.write_text(src)
    spec = importlib.util.spec_from_file_location(f"keystore_v{schema}", mod_path)
    mod = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, f"keystore_v{schema}", mod)   # its dataclasses look themselves up there
    spec.loader.exec_module(mod)
    return mod


def test_schema2_store_written_by_the_schema2_code_migrates_and_keeps_everything(tmp_path, monkeypatch):
    """Schema 2 (before the event log) -> 3: every device, secret, replay
    floor, battery history and acted-on draw kept; the log key is NULL (no
    log) until the device is provisioned again; the log tables work."""
    v2 = _old_keystore(2, tmp_path, monkeypatch)
    path = tmp_path / "v2.db"
    old = v2.KeyStore(path)
    dev = old.add("echo")
    assert old.accept("echo", 77, T0, 2950, False)
    old.set_acted("echo", T0, 64)
    old.close()
    s = KeyStore(path, create=False)
    d = s.get("echo")
    assert (d.secret, d.device_id, d.last_counter, d.battery_mv, d.log_key) == (dev.secret, dev.device_id, 77, 2950,
                                                                                 None)
    assert s.readings("echo") == [(T0, 2950, False)] and s.acted() == {"echo": (T0, 64)}
    assert not s.accept("echo", 77, T0, 2950, False)  # the replay floor holds
    assert s.log_mark("echo") is None and s.clocks("echo") == []
    s.read_log("echo", (5, b"m" * 12), keystore.Clock(5, 1000, T0, 0.1, "virtual"))
    s.read_log("echo", (3, b"o" * 12), None)  # a mark is never lowered
    assert s.log_mark("echo")[:2] == (5, b"m" * 12) and s.clocks("echo") == [(5, 1000, T0, 0.1, "virtual")]
    assert len(s.add("foxtrot").log_key) == 16  # a new device gets its own log key
    s.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT v FROM meta WHERE k = 'schema'").fetchone()[0] == str(keystore.SCHEMA)
    with pytest.raises(v2.KeyStoreError, match="newer drawsense"):
        v2.KeyStore(path, create=False)


def test_schema3_store_migrates_and_its_mark_starts_the_read_history(tmp_path, monkeypatch):
    """Schema 3 -> 4: the log mark becomes the first read of the history
    (log_read), so a copy saved at that read still verifies."""
    v3 = _old_keystore(3, tmp_path, monkeypatch)
    path = tmp_path / "v3.db"
    old = v3.KeyStore(path)
    old.add("golf")
    old.read_log("golf", (9, b"m" * 10), v3.Clock(9, 1000, T0, 0.1, "virtual"))
    t = old.log_mark("golf")[2]
    old.close()
    s = KeyStore(path, create=False)
    assert s.log_reads("golf") == [(9, b"m" * 10, t)] and s.log_mark("golf") == (9, b"m" * 10, t)
    s.read_log("golf", (12, b"n" * 10), None)
    assert [r[:2] for r in s.log_reads("golf")] == [(9, b"m" * 10), (12, b"n" * 10)]
    s.close()
    with pytest.raises(v3.KeyStoreError, match="newer drawsense"):
        v3.KeyStore(path, create=False)


def test_rekey_gives_a_new_log_key_and_forgets_the_old_log(tmp_path):
    """A wiped device re-keyed starts its log at seq 0 under the new key:
    the old log's mark, reads and clock readings must not make it read as
    truncated or altered (sim --keys re-keys a device whose flash is gone)."""
    s = KeyStore(tmp_path / "k.db")
    dev = s.add("hotel")
    s.read_log("hotel", (9, b"m" * 10), keystore.Clock(9, 1000, T0, 0.1, "virtual"))
    s.add("india")
    s.read_log("india", (3, b"i" * 10), None)
    new = s.rekey("hotel")
    assert new.log_key != dev.log_key and len(new.log_key) == 16 and new.secret != dev.secret
    assert s.log_mark("hotel") is None and s.log_reads("hotel") == [] and s.clocks("hotel") == []
    assert s.log_mark("india")[:2] == (3, b"i" * 10)  # another device's stays
    s.close()


def test_schema1_built_by_the_schema1_keystore_code_migrates(tmp_path, monkeypatch):
    """The same, with the file written by the schema-1 KeyStore class itself,
    taken from the newest commit in git history that still had it."""
    v1 = _old_keystore(1, tmp_path, monkeypatch)
    path = tmp_path / "v1.db"
    old = v1.KeyStore(path)
    dev = old.add("delta")
    assert old.accept("delta", 40, T0, 2910, False)
    old.close()
    s = KeyStore(path, create=False)
    d = s.get("delta")
    assert (d.secret, d.device_id, d.last_counter, d.battery_mv) == (dev.secret, dev.device_id, 40, 2910)
    assert s.readings("delta") == [(T0, 2910, False)]
    s.close()
    # and the old code now refuses the upgraded file instead of misreading it
    with pytest.raises(v1.KeyStoreError, match="newer drawsense"):
        v1.KeyStore(path, create=False)


def test_unknown_old_schema_is_refused_untouched(tmp_path):
    path = tmp_path / "odd.db"
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))  # private, as a store is: the schema is what is refused
    db = sqlite3.connect(path)
    db.execute(_V1_TABLES[0])
    db.execute("INSERT INTO meta VALUES ('app', 'drawsense-keys'), ('schema', '0')")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(keystore.KeyStoreError, match="unknown key store schema 0"):
        KeyStore(path, create=False)
    assert path.read_bytes() == before


def test_a_locked_key_store_is_a_one_line_error_and_loses_nothing(tmp_path):
    path = tmp_path / "k.db"
    store = KeyStore(path)
    store.add("alpha")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    store.db.execute("PRAGMA busy_timeout = 50")  # instead of waiting the default 10 s
    with pytest.raises(keystore.KeyStoreError) as e:
        store.add("beta")
    assert "locked by another program" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(keystore.KeyStoreError, match="locked"):
        store.accept("alpha", 5, 0.0, 3000, False)
    other.execute("ROLLBACK")
    assert [d.name for d in store.devices()] == ["alpha"] and store.get("alpha").last_counter == -1
    assert store.accept("alpha", 5, 0.0, 3000, False)  # and it works once the lock is gone
    store.close()


def test_a_foreign_meta_schema_is_refused(tmp_path):
    path = tmp_path / "k.db"
    KeyStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET v = 'x' WHERE k = 'schema'")
    with pytest.raises(keystore.KeyStoreError, match="unknown key store schema 'x'"):
        KeyStore(path, create=False)


# ------------------------------------------------------- drawsense keys --

def test_keys_add_list_remove_and_file_mode(tmp_path):
    keys = tmp_path / "k.db"
    r = cli("keys", "--keys", str(keys), "add", "alice")
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    secret = KeyStore(keys).get("alice").secret
    listing = cli("keys", "--keys", str(keys), "list").stdout + cli("keys", "--keys", str(keys), "list",
                                                                      "--json").stdout
    assert "alice" in listing and secret.hex() not in listing and secret.hex().upper() not in listing
    # --keys after the action too, as every other command takes it
    assert cli("keys", "list", "--keys", str(keys), "--json").stdout == cli("keys", "--keys", str(keys), "list",
                                                                            "--json").stdout
    dup = cli("keys", "--keys", str(keys), "add", "alice")
    assert dup.returncode == 2 and len(dup.stderr.strip().splitlines()) == 1 and "already" in dup.stderr
    assert KeyStore(keys).get("alice").secret == secret  # nothing lost
    bad = cli("keys", "--keys", str(keys), "add", "no spaces please")
    assert bad.returncode == 2 and "device name" in bad.stderr
    gone = cli("keys", "--keys", str(keys), "remove", "bob")
    assert gone.returncode == 2 and "no device 'bob'" in gone.stderr
    assert cli("keys", "--keys", str(keys), "remove", "alice").returncode == 0
    assert KeyStore(keys).devices() == []


@pytest.mark.parametrize("content", [b"garbage" * 100, b""])
def test_corrupt_or_foreign_key_store_is_one_line_and_untouched(tmp_path, content):
    keys = tmp_path / "k.db"
    if content:
        keys.write_bytes(content)
    else:  # a valid SQLite file of some other program
        sqlite3.connect(keys).execute("CREATE TABLE t (x)").connection.commit()
    before = keys.read_bytes()
    for args in (["keys", "--keys", str(keys), "list"], ["keys", "--keys", str(keys), "add", "x"],
                 ["listen", "--air", os.devnull, "--keys", str(keys)]):
        r = cli(*args)
        assert r.returncode == 2, (args, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and str(keys) in lines[0] and "not a drawsense key store" in lines[0]
    assert keys.read_bytes() == before


@pytest.mark.parametrize("column, value, says", [
    ("secret", b"\x01\x02", "secret is 2 bytes, not 32"),
    ("secret", "text", "secret is str"),
    ("device_id", b"123", "device id is 3 bytes, not 8"),
    ("last_counter", "abc", "last counter is 'abc'"),
    ("last_counter", 1 << 40, "last counter is 1099511627776"),
    ("last_seen", "yesterday", "last-seen time is 'yesterday'"),
    ("battery_mv", 2.5, "battery is 2.5"),
    ("battery_low", 7, "low-battery flag is 7"),
    ("name", None, "name is not a device name (empty (NULL))"),
])
def test_a_damaged_row_is_left_out_and_said_why_without_its_secret(tmp_path, column, value, says):
    s = KeyStore(tmp_path / "k.db")
    s.add("ok")
    secret = s.add("hurt").secret
    s.db.execute(f"UPDATE devices SET {column} = ? WHERE name = 'hurt'", (value,))
    assert [d.name for d in s.devices()] == ["ok"]
    [bad] = s.damaged()
    line = bad.line(s.path)
    assert says in line and f"(row {bad.row})" in line and "\n" not in line
    assert secret.hex() not in line and repr(secret) not in line
    logged: list[str] = []
    rx = Receiver(s, log=logged.append)  # the sound device is heard; one line for the other
    assert list(rx.devices) == ["ok"] and len(logged) == 1 and says in logged[0]
    s.close()
