"""The fleet view (receive/fleet.py) over the key store's battery history
(tests/test_keystore.py tests the history itself), and the `fleet` command's
output and errors."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time

import pytest

from drawsense.model import cell as cellmod
from drawsense.receive import fleet
from drawsense import cli as drawsense_cli
from drawsense.cli import fleet as fleet_verb
from drawsense.keystore import KeyStore

from rxhelp import T0, Feeder

DAY = 86400.0
H = 3600.0


def _by_name(rows):
    return {r.name: r for r in rows}


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


def test_ago():
    assert fleet.ago(None) == "never"
    assert fleet.ago(5) == "just now"
    assert fleet.ago(125) == "2 min ago"
    assert fleet.ago(3 * H + 59) == "3 h ago"
    assert fleet.ago(47 * H) == "47 h ago"
    assert fleet.ago(3 * DAY) == "3 d ago"
