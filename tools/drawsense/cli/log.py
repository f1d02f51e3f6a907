"""drawsense log: read a sensor's event log (mpremote) or a saved copy, and
verify it: every record's MAC and the chain, the sequence, the ring's
eviction markers (drawsense.eventlog; format in docs/protocol.md)."""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from pathlib import Path

from drawsense import boards, eventlog, outfile
from drawsense.cli.common import keys_option, open_store, port_option
from drawsense.console import fail, note
from drawsense.keystore import Clock, KeyStoreError

HELP = "read a sensor's tamper-evident event log and verify it"
DESCRIPTION = ("Read the event log a sensor keeps in flash (draw, holster, fault, boot, battery-low: "
               "docs/protocol.md, 'Event log') with mpremote, or a copy saved with --save, and verify it with "
               "the device's log key from the key store: each record's MAC (constant-time) and the chain, the "
               "sequence, the ring's signed eviction markers, and that it reaches the newest record read from "
               "the device before. The first line says whether the log is intact; if not, each problem is "
               "named (deleted, altered, reordered, replayed, truncated, spliced, rekeyed). Then a table: "
               "the device's RTC time of each record and, where this computer has read the device's clock "
               "(provision and each --port read do) with no boot in between that restarts it, the wall-clock time with its bound "
               "(the read's own uncertainty plus the board's RTC drift). Exit status: 0 intact, 1 not "
               "intact, 2 it could not be read.")
EPILOG = ("examples:\n"
          "  drawsense log --port /dev/ttyACM0 --keys k.db\n"
          "  drawsense log --port /dev/pts/5 --keys k.db --save holster-1.dslog --json\n"
          "  drawsense log --verify holster-1.dslog --keys k.db\n"
          "  drawsense log --verify holster-1.dslog --keys k.db --heard events.jsonl   (from listen --json)\n"
          "\nReading stops the firmware (mpremote interrupts it): reset the board afterwards.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    port_option(p)
    p.add_argument("--verify", type=Path, metavar="FILE", help="verify a log saved with --save instead of a device")
    keys_option(p, help="key store holding the device's log key (default: $DRAWSENSE_KEYS or the usual place)")
    p.add_argument("--name", help="the device in the key store (default: the one whose id the log's headers carry)")
    p.add_argument("--save", type=Path, metavar="FILE", help="with --port: keep the raw bytes exactly as read")
    p.add_argument("--heard", type=Path, metavar="EVENTS.jsonl",
                   help="'drawsense listen --json' output: mark each draw, holster and fault as heard by a receiver "
                        "(its burst's counter epoch, which the record carries), only late (a reminder), or not")
    p.add_argument("--json", action="store_true", help="one JSON object: intact, findings, records")


def _device(store, raw: bytes, name: str | None):
    if name:
        d = store.get(name)
        if d is None:
            raise KeyStoreError(f"no device {name!r} in {store.path} (see: drawsense keys list)")
        return d
    segs, _ = eventlog.parse(raw)
    ids = Counter(s.device_id for s in segs)
    by_id = {d.device_id: d for d in store.devices()}
    for did, _ in ids.most_common():
        if did in by_id:
            return by_id[did]
    raise KeyStoreError(f"the log's device id {ids.most_common(1)[0][0].hex()} is not in {store.path}: give the "
                        f"key store it was provisioned into (--keys) or --name")


def _save(path: Path, raw: bytes) -> None:
    """Whole or not at all: Ctrl-C, SIGTERM or a full disk leave no part
    file and the old FILE as it was (outfile.atomic)."""
    with outfile.atomic(path) as tmp, open(tmp, "wb") as f:
        f.write(raw)
        f.flush()
        os.fsync(f.fileno())


def _why_empty(args, store) -> str:
    """What an empty log means for this device: one provisioned with a log
    key whose firmware has not started since writes its first record (its
    boot) when it does; one provisioned before the event log keeps none.
    (Re-provisioning a device that merely has not booted would re-key it.)"""
    from drawsense.device.remote import RemoteError

    dev = store.get(args.name) if args.name else None
    if dev is None and args.port:
        from drawsense.device import provision

        try:
            _, idhex = provision.device_state(args.port)
        except RemoteError:
            idhex = None
        dev = next((d for d in store.devices() if d.id_hex == idhex), None)
    if dev is not None and dev.log_key is not None:
        return (f"no records yet: {dev.name} has a log key, and its firmware writes its first record when it "
                f"starts: reset the board, then read the log again")
    return ("a device provisioned before the event log keeps none: provision it again with drawsense provision "
            "--force; a device provisioned since has no records until its firmware starts: reset the board first")


_MAX_PPM = max(boards.load(n)["RTC_DRIFT_PPM"] for n in boards.names())


def wall_clock(rec: eventlog.Record, clocks: list[Clock], records: list[eventlog.Record]) -> tuple[float, float] | None:
    """(unix time, +- seconds) of a record from the nearest clock reading in
    the same run of the device's RTC (no boot between them that restarts
    the RTC on that board's port: run_breaks), or None."""
    best = None
    for c in clocks:
        lo, hi = sorted((rec.seq, c.seq))
        try:
            b = boards.load(c.board)
            ppm, port = b["RTC_DRIFT_PPM"], b["PORT"]
        except boards.BoardError:
            ppm, port = _MAX_PPM, ""  # board unknown: the worst drift of any board, every boot a break
        if any(lo < s <= hi for s in run_breaks(records, port)):
            continue
        dt = (rec.rtc_ms - c.rtc_ms) / 1000
        err = c.err_s + abs(dt) * ppm / 1e6
        if best is None or err < best[1]:
            best = (c.unix + dt, err)
    return best


def run_breaks(records: list[eventlog.Record], port: str) -> list[int]:
    """Seqs of the boot records across which the device's RTC may have
    restarted. esp32 (and the virtual board, served or not): the RTC counts
    on through every reset and deep sleep, and only a power-on (or a boot
    whose cause is unknown, or a brownout) restarts it. rp2 and zephyr set
    or restart their clock at every hardware boot (ports/rp2/main.c sets
    2021-01-01); only a soft reset keeps it."""
    causes = eventlog.CAUSES
    if port in ("esp32", "virtual"):
        keep = {causes.index(c) for c in ("reset", "watchdog", "deep-sleep", "soft-reset")}
    else:
        keep = {causes.index("soft-reset")}
    return [r.seq for r in records if r.event == 6 and (r.arg not in keep or r.flags & eventlog.FLAG_BROWNOUT)]


def _heard(path: Path, name: str) -> list[dict]:
    """The events `drawsense listen --json` verified from this device."""
    out = []
    with open(path) as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                ev = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{i}: not a JSON line of 'drawsense listen --json' ({e.msg})") from None
            if not isinstance(ev, dict) or not isinstance(ev.get("event"), str) \
                    or not isinstance(ev.get("counter"), int):
                raise ValueError(f"{path}:{i}: not an event of 'drawsense listen --json' (event and counter)")
            if ev.get("device") == name:
                out.append(ev)
    return out


EPOCH_SHIFT = 4  # counter >> 4 is the burst's epoch (docs/protocol.md, Counter)


def heard_state(rec: eventlog.Record, heard: list[dict], records: list[eventlog.Record]) -> str | None:
    """For a draw, holster or fault: 'yes' (a receiver verified an advert of
    that very burst: same counter epoch), 'late' (a draw whose burst nobody
    heard, but one of its reminders: a camera that came late), 'no', or
    'unsent' (no burst went out with it); None for other records."""
    if rec.event not in (1, 2, 5):
        return None
    if rec.epoch == eventlog.NO_EPOCH:
        return "unsent"
    if any(e["counter"] >> EPOCH_SHIFT == rec.epoch and e["event"] == rec.name for e in heard):
        return "yes"
    if rec.event == 1:
        # its reminders come in later epochs, before the next event's burst
        later = [r.epoch for r in records if r.epoch != eventlog.NO_EPOCH and r.epoch > rec.epoch]
        until = min(later, default=1 << 32)
        if any(e["event"] == "reminder" and rec.epoch < e["counter"] >> EPOCH_SHIFT < until for e in heard):
            return "late"
    return "no"


def run(args: argparse.Namespace) -> int:
    if bool(args.port) == bool(args.verify):
        return fail("give --port P (read the device's log) or --verify FILE (a saved one)", prog="drawsense log")
    if args.save and not args.port:
        return fail("--save keeps what --port read; with --verify the file is already saved", prog="drawsense log")
    try:
        store = open_store(args.keys, create=False)
    except KeyStoreError as e:
        return fail(str(e), prog="drawsense log")
    try:
        return _run(args, store)
    finally:
        store.close()


def _run(args, store) -> int:
    from drawsense.device.remote import RemoteError

    prog = "drawsense log"
    clock = None
    if args.port:
        from drawsense.device import logread

        try:
            rtc, unix, err, board = logread.read_clock(args.port)
            raw = logread.read_log(args.port)
        except RemoteError as e:
            return fail(str(e), prog=prog)
        clock = (rtc, unix, err, board)
        if args.save:
            try:
                _save(args.save, raw)
            except OSError as e:
                return fail(f"cannot save to {args.save} ({e.strerror or e})", prog=prog)
            note(f"{len(raw)} bytes as read saved to {args.save}")
        where = args.port
    else:
        try:
            raw = args.verify.read_bytes()
        except OSError as e:
            return fail(f"{args.verify}: cannot read it ({e.strerror or e})", prog=prog)
        where = str(args.verify)
    if not raw:
        return fail(f"{where}: the log is empty ({_why_empty(args, store)})", prog=prog)
    try:
        dev = _device(store, raw, args.name)
    except (eventlog.LogError, KeyStoreError) as e:
        return fail(f"{where}: {e}", prog=prog)
    if dev.log_key is None:
        return fail(f"{dev.name} has no log key in {store.path}: it was provisioned before the event log "
                    f"(provision it again: drawsense provision --force)", prog=prog)
    mark = store.log_mark(dev.name)
    when = eventlog.on_date(mark[2]) if mark else ""
    rep = eventlog.verify(raw, dev.log_key, dev.device_id, high=mark[:2] if mark else None, high_when=when,
                          reads=store.log_reads(dev.name), copy=not args.port)
    if clock is not None:
        newest = rep.verified[-1] if rep.verified else None
        rec = next((r for r in rep.records if r.seq == newest), None)
        try:
            store.read_log(dev.name, (rec.seq, rec.mac) if rec else None,
                           Clock(newest if newest is not None else -1, clock[0], clock[1], clock[2], clock[3]))
        except KeyStoreError as e:
            return fail(f"{e} (the log was read; nothing else changed)", prog=prog)
    clocks = store.clocks(dev.name)
    try:
        heard = _heard(args.heard, dev.name) if args.heard else None
    except (OSError, ValueError) as e:
        return fail(str(e) if isinstance(e, ValueError) else f"{args.heard}: {e.strerror or e}", prog=prog)
    rows = []
    for r in rep.records:
        w = wall_clock(r, clocks, rep.records)
        row = {"seq": r.seq, "event": r.name, "rtc_ms": r.rtc_ms, "wall": w[0] if w else None,
               "wall_err_s": round(w[1], 3) if w else None, "since_draw_ms": r.since_draw_ms,
               "battery_mv": r.battery_mv or None, "battery_low": bool(r.flags & eventlog.FLAG_LOW),
               "brownout": bool(r.flags & eventlog.FLAG_BROWNOUT), "detail": r.detail,
               "epoch": None if r.epoch == eventlog.NO_EPOCH else r.epoch,
               "verified": r.seq in rep.verified}
        if heard is not None:
            row["heard"] = heard_state(r, heard, rep.records)
        rows.append(row)
    if args.json:
        print(json.dumps({"intact": rep.intact, "device": dev.name, "device_id": dev.device_id.hex(),
                          "findings": [f.as_dict() for f in rep.findings], "notes": rep.notes, "records": rows}))
    else:
        _print(rep, dev, rows, heard is not None)
    if args.port:
        note("the firmware was stopped to read its log: reset the board to put it back into service")
    return 0 if rep.intact else 1


def _print(rep, dev, rows, with_heard: bool) -> None:
    n = len(rep.records)
    span = f"seq {rep.records[0].seq}-{rep.records[-1].seq}" if rep.records else "no records"
    if rep.intact:
        print(f"intact: {n} records ({span}) of {dev.name} (device id {dev.device_id.hex()}): every MAC and the "
              f"chain verify, no record missing")
    else:
        print(f"NOT INTACT: {len(rep.findings)} problem{'s' if len(rep.findings) != 1 else ''} in the log of "
              f"{dev.name} (device id {dev.device_id.hex()}, {n} records, {span})")
        for f in rep.findings:
            print(f"  {f.kind}: {f.text}")
    for line in rep.notes:
        print(f"  note: {line}")
    head = f"{'seq':>5}  {'event':<11} {'device RTC':>16}  {'wall clock (UTC)':<33} {'since draw':>10}  {'battery':>8}"
    print(head + ("  heard" if with_heard else "") + "  detail")
    for r in rows:
        wall = "-"
        if r["wall"] is not None:
            t = r["wall"]
            wall = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d} ±{r['wall_err_s']:.2f} s"
        since = "-" if r["since_draw_ms"] is None else f"{r['since_draw_ms'] / 1000:.3f} s"
        mv = "-" if not r["battery_mv"] else f"{r['battery_mv']} mV"
        flags = " ".join(w for w, on in (("LOW", r["battery_low"]), ("brownout", r["brownout"])) if on)
        detail = " ".join(x for x in (r["detail"], flags, "" if r["verified"] else "UNVERIFIED") if x)
        heard = f"  {r['heard'] or '-':<5}" if with_heard else ""
        print(f"{r['seq']:>5}  {r['event']:<11} {r['rtc_ms'] / 1000:>14.3f} s  {wall:<33} {since:>10}  {mv:>8}"
              f"{heard}  {detail}")
