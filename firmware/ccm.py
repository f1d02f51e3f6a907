# AES-CCM authenticated encryption (RFC 3610; NIST SP 800-38C), built from
# single AES-ECB block encryptions.
#
# cryptolib.aes has ECB and CBC wherever it exists, but CTR is usually
# compiled out, so the CBC-MAC (RFC 3610 2.2) and the counter-mode key stream
# (2.3) are made here from one ECB encrypt per 16-byte block. CCM needs only
# the forward cipher, also to decrypt: good, because an aes object works in
# one direction only (decrypt() after encrypt() raises ValueError).
#
# Sizes (RFC 3610 2.1 names in quotes):
#   nonce  7..13 bytes; the length field is "L" = 15 - len(nonce) bytes, so a
#          message may be up to 2**(8L) - 1 bytes (65535 with a 13-byte nonce)
#   tag    "M" = 4, 6, ..., 16 bytes
#   aad    "a", up to 0xFEFF bytes: only the 2-byte l(a) encoding of 2.2
# Wire format of seal(): ciphertext (same length as the plaintext) || tag.
#
# Cost per call: ceil((2 + l(a)) / 16) + ceil(l(m) / 16) + 1 AES blocks for
# the MAC, ceil(l(m) / 16) + 1 for the key stream. An 8-byte advert payload
# with 5 bytes of aad is 5 blocks. The work buffers are preallocated; a call
# allocates only its result.
#
# The block cipher is cryptolib's (C) wherever the port has it: esp32, rp2 and
# the unix port (virtual board). A port built without cryptolib (zephyr,
# issue 11) gets aes.py, the same cipher in plain MicroPython, ~50x slower a
# block and AES-128 only (docs/protocol.md, "Cipher per port").
try:
    from cryptolib import aes
except ImportError:
    # Another class with the calls this module makes; mypy sees the stubs' type.
    from aes import AES as aes  # type: ignore[assignment]
from micropython import const

_ECB = const(1)  # cryptolib mode number (the unix port has no cryptolib.MODE_ECB)
_AAD_MAX = const(0xFEFF)  # 2.2: 0 < l(a) < 2**16 - 2**8 takes the 2-byte encoding


class CCM:
    """AES-CCM with one key and one tag length; reuse it for every message."""

    def __init__(self, key, tag_len=8):
        if len(key) not in (16, 24, 32):
            raise ValueError("key length")
        if tag_len < 4 or tag_len > 16 or tag_len & 1:
            raise ValueError("tag length")
        # The cipher raises ValueError("key") itself for a size it lacks
        # (AES-192 in the unix port's cryptolib; all but AES-128 in aes.py).
        self._aes = aes(key, _ECB)
        self._m = tag_len
        self._x = bytearray(16)  # CBC-MAC chaining value X_i (2.2)
        self._a = bytearray(16)  # counter block A_i (2.3)
        self._s = bytearray(16)  # key-stream block S_i = E(K, A_i)

    def block(self, b16):
        """One raw AES encryption of a 16-byte block with the key."""
        if len(b16) != 16:
            raise ValueError("block length")
        return self._aes.encrypt(b16)

    def seal(self, nonce, aad, plaintext):
        """Encrypt and authenticate: returns ciphertext || tag (2.3, 2.4)."""
        n = len(plaintext)
        L = self._check(nonce, aad, n)
        m = self._m
        out = bytearray(n + m)
        self._mac(nonce, aad, plaintext, L)  # T: first M bytes of self._x
        self._ctr(nonce, L, plaintext, n, out)  # leaves S_0 in self._s
        x = self._x
        s = self._s
        for i in range(m):
            out[n + i] = x[i] ^ s[i]  # 2.3: U = T XOR first-M-bytes(S_0)
        return bytes(out)

    def open(self, nonce, aad, data):
        """Check and decrypt ciphertext || tag (2.5). Returns the plaintext, or
        None if the tag does not verify (also for data shorter than the tag).
        Bad nonce or aad sizes raise ValueError, as in seal()."""
        m = self._m
        n = len(data) - m
        L = self._check(nonce, aad, n if n > 0 else 0)
        if n < 0:
            return None
        out = bytearray(n)
        self._ctr(nonce, L, data, n, out)  # decrypt first; S_0 in self._s
        self._mac(nonce, aad, out, L)  # then T over the decrypted message
        x = self._x
        s = self._s
        # Compare all M bytes whatever the first difference, so the time taken
        # does not tell an attacker how many leading tag bytes were right.
        diff = 0
        for i in range(m):
            diff |= x[i] ^ s[i] ^ data[n + i]
        if diff:
            for i in range(n):  # 2.5: no unverified plaintext leaves here
                out[i] = 0
            return None
        return bytes(out)

    def _check(self, nonce, aad, n):
        # Size checks of 2.1 / 2.2; returns L, the length-field width in bytes.
        if len(nonce) < 7 or len(nonce) > 13:
            raise ValueError("nonce length")
        if len(aad) > _AAD_MAX:
            raise ValueError("aad length")
        L = 15 - len(nonce)
        if n >> (8 * L):
            raise ValueError("message length")
        return L

    def _head(self, buf, flags, nonce):
        # buf = flags | nonce | (length field, set by _count): the layout shared
        # by B_0 (2.2) and A_i (2.3).
        buf[0] = flags
        i = 1
        for b in nonce:
            buf[i] = b
            i += 1

    def _count(self, buf, L, value):
        # The last L bytes of buf = value, big-endian: l(m) in B_0, i in A_i.
        for i in range(15, 15 - L, -1):
            buf[i] = value & 0xFF
            value >>= 8

    def _mac(self, nonce, aad, msg, L):
        # 2.2: CBC-MAC over B_0, the encoded aad blocks and the message blocks.
        # Leaves X_{n+1} in self._x; T is its first M bytes.
        x = self._x
        la = len(aad)
        # Flags = 64*Adata + 8*M' + L', with M' = (M-2)/2 and L' = L-1.
        self._head(x, (0x40 if la else 0) | ((self._m - 2) // 2) << 3 | (L - 1), nonce)
        self._count(x, L, len(msg))
        self._aes.encrypt(x, x)  # X_1 = E(K, B_0)
        if la:
            # l(a) as 2 bytes big-endian, then a; the pair is zero-padded to
            # whole blocks (XOR with nothing).
            x[0] ^= la >> 8
            x[1] ^= la & 0xFF
            self._absorb(aad, 2)
        self._absorb(msg, 0)

    def _absorb(self, data, pos):
        # X_{i+1} = E(K, X_i XOR B_i), taking data from byte pos of the current
        # block, then zero-pads (encrypts) a partly filled last block.
        x = self._x
        for b in data:
            x[pos] ^= b
            pos += 1
            if pos == 16:
                self._aes.encrypt(x, x)
                pos = 0
        if pos:
            self._aes.encrypt(x, x)

    def _ctr(self, nonce, L, src, n, dst):
        # 2.3: dst[:n] = src[:n] XOR S_1 || S_2 || ...; the same step decrypts.
        # A_i = Flags(L') | nonce | i. Ends with S_0 in self._s, for the tag.
        a = self._a
        s = self._s
        self._head(a, L - 1, nonce)
        i = 0
        ctr = 1
        while i < n:
            self._count(a, L, ctr)
            self._aes.encrypt(a, s)
            end = n - i if n - i < 16 else 16
            for j in range(end):
                dst[i + j] = src[i + j] ^ s[j]
            i += 16
            ctr += 1
        self._count(a, L, 0)
        self._aes.encrypt(a, s)
