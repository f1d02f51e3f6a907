# AES-128 block encryption (FIPS-197) in plain MicroPython, for ports built
# without cryptolib: the zephyr port has none (issue 11). ccm.py uses it only
# when `from cryptolib import aes` raises ImportError; every board with
# cryptolib (esp32c3, picow, the unix port) keeps the C cipher.
#
# Same calls as cryptolib.aes as ccm.py makes them: AES(key, 1) (1 = ECB),
# encrypt(in) -> 16 new bytes, encrypt(in, out) -> out, written in place (in
# and out may be the same buffer). Forward cipher only: CCM never decrypts a
# block, not even to open a message. Narrower than cryptolib on purpose: a
# 16-byte key (cryptolib also takes 32) and one 16-byte block per call
# (cryptolib takes any multiple of 16); anything else raises ValueError.
#
# Plain bytecode, no @micropython.native/viper: the zephyr port enables no
# native emitter, so a .mpy with native code would not even load there.
# Byte-oriented: the state is 16 small-int locals and the tables are bytes,
# because 32-bit T-table words would be heap-allocated long ints on a 32-bit
# port. Nothing is allocated per block except encrypt(in)'s result.
# Table look-ups index by secret bytes; on a CPU with a data cache that leaks
# timing to code on the same CPU. The sensor runs no one else's code.
from micropython import const

_ECB = const(1)  # cryptolib's mode number for ECB

# FIPS-197 5.1.1 S-box: S[x] = affine(x^-1 in GF(2^8)), 0 -> 0x63.
_SBOX = (
    b"\x63\x7c\x77\x7b\xf2\x6b\x6f\xc5\x30\x01\x67\x2b\xfe\xd7\xab\x76"
    b"\xca\x82\xc9\x7d\xfa\x59\x47\xf0\xad\xd4\xa2\xaf\x9c\xa4\x72\xc0"
    b"\xb7\xfd\x93\x26\x36\x3f\xf7\xcc\x34\xa5\xe5\xf1\x71\xd8\x31\x15"
    b"\x04\xc7\x23\xc3\x18\x96\x05\x9a\x07\x12\x80\xe2\xeb\x27\xb2\x75"
    b"\x09\x83\x2c\x1a\x1b\x6e\x5a\xa0\x52\x3b\xd6\xb3\x29\xe3\x2f\x84"
    b"\x53\xd1\x00\xed\x20\xfc\xb1\x5b\x6a\xcb\xbe\x39\x4a\x4c\x58\xcf"
    b"\xd0\xef\xaa\xfb\x43\x4d\x33\x85\x45\xf9\x02\x7f\x50\x3c\x9f\xa8"
    b"\x51\xa3\x40\x8f\x92\x9d\x38\xf5\xbc\xb6\xda\x21\x10\xff\xf3\xd2"
    b"\xcd\x0c\x13\xec\x5f\x97\x44\x17\xc4\xa7\x7e\x3d\x64\x5d\x19\x73"
    b"\x60\x81\x4f\xdc\x22\x2a\x90\x88\x46\xee\xb8\x14\xde\x5e\x0b\xdb"
    b"\xe0\x32\x3a\x0a\x49\x06\x24\x5c\xc2\xd3\xac\x62\x91\x95\xe4\x79"
    b"\xe7\xc8\x37\x6d\x8d\xd5\x4e\xa9\x6c\x56\xf4\xea\x65\x7a\xae\x08"
    b"\xba\x78\x25\x2e\x1c\xa6\xb4\xc6\xe8\xdd\x74\x1f\x4b\xbd\x8b\x8a"
    b"\x70\x3e\xb5\x66\x48\x03\xf6\x0e\x61\x35\x57\xb9\x86\xc1\x1d\x9e"
    b"\xe1\xf8\x98\x11\x69\xd9\x8e\x94\x9b\x1e\x87\xe9\xce\x55\x28\xdf"
    b"\x8c\xa1\x89\x0d\xbf\xe6\x42\x68\x41\x99\x2d\x0f\xb0\x54\xbb\x16"
)

# x * 2 in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1 (FIPS-197 4.2.1 xtime()),
# for MixColumns.
_X2 = (
    b"\x00\x02\x04\x06\x08\x0a\x0c\x0e\x10\x12\x14\x16\x18\x1a\x1c\x1e"
    b"\x20\x22\x24\x26\x28\x2a\x2c\x2e\x30\x32\x34\x36\x38\x3a\x3c\x3e"
    b"\x40\x42\x44\x46\x48\x4a\x4c\x4e\x50\x52\x54\x56\x58\x5a\x5c\x5e"
    b"\x60\x62\x64\x66\x68\x6a\x6c\x6e\x70\x72\x74\x76\x78\x7a\x7c\x7e"
    b"\x80\x82\x84\x86\x88\x8a\x8c\x8e\x90\x92\x94\x96\x98\x9a\x9c\x9e"
    b"\xa0\xa2\xa4\xa6\xa8\xaa\xac\xae\xb0\xb2\xb4\xb6\xb8\xba\xbc\xbe"
    b"\xc0\xc2\xc4\xc6\xc8\xca\xcc\xce\xd0\xd2\xd4\xd6\xd8\xda\xdc\xde"
    b"\xe0\xe2\xe4\xe6\xe8\xea\xec\xee\xf0\xf2\xf4\xf6\xf8\xfa\xfc\xfe"
    b"\x1b\x19\x1f\x1d\x13\x11\x17\x15\x0b\x09\x0f\x0d\x03\x01\x07\x05"
    b"\x3b\x39\x3f\x3d\x33\x31\x37\x35\x2b\x29\x2f\x2d\x23\x21\x27\x25"
    b"\x5b\x59\x5f\x5d\x53\x51\x57\x55\x4b\x49\x4f\x4d\x43\x41\x47\x45"
    b"\x7b\x79\x7f\x7d\x73\x71\x77\x75\x6b\x69\x6f\x6d\x63\x61\x67\x65"
    b"\x9b\x99\x9f\x9d\x93\x91\x97\x95\x8b\x89\x8f\x8d\x83\x81\x87\x85"
    b"\xbb\xb9\xbf\xbd\xb3\xb1\xb7\xb5\xab\xa9\xaf\xad\xa3\xa1\xa7\xa5"
    b"\xdb\xd9\xdf\xdd\xd3\xd1\xd7\xd5\xcb\xc9\xcf\xcd\xc3\xc1\xc7\xc5"
    b"\xfb\xf9\xff\xfd\xf3\xf1\xf7\xf5\xeb\xe9\xef\xed\xe3\xe1\xe7\xe5"
)


class AES:
    """AES-128 forward cipher with one key: the part of cryptolib.aes that
    ccm.py uses. The key schedule is expanded once here."""

    def __init__(self, key, mode=_ECB):
        if mode != _ECB:
            raise ValueError("mode")
        if len(key) != 16:
            raise ValueError("key")  # cryptolib's message for a size it lacks
        # FIPS-197 5.2: 11 round keys of 16 bytes, rk[16 * r + i].
        rk = bytearray(176)
        for i in range(16):
            rk[i] = key[i]
        rcon = 1
        for i in range(16, 176, 4):
            t0 = rk[i - 4]
            t1 = rk[i - 3]
            t2 = rk[i - 2]
            t3 = rk[i - 1]
            if i & 15 == 0:  # first word of a round key: SubWord(RotWord()) ^ Rcon
                t = t0
                t0 = _SBOX[t1] ^ rcon
                t1 = _SBOX[t2]
                t2 = _SBOX[t3]
                t3 = _SBOX[t]
                rcon = _X2[rcon]
            rk[i] = rk[i - 16] ^ t0
            rk[i + 1] = rk[i - 15] ^ t1
            rk[i + 2] = rk[i - 14] ^ t2
            rk[i + 3] = rk[i - 13] ^ t3
        self._rk = rk
        self._out = bytearray(16)  # encrypt(in)'s block, before it is copied out

    def encrypt(self, src, dst=None):
        """E(K, src) for one 16-byte block: into dst (returned), or as new bytes."""
        if len(src) != 16:
            raise ValueError("block length")
        if dst is None:
            self._block(src, self._out)
            return bytes(self._out)
        if len(dst) != 16:
            raise ValueError("block length")
        self._block(src, dst)
        return dst

    def _block(self, src, dst):
        # FIPS-197 5.1. The state is column-major, s[r + 4c] = byte r of
        # column c, as in the input. Reads all of src before writing dst, so
        # they may be one buffer.
        S = _SBOX
        X = _X2
        k = self._rk
        s0 = src[0] ^ k[0]
        s1 = src[1] ^ k[1]
        s2 = src[2] ^ k[2]
        s3 = src[3] ^ k[3]
        s4 = src[4] ^ k[4]
        s5 = src[5] ^ k[5]
        s6 = src[6] ^ k[6]
        s7 = src[7] ^ k[7]
        s8 = src[8] ^ k[8]
        s9 = src[9] ^ k[9]
        s10 = src[10] ^ k[10]
        s11 = src[11] ^ k[11]
        s12 = src[12] ^ k[12]
        s13 = src[13] ^ k[13]
        s14 = src[14] ^ k[14]
        s15 = src[15] ^ k[15]
        for r in range(16, 160, 16):  # rounds 1..9
            # SubBytes and ShiftRows: row i of column c comes from column
            # c + i (mod 4).
            a0 = S[s0]
            a1 = S[s5]
            a2 = S[s10]
            a3 = S[s15]
            a4 = S[s4]
            a5 = S[s9]
            a6 = S[s14]
            a7 = S[s3]
            a8 = S[s8]
            a9 = S[s13]
            a10 = S[s2]
            a11 = S[s7]
            a12 = S[s12]
            a13 = S[s1]
            a14 = S[s6]
            a15 = S[s11]
            # MixColumns (5.1.3) and AddRoundKey: b0 = 2a0 ^ 3a1 ^ a2 ^ a3
            # = a0 ^ t ^ 2(a0 ^ a1) with t = a0 ^ a1 ^ a2 ^ a3, and so on
            # round the column.
            t = a0 ^ a1 ^ a2 ^ a3
            s0 = a0 ^ t ^ X[a0 ^ a1] ^ k[r]
            s1 = a1 ^ t ^ X[a1 ^ a2] ^ k[r + 1]
            s2 = a2 ^ t ^ X[a2 ^ a3] ^ k[r + 2]
            s3 = a3 ^ t ^ X[a3 ^ a0] ^ k[r + 3]
            t = a4 ^ a5 ^ a6 ^ a7
            s4 = a4 ^ t ^ X[a4 ^ a5] ^ k[r + 4]
            s5 = a5 ^ t ^ X[a5 ^ a6] ^ k[r + 5]
            s6 = a6 ^ t ^ X[a6 ^ a7] ^ k[r + 6]
            s7 = a7 ^ t ^ X[a7 ^ a4] ^ k[r + 7]
            t = a8 ^ a9 ^ a10 ^ a11
            s8 = a8 ^ t ^ X[a8 ^ a9] ^ k[r + 8]
            s9 = a9 ^ t ^ X[a9 ^ a10] ^ k[r + 9]
            s10 = a10 ^ t ^ X[a10 ^ a11] ^ k[r + 10]
            s11 = a11 ^ t ^ X[a11 ^ a8] ^ k[r + 11]
            t = a12 ^ a13 ^ a14 ^ a15
            s12 = a12 ^ t ^ X[a12 ^ a13] ^ k[r + 12]
            s13 = a13 ^ t ^ X[a13 ^ a14] ^ k[r + 13]
            s14 = a14 ^ t ^ X[a14 ^ a15] ^ k[r + 14]
            s15 = a15 ^ t ^ X[a15 ^ a12] ^ k[r + 15]
        # Round 10: SubBytes, ShiftRows, AddRoundKey; no MixColumns.
        dst[0] = S[s0] ^ k[160]
        dst[1] = S[s5] ^ k[161]
        dst[2] = S[s10] ^ k[162]
        dst[3] = S[s15] ^ k[163]
        dst[4] = S[s4] ^ k[164]
        dst[5] = S[s9] ^ k[165]
        dst[6] = S[s14] ^ k[166]
        dst[7] = S[s3] ^ k[167]
        dst[8] = S[s8] ^ k[168]
        dst[9] = S[s13] ^ k[169]
        dst[10] = S[s2] ^ k[170]
        dst[11] = S[s7] ^ k[171]
        dst[12] = S[s12] ^ k[172]
        dst[13] = S[s1] ^ k[173]
        dst[14] = S[s6] ^ k[174]
        dst[15] = S[s11] ^ k[175]
