"""The v1 over-the-air format, host side (docs/protocol.md).

Built on the `cryptography` package (AES-CCM, AES-ECB), independently of the
firmware's own CCM code, so that checking one against the other means
something. `seal` exists for test vectors and tools; the firmware never uses
it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from cryptography.exceptions import InvalidTag


COMPANY = 0xFFFF
VERSION = 1
SECRET_LEN = 32
MFR_LEN = 21  # manufacturer payload after the company ID
ADV_LEN = 25
TAG_LEN = 8
# counter >> EPOCH_SHIFT is a burst's epoch (its hint rotates with it); the
# low EPOCH_SHIFT bits go on air beside the version (docs/protocol.md). Stated
# here from the spec, not read from the firmware: this module is the host's
# own implementation, and the tests check the two agree (test_epoch, and the
# spec's vectors built by both).
EPOCH_SHIFT = 4
EPOCH_MASK = (1 << EPOCH_SHIFT) - 1
# The last counter value a device sends (0xFFFFFFFF never: its firmware stops
# there and must be re-keyed), and the last epoch (counter >> EPOCH_SHIFT).
LAST_COUNTER = 0xFFFFFFFE
LAST_EPOCH = LAST_COUNTER >> EPOCH_SHIFT

EVENTS = {1: "draw", 2: "holster", 3: "reminder", 4: "heartbeat", 5: "fault", 6: "boot", 7: "test"}
EVENT_CODES = {v: k for k, v in EVENTS.items()}
FLAG_BATTERY_LOW = 1
FLAG_BROWNOUT = 2
NO_DRAW = 0xFFFFFFFF


@dataclass(frozen=True)
class Fields:
    counter: int
    event: str
    flags: int
    battery_mv: int | None
    since_draw_ms: int | None

    @property
    def battery_low(self) -> bool:
        return bool(self.flags & FLAG_BATTERY_LOW)

    @property
    def brownout(self) -> bool:
        return bool(self.flags & FLAG_BROWNOUT)


def nonce(counter: int) -> bytes:
    return b"DSN1" + struct.pack(">I", counter) + bytes(5)


class DeviceKeys:
    """A device's secret split into its two AES-128 keys (K_enc | K_hint)."""

    __slots__ = ("ccm", "_hint_enc")

    def __init__(self, secret: bytes):
        if len(secret) != SECRET_LEN:
            raise ValueError("a device secret is 32 bytes")
        self.ccm = AESCCM(secret[:16], tag_length=TAG_LEN)
        self._hint_enc = Cipher(algorithms.AES(secret[16:]), modes.ECB())

    def hints(self, first_epoch: int, count: int) -> list[bytes]:
        """Hints for epochs first_epoch .. first_epoch+count-1 (one AES call)."""
        blocks = b"".join(b"DSH1" + struct.pack(">I", e) + bytes(8) for e in range(first_epoch, first_epoch + count))
        enc = self._hint_enc.encryptor()
        out = enc.update(blocks) + enc.finalize()
        return [out[i:i + 4] for i in range(0, len(out), 16)]

    def hint(self, epoch: int) -> bytes:
        return self.hints(epoch, 1)[0]


def seal(secret: bytes, counter: int, event: str, since_draw_ms: int | None, battery_mv: int = 0,
         flags: int = 0) -> bytes:
    """The full advert bytes (AD structure) for these fields."""
    keys = DeviceKeys(secret)
    head = bytes((ADV_LEN - 1, 0xFF, 0xFF, 0xFF, (VERSION << 4) | (counter & EPOCH_MASK))) + keys.hint(
        counter >> EPOCH_SHIFT)
    body = struct.pack(">BBHI", EVENT_CODES[event], flags, battery_mv,
                       NO_DRAW if since_draw_ms is None else since_draw_ms)
    return head + keys.ccm.encrypt(nonce(counter), body, head[4:])


def split_mfr(mfr: bytes) -> tuple[int, bytes, bytes] | None:
    """(counter low nibble, hint, sealed body) of a manufacturer payload, or
    None if it is not a v1 drawsense payload."""
    if len(mfr) != MFR_LEN or mfr[0] >> 4 != VERSION:
        return None
    return mfr[0] & EPOCH_MASK, mfr[1:5], mfr[5:]


def open_mfr(keys: DeviceKeys, epoch: int, mfr: bytes) -> Fields | None:
    """Verify and decrypt a manufacturer payload believed to be from this
    device in this epoch. None if the tag does not verify."""
    low = mfr[0] & EPOCH_MASK
    counter = (epoch << EPOCH_SHIFT) | low
    try:
        body = keys.ccm.decrypt(nonce(counter), mfr[5:], mfr[:5])
    except InvalidTag:
        return None
    event, flags, mv, since = struct.unpack(">BBHI", body)
    return Fields(counter, EVENTS.get(event, f"type{event}"), flags, mv or None,
                  None if since == NO_DRAW else since)


def mfr_of(adv: bytes) -> bytes | None:
    """The 0xFFFF manufacturer payload of raw advert bytes, or None."""
    i = 0
    while i < len(adv):
        n = adv[i]
        if n == 0 or i + 1 + n > len(adv):
            return None
        if adv[i + 1] == 0xFF and n >= 3 and adv[i + 2] | adv[i + 3] << 8 == COMPANY:
            return adv[i + 4:i + 1 + n]
        i += 1 + n
    return None


class KnownDevice:
    """Opens adverts of one device whose secret we hold, finding the epoch
    from the hint (for the simulator's display and tests; the receiver keeps
    a window of hints per device instead)."""

    def __init__(self, secret: bytes, max_epoch: int = 1 << 22, first_epoch: int = 0):
        self.keys = DeviceKeys(secret)
        self._epochs: dict[bytes, int] = {}
        self._upto = first_epoch
        self._max = min(first_epoch + max_epoch, LAST_EPOCH + 1)

    def open(self, adv: bytes) -> Fields | None:
        mfr = mfr_of(adv)
        parts = split_mfr(mfr) if mfr else None
        if parts is None:
            return None
        while parts[1] not in self._epochs and self._upto < self._max:
            n = min(4096, self._max - self._upto)
            for i, h in enumerate(self.keys.hints(self._upto, n)):
                self._epochs.setdefault(h, self._upto + i)
            self._upto += n
        epoch = self._epochs.get(parts[1])
        return None if epoch is None else open_mfr(self.keys, epoch, mfr)  # type: ignore[arg-type]
