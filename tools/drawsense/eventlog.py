"""The sensor's event log (docs/protocol.md, "Event log"), read and verified
on the host.

Written separately from the firmware's writer (firmware/evlog.py) on the
`cryptography` package's AES-CMAC, so the two check each other against the
spec's test vector. Takes the log's raw bytes (its segment files, oldest
first, as `drawsense log` reads them and --save keeps them) and says whether
the log is intact; if not, what was done to it:

* ``deleted``: sequence numbers missing (in the middle, or at the old end
  with no eviction marker covering them);
* ``altered``: a record whose MAC does not verify over its predecessor;
* ``reordered``: records (or segments) out of order;
* ``replayed``: a record that appears twice;
* ``truncated``: the bytes end inside a record, or the log ends before a
  record this host has already read from the device (its high mark);
* ``spliced``: a segment of another device;
* ``rekeyed``: records written under a log key the store does not hold for
  this device (it was re-provisioned since, with a new key).

Every MAC comparison is constant-time (hmac.compare_digest). Each record is
checked against its predecessor by sequence number, so one altered record
is named alone, and a reorder does not make every later record "altered".
"""

from __future__ import annotations

import hmac
import struct
import time
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.cmac import CMAC
from cryptography.hazmat.primitives.ciphers import algorithms

MAGIC = b"DSL1"
REC = 32
MAC_LEN = 10
BODY_LEN = 22
_BODY = struct.Struct(">IBBHHIII")
NO_EPOCH = 0xFFFFFFFF
EVENTS = {1: "draw", 2: "holster", 3: "reminder", 4: "heartbeat", 5: "fault", 6: "boot", 7: "test",
          8: "battery-low", 9: "evicted"}
CAUSES = ("unknown", "power-on", "reset", "watchdog", "deep-sleep", "soft-reset")
NO_DRAW = 0xFFFFFFFF
FLAG_LOW = 1
FLAG_BROWNOUT = 2


class LogError(ValueError):
    """Bytes that are not an event log at all (one line for the user)."""


def cmac(key: bytes, msg: bytes) -> bytes:
    c = CMAC(algorithms.AES(key))
    c.update(msg)
    return c.finalize()


def key_id(key: bytes) -> bytes:
    return cmac(key, b"DSLK" + bytes(12))[:4]


def genesis(key: bytes, device_id: bytes) -> bytes:
    return cmac(key, MAGIC + device_id + bytes(4))[:MAC_LEN]


@dataclass
class Record:
    seq: int
    event: int
    flags: int
    battery_mv: int
    rtc_ms: int
    arg: int
    epoch: int  # the advert counter's epoch of the burst that carried it (NO_EPOCH: none)
    mac: bytes
    segment: int  # its segment's number (the header's)
    raw: bytes = field(repr=False)

    @property
    def name(self) -> str:
        return EVENTS.get(self.event, f"event-{self.event}")

    @property
    def since_draw_ms(self) -> int | None:
        if self.event in (1, 2, 5) and self.arg != NO_DRAW:
            return self.arg
        return None

    @property
    def detail(self) -> str:
        if self.event == 6:
            cause = CAUSES[self.arg] if self.arg < len(CAUSES) else str(self.arg)
            return cause + (" (brownout)" if self.flags & FLAG_BROWNOUT else "")
        if self.event == 9:
            return f"records up to seq {self.arg} dropped by the ring"
        if self.event == 8:
            return f"loaded {self.arg} mV"
        return ""


@dataclass
class Segment:
    number: int
    key_id: bytes
    device_id: bytes
    chain: bytes
    records: list[Record]


@dataclass
class Finding:
    kind: str
    text: str
    seq: int | None = None

    def as_dict(self) -> dict:
        return {"kind": self.kind, "seq": self.seq, "text": self.text}


@dataclass
class Report:
    intact: bool
    records: list[Record]
    findings: list[Finding]
    notes: list[str]
    segments: int
    verified: list[int] = field(default_factory=list)  # seqs whose MAC verified

    @property
    def last(self) -> Record | None:
        return max(self.records, key=lambda r: r.seq) if self.records else None


def parse(raw: bytes) -> tuple[list[Segment], int]:
    """Segments in file order, and how many bytes trail the last whole record."""
    if raw[:4] != MAGIC:
        raise LogError("not a drawsense event log (it does not start with a DSL1 segment header)")
    segs: list[Segment] = []
    whole = len(raw) - len(raw) % REC
    for off in range(0, whole, REC):
        unit = raw[off:off + REC]
        if unit[:4] == MAGIC:
            segs.append(Segment(struct.unpack(">I", unit[16:20])[0], unit[4:8], unit[8:16], unit[22:32], []))
            continue
        seq, event, flags, mv, rtc_hi, rtc_lo, arg, epoch = _BODY.unpack(unit[:BODY_LEN])
        segs[-1].records.append(Record(seq, event, flags, mv, rtc_hi << 32 | rtc_lo, arg, epoch, unit[BODY_LEN:],
                                       segs[-1].number, unit))
    return segs, len(raw) % REC


def _ranges(nums: list[int]) -> str:
    out, start = [], None
    for i, n in enumerate(nums):
        if start is None:
            start = n
        if i + 1 == len(nums) or nums[i + 1] != n + 1:
            out.append(str(start) if start == n else f"{start}-{n}")
            start = None
    return ", ".join(out)


def verify(raw: bytes, log_key: bytes, device_id: bytes, *, high: tuple[int, bytes] | None = None,
           high_when: str = "", reads: list[tuple[int, bytes, float]] = (), copy: bool = False) -> Report:
    """Check `raw` against the device's log key and id. `high`: (seq, mac)
    of the newest record this host read from the device before (the key
    store's mark), so a log cut short at a record boundary still shows.
    `reads`: (seq, mac, when) of the newest record of each read (the key
    store's history); `copy`: `raw` is a saved copy, which may end before
    the mark where a read ended, if it ends at that very record."""
    segs, tail = parse(raw)
    kid = key_id(log_key)
    gen = genesis(log_key, device_id)
    findings: list[Finding] = []
    notes: list[str] = []
    mine: list[Record] = []
    foreign: dict[str, list[int]] = {}
    prev_num = None
    for s in segs:
        if prev_num is not None and s.number <= prev_num:
            findings.append(Finding("reordered", f"segment {s.number} comes after segment {prev_num}"))
        prev_num = s.number
        if s.device_id != device_id:
            foreign.setdefault("spliced", []).extend(r.seq for r in s.records)
            findings.append(Finding("spliced", f"segment {s.number} (seq {_ranges([r.seq for r in s.records])}) "
                                    f"is from device {s.device_id.hex()}, not {device_id.hex()}"))
            continue
        if s.key_id != kid:
            first = s.records[0] if s.records else None
            if first is None or not hmac.compare_digest(cmac(log_key, s.chain + first.raw[:BODY_LEN])[:MAC_LEN],
                                                        first.mac):
                foreign.setdefault("rekeyed", []).extend(r.seq for r in s.records)
                continue
            # the key id is not signed; the records are: this key's, with the header changed
            findings.append(Finding("altered", f"segment {s.number}'s header names another log key, but its "
                                    f"records are under this device's", first.seq))
        mine.extend(s.records)
    if "rekeyed" in foreign:
        seqs = sorted(foreign["rekeyed"])
        findings.append(Finding("rekeyed", f"records seq {_ranges(seqs)} were written under another log key "
                                f"than the one the store holds for this device: it was re-provisioned since (or "
                                f"the store is not the one it was provisioned with); they cannot be verified",
                                seqs[0] if seqs else None))
    # by sequence number, for the predecessor look-up
    by_seq: dict[int, Record] = {}
    for r in mine:
        first = by_seq.get(r.seq)
        if first is None:
            by_seq[r.seq] = r
        elif first.raw == r.raw:
            findings.append(Finding("replayed", f"record seq {r.seq} ({r.name}) appears again in segment "
                                    f"{r.segment}", r.seq))
        else:
            findings.append(Finding("altered", f"two different records carry seq {r.seq}", r.seq))
    # file order must be sequence order
    seen_max = -1
    for r in mine:
        if r.seq < seen_max and by_seq.get(r.seq) is r:
            findings.append(Finding("reordered", f"record seq {r.seq} ({r.name}) comes after seq {seen_max}",
                                    r.seq))
        seen_max = max(seen_max, r.seq)
    # each record's MAC over its predecessor's (by seq); the first of a
    # stretch over its segment header's chain value (the evicted record's mac,
    # or genesis where a chain starts)
    heads = {id(s.records[0]): s.chain for s in segs if s.records}
    verified: dict[int, Record] = {}
    starts: list[int] = []
    for seq in sorted(by_seq):
        r = by_seq[seq]
        before = by_seq.get(seq - 1)
        chain = before.mac if before is not None else heads.get(id(r))
        if chain is None:
            continue  # its predecessor is missing: named as a deletion below
        if hmac.compare_digest(cmac(log_key, chain + r.raw[:BODY_LEN])[:MAC_LEN], r.mac):
            verified[seq] = r
            if before is None and hmac.compare_digest(chain, gen):
                starts.append(seq)
            continue
        if before is not None and id(r) in heads and hmac.compare_digest(
                cmac(log_key, heads[id(r)] + r.raw[:BODY_LEN])[:MAC_LEN], r.mac) and hmac.compare_digest(heads[id(r)], gen):
            verified[seq] = r  # a new chain (re-provisioned, or the last segment was damaged)
            starts.append(seq)
            continue
        findings.append(Finding("altered", f"record seq {seq} ({r.name}) does not verify: its content or MAC "
                                f"was changed", seq))
    for s in starts:
        if s:
            notes.append(f"a new chain starts at seq {s} (the device started its log afresh there)")
    # gaps: in the middle, and at the old end unless an eviction marker covers them
    seqs = sorted(by_seq)
    foreign_seqs = set(foreign.get("rekeyed", ())) | set(foreign.get("spliced", ()))
    if seqs:
        missing = [n for a, b in zip(seqs, seqs[1:]) for n in range(a + 1, b)]
        missing = [n for n in missing if n not in foreign_seqs]
        if missing:
            many = len(missing) > 1
            findings.append(Finding("deleted", f"record{'s' if many else ''} seq {_ranges(missing)} "
                                    f"{'are' if many else 'is'} missing", missing[0]))
        evicted = max((r.arg for r in verified.values() if r.event == 9), default=-1)
        oldest = min(seqs + foreign.get("rekeyed", []))
        # (a chain that starts afresh at seq S > 0 is no excuse: the records
        # before it were the device's all the same)
        if oldest > evicted + 1:
            findings.append(Finding("deleted", f"the oldest records (seq {evicted + 1}-{oldest - 1}) are missing "
                                    f"and no eviction marker covers them", evicted + 1))
        if evicted >= 0:
            notes.append(f"the ring dropped records up to seq {evicted} (eviction marker, signed)")
    if tail:
        last = max(seqs) if seqs else None
        findings.append(Finding("truncated", f"the log ends {tail} bytes into a record"
                                + (f" (after seq {last})" if last is not None else ""), last))
    if high is not None:
        hseq, hmac_ = high
        got = by_seq.get(hseq)
        end = max(seqs) if seqs else None
        earlier = [r for r in reads if r[0] == end] if copy and end is not None else []
        if end is not None and end < hseq and earlier:
            # a copy saved before the newest read: it must end at a record
            # this host read, and be that very record
            if any(hmac.compare_digest(by_seq[end].mac, r[1]) for r in earlier):
                notes.append(f"a copy from before the newest read: it ends at seq {end}, as read from this device"
                             f"{on_date(earlier[-1][2])}; seq {hseq} was read since{high_when}")
            else:
                findings.append(Finding("altered", f"record seq {end}, the last of this copy, is not the one read "
                                        f"from this device{on_date(earlier[-1][2])}", end))
        elif end is None or end < hseq:
            findings.append(Finding("truncated", f"the log ends at seq {end if seqs else '-'}, but seq {hseq} "
                                    f"was read from this device{high_when}", hseq))
        elif got is not None and not hmac.compare_digest(got.mac, hmac_):
            findings.append(Finding("altered", f"record seq {hseq} is not the one read from this device"
                                    f"{high_when}", hseq))
    for rseq, rmac, rt in reads:
        got = by_seq.get(rseq)
        if got is not None and (high is None or rseq != high[0]) and not hmac.compare_digest(got.mac, rmac) \
                and not any(f.kind == "altered" and f.seq == rseq for f in findings):
            findings.append(Finding("altered", f"record seq {rseq} is not the one read from this device{on_date(rt)}",
                                    rseq))
    order = {"truncated": 0, "deleted": 1, "altered": 2, "reordered": 3, "replayed": 4, "spliced": 5, "rekeyed": 6}
    findings.sort(key=lambda f: (order.get(f.kind, 9), f.seq if f.seq is not None else -1))
    records = sorted(by_seq.values(), key=lambda r: r.seq)
    return Report(not findings, records, findings, notes, len(segs), sorted(verified))


def on_date(t: float) -> str:
    """' on YYYY-MM-DD HH:MM UTC', for when something was read."""
    return f" on {time.strftime('%Y-%m-%d %H:%M', time.gmtime(t))} UTC"


def from_files(files: dict[str, bytes], prefix: str = "ds_log_", suffix: str = ".bin") -> bytes:
    """The log's raw bytes from a device's files: its segment files, oldest
    (lowest number) first, concatenated as they are."""
    segs = []
    for name, data in files.items():
        if name.startswith(prefix) and name.endswith(suffix):
            try:
                segs.append((int(name[len(prefix):-len(suffix)]), data))
            except ValueError:
                pass
    return b"".join(d for _, d in sorted(segs))
