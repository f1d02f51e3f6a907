# Tamper-evident event log in flash: every event the state machine emits
# (draw, holster, fault), each cold boot and each battery-low latch, one
# record each, chained by a MAC under the device's log key (keyfile.py), so a
# record deleted, altered, reordered or replayed shows. Format and rules:
# docs/protocol.md, "Event log". Read and verified by `drawsense log`.
#
# Flash layout: a bounded ring of segment files ds_log_<n>.bin (n counts up
# for the device's life), each a 32-byte header then up to SEG_RECORDS
# 32-byte records:
#   header: "DSL1" | key id (4) | device id (8) | n (u32) | 00 00 | chain value (10)
#   record: seq (u32) | event (u8) | flags (u8) | battery mV (u16) |
#           rtc ms (u48) | arg (u32) | epoch (u32) | mac (10)   (all big-endian)
#   mac = AES-CMAC(K_log, chain || first 22 bytes)[:10]; the chain value is
#   the previous record's mac (the header's holds it for a segment's first).
#   The first record of a chain follows genesis = CMAC(K_log, "DSL1" | id | 0*4)[:10].
#   epoch: the advert counter's epoch (counter >> 4) of the burst that
#   carried the event, so a receiver's verified event lines up with it
#   exactly (drawsense log --heard); 0xFFFFFFFF: none went on air.
#
# Power can fail at any instant. Every flash change is one step that
# littlefs makes atomic: a record appended and the file closed (a file's new
# data is committed at close), a new segment written whole to a .tmp file
# and renamed into place, the oldest segment removed. The oldest segment is
# only removed after the record that says so (event EVICTED, arg = the last
# seq it held) is committed, so a cut in between leaves a segment the marker
# already covers, never a gap without a marker; the next append finishes it.
#
# When: app.py notes events in RAM as they happen and flushes them after the
# burst's first advert is on its way (and before any deep sleep), so no log
# write ever sits between a draw and its advert; a flash step at a time, none
# while the line is settling (flush's `busy`), so a draw that comes while the
# log is written waits for one step, not a segment rollover. Never from an
# IRQ. A deep-sleep wake reads nothing here until the first flush (after the
# advert).
import os
import struct

from micropython import const

PREFIX = "ds_log_"
SUFFIX = ".bin"
_TMP = "ds_log.tmp"
MAGIC = b"DSL1"
REC = const(32)  # bytes per record, and per header
_MAC = const(10)
_BODY = ">IBBHHIII"  # seq, event, flags, battery mV, rtc ms (high 16, low 32 bits), arg, epoch: 22 bytes
NO_EPOCH = const(0xFFFFFFFF)
# Events beyond the advert's (events.py 1..7): the log's own.
LOW_BATTERY = const(8)  # the battery-low latch set (flags bit 0 from then on)
EVICTED = const(9)  # arg: the last seq of the segment the ring dropped
# A boot record's arg: how the boot began (hw.reset_cause_name), as an index here.
CAUSES = ("unknown", "power-on", "reset", "watchdog", "deep-sleep", "soft-reset")
_PENDING = const(8)  # events held in RAM until the next flush; more are counted, not kept


def name(n):
    return PREFIX + str(n) + SUFFIX


def segments():
    """Numbers of the segment files present, oldest first."""
    out = []
    for f in os.listdir():
        if f.startswith(PREFIX) and f.endswith(SUFFIX):
            try:
                out.append(int(f[len(PREFIX):-len(SUFFIX)]))
            except ValueError:
                pass
    out.sort()
    return out


class Cmac:
    """AES-CMAC (NIST SP 800-38B, RFC 4493) on the firmware's AES-128 block
    cipher (ccm.py: cryptolib, or aes.py where the port has none), for
    messages of whole 16-byte blocks only (all this log signs), so only
    subkey K1 is needed."""

    def __init__(self, key):
        import ccm

        self._aes = ccm.CCM(key)
        l0 = self._aes.block(bytes(16))
        k1 = bytearray(16)
        carry = 0
        for i in range(15, -1, -1):  # K1 = L << 1, reduced by 0x87 (RFC 4493 2.3)
            v = l0[i]
            k1[i] = ((v << 1) | carry) & 0xFF
            carry = v >> 7
        if carry:
            k1[15] ^= 0x87
        self._k1 = k1

    def mac(self, msg):
        n = len(msg)
        if n == 0 or n % 16:
            raise ValueError("whole blocks only")
        x = bytearray(16)
        k1 = self._k1
        for off in range(0, n, 16):
            for i in range(16):
                x[i] ^= msg[off + i]
            if off + 16 == n:
                for i in range(16):
                    x[i] ^= k1[i]
            x = bytearray(self._aes.block(x))
        return bytes(x)


class Log:
    """The ring. `key` None: read from keyfile at the first flush (a
    deep-sleep wake, whose RTC record holds no log key). `segments`: how
    many segment files the ring keeps (the board's LOG_SEGMENTS);
    `seg_records` records per segment (config.LOG_SEG_RECORDS)."""

    def __init__(self, key, device_id, segments, seg_records, report=None):
        if segments < 2:
            raise ValueError("log needs 2 segments")
        self._key = key
        self._id = bytes(device_id)
        self._max = segments
        self._per = seg_records
        self._report = report
        self.pending = []
        self.dropped = 0  # events noted while _PENDING were waiting
        self._open = False
        self._cmac = None  # Cmac once the key is read; None: no log key
        self._seq = 0  # the next record's seq
        self._prev = b""  # the chain value for the next record
        self._staged = None  # (segment n, its record count, seq and chain before it): a rollover in _TMP
        self._trim_due = False

    def note(self, event, rtc_ms, arg=0, battery_mv=0, flags=0):
        """Remember an event for the next flush (RAM only)."""
        if len(self.pending) < _PENDING:
            self.pending.append([event, flags, battery_mv, rtc_ms, arg, NO_EPOCH])
        else:
            self.dropped += 1

    def sent(self, event, epoch):
        """The burst for the newest noted `event` went on air in this counter epoch."""
        for e in reversed(self.pending):
            if e[0] == event and e[5] == NO_EPOCH:
                e[5] = epoch
                return

    def flush(self, busy=None):
        """Write what was noted, one flash step at a time (a record
        appended; a new segment staged, then renamed into place; the oldest
        one removed). `busy`, a function, is asked before each step: while
        it says True (a line change is being counted, which may be a draw)
        the rest waits for the next call, so a draw's advert waits for one
        step at most, never for a whole segment rollover. Raises OSError if
        the flash refuses (the caller's fault handling resets; the records
        not yet written are lost with RAM, the chain on flash stays whole)."""
        if not self.pending:
            return
        if not self._open:
            self._start()
        if self._cmac is None:  # no log key (a DSK1 key file): no log
            self.pending = []
            return
        while self.pending or self._staged or self._trim_due:
            if busy is not None and busy():
                return
            self._step()

    def _step(self):
        st = self._staged
        if st is not None:  # a new segment staged in _TMP: commit it
            n, count, seq, prev = st
            self._staged = None
            try:
                os.rename(_TMP, name(n))
            except OSError:
                self._seq, self._prev = seq, prev  # nothing was committed
                raise
            self._nums.append(n)
            self._count = count
            self._trim_due = len(self._nums) > self._max
            self._committed(seq)
            return
        if self._trim_due:
            self._trim_due = False
            try:
                self._trim()
            except OSError:
                pass  # committed all the same; the next rollover (or start) finishes the removal
            return
        seq, prev = self._seq, self._prev
        try:
            staged = self._append(self.pending[0])
        except OSError:
            self._seq, self._prev = seq, prev  # nothing was committed
            raise
        if staged is None:
            self._committed(seq)
        else:
            self._staged = staged + (seq, prev)

    def _committed(self, seq):
        e = self.pending.pop(0)
        if self._report:  # committed: "ds <ticks> log <seq> <event>"
            if self._seq - seq == 2:
                self._report("log", seq, EVICTED)
            self._report("log", self._seq - 1, e[0])

    # -- on flash ------------------------------------------------------
    def _start(self):
        key = self._key
        if key is None:
            import keyfile

            ident = keyfile.load()
            key = ident[2] if ident else None
            if key is None:
                self._open = True
                return
        self._cmac = Cmac(key)
        self._kid = self._cmac.mac(b"DSLK" + bytes(12))[:4]
        self._genesis = self._cmac.mac(MAGIC + self._id + bytes(4))[:_MAC]
        self._key = None
        try:
            os.remove(_TMP)  # a segment whose rename a power cut stopped: never live
        except OSError:
            pass
        nums = segments()
        self._nums = nums
        self._trim()
        self._seq = 0
        self._prev = self._genesis
        self._count = self._per  # no segment of ours open: the next append starts one
        for n in reversed(nums):  # the newest segment with a whole record
            with open(name(n), "rb") as f:
                data = f.read()
            whole = len(data) - len(data) % REC
            if data[:4] != MAGIC or whole < 2 * REC:
                continue  # damaged beyond reading: the one before it says where the log got to
            # the sequence goes on past the highest whole record: never a seq twice
            for off in range(REC, whole, REC):
                s = struct.unpack(">I", data[off:off + 4])[0] + 1
                if self._seq < s <= 0xFFFFFFFF:
                    self._seq = s
            # The header's key id is not signed: whether the log goes on in
            # this chain is the last record's MAC under our key (its chain
            # value: the record before it, or the header's for a first one).
            last = data[whole - REC:whole]
            if self._cmac.mac(data[whole - REC - _MAC:whole - REC] + last[:22])[:_MAC] == last[22:]:
                self._prev = last[22:]
                if n == nums[-1] and whole == len(data) and data[4:8] == self._kid:
                    self._count = whole // REC - 1  # appended to in place
            elif self._report:
                # another key's log (the device was re-provisioned) or a
                # damaged record: a new chain from genesis in a new segment,
                # seq counting on; the old records stay for the reader to show
                self._report("log", "new-chain")
            break
        self._open = True

    def _trim(self):
        # More segments than the ring holds: an eviction whose marker is
        # committed but whose removal a power cut stopped. Finish it.
        nums = self._nums
        while len(nums) > self._max:
            os.remove(name(nums[0]))  # then forgotten: a removal that fails is tried again
            nums.pop(0)

    def _record(self, event, flags, mv, rtc_ms, arg, epoch=NO_EPOCH):
        body = struct.pack(_BODY, self._seq, event, flags, mv, (rtc_ms >> 32) & 0xFFFF, rtc_ms & 0xFFFFFFFF, arg,
                           epoch)
        cm = self._cmac
        if cm is None:
            raise ValueError("no log key")
        mac = cm.mac(self._prev + body)[:_MAC]
        self._seq += 1
        self._prev = mac
        return body + mac

    def _append(self, e):
        """Append `e` in place (committed: None), or stage a new segment
        holding it in _TMP: (its n, its record count), for _step to commit."""
        if self._count < self._per:
            rec = self._record(*e)
            with open(name(self._nums[-1]), "ab") as f:
                f.write(rec)
            self._count += 1
            return None
        nums = self._nums
        # a removal an earlier rollover could not finish (its OSError was
        # let go): finish it first, or the marker below would name the
        # segment already covered and the one after it go without one
        self._trim()
        n = nums[-1] + 1 if nums else 0
        data = MAGIC + self._kid + self._id + struct.pack(">I", n) + bytes(2) + self._prev
        evict = len(nums) >= self._max
        if evict:
            # the marker goes first in the new segment: the last seq of the
            # oldest one, which is one before the next segment's first
            with open(name(nums[1]), "rb") as f:
                first = f.read(REC + 4)[REC:]
            data += self._record(EVICTED, 0, e[2], e[3], struct.unpack(">I", first)[0] - 1)
        data += self._record(*e)
        with open(_TMP, "wb") as f:
            f.write(data)
        return n, len(data) // REC - 1
