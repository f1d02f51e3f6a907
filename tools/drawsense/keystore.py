"""The receiver's key store: SQLite, one row per device.

What it holds: each device's name, 8-byte id, 32-byte secret, the last
accepted counter (the replay floor, kept across receiver restarts) and the
last battery reading. The file is created mode 0600 and every change is one
transaction, so a crash leaves the previous or the new state, never a mix.
Secrets are never printed or logged: Device hides its secret from repr.

Schema 2 adds a battery history (table `battery`: name, t, mv, low), written
by accept() in the same transaction as the counter, at most one reading per
device per READING_EVERY_S, for the fleet view (drawsense.receive.fleet).

Schema 3 adds what the sensor's event log needs (docs/protocol.md, "Event
log"): each device's 16-byte log key (column devices.log_key; NULL for a
device provisioned before the log, which keeps none), the newest log record
the host has read from each device (table log_mark: so a log later cut short
shows), and the clock readings taken with it (table clock: the device's RTC
against this computer's, for wall-clock times). Schema 4 keeps the newest
record of every read (table log_read), so a copy saved at an earlier read
still verifies. Older files are upgraded in place when opened (1 -> 2 -> 3
-> 4, each step one transaction, nothing lost); a file of a newer schema is
refused.
"""

from __future__ import annotations

import os
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

APP = "drawsense-keys"
SCHEMA = 4
# Battery history: at most one reading per device in any 10 minutes (bounds
# the table to ~53k rows per device-year even for a device heard constantly).
READING_EVERY_S = 600.0
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class KeyStoreError(Exception):
    """A one-line, user-facing problem with the key store or its input."""


def check_name(name: str) -> None:
    """Refuse a device name the store would not take (KeyStoreError), so a
    command can check it before it creates anything."""
    if not _NAME.match(name):
        raise KeyStoreError(f"device name {name!r}: use 1-64 letters, digits, '.', '_' or '-', "
                            f"starting with a letter or digit")


@dataclass
class Device:
    name: str
    device_id: bytes
    secret: bytes = field(repr=False)
    last_counter: int = -1
    last_seen: float | None = None
    battery_mv: int | None = None
    battery_low: bool = False
    log_key: bytes | None = field(default=None, repr=False)

    @property
    def id_hex(self) -> str:
        return self.device_id.hex()


class Damaged(NamedTuple):
    """A row devices() leaves out because a field is not what the schema
    says (a secret of the wrong length, a counter that is not a number):
    edited by hand or by another program. Its secret is never shown."""
    row: int  # SQLite rowid, for the person who mends it
    name: str  # as stored (repr of whatever it is when it is not text)
    why: str

    def line(self, path: Path) -> str:
        """One line naming the store, the device and the row, and what to do."""
        fix = f"drawsense keys remove {self.name}, then provision it again" if _NAME.match(self.name) \
            else f"delete row {self.row} of the devices table"
        return f"{path}: device {self.name!r} (row {self.row}) is damaged: {self.why}; left out ({fix})"


def _what(value: object) -> str:
    """What a field holds, without its value (it may be a secret)."""
    if isinstance(value, bytes):
        return f"{len(value)} bytes"
    return "empty (NULL)" if value is None else f"{type(value).__name__}"


def _damage(name, device_id, secret, last_counter, last_seen, battery_mv, battery_low, log_key=None) -> str | None:
    """Why a devices row cannot be used, or None when it is sound."""
    def whole(v: object) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    if not isinstance(name, str) or not _NAME.match(name):
        return f"its name is not a device name ({_what(name)})"
    if not isinstance(device_id, bytes) or len(device_id) != 8:
        return f"its device id is {_what(device_id)}, not 8 bytes"
    if not isinstance(secret, bytes) or len(secret) != 32:
        return f"its secret is {_what(secret)}, not 32 bytes"
    if not whole(last_counter) or not -1 <= last_counter < 1 << 32:
        return f"its last counter is {last_counter!r:.40}, not a whole number from -1 to 2**32-1"
    if last_seen is not None and (not isinstance(last_seen, (int, float)) or last_seen != last_seen):
        return f"its last-seen time is {last_seen!r:.40}, not a number"
    if battery_mv is not None and not whole(battery_mv):
        return f"its battery is {battery_mv!r:.40}, not a whole number of mV"
    if battery_low not in (0, 1):
        return f"its low-battery flag is {battery_low!r:.40}, not 0 or 1"
    if log_key is not None and (not isinstance(log_key, bytes) or len(log_key) != 16):
        return f"its log key is {_what(log_key)}, not 16 bytes"
    return None


class Clock(NamedTuple):
    """One reading of a device's clock: its RTC (rtc_ms) was read while this
    computer's clock said unix (seconds), to within err_s either way; seq is
    the newest log record the device held then (-1: none), board its board
    (for the RTC's drift bound)."""
    seq: int
    rtc_ms: int
    unix: float
    err_s: float
    board: str


class Reading(NamedTuple):
    """One battery reading from the history: t in the receiver's seconds
    (unix, or virtual seconds from simulated air), mv, the device's low flag."""
    t: float
    mv: int
    low: bool


def default_path() -> Path:
    base = os.environ.get("DRAWSENSE_KEYS")
    if base:
        return Path(base)
    data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data / "drawsense" / "keys.sqlite"


def sim_flash(store: Path, name: str) -> Path:
    """Where `drawsense sim --keys STORE --name NAME` keeps the virtual
    device's flash (its key file and counter), beside the store."""
    return Path(str(store) + ".sim") / f"{name}.flash"


def _ours(path: Path) -> bool:
    """A drawsense key store? Looked at read-only and immutable, so nothing
    (not even a WAL checkpoint) is written to a file we may then refuse."""
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
        try:
            return db.execute("SELECT v FROM meta WHERE k = 'app'").fetchone() == (APP,)
        finally:
            db.close()
    except sqlite3.Error:
        return False


def _owned(path: Path) -> os.stat_result:
    st = path.stat()
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise KeyStoreError(f"{path}: owned by user {st.st_uid}, not you: a key store must be your own file")
    return st


def _private(path: Path) -> None:
    """Refuse a store others could read or that is not the user's: its
    secrets may have been seen. (An empty file, made by `touch` before any
    secret was in it, is made private instead, before it is opened.)"""
    st = _owned(path)
    if st.st_mode & 0o077:
        raise KeyStoreError(f"{path}: others may read it (mode {st.st_mode & 0o777:03o}), so its secrets may have "
                            f"been seen: make it private with 'chmod 600 {path}' and consider re-keying its devices")


def _blocked(e: sqlite3.Error) -> bool:
    """SQLite could not write (read-only, or another program holds the lock)."""
    return any(w in str(e) for w in ("readonly", "locked", "busy"))


class KeyStore:
    def __init__(self, path: str | os.PathLike, *, create: bool = True):
        self.path = Path(path)
        if not str(path):
            raise KeyStoreError("no key store path given (--keys FILE)")
        if not self.path.exists():
            if not create:
                raise KeyStoreError(f"{self.path}: no such key store (create one with: drawsense keys add NAME)")
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
                os.close(fd)
            except OSError as e:
                raise KeyStoreError(f"{self.path}: cannot create the key store ({e.strerror or e})") from None
        elif self.path.is_dir():
            raise KeyStoreError(f"{self.path}: is a folder, not a key store file")
        elif self.path.stat().st_size == 0 and self.path.stat().st_mode & 0o077:
            _owned(self.path)
            os.chmod(self.path, 0o600)  # made by `touch`: no secret in it yet
        elif _ours(self.path):
            _private(self.path)  # before SQLite opens it for writing (a checkpoint writes)
        try:
            self.db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            self._migrate()  # checks it is ours before anything is written
            _private(self.path)  # again: _ours() may have read a listener's checkpoint half-done
            # WAL + FULL: every commit is on disk before it returns, power
            # loss included (a camera in a car loses power): a replay floor
            # that rolled back would reopen replay. One fsync per commit; the
            # receiver commits once per burst, not per advert.
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            for extra in ("-wal", "-shm"):  # private, like the store itself
                f = Path(str(self.path) + extra)
                if f.exists():
                    os.chmod(f, 0o600)
        except sqlite3.OperationalError as e:
            if _blocked(e):
                raise self._error(e) from None
            raise KeyStoreError(f"{self.path}: not a drawsense key store ({e}); nothing was changed") from None
        except sqlite3.DatabaseError as e:
            raise KeyStoreError(f"{self.path}: not a drawsense key store ({e}); nothing was changed") from None

    def _error(self, e: sqlite3.Error) -> KeyStoreError:
        """A one-line KeyStoreError for an SQLite failure on a store that is ours."""
        why = str(e)
        if "readonly" in why:
            why = "read-only: check the permissions of the file and of its folder"
        elif "locked" in why or "busy" in why:
            why = "locked by another program (a running drawsense listen?): try again"
        return KeyStoreError(f"{self.path}: cannot write the key store ({why}); nothing was changed")

    def _migrate(self) -> None:
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            with self._tx():
                self.db.execute("CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
                self.db.execute("INSERT INTO meta VALUES ('app', ?), ('schema', ?)", (APP, str(SCHEMA)))
                self.db.execute(
                    "CREATE TABLE devices ("
                    " name TEXT PRIMARY KEY, device_id BLOB NOT NULL UNIQUE, secret BLOB NOT NULL,"
                    " last_counter INTEGER NOT NULL DEFAULT -1, last_seen REAL, battery_mv INTEGER,"
                    " battery_low INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL, log_key BLOB)")
                self._create_battery_table()
                self._create_log_tables()
                self._create_read_table()
            return
        if "meta" not in tables:
            raise sqlite3.DatabaseError("an SQLite file of another program")
        meta = dict(self.db.execute("SELECT k, v FROM meta"))
        if meta.get("app") != APP:
            raise sqlite3.DatabaseError("an SQLite file of another program")
        try:
            schema = int(meta.get("schema", "0"))
        except ValueError:
            raise KeyStoreError(f"{self.path}: unknown key store schema {meta['schema']!r}; nothing was changed") \
                from None
        if schema > SCHEMA:
            raise KeyStoreError(f"{self.path}: written by a newer drawsense (schema {meta['schema']}); upgrade")
        if schema < SCHEMA:
            self._upgrade()

    def _create_battery_table(self) -> None:
        self.db.execute("CREATE TABLE battery (name TEXT NOT NULL, t REAL NOT NULL, mv INTEGER NOT NULL,"
                        " low INTEGER NOT NULL DEFAULT 0)")
        self.db.execute("CREATE INDEX battery_name_t ON battery (name, t)")

    def _create_log_tables(self) -> None:
        self.db.execute("CREATE TABLE log_mark (name TEXT PRIMARY KEY, seq INTEGER NOT NULL, mac BLOB NOT NULL,"
                        " t REAL NOT NULL)")
        self.db.execute("CREATE TABLE clock (name TEXT NOT NULL, seq INTEGER NOT NULL, rtc_ms INTEGER NOT NULL,"
                        " unix REAL NOT NULL, err_s REAL NOT NULL, board TEXT NOT NULL)")
        self.db.execute("CREATE INDEX clock_name ON clock (name, unix)")

    def _create_read_table(self) -> None:
        self.db.execute("CREATE TABLE log_read (name TEXT NOT NULL, seq INTEGER NOT NULL, mac BLOB NOT NULL,"
                        " t REAL NOT NULL)")
        self.db.execute("CREATE INDEX log_read_name ON log_read (name, seq)")

    def _upgrade(self) -> None:
        """Older schemas in place, one step per transaction, so a crash
        leaves the last whole step (nothing is lost):
        1 -> 2: add the battery history and seed it with each device's last reading;
        2 -> 3: add the log key column (NULL: no log) and the log mark and clock tables;
        3 -> 4: add the history of reads (log_read), seeded with each mark.
        Re-checked inside each transaction, so two receivers opening the same
        old file at once upgrade it once."""
        while True:
            with self._tx():
                schema = int(self.db.execute("SELECT v FROM meta WHERE k = 'schema'").fetchone()[0])
                if schema >= SCHEMA:
                    return
                if schema == 1:
                    self._create_battery_table()
                    self.db.execute("INSERT INTO battery (name, t, mv, low) SELECT name, last_seen, battery_mv,"
                                    " battery_low FROM devices WHERE battery_mv IS NOT NULL AND last_seen IS NOT NULL")
                elif schema == 2:
                    self.db.execute("ALTER TABLE devices ADD COLUMN log_key BLOB")
                    self._create_log_tables()
                elif schema == 3:
                    self._create_read_table()
                    self.db.execute("INSERT INTO log_read (name, seq, mac, t) SELECT name, seq, mac, t FROM log_mark")
                else:
                    raise KeyStoreError(f"{self.path}: unknown key store schema {schema}; nothing was changed")
                self.db.execute("UPDATE meta SET v = ? WHERE k = 'schema'", (str(schema + 1),))

    class _Tx:
        """One write transaction: all of it or none of it. SQLite's own
        failures (read-only, locked) come out as one-line KeyStoreErrors."""

        def __init__(self, store: "KeyStore"):
            self.store = store
            self.db = store.db

        def __enter__(self):
            try:
                self.db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as e:
                raise self.store._error(e) from None

        def __exit__(self, exc_type, exc, tb):
            if exc_type is None:
                try:
                    self.db.execute("COMMIT")
                    return False
                except sqlite3.OperationalError as e:
                    exc = e
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError):
                raise self.store._error(exc) from None
            return False

    def _tx(self) -> "KeyStore._Tx":
        return KeyStore._Tx(self)

    # ------------------------------------------------------------------
    def add(self, name: str, secret: bytes | None = None, device_id: bytes | None = None,
            log_key: bytes | None = None) -> Device:
        check_name(name)
        if secret is not None and len(secret) != 32:
            raise KeyStoreError("a device secret is 32 bytes")
        if log_key is not None and len(log_key) != 16:
            raise KeyStoreError("a device's log key is 16 bytes")
        dev = Device(name, device_id or secrets.token_bytes(8), secret or secrets.token_bytes(32),
                     log_key=log_key or secrets.token_bytes(16))
        try:
            with self._tx():
                self.db.execute("INSERT INTO devices (name, device_id, secret, created, log_key) VALUES (?, ?, ?, ?, ?)",
                                (dev.name, dev.device_id, dev.secret, time.time(), dev.log_key))
        except sqlite3.IntegrityError:
            raise KeyStoreError(f"device {name!r} is already in {self.path} (remove it first, or pick another "
                                f"name)") from None
        return dev

    def remove(self, name: str) -> list[Path]:
        """Remove the device; returns the files of its simulated device that
        went with it (sim_flash: they hold the removed key, and a device
        added later under the name must not boot with it)."""
        with self._tx():
            n = self.db.execute("DELETE FROM devices WHERE name = ?", (name,)).rowcount
            # its battery history goes with it: a device added later under the
            # same name is another cell, and must not inherit this one's trend
            self.db.execute("DELETE FROM battery WHERE name = ?", (name,))
            self._forget_log(name)
        if not n:
            raise KeyStoreError(f"no device {name!r} in {self.path} (see: drawsense keys list)")
        gone = []
        flash = sim_flash(self.path, name)
        for f in (flash, flash.with_suffix(".key")):
            try:
                f.unlink()
                gone.append(f)
            except FileNotFoundError:
                pass
        return gone

    def _rows(self) -> list[tuple]:
        return self.db.execute("SELECT rowid, name, device_id, secret, last_counter, last_seen, battery_mv, "
                               "battery_low, log_key FROM devices ORDER BY name").fetchall()

    def devices(self) -> list[Device]:
        """The sound rows, by name; a damaged row is left out (damaged() says why)."""
        return [Device(r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]), r[8]) for r in self._rows()
                if not _damage(*r[1:])]

    def damaged(self) -> list[Damaged]:
        """The rows devices() leaves out, and why."""
        out = []
        for r in self._rows():
            why = _damage(*r[1:])
            if why:
                out.append(Damaged(r[0], r[1] if isinstance(r[1], str) else repr(r[1]), why))
        return out

    def get(self, name: str) -> Device | None:
        for d in self.devices():
            if d.name == name:
                return d
        return None

    def accept(self, name: str, counter: int, seen: float, battery_mv: int | None, battery_low: bool) -> bool:
        """Raise the device's replay floor to `counter` (never lower it) and
        record its battery. Committed before it returns: an event is only
        acted on once its counter is on disk.

        When the frame is accepted and carries a battery reading, it is also
        appended to the battery history in the same transaction, unless the
        device already has a reading within READING_EVERY_S of `seen` (either
        side, so a clock that jumps back does not stop the history)."""
        with self._tx():
            return self._accept(name, counter, seen, battery_mv, battery_low)

    def accept_many(self, rows: list[tuple[str, int, float, int | None, bool]]) -> None:
        """accept() for several devices in one transaction (one fsync)."""
        with self._tx():
            for r in rows:
                self._accept(*r)

    def _accept(self, name: str, counter: int, seen: float, battery_mv: int | None, battery_low: bool) -> bool:
        n = self.db.execute(
            "UPDATE devices SET last_counter = ?, last_seen = ?, battery_mv = COALESCE(?, battery_mv),"
            " battery_low = ? WHERE name = ? AND last_counter < ?",
            (counter, seen, battery_mv, int(battery_low), name, counter)).rowcount
        if n == 1 and battery_mv is not None:
            self.db.execute(
                "INSERT INTO battery (name, t, mv, low) SELECT ?, ?, ?, ? WHERE NOT EXISTS"
                " (SELECT 1 FROM battery WHERE name = ? AND t > ? AND t < ?)",
                (name, seen, battery_mv, int(battery_low),
                 name, seen - READING_EVERY_S, seen + READING_EVERY_S))
        return n == 1

    def rekey(self, name: str) -> Device:
        """A fresh secret for a device whose counter state was lost (a wiped
        device must never send under its old key: its counter would restart
        and reuse nonces). The replay floor starts over with the new key;
        so does the event log (replace_keys)."""
        if not self.replace_keys(name, secrets.token_bytes(32), secrets.token_bytes(16)):
            raise KeyStoreError(f"no device {name!r} in {self.path} (see: drawsense keys list)")
        dev = self.get(name)
        assert dev is not None
        return dev

    def replace_keys(self, name: str, secret: bytes, log_key: bytes) -> bool:
        """One transaction: the device's new secret and log key, its replay
        floor reset, and what the host knew of its old log (the mark, the
        reads, the clock readings) gone with the old key: the device's log
        starts over (a wiped device at seq 0) and must not read as cut short
        or altered against its previous life. False if there is no such device."""
        with self._tx():
            n = self.db.execute("UPDATE devices SET secret = ?, log_key = ?, last_counter = -1 WHERE name = ?",
                                (secret, log_key, name)).rowcount
            if n:
                self._forget_log(name)
        return bool(n)

    def _forget_log(self, name: str) -> None:
        for table in ("log_mark", "log_read", "clock"):
            self.db.execute(f"DELETE FROM {table} WHERE name = ?", (name,))

    # -- the event log -------------------------------------------------
    def log_mark(self, name: str) -> tuple[int, bytes, float] | None:
        """(seq, mac, when) of the newest log record read from the device, or None."""
        r = self.db.execute("SELECT seq, mac, t FROM log_mark WHERE name = ?", (name,)).fetchone()
        return (r[0], r[1], r[2]) if r else None

    def read_log(self, name: str, mark: tuple[int, bytes] | None, clock: Clock | None) -> None:
        """What one read of a device's log leaves, in one transaction: its
        newest record as the mark (only ever raised) and the clock reading."""
        with self._tx():
            if mark is not None:
                self.db.execute("INSERT INTO log_mark (name, seq, mac, t) VALUES (?, ?, ?, ?) ON CONFLICT(name)"
                                " DO UPDATE SET seq = excluded.seq, mac = excluded.mac, t = excluded.t"
                                " WHERE excluded.seq > log_mark.seq", (name, mark[0], mark[1], time.time()))
                self.db.execute("INSERT INTO log_read (name, seq, mac, t) VALUES (?, ?, ?, ?)",
                                (name, mark[0], mark[1], time.time()))
            if clock is not None:
                self.db.execute("INSERT INTO clock (name, seq, rtc_ms, unix, err_s, board) VALUES (?, ?, ?, ?, ?, ?)",
                                (name, *clock))

    def log_reads(self, name: str) -> list[tuple[int, bytes, float]]:
        """(seq, mac, when) of the newest record of each read of the device's log, oldest read first."""
        return [tuple(r) for r in self.db.execute("SELECT seq, mac, t FROM log_read WHERE name = ? ORDER BY t, seq",
                                                  (name,))]

    def clocks(self, name: str) -> list[Clock]:
        rows = self.db.execute("SELECT seq, rtc_ms, unix, err_s, board FROM clock WHERE name = ? ORDER BY unix",
                               (name,))
        return [Clock(*r) for r in rows]

    def readings(self, name: str, *, since: float | None = None, until: float | None = None) -> list[Reading]:
        """The device's battery history, oldest first, optionally limited to
        since <= t <= until."""
        rows = self.db.execute(
            "SELECT t, mv, low FROM battery WHERE name = ? AND t >= ? AND t <= ? ORDER BY t",
            (name, -float("inf") if since is None else since, float("inf") if until is None else until))
        return [Reading(r[0], r[1], bool(r[2])) for r in rows]

    def wait(self, ms: int) -> None:
        """How long a write may wait for another program's lock before it
        fails (a KeyStoreError saying so). A listener waits little and
        retries later: a camera must not start late because a store is busy."""
        self.db.execute(f"PRAGMA busy_timeout = {int(ms)}")

    # The draw each device's actions were last run for, so that a receiver
    # restarted between a draw and its reminder does not act again. A table
    # of its own, made on first use: stores written before it simply have
    # none, and an older drawsense never looks at it.
    def acted(self) -> dict[str, tuple[float, int]]:
        """name -> (the draw's instant, unix seconds; the counter acted on)."""
        try:
            return {r[0]: (r[1], r[2]) for r in self.db.execute("SELECT name, drawn_at, counter FROM acted")}
        except sqlite3.OperationalError:
            return {}  # no table yet

    def set_acted(self, name: str, drawn_at: float, counter: int) -> None:
        with self._tx():
            self.db.execute("CREATE TABLE IF NOT EXISTS acted (name TEXT PRIMARY KEY, drawn_at REAL NOT NULL,"
                            " counter INTEGER NOT NULL)")
            self.db.execute("INSERT OR REPLACE INTO acted VALUES (?, ?, ?)", (name, drawn_at, counter))

    def export(self, dest: str | os.PathLike) -> Path:
        """A consistent copy of the store at `dest` (new, mode 0600), taken
        with SQLite's backup API: it holds every committed replay floor,
        also those still in the write-ahead log of a running listener,
        which a plain copy of the file misses (and would accept replays)."""
        out = Path(dest)
        try:
            fd = os.open(out, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            os.close(fd)
        except FileExistsError:
            raise KeyStoreError(f"{out}: already exists; give a new file to export to") from None
        except OSError as e:
            raise KeyStoreError(f"{out}: cannot create the copy ({e.strerror or e})") from None
        try:
            copy = sqlite3.connect(out)
            try:
                self.db.backup(copy)
            finally:
                copy.close()
        except sqlite3.Error as e:
            out.unlink(missing_ok=True)
            raise KeyStoreError(f"{out}: the copy failed ({e}); nothing was written") from None
        except BaseException:  # Ctrl-C, SIGTERM: no half copy is left to be mistaken for the store
            out.unlink(missing_ok=True)
            raise
        return out

    def close(self) -> None:
        self.db.close()
