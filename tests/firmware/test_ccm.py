"""firmware/ccm.py (AES-CCM from cryptolib's AES-ECB) on the real MicroPython VM.

Run: pytest tests/firmware/test_ccm.py
Time one seal:  PYTHONPATH=tools python tests/firmware/test_ccm.py

Each test writes its cases to a JSON file, runs one `micropython` process on a
small driver (below) with firmware/ on MICROPYPATH, and reads JSON results.

Where the expected values come from (never from ccm.py itself):
* RFC 3610 section 8, "Packet Vectors" #1-#4, #7, #10, #11, #13, #18, #22:
  hex copied from the RFC's text (key, nonce, input packet with its cleartext
  header length, M, output packet).
* NIST SP 800-38C Appendix C, Examples 1-3 (C.1 Tlen 32 / Nlen 56, C.2 Tlen 48
  / Nlen 64, C.3 Tlen 64 / Nlen 96). Example 4 has a 2**16-byte associated
  data string, which needs the 6-byte l(a) encoding ccm.py refuses: it is a
  bad-argument case here.
* BTHome v2 (bthome.io, encryption example): key, MAC, plaintext, counter,
  ciphertext and MIC as given in /work/shared/REFERENCE.md.
* The `cryptography` package's AESCCM (OpenSSL) on the host: every published
  vector is first checked against it (test_published_vectors_match_cryptography),
  and it is the reference for the random cross-check.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from drawsense import paths

AESCCM = pytest.importorskip("cryptography.hazmat.primitives.ciphers.aead").AESCCM

h = bytes.fromhex

# --------------------------------------------------------------------------- vectors

# RFC 3610 section 8: (name, key, nonce, cleartext header octets, M, input packet, output packet).
# The header is the associated data; the rest of the input packet is the plaintext;
# the output packet is header || ciphertext || tag.
_K1 = "C0 C1 C2 C3  C4 C5 C6 C7  C8 C9 CA CB  CC CD CE CF"
_K2 = "D7 82 8D 13  B2 B0 BD C3  25 A7 62 36  DF 93 CC 6B"
_IN31 = """00 01 02 03  04 05 06 07  08 09 0A 0B  0C 0D 0E 0F
           10 11 12 13  14 15 16 17  18 19 1A 1B  1C 1D 1E"""
_IN32 = _IN31 + " 1F"
_IN33 = _IN32 + " 20"
RFC3610 = [
    ("RFC 3610 #1", _K1, "00 00 00 03  02 01 00 A0  A1 A2 A3 A4  A5", 8, 8, _IN31,
     """00 01 02 03  04 05 06 07  58 8C 97 9A  61 C6 63 D2
        F0 66 D0 C2  C0 F9 89 80  6D 5F 6B 61  DA C3 84 17
        E8 D1 2C FD  F9 26 E0"""),
    ("RFC 3610 #2", _K1, "00 00 00 04  03 02 01 A0  A1 A2 A3 A4  A5", 8, 8, _IN32,
     """00 01 02 03  04 05 06 07  72 C9 1A 36  E1 35 F8 CF
        29 1C A8 94  08 5C 87 E3  CC 15 C4 39  C9 E4 3A 3B
        A0 91 D5 6E  10 40 09 16"""),
    ("RFC 3610 #3", _K1, "00 00 00 05  04 03 02 A0  A1 A2 A3 A4  A5", 8, 8, _IN33,
     """00 01 02 03  04 05 06 07  51 B1 E5 F4  4A 19 7D 1D
        A4 6B 0F 8E  2D 28 2A E8  71 E8 38 BB  64 DA 85 96
        57 4A DA A7  6F BD 9F B0  C5"""),
    ("RFC 3610 #4", _K1, "00 00 00 06  05 04 03 A0  A1 A2 A3 A4  A5", 12, 8, _IN31,
     """00 01 02 03  04 05 06 07  08 09 0A 0B  A2 8C 68 65
        93 9A 9A 79  FA AA 5C 4C  2A 9D 4A 91  CD AC 8C 96
        C8 61 B9 C9  E6 1E F1"""),
    ("RFC 3610 #7", _K1, "00 00 00 09  08 07 06 A0  A1 A2 A3 A4  A5", 8, 10, _IN31,
     """00 01 02 03  04 05 06 07  01 35 D1 B2  C9 5F 41 D5
        D1 D4 FE C1  85 D1 66 B8  09 4E 99 9D  FE D9 6C 04
        8C 56 60 2C  97 AC BB 74  90"""),
    ("RFC 3610 #10", _K1, "00 00 00 0C  0B 0A 09 A0  A1 A2 A3 A4  A5", 12, 10, _IN31,
     """00 01 02 03  04 05 06 07  08 09 0A 0B  07 34 25 94
        15 77 85 15  2B 07 40 98  33 0A BB 14  1B 94 7B 56
        6A A9 40 6B  4D 99 99 88  DD"""),
    ("RFC 3610 #11", _K1, "00 00 00 0D  0C 0B 0A A0  A1 A2 A3 A4  A5", 12, 10, _IN32,
     """00 01 02 03  04 05 06 07  08 09 0A 0B  67 6B B2 03
        80 B0 E3 01  E8 AB 79 59  0A 39 6D A7  8B 83 49 34
        F5 3A A2 E9  10 7A 8B 6C  02 2C"""),
    ("RFC 3610 #13", _K2, "00 41 2B 4E  A9 CD BE 3C  96 96 76 6C  FA", 8, 8,
     """0B E1 A8 8B  AC E0 18 B1  08 E8 CF 97  D8 20 EA 25
        84 60 E9 6A  D9 CF 52 89  05 4D 89 5C  EA C4 7C""",
     """0B E1 A8 8B  AC E0 18 B1  4C B9 7F 86  A2 A4 68 9A
        87 79 47 AB  80 91 EF 53  86 A6 FF BD  D0 80 F8 E7
        8C F7 CB 0C  DD D7 B3"""),
    ("RFC 3610 #18", _K2, "00 D5 60 91  2D 3F 70 3C  96 96 76 6C  FA", 12, 8,
     """CD 90 44 D2  B7 1F DB 81  20 EA 60 C0  64 35 AC BA
        FB 11 A8 2E  2F 07 1D 7C  A4 A5 EB D9  3A 80 3B A8
        7F""",
     """CD 90 44 D2  B7 1F DB 81  20 EA 60 C0  00 97 69 EC
        AB DF 48 62  55 94 C5 92  51 E6 03 57  22 67 5E 04
        C8 47 09 9E  5A E0 70 45  51"""),
    ("RFC 3610 #22", _K2, "00 5B 8C CB  CD 9A F8 3C  96 96 76 6C  FA", 12, 10,
     """EC 46 BB 63  B0 25 20 C3  3C 49 FD 70  B9 6B 49 E2
        1D 62 17 41  63 28 75 DB  7F 6C 92 43  D2 D7 C2""",
     """EC 46 BB 63  B0 25 20 C3  3C 49 FD 70  31 D7 50 A0
        9D A3 ED 7F  DD D4 9A 20  32 AA BF 17  EC 8E BF 7D
        22 C8 08 8C  66 6B E5 C1  97"""),
]

# (name, key, nonce, aad, plaintext, tag length, ciphertext || tag)
_KN = "40414243 44454647 48494a4b 4c4d4e4f"
OTHERS = [
    ("SP 800-38C C.1", _KN, "10111213 141516", "00010203 04050607", "20212223", 4,
     "7162015b 4dac255d"),
    ("SP 800-38C C.2", _KN, "10111213 14151617", "00010203 04050607 08090a0b 0c0d0e0f",
     "20212223 24252627 28292a2b 2c2d2e2f", 6,
     "d2a1f0e0 51ea5f62 081a7792 073d593d 1fc64fbf accd"),
    ("SP 800-38C C.3", _KN, "10111213 14151617 18191a1b",
     "00010203 04050607 08090a0b 0c0d0e0f 10111213",
     "20212223 24252627 28292a2b 2c2d2e2f 30313233 34353637", 8,
     "e3b201a9 f5b71a7a 9b1ceaec cd97e70b 6176aad9 a4428aa5 484392fb c1b09951"),
    # BTHome v2: nonce = MAC (as printed) || UUID 0xFCD2 little-endian || device
    # info 0x41 || counter bytes 00112233; no aad; 4-byte MIC.
    ("BTHome v2", "231d39c1d7cc1ab1aee224cd096db932", "5448E68F80A5 d2fc 41 00112233", "",
     "02CA0903BF13", 4, "a47266c95f73 78237214"),
]


def _published():
    """Every vector as (name, key, nonce, aad, plaintext, tag_len, sealed) bytes."""
    out = []
    for name, key, nonce, hdr, m, packet_in, packet_out in RFC3610:
        p_in, p_out = h(packet_in), h(packet_out)
        assert p_out[:hdr] == p_in[:hdr] and len(p_out) == len(p_in) + m, name
        out.append((name, h(key), h(nonce), p_in[:hdr], p_in[hdr:], m, p_out[hdr:]))
    for name, key, nonce, aad, pt, m, sealed in OTHERS:
        out.append((name, h(key), h(nonce), h(aad), h(pt), m, h(sealed)))
    return out


PUBLISHED = _published()

# --------------------------------------------------------------------------- driver

# Runs under MicroPython. A case is [op, key, tag_len, nonce, aad, data]; each
# buffer is hex, or an int n for n zero bytes. The result is hex, null (open
# refused the data), a list (op "flips"), or "ValueError". Any other exception
# ends the run: the test sees the traceback.
DRIVER = r"""
import sys, json
from binascii import hexlify, unhexlify
from ccm import CCM

def buf(v):
    return bytes(v) if isinstance(v, int) else unhexlify(v)

def hx(b):
    return None if b is None else hexlify(b).decode()

def flips(box, nonce, aad, data):
    # Every single-bit change of nonce, aad or data must make open() refuse;
    # returns the (field, bit) pairs it accepted.
    bad = []
    for field in range(3):
        parts = [bytearray(nonce), bytearray(aad), bytearray(data)]
        b = parts[field]
        for bit in range(8 * len(b)):
            b[bit >> 3] ^= 1 << (bit & 7)
            if box.open(parts[0], parts[1], parts[2]) is not None:
                bad.append([field, bit])
            b[bit >> 3] ^= 1 << (bit & 7)
    return bad

def run(case):
    op, key, tag, nonce, aad, data = case
    try:
        box = CCM(buf(key), tag)
        if op == "new":
            return "ok"
        if op == "block":
            return hx(box.block(buf(data)))
        if op == "seal":
            return hx(box.seal(buf(nonce), buf(aad), buf(data)))
        if op == "open":
            return hx(box.open(buf(nonce), buf(aad), buf(data)))
        if op == "flips":
            return flips(box, buf(nonce), buf(aad), buf(data))
    except ValueError:
        return "ValueError"
    raise RuntimeError("unknown op " + op)

# One JSON case per line in, one JSON result per line out: the unix port's
# default heap is too small to hold a big batch as one document.
with open(sys.argv[1]) as f:
    for line in f:
        print(json.dumps(run(json.loads(line))))
"""


def _hex(v):
    return v if isinstance(v, int) else bytes(v).hex()


def run_mp(tmp_path: Path, cases) -> list:
    """Run all cases in one micropython process; one result per case."""
    (tmp_path / "ccm_driver.py").write_text(DRIVER)
    (tmp_path / "cases.jsonl").write_text("".join(
        json.dumps([op, _hex(key), tag, _hex(nonce), _hex(aad), _hex(data)]) + "\n"
        for op, key, tag, nonce, aad, data in cases))
    env = dict(os.environ, MICROPYPATH=f"{paths.FIRMWARE}:.frozen")
    proc = subprocess.run([paths.micropython(), "ccm_driver.py", "cases.jsonl"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr  # the port prints tracebacks to stdout
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(results) == len(cases)
    return results


def ref_seal(key, nonce, aad, pt, tag_len) -> bytes:
    return AESCCM(bytes(key), tag_length=tag_len).encrypt(bytes(nonce), bytes(pt), bytes(aad) or None)


def _flip(b: bytes, bit: int) -> bytes:
    out = bytearray(b)
    out[bit >> 3] ^= 1 << (bit & 7)
    return bytes(out)


# --------------------------------------------------------------------------- published vectors


@pytest.mark.parametrize("vec", PUBLISHED, ids=[v[0] for v in PUBLISHED])
def test_published_vectors_match_cryptography(vec):
    # Guards the transcription above: a typo in the hex fails here, on the host.
    name, key, nonce, aad, pt, m, sealed = vec
    assert ref_seal(key, nonce, aad, pt, m) == sealed
    assert AESCCM(key, tag_length=m).decrypt(nonce, sealed, aad or None) == pt


def test_published_vectors_on_micropython(tmp_path):
    cases = []
    for name, key, nonce, aad, pt, m, sealed in PUBLISHED:
        cases += [("seal", key, m, nonce, aad, pt),
                  ("open", key, m, nonce, aad, sealed),
                  ("open", key, m, nonce, aad, _flip(sealed, 8 * len(sealed) - 1)),  # last tag bit
                  ("open", key, m, nonce, aad, _flip(sealed, 0))]  # first ciphertext bit
    got = iter(run_mp(tmp_path, cases))
    for name, key, nonce, aad, pt, m, sealed in PUBLISHED:
        assert next(got) == sealed.hex(), name
        assert next(got) == pt.hex(), name
        assert next(got) is None, name
        assert next(got) is None, name


# --------------------------------------------------------------------------- cross-check


def _random_cases(n: int, seed: int):
    """(key, nonce, aad, pt, tag_len) spread over every nonce and tag length and
    over the 16-byte block edges; keys are AES-128 and some AES-256."""
    rnd = random.Random(seed)
    edges = [0, 1, 2, 13, 14, 15, 16, 17, 18, 30, 31, 32, 33, 40]
    out = []
    for i in range(n):
        key = rnd.randbytes(32 if i % 5 == 4 else 16)
        nonce = rnd.randbytes(7 + i % 7)
        tag_len = 4 + 2 * (i // 7 % 7)
        la = rnd.choice(edges) if rnd.random() < 0.4 else rnd.randrange(41)
        lp = rnd.choice(edges) if rnd.random() < 0.4 else rnd.randrange(41)
        out.append((key, nonce, rnd.randbytes(la), rnd.randbytes(lp), tag_len))
    return out


CROSS = _random_cases(300, seed=3610)


def test_random_cases_cover_the_parameter_space():
    assert {len(c[1]) for c in CROSS} == set(range(7, 14))
    assert {c[4] for c in CROSS} == set(range(4, 17, 2))
    assert {len(c[0]) for c in CROSS} == {16, 32}
    for i in (2, 3):
        assert {0, 14, 16, 40} <= {len(c[i]) for c in CROSS}


def test_seal_and_open_match_cryptography(tmp_path):
    cases = []
    expected = []
    for key, nonce, aad, pt, m in CROSS:
        sealed = ref_seal(key, nonce, aad, pt, m)
        cases += [("seal", key, m, nonce, aad, pt),
                  ("open", key, m, nonce, aad, sealed),  # opens the reference's output, not its own
                  ("flips", key, m, nonce, aad, sealed)]
        expected += [sealed.hex(), pt.hex(), []]
    got = run_mp(tmp_path, cases)
    for i, (want, have) in enumerate(zip(expected, got)):
        assert have == want, (cases[i], have)


def test_flip_driver_can_fail(tmp_path):
    # The "flips" op must be able to report an accepted change, or its [] above
    # proves nothing. Hand it a valid seal with its last tag bit flipped: exactly
    # one single-bit change (flipping that bit back) gives authentic data.
    key, nonce, aad, pt, m = CROSS[0]
    sealed = ref_seal(key, nonce, aad, pt, m)
    broken = _flip(sealed, 8 * len(sealed) - 1)
    got = run_mp(tmp_path, [("flips", key, m, nonce, aad, broken)])
    assert got == [[[2, 8 * len(sealed) - 1]]]


# --------------------------------------------------------------------------- arguments


K16 = bytes(range(16))
N13 = bytes(13)


def test_bad_arguments_raise_value_error(tmp_path):
    bad = []
    for n in (0, 15, 17, 31, 33):
        bad.append(("new", bytes(n), 8, N13, b"", b""))
    for m in (0, 2, 3, 5, 15, 17, 18, -4):
        bad.append(("new", K16, m, N13, b"", b""))
    for n in (0, 6, 14, 16):
        bad.append(("seal", K16, 8, bytes(n), b"", b"x"))
        bad.append(("open", K16, 8, bytes(n), b"", bytes(9)))
    for op in ("seal", "open"):
        bad.append((op, K16, 8, N13, 0xFF00, 16))  # l(a) >= 0xFF00: 6/10-byte encodings unsupported
    # NIST SP 800-38C C.4: 2**16 bytes of associated data (Tlen 112, Nlen 104).
    bad.append(("seal", bytes.fromhex(_KN), 14, bytes.fromhex("101112131415161718191a1b1c"), 65536, 32))
    bad.append(("seal", K16, 8, N13, b"", 65536))  # L = 2: l(m) < 2**16
    for n in (0, 15, 17, 32):
        bad.append(("block", K16, 8, N13, b"", bytes(n)))
    got = run_mp(tmp_path, bad)
    assert [(c[0], i) for i, c in enumerate(bad) if got[i] != "ValueError"] == []


def test_limits_and_edges(tmp_path):
    aad_max = bytes(0xFEFF)
    big = bytes(65535)
    block_in = bytes(range(16, 32))
    cases = [
        ("seal", K16, 8, N13, 0xFEFF, b"ab"),  # largest aad the 2-byte encoding holds
        ("seal", K16, 16, N13, b"", 65535),  # largest message with L = 2
        ("open", K16, 8, N13, b"", bytes(7)),  # shorter than the tag: not authentic
        ("open", K16, 8, N13, b"", b""),
        ("block", K16, 8, N13, b"", block_in),
        ("seal", bytes(24), 8, N13, b"a", b"b"),  # AES-192: the pinned runtime's cryptolib refuses it
    ]
    got = run_mp(tmp_path, cases)
    assert got[0] == ref_seal(K16, N13, aad_max, b"ab", 8).hex()
    assert got[1] == ref_seal(K16, N13, b"", big, 16).hex()
    assert got[2] is None and got[3] is None
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    enc = Cipher(algorithms.AES(K16), modes.ECB()).encryptor()
    assert got[4] == (enc.update(block_in) + enc.finalize()).hex()
    assert got[5] == "ValueError"  # a 24-byte key is refused, never used as something else


# --------------------------------------------------------------------------- timing (not a test)

BENCH = r"""
import gc, time
from ccm import CCM
box = CCM(bytes(range(16)), 8)
nonce, aad, pt = bytes(13), bytes(5), bytes(8)
box.seal(nonce, aad, pt)
gc.collect()
gc.disable()
used = gc.mem_alloc()
t0 = time.ticks_us()
for _ in range(N):
    box.seal(nonce, aad, pt)
t1 = time.ticks_us()
print(time.ticks_diff(t1, t0) / N, (gc.mem_alloc() - used) / N)
"""


def bench(n: int = 1000) -> str:
    """Microseconds and heap bytes per seal (8-byte plaintext, 5-byte aad,
    13-byte nonce, 8-byte tag) on the unix port."""
    env = dict(os.environ, MICROPYPATH=f"{paths.FIRMWARE}:.frozen")
    proc = subprocess.run([paths.micropython(), "-c", "N = %d\n" % n + BENCH], env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    us, alloc = proc.stdout.split()
    return f"seal: {float(us):.1f} us, {float(alloc):.0f} heap bytes per call (mean of {n})"


if __name__ == "__main__":
    print(bench(int(sys.argv[1]) if len(sys.argv) > 1 else 1000))
