"""The reference receiver: advert in, verified event (or a counted rejection) out.

    air -> manufacturer payload -> hint lookup -> replay floor -> AES-CCM verify
        -> fold a burst (one event per device and epoch) -> event -> action

Resolving a device never tries every key: each device contributes the hints
of a window of epochs around its last accepted one (BACK behind, to tell a
replay; ahead, between `window` and 1.5 x `window`, sliding forward once fewer
than `window` are left: by default as many as ~10**6 entries allow, see
auto_window), all in one dict, so a lookup is one hash probe whatever the
number of keys. A device is always found up to `window` epochs past the last
one this receiver accepted, never more than 1.5 x `window` (docs/protocol.md,
"Not defended").
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable

from drawsense import protocol
from drawsense.keystore import Device, KeyStore, KeyStoreError

REASONS = ("malformed", "unknown", "forged", "replay", "repeat")
BACK = 16  # epochs behind the last accepted one still recognised (to name replays)


@dataclass
class Event:
    event: str
    device: str
    counter: int
    since_draw_ms: int | None
    battery_mv: int | None
    battery_low: bool
    brownout: bool
    rssi: int | None
    addr: str
    t_ms: float

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class _Dev:
    __slots__ = ("idx", "rec", "keys", "last_counter", "last_epoch", "last_frame", "hints", "win_start",
                 "acted_draw", "dirty")

    def __init__(self, idx: int, rec: Device):
        self.idx = idx
        self.rec = rec
        self.dirty: tuple | None = None  # an accepted frame not yet on disk
        self.keys = protocol.DeviceKeys(rec.secret)
        self.last_counter = rec.last_counter
        self.last_epoch = rec.last_counter >> protocol.EPOCH_SHIFT if rec.last_counter >= 0 else -1
        self.last_frame = b""
        self.hints: list[int] = []
        self.win_start = 0
        self.acted_draw: tuple[float, int] | None = None  # (draw instant, unix s; counter) last acted on


AUTO_ENTRIES = 1_000_000  # hint-index size the automatic window aims for
STORE_WAIT_MS = 200  # a listener's store writes wait this long for a lock, then retry later
RETRY_S = 1.0  # how often unwritten replay floors are tried again
SAME_DRAW_S = 2.0  # a reminder whose draw instant is this close to an acted draw's is that draw
DRIFT = 0.03  # ... plus this share of its time since the draw (device clocks: ~1 %, boards/esp32c3)


def auto_window(devices: int) -> int:
    """Epochs ahead a device is always found in: as many as ~10**6 entries
    allow (each device indexes up to 1.5 x this), between 64 (from ~10,400
    keys: ~100 MB at 10,000) and 4096 (a camera with a few keys follows a
    sensor through months of bursts unseen)."""
    return max(64, min(4096, AUTO_ENTRIES * 2 // (3 * max(devices, 1))))


class Receiver:
    """`feed()` takes each advert's `t_ms`, ms on the listener's own clock
    (an adapter: since listening began; simulated air: the simulator's
    virtual ms). `wall_t0` is the Unix time at t_ms = 0 (default: now): the
    key store records `wall_t0 + t_ms / 1000` as when a device was last heard,
    which is what `drawsense fleet` compares with the clock."""

    def __init__(self, store: KeyStore, window: int | None = None, wall_t0: float | None = None,
                 log: Callable[[str], None] | None = None):
        self.store = store
        self.wall_t0 = time.time() if wall_t0 is None else wall_t0
        self.log = log or (lambda msg: print(f"drawsense: {msg}", file=sys.stderr))
        # Writes wait at most this long for another program's lock, then the
        # event is reported and acted on all the same and the write retried.
        store.wait(STORE_WAIT_MS)
        self._retry_at = 0.0  # monotonic time of the next retry of unwritten floors
        devs = store.devices()
        for bad in store.damaged():  # one line each; the sound devices are heard all the same
            self.log(f"warning: {bad.line(store.path)}")
        self.window = window if window is not None else auto_window(len(devs))
        self.counts: Counter = Counter()
        # hint (as int) -> dev.idx << 32 | epoch, or a tuple of those when
        # hints collide (4-byte hints, ~10**6 entries: a few collisions).
        self._index: dict[int, int | tuple[int, ...]] = {}
        self._devs = [_Dev(i, d) for i, d in enumerate(devs)]
        self.devices = {d.rec.name: d for d in self._devs}
        for name, acted in store.acted().items():
            if name in self.devices:
                self.devices[name].acted_draw = acted
        for d in self._devs:
            self._place(d, d.last_epoch)

    # -- hint index ------------------------------------------------------
    def _place(self, d: _Dev, epoch: int) -> None:
        """Index the hints of epochs epoch-BACK .. epoch+1.5*window for device d."""
        index = self._index
        for h, e in zip(d.hints, range(d.win_start, d.win_start + len(d.hints))):
            v = index.get(h)
            mine = d.idx << 32 | e
            if v == mine:
                del index[h]
            elif isinstance(v, tuple):
                rest = tuple(x for x in v if x != mine)
                index[h] = rest if len(rest) > 1 else rest[0]
        start = max(epoch - BACK, 0)
        d.win_start = start
        ahead = self.window + self.window // 2
        # the last epoch there is: counters are 32 bits, 4 of them the slot
        end = min(epoch + ahead + 1, protocol.LAST_EPOCH + 1)
        d.hints = [int.from_bytes(h, "big") for h in d.keys.hints(start, end - start)]
        for i, h in enumerate(d.hints):
            v = index.get(h)
            mine = d.idx << 32 | (start + i)
            index[h] = mine if v is None else (v + (mine,) if isinstance(v, tuple) else (v, mine))

    # -- one advert --------------------------------------------------------
    def feed(self, mfr: bytes, *, addr: str = "", rssi: int | None = None, t_ms: float = 0.0) -> Event | None:
        """Judge one manufacturer payload (company 0xFFFF). Returns the event
        that starts a new burst, else None; every advert is counted by outcome."""
        if self._retry_at and time.monotonic() >= self._retry_at:
            self.retry()
        parts = protocol.split_mfr(mfr)
        if parts is None:
            self.counts["malformed"] += 1
            return None
        v = self._index.get(int.from_bytes(parts[1], "big"))
        if v is None:
            self.counts["unknown"] += 1
            return None
        outcome = "unknown"
        for packed in v if isinstance(v, tuple) else (v,):
            d, epoch = self._devs[packed >> 32], packed & 0xFFFFFFFF
            counter = (epoch << protocol.EPOCH_SHIFT) | parts[0]
            if counter > protocol.LAST_COUNTER:
                outcome = "malformed"  # 0xFFFFFFFF is never sent: the firmware stops before it
                continue
            if mfr == d.last_frame:
                outcome = "repeat"
                continue
            if counter <= d.last_counter:
                outcome = "replay"
                continue
            fields = protocol.open_mfr(d.keys, epoch, mfr)
            if fields is None:
                outcome = "forged"
                continue
            return self._accept(d, epoch, fields, mfr, addr, rssi, t_ms)
        self.counts[outcome] += 1
        return None

    def _accept(self, d: _Dev, epoch: int, f: protocol.Fields, mfr: bytes, addr: str, rssi: int | None,
                t_ms: float) -> Event | None:
        self.counts["accepted"] += 1
        d.last_counter = f.counter
        d.last_frame = mfr
        new_burst = epoch != d.last_epoch
        d.last_epoch = epoch
        d.dirty = (f.counter, self.wall_t0 + t_ms / 1000, f.battery_mv, f.battery_low)
        if new_burst:
            # On disk before anyone acts on it: replayed after a crash or a
            # restart, this frame is a replay. Later payloads of the same burst
            # are written lazily (flush()): replayed, they fold into this
            # event and start nothing. A store that cannot be written now
            # (locked by another program, read-only) does not lose the event:
            # it is reported and acted on, and the write is retried.
            try:
                self._write(d)
            except KeyStoreError as e:
                self.counts["unwritten"] += 1
                self.log(f"{e}; the event is reported anyway, and the write retried")
                self._retry_at = time.monotonic() + RETRY_S
        if epoch + self.window >= d.win_start + len(d.hints):  # fewer than `window` ahead: slide
            self._place(d, epoch)
        if not new_burst:
            return None  # a later payload of a burst already reported
        self.counts["events"] += 1
        return Event(f.event, d.rec.name, f.counter, f.since_draw_ms, f.battery_mv, f.battery_low, f.brownout,
                     rssi, addr, t_ms)

    def _write(self, d: _Dev) -> None:
        if d.dirty is not None:
            counter, seen, mv, low = d.dirty
            self.store.accept(d.rec.name, counter, seen, mv, low)
            d.dirty = None

    def flush(self) -> None:
        """Write every accepted counter not yet on disk, in one transaction
        (call periodically and at exit). Raises KeyStoreError if the store
        still cannot be written; nothing is dropped then."""
        rows = [(d.rec.name, *d.dirty) for d in self._devs if d.dirty is not None]
        if rows:
            self.store.accept_many(rows)
        for d in self._devs:
            d.dirty = None
        self._retry_at = 0.0

    @property
    def pending(self) -> bool:
        """Replay floors a locked store has not taken yet."""
        return bool(self._retry_at)

    def retry(self) -> bool:
        """Try the unwritten floors again; True once they are on disk."""
        try:
            self.flush()
            self.log("the key store is written again")
            return True
        except KeyStoreError:
            self._retry_at = time.monotonic() + RETRY_S
            return False

    def should_act(self, ev: Event) -> bool:
        """True once per draw: every draw burst (however soon after the last
        one), or the first reminder of a draw whose own burst this receiver
        missed. Reminders and repeats of a draw already acted on never act
        again, also after a restart: the acted-on draw is kept in the key
        store. A test event never is a draw."""
        if ev.event not in ("draw", "reminder") or ev.since_draw_ms is None:
            return False
        d = self.devices[ev.device]
        drawn_at = self.wall_t0 + (ev.t_ms - ev.since_draw_ms) / 1000
        if d.acted_draw is not None:
            acted_at, acted_counter = d.acted_draw
            if ev.counter >> protocol.EPOCH_SHIFT == acted_counter >> protocol.EPOCH_SHIFT:
                return False  # this very burst
            # the device's clock may run a percent or two off ours (an RC
            # clock in deep sleep): the longer the gun is out, the wider
            if ev.event == "reminder" and abs(drawn_at - acted_at) < SAME_DRAW_S + ev.since_draw_ms * DRIFT / 1000:
                return False  # a reminder of the draw acted on
        d.acted_draw = (drawn_at, ev.counter)
        try:
            self.store.set_acted(d.rec.name, drawn_at, ev.counter)
        except KeyStoreError as e:
            self.log(f"{e}; acting all the same (a restart before it is written may act on this draw again)")
        return True
