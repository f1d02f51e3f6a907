"""The fleet view (drawsense.fleet) and the key store's battery history it
reads: readings go in only through KeyStore.accept(), as the receiver writes
them; schema 1 -> 2 migration; the `fleet` command's output and errors."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
import time

import pytest

from drawsense.model import cell as cellmod
from drawsense.receive import fleet
from drawsense import cli as drawsense_cli
from drawsense.cli import fleet as fleet_verb
from drawsense import keystore
from drawsense.keystore import KeyStore

DAY = 86400.0
H = 3600.0
T0 = 1_700_000_000.0   # an arbitrary unix time


class Feeder:
    """Accepts frames for devices the way the receiver does: rising counters."""

    def __init__(self, store: KeyStore):
        self.store, self.counters = store, {}

    def __call__(self, name, seen, mv, low=False) -> bool:
        c = self.counters[name] = self.counters.get(name, 0) + 16
        return self.store.accept(name, c, seen, mv, low)


@pytest.fixture
def store(tmp_path):
    s = KeyStore(tmp_path / "k.db")
    yield s
    s.close()


def _by_name(rows):
    return {r.name: r for r in rows}


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


def test_new_store_is_schema_2(tmp_path):
    path = tmp_path / "k.db"
    KeyStore(path).close()
    db = sqlite3.connect(path)
    assert dict(db.execute("SELECT k, v FROM meta"))["schema"] == str(keystore.SCHEMA) == "2"
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
        assert db.execute("SELECT v FROM meta WHERE k = 'schema'").fetchone()[0] == "2"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # opening again is a no-op (no second seeding)
    s = KeyStore(path, create=False)
    assert [r.mv for r in s.readings("alpha")] == [2870, 2860]
    s.close()


def test_schema1_built_by_the_schema1_keystore_code_migrates(tmp_path, monkeypatch):
    """The same, with the file written by the schema-1 KeyStore class itself,
    taken from the newest commit in git history that still had it."""
    import importlib.util
    import subprocess

    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))   # the repository root

    def git(*a):
        return subprocess.run(["git", *a], cwd=here, capture_output=True, text=True, check=True).stdout

    src = None
    try:
        for rev in git("log", "--format=%H", "--", "tools/drawsense/keystore.py").split():
            text = git("show", f"{rev}:tools/drawsense/keystore.py")
            if "\nSCHEMA = 1\n" in text:
                src = text
                break
    except (OSError, subprocess.CalledProcessError):
        pass
    if src is None:
        pytest.skip("no schema-1 key store in the available git history")
    mod_path = tmp_path / "keystore_v1.py"
    mod_path.write_text(src)
    spec = importlib.util.spec_from_file_location("keystore_v1", mod_path)
    v1 = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "keystore_v1", v1)   # its dataclasses look themselves up there
    spec.loader.exec_module(v1)
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
    db = sqlite3.connect(path)
    db.execute(_V1_TABLES[0])
    db.execute("INSERT INTO meta VALUES ('app', 'drawsense-keys'), ('schema', '0')")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(keystore.KeyStoreError, match="unknown key store schema 0"):
        KeyStore(path, create=False)
    assert path.read_bytes() == before


# --------------------------------------------------------------- status() --

def _daily(feed, name, start, days, mv0, per_day, *, every_h=6.0):
    """A device heard every every_h hours for `days` days, losing per_day mV a day."""
    n = int(days * 24 / every_h)
    for i in range(n + 1):
        t = start + i * every_h * H
        feed(name, t, round(mv0 + per_day * (t - start) / DAY))
    return start + n * every_h * H


def test_trend_and_days_left_for_a_falling_cell(store):
    store.add("falling")
    feed = Feeder(store)
    # 20 days at -2 mV/day, ending at exactly 2600 mV
    end = _daily(feed, "falling", T0, 20, 2640, -2.0)
    assert store.get("falling").battery_mv == 2600
    [s] = fleet.status(store, now=end, heartbeat_h=6, low_mv=2500)
    assert s.trend_mv_per_day == pytest.approx(-2.0, abs=0.02)
    assert s.days_left == pytest.approx((2600 - 2500) / 2.0, rel=0.02)   # ~50 days
    assert not s.low and not s.silent
    assert s.percent == pytest.approx(cellmod.percent("CR2032", 2600), abs=0.05)
    # a day later, unheard: the countdown moves on from the last reading
    [s2] = fleet.status(store, now=end + DAY, heartbeat_h=6, low_mv=2500)
    assert s2.days_left == pytest.approx(s.days_left - 1, abs=0.01)
    # the chosen cell's curve gives the percentage
    [s3] = fleet.status(store, now=end, heartbeat_h=6, cell="CR2450", low_mv=2500)
    assert s3.percent == pytest.approx(cellmod.percent("CR2450", 2600), abs=0.05)


def test_trend_uses_only_the_last_30_days(store):
    store.add("a")
    feed = Feeder(store)
    # 60 days flat at 2950, then 20 days falling 3 mV/day
    t = _daily(feed, "a", T0, 60, 2950, 0.0, every_h=12)
    end = _daily(feed, "a", t + 12 * H, 20, 2950, -3.0, every_h=12)
    [s] = fleet.status(store, now=end, heartbeat_h=6)
    # by hand: least squares over the readings of [end - 30 d, end]
    pts = [(r.t, r.mv) for r in store.readings("a") if r.t >= end - 30 * DAY]
    n = len(pts)
    mx = sum(t for t, _ in pts) / n
    my = sum(v for _, v in pts) / n
    slope = sum((t - mx) * (v - my) for t, v in pts) / sum((t - mx) ** 2 for t, _ in pts) * DAY
    assert s.trend_mv_per_day == pytest.approx(slope, rel=1e-9)
    assert -3.0 < s.trend_mv_per_day < -1.0       # diluted by the flat 10 days inside the window, no more


def test_no_trend_with_one_reading_or_less_than_a_day(store):
    for name in ("one", "short", "none"):
        store.add(name)
    feed = Feeder(store)
    feed("one", T0, 2900)
    for i in range(20):                     # many readings, but only 23 h of them
        feed("short", T0 - 23 * H + i * (23 * H / 19), 2950 - 5 * i)
    rows = _by_name(fleet.status(store, now=T0, heartbeat_h=6))
    for name in ("one", "short", "none"):
        assert rows[name].trend_mv_per_day is None and rows[name].days_left is None
    assert rows["none"].battery_mv is None and rows["none"].percent is None


def test_no_days_left_unless_falling(store):
    store.add("flat")
    store.add("rising")                     # e.g. a cell recovering after cold
    feed = Feeder(store)
    _daily(feed, "flat", T0, 5, 2900, 0.0)
    end = _daily(feed, "rising", T0, 5, 2800, +4.0)
    rows = _by_name(fleet.status(store, now=end, heartbeat_h=6))
    assert rows["flat"].trend_mv_per_day == pytest.approx(0.0, abs=1e-9) and rows["flat"].days_left is None
    assert rows["rising"].trend_mv_per_day > 0 and rows["rising"].days_left is None


def test_low_from_the_device_flag_or_the_threshold(store):
    for name in ("flagged", "under", "at", "fine"):
        store.add(name)
    feed = Feeder(store)
    feed("flagged", T0, 2900, low=True)     # device says low (e.g. its loaded voltage sagged)
    feed("under", T0, 2499)
    feed("at", T0, 2500)
    feed("fine", T0, 2900)
    rows = _by_name(fleet.status(store, now=T0, heartbeat_h=6, low_mv=2500))
    assert rows["flagged"].low and rows["under"].low
    assert not rows["at"].low and not rows["fine"].low
    assert _by_name(fleet.status(store, now=T0, heartbeat_h=6, low_mv=2950))["fine"].low
    # already below the threshold and falling: 0 days left
    store.add("gone")
    _daily(feed, "gone", T0, 3, 2490, -5.0)
    assert _by_name(fleet.status(store, now=T0 + 3 * DAY, heartbeat_h=6))["gone"].days_left == 0.0


def test_silent_after_two_heartbeat_periods_or_never_heard(store):
    store.add("heard")
    store.add("never")
    Feeder(store)("heard", T0, 2900)
    hb = 6.0

    def silent(now):
        return _by_name(fleet.status(store, now=now, heartbeat_h=hb))["heard"].silent

    assert not silent(T0 + 2 * hb * H)          # exactly two periods: not yet
    assert silent(T0 + 2 * hb * H + 1)
    assert not _by_name(fleet.status(store, now=T0 + 2 * hb * H + 1, heartbeat_h=12))["heard"].silent
    assert _by_name(fleet.status(store, now=T0, heartbeat_h=hb))["never"].silent


# ------------------------------------------------------------ the command --

def _parser():
    return drawsense_cli.build_parser()


def _run(capsys, *argv):
    args = _parser().parse_args(["fleet", *argv])
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


def _fleet_store(path):
    s = KeyStore(path)
    for n in ("alpha", "bravo", "charlie"):
        s.add(n)
    feed = Feeder(s)
    end = _daily(feed, "alpha", T0, 20, 2640, -2.0)
    feed("bravo", end - 3 * H, 2450, low=True)
    s.close()
    return end


def test_parser_defaults_and_choices():
    a = _parser().parse_args(["fleet"])
    assert (a.keys, a.json, a.cell, a.heartbeat_h, a.low_mv, a.func) == (None, False, "CR2032", 6.0, 2500,
                                                                          fleet_verb.run)
    with pytest.raises(SystemExit):
        _parser().parse_args(["fleet", "--cell", "LR44"])


def test_fleet_table(tmp_path, capsys):
    path = tmp_path / "k.db"
    end = _fleet_store(path)
    now = end + 3 * H
    code, out, err = _run(capsys, "--keys", str(path), "--now", str(now))
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["name", "last", "seen", "battery", "%", "mV/day", "days", "left", "flags"]
    rows = {ln.split()[0]: ln.split()[1:] for ln in lines[1:]}
    assert set(rows) == {"alpha", "bravo", "charlie"}
    s = KeyStore(path, create=False)
    want = _by_name(fleet.status(s, now=now, heartbeat_h=6))
    s.close()
    a = want["alpha"]
    assert rows["alpha"] == ["3", "h", "ago", "2600", "mV", f"{a.percent:.0f}", f"{a.trend_mv_per_day:+.1f}",
                             f"{a.days_left:.0f}"]
    assert rows["alpha"][6:] == ["-2.0", "50"]              # 2600 mV, -2 mV/day, low 2500: ~50 days
    assert rows["bravo"][:5] == ["6", "h", "ago", "2450", "mV"] and rows["bravo"][-1] == "LOW"
    assert rows["charlie"] == ["never", "-", "-", "-", "-", "SILENT"]


def test_fleet_json_shape(tmp_path, capsys):
    path = tmp_path / "k.db"
    end = _fleet_store(path)
    code, out, err = _run(capsys, "--keys", str(path), "--json", "--now", str(end), "--cell", "CR2477")
    assert code == 0 and err == ""
    objs = [json.loads(ln) for ln in out.splitlines()]
    assert [o["name"] for o in objs] == ["alpha", "bravo", "charlie"]
    keys = {"name", "id", "last_seen", "battery_mv", "percent", "trend_mv_per_day", "days_left", "low",
            "silent", "flags"}
    assert all(set(o) == keys for o in objs)
    a, b, c = objs
    store = KeyStore(path, create=False)
    assert a["id"] == store.get("alpha").id_hex and len(a["id"]) == 16
    store.close()
    assert a["battery_mv"] == 2600 and a["last_seen"] == end
    assert a["percent"] == pytest.approx(cellmod.percent("CR2477", 2600), abs=0.05)
    assert a["trend_mv_per_day"] == pytest.approx(-2.0, abs=0.02)
    assert a["days_left"] == pytest.approx(50, abs=1)
    assert (a["low"], a["silent"], a["flags"]) == (False, False, [])
    assert (b["low"], b["flags"]) == (True, ["LOW"])
    assert c["last_seen"] is None and c["battery_mv"] is None and c["flags"] == ["SILENT"]


def test_fleet_on_an_empty_store(tmp_path, capsys):
    path = tmp_path / "k.db"
    KeyStore(path).close()
    assert _run(capsys, "--keys", str(path))[:2] == (0, f"no devices in {path}\n")
    assert _run(capsys, "--keys", str(path), "--json")[:2] == (0, "")


def test_fleet_default_store_from_environment(tmp_path, capsys, monkeypatch):
    path = tmp_path / "env.db"
    _fleet_store(path)
    monkeypatch.setenv("DRAWSENSE_KEYS", str(path))
    code, out, _ = _run(capsys, "--json")
    assert code == 0 and len(out.splitlines()) == 3


@pytest.mark.parametrize("content", [b"garbage" * 100, b"", None])
def test_fleet_missing_or_corrupt_store_is_one_line_exit_2(tmp_path, capsys, content):
    path = tmp_path / "k.db"
    if content is None:
        pass                                     # missing: must not be created
    elif content:
        path.write_bytes(content)
    else:                                         # a valid SQLite file of another program
        sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.commit()
    before = path.read_bytes() if path.exists() else None
    for extra in ([], ["--json"]):
        code, out, err = _run(capsys, "--keys", str(path), *extra)
        assert code == 2 and out == ""
        assert len(err.strip().splitlines()) == 1 and err.startswith("drawsense: ")
        assert str(path) in err
    assert (path.read_bytes() if path.exists() else None) == before


def test_a_device_just_heard_by_listen_is_not_silent(tmp_path):
    # the whole path a department uses: the receiver records when it heard
    # each device, fleet compares that with the clock
    keys = tmp_path / "k.db"
    cli = f"{sys.executable} -m drawsense"
    before = time.time()
    r = subprocess.run(f"{cli} sim --keys {keys} --json | {cli} listen --air - --keys {keys} --json",
                       shell=True, capture_output=True, text=True, timeout=120)
    after = time.time()
    assert [json.loads(x)["event"] for x in r.stdout.splitlines()] == ["draw", "reminder"], r.stderr
    p = subprocess.run([*cli.split(), "fleet", "--keys", str(keys), "--json"], capture_output=True, text=True)
    [row] = [json.loads(x) for x in p.stdout.splitlines()]
    # the last advert of the default scenario goes out ~11 s into the air,
    # which plays from when listen started
    assert before + 10 < row["last_seen"] < after + 12, (before, row["last_seen"], after)
    assert row["flags"] == [] and row["battery_mv"] == 3000
    table = subprocess.run([*cli.split(), "fleet", "--keys", str(keys)], capture_output=True, text=True).stdout
    assert table.splitlines()[1].split()[1:3] == ["just", "now"]


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


def test_ago():
    assert fleet.ago(None) == "never"
    assert fleet.ago(5) == "just now"
    assert fleet.ago(125) == "2 min ago"
    assert fleet.ago(3 * H + 59) == "3 h ago"
    assert fleet.ago(47 * H) == "47 h ago"
    assert fleet.ago(3 * DAY) == "3 d ago"
