# Advert payload: the one place that builds the bytes that go on air.
# Format v1 (docs/protocol.md): one manufacturer-specific AD structure in a
# legacy advert, 25 bytes:
#   off len
#   0   1   AD length 24
#   1   1   AD type 0xFF (manufacturer specific data)
#   2   2   company 0xFFFF, LE (Bluetooth SIG: for tests until an ID is assigned)
#   4   1   version << 4 | counter & 0x0F (counter.EPOCH_MASK)
#   5   4   hint: AES-128(K_hint, "DSH1" | epoch u32 BE | 8 x 00)[0:4], epoch = counter >> 4 (counter.EPOCH_BITS)
#   9   8   AES-CCM ciphertext of: event u8 | flags u8 | battery mV u16 BE | ms since draw u32 BE
#   17  8   CCM tag (M = 8, L = 2); nonce "DSN1" | counter u32 BE | 5 x 00; AAD = bytes 4..8
# Only the key holder can read the fields, find the device from the hint, or
# link two bursts; the counter (the nonce) never repeats for a key.
import struct

from ccm import CCM
from counter import EPOCH_BITS, EPOCH_MASK
from events import NO_DRAW
from micropython import const

VERSION = const(1)
SECRET_LEN = const(32)  # K_enc (16) | K_hint (16)
LEN = const(25)


class Signer:
    def __init__(self, secret):
        if len(secret) != SECRET_LEN:
            raise ValueError("device secret must be 32 bytes")
        self._ccm = CCM(secret[:16], 8)
        self._hint = CCM(secret[16:], 8)
        self._nonce = bytearray(b"DSN1" + bytes(9))
        self._block = bytearray(b"DSH1" + bytes(12))
        self._epoch = -1
        self._hint_bytes = b""

    def hint(self, epoch):
        if epoch != self._epoch:  # once per burst, not per payload
            struct.pack_into(">I", self._block, 4, epoch)
            self._hint_bytes = self._hint.block(bytes(self._block))[:4]
            self._epoch = epoch
        return self._hint_bytes

    def build(self, counter, event, since_draw_ms, battery_mv=0, flags=0):
        """The advert bytes for one payload (<= 31 bytes)."""
        if counter < 0 or counter > 0xFFFFFFFE:
            # -1 is Counter.take()'s "exhausted"; struct would pack it as
            # 0xFFFFFFFF, one nonce for every payload
            raise ValueError("counter out of range: re-key the device")
        if since_draw_ms < 0 or since_draw_ms > NO_DRAW:
            since_draw_ms = NO_DRAW
        head = bytes((LEN - 1, 0xFF, 0xFF, 0xFF, (VERSION << 4) | (counter & EPOCH_MASK)))
        head += self.hint(counter >> EPOCH_BITS)
        struct.pack_into(">I", self._nonce, 4, counter)
        body = struct.pack(">BBHI", event, flags, battery_mv, since_draw_ms)
        return head + self._ccm.seal(bytes(self._nonce), head[4:], body)
