"""firmware/aes.py, the AES-128 that ccm.py falls back to on a port without
cryptolib (zephyr, issue 11), on the real MicroPython VM.

Run: pytest tests/firmware/test_aes.py
Cost per block against cryptolib: python benchmarks/run.py (aes_py_block_us).

The block tests run aes.py as a program on the virtual board (tests/vbhelp.py);
the CCM tests run test_ccm.py's driver on the unix port. "Fallback forced"
means a cryptolib.py that raises ImportError sits ahead of the built-in on the
path (the unix port lets a file shadow cryptolib), which is what a zephyr
build looks like to ccm.py; every such run also checks that ccm.py did take
aes.AES.

Where the expected values come from (never from aes.py itself):
* FIPS-197 Appendix C.1 (AES-128 example vector) and Appendix B (cipher
  example), and Appendix A.1's last round key w[40..43]: hex copied from the
  standard, and checked against the `cryptography` package on the host.
* The S-box and xtime tables: recomputed on the host from their definitions
  (FIPS-197 4.2, 5.1.1), not copied from anywhere.
* RFC 3610 / SP 800-38C / BTHome CCM vectors: tests/firmware/test_ccm.py's
  PUBLISHED, the same list the cryptolib build is held to.
* Random keys and blocks: the `cryptography` package's AES-ECB (OpenSSL).
* Adverts: docs/protocol.md's test vectors and the host's protocol.seal.
"""

from __future__ import annotations

import ast
import json
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from drawsense import paths, protocol
from conftest import FIRMWARE
from vbhelp import quiet, run_main, said

import test_ccm  # the CCM vectors and driver; only its data is imported below
from test_ccm import CROSS, PUBLISHED, ref_seal

algorithms = pytest.importorskip("cryptography.hazmat.primitives.ciphers").algorithms
from cryptography.hazmat.primitives.ciphers import Cipher, modes  # noqa: E402

h = bytes.fromhex

# FIPS-197 (key, plaintext, ciphertext)
FIPS_C1 = ("000102030405060708090a0b0c0d0e0f", "00112233445566778899aabbccddeeff",
           "69c4e0d86a7b0430d8cdb78070b4c55a")
FIPS_B = ("2b7e151628aed2a6abf7158809cf4f3c", "3243f6a8885a308d313198a2e0370734",
          "3925841d02dc09fbdc118597196a0b32")
# FIPS-197 A.1: w[40..43], the round-10 key of FIPS_B's key
FIPS_A1_LAST = "d014f9a8c9ee2589e13f0cc8b6630ca6"

SHADOW = 'raise ImportError("no module named \'cryptolib\'")  # as on the zephyr port\n'


def ecb(key: bytes, block: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()


def _fw(tmp_path: Path, *, forced: bool) -> Path:
    """The virtual board's firmware folder, optionally with cryptolib shadowed;
    run_main copies the firmware into it (it keeps what is already there)."""
    d = tmp_path / "fw"
    d.mkdir(parents=True, exist_ok=True)
    if forced:
        (d / "cryptolib.py").write_text(SHADOW)
    return d


# --------------------------------------------------------------------------- tables (host)


def _gf_mul(a: int, b: int) -> int:
    p = 0
    while b:
        if b & 1:
            p ^= a
        a = (a << 1) ^ (0x11B if a & 0x80 else 0)
        b >>= 1
    return p


def _tables() -> dict[str, bytes]:
    tree = ast.parse((FIRMWARE / "aes.py").read_text())
    return {t.id: ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
            for t in n.targets if isinstance(t, ast.Name) and t.id in ("_SBOX", "_X2")}


def test_tables_follow_their_definitions():
    inv = [0] + [next(y for y in range(1, 256) if _gf_mul(x, y) == 1) for x in range(1, 256)]

    def rotl(b, n):
        return ((b << n) | (b >> (8 - n))) & 0xFF

    sbox = bytes(b ^ rotl(b, 1) ^ rotl(b, 2) ^ rotl(b, 3) ^ rotl(b, 4) ^ 0x63 for b in inv)  # FIPS-197 5.1.1
    t = _tables()
    assert t["_SBOX"] == sbox
    assert t["_X2"] == bytes(_gf_mul(x, 2) for x in range(256))


def test_fips_vectors_match_cryptography():
    # Guards the transcription: a typo in the hex fails here, on the host.
    for key, pt, ct in (FIPS_C1, FIPS_B):
        assert ecb(h(key), h(pt)).hex() == ct


# --------------------------------------------------------------------------- blocks (virtual board)

FIPS_PROGRAM = """
from binascii import hexlify, unhexlify
from dstest import say
from aes import AES

for key, pt in VECTORS:
    c = AES(unhexlify(key), 1)
    src = bytearray(unhexlify(pt))
    new = c.encrypt(src)
    other = bytearray(16)
    back = c.encrypt(src, other)
    same = c.encrypt(src, src)  # in place, as ccm.py calls it
    say("fips", hexlify(new).decode(), type(new) is bytes, hexlify(other).decode(), back is other,
        hexlify(src).decode(), same is src)
say("a1", hexlify(AES(unhexlify(VECTORS[1][0]))._rk[160:]).decode())
"""


def _fips_run(tmp_path: Path, firmware: Path = FIRMWARE):
    vectors = [FIPS_C1[:2], FIPS_B[:2]]
    return run_main(tmp_path, f"VECTORS = {vectors!r}\n" + FIPS_PROGRAM, quiet(0.1), with_firmware=firmware)


def test_fips197_vectors(tmp_path):
    run = _fips_run(tmp_path)
    got = said(run, "fips")
    assert got == [[ct, True, ct, True, ct, True] for _, _, ct in (FIPS_C1, FIPS_B)]
    assert said(run, "a1") == [[FIPS_A1_LAST]]


def test_a_broken_sbox_fails_the_vectors(tmp_path):
    # The vector test must be able to fail, so it runs firmware/aes.py and not
    # some other AES: one S-box entry changed must change an output. (Only
    # Appendix B's: C.1 never looks up S[1].)
    fw = tmp_path / "broken"
    shutil.copytree(FIRMWARE, fw, ignore=shutil.ignore_patterns("__pycache__", "*.mpy"))
    src = (fw / "aes.py").read_text()
    good = '    b"\\x63\\x7c\\x77\\x7b'
    assert src.count(good) == 1
    (fw / "aes.py").write_text(src.replace(good, '    b"\\x63\\x7d\\x77\\x7b'))  # S[1] = 0x7d, not 0x7c
    (tmp_path / "run").mkdir()
    got = said(_fips_run(tmp_path / "run", fw), "fips")
    assert [g[0] == ct for g, (_, _, ct) in zip(got, (FIPS_C1, FIPS_B))] == [True, False], got


RANDOM_PROGRAM = """
from binascii import hexlify, unhexlify
from cryptolib import aes
from dstest import say
from aes import AES
import aescases

cases = unhexlify(aescases.CASES)
del aescases.CASES
out = bytearray(16)
for i in range(0, len(cases), 32):
    key = cases[i:i + 16]
    block = cases[i + 16:i + 32]
    AES(key).encrypt(block, out)
    say("block", hexlify(out).decode(), hexlify(aes(key, 1).encrypt(block)).decode())
"""


def test_random_blocks_match_cryptography_and_cryptolib(tmp_path):
    rnd = random.Random(197)
    cases = [(rnd.randbytes(16), rnd.randbytes(16)) for _ in range(300)]
    cases[:4] = [(bytes(16), bytes(16)), (b"\xff" * 16, b"\xff" * 16), (bytes(16), b"\xff" * 16),
                 (b"\xff" * 16, bytes(16))]
    fw = _fw(tmp_path, forced=False)
    (fw / "aescases.py").write_text(f"CASES = {b''.join(k + b for k, b in cases).hex()!r}\n")
    run = run_main(tmp_path, RANDOM_PROGRAM, quiet(0.1), with_firmware=FIRMWARE)
    got = said(run, "block")
    assert len(got) == len(cases)
    want = [ecb(k, b).hex() for k, b in cases]
    assert [g[1] for g in got] == want  # the VM's cryptolib and the host agree on what AES is
    assert [i for i, (g, w) in enumerate(zip(got, want)) if g[0] != w] == []


def test_bad_arguments_raise_value_error(tmp_path):
    run = run_main(tmp_path, """
from dstest import say
from aes import AES

def outcome(f):
    try:
        f()
        return "ok"
    except ValueError as e:
        return str(e)

k = bytes(16)
for n in (0, 15, 17, 24, 32):
    say("key", n, outcome(lambda: AES(bytes(n))))
say("mode", outcome(lambda: AES(k, 2)))
for n in (0, 15, 17, 32):
    say("in", n, outcome(lambda: AES(k).encrypt(bytes(n))))
    say("out", n, outcome(lambda: AES(k).encrypt(bytes(16), bytearray(n))))
say("ok", outcome(lambda: AES(k).encrypt(bytes(16), bytearray(16))), outcome(lambda: AES(k, 1)))
""", quiet(0.1), with_firmware=FIRMWARE)
    assert said(run, "key") == [[n, "key"] for n in (0, 15, 17, 24, 32)]  # AES-128 only
    assert said(run, "mode") == [["mode"]]
    assert said(run, "in") == [[n, "block length"] for n in (0, 15, 17, 32)]
    assert said(run, "out") == [[n, "block length"] for n in (0, 15, 17, 32)]
    assert said(run, "ok") == [["ok", "ok"]]


def test_a_block_in_place_leaves_nothing_on_the_heap(tmp_path):
    # STYLE.md: heap_lock() proves a call allocates nothing it keeps. (A
    # bytecode call's frame may still be taken from the heap and given back
    # when the heap is open; under heap_lock it goes on the C stack.)
    run = run_main(tmp_path, """
import gc, micropython
from dstest import say
from aes import AES

def blocks(c, b, n):
    for _ in range(n):
        c.encrypt(b, b)

c = AES(bytes(range(16)))
b = bytearray(16)
blocks(c, b, 1)
gc.collect()
gc.disable()
used = gc.mem_alloc()
blocks(c, b, 100)
delta = gc.mem_alloc() - used
gc.enable()
micropython.heap_lock()
try:
    blocks(c, b, 10)
    locked = "ok"
except MemoryError:
    locked = "MemoryError"
micropython.heap_unlock()
say("heap", delta, locked)
""", quiet(0.1), with_firmware=FIRMWARE)
    assert said(run, "heap") == [[0, "ok"]]


# --------------------------------------------------------------------------- CCM through the fallback (unix port)

# Runs test_ccm.DRIVER after checking that ccm.py took aes.AES.
FALLBACK_DRIVER = """
import ccm, aes
if ccm.aes is not aes.AES:
    raise SystemExit("ccm.py did not fall back to aes.AES")
import ccm_driver
"""


def run_ccm_fallback(tmp_path: Path, cases) -> list:
    """test_ccm.run_mp with cryptolib shadowed (the script's folder is first
    on the unix port's path, ahead of the built-in)."""
    (tmp_path / "cryptolib.py").write_text(SHADOW)
    (tmp_path / "ccm_driver.py").write_text(test_ccm.DRIVER)
    (tmp_path / "fallback.py").write_text(FALLBACK_DRIVER)
    (tmp_path / "cases.jsonl").write_text("".join(
        json.dumps([op, test_ccm._hex(key), tag, test_ccm._hex(nonce), test_ccm._hex(aad), test_ccm._hex(data)])
        + "\n" for op, key, tag, nonce, aad, data in cases))
    env = dict(os.environ, MICROPYPATH=f"{paths.FIRMWARE}:.frozen")
    proc = subprocess.run([paths.micropython(), "fallback.py", "cases.jsonl"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(results) == len(cases)
    return results


def test_ccm_published_vectors_with_the_fallback(tmp_path):
    assert all(len(v[1]) == 16 for v in PUBLISHED)  # all AES-128: the fallback's one key size
    cases = []
    for name, key, nonce, aad, pt, m, sealed in PUBLISHED:
        bad = bytearray(sealed)
        bad[-1] ^= 1
        cases += [("seal", key, m, nonce, aad, pt), ("open", key, m, nonce, aad, sealed),
                  ("open", key, m, nonce, aad, bytes(bad))]
    got = iter(run_ccm_fallback(tmp_path, cases))
    for name, key, nonce, aad, pt, m, sealed in PUBLISHED:
        assert next(got) == sealed.hex(), name
        assert next(got) == pt.hex(), name
        assert next(got) is None, name


def test_ccm_random_cases_with_the_fallback(tmp_path):
    cross = [c for c in CROSS if len(c[0]) == 16]
    cases, expected = [], []
    for i, (key, nonce, aad, pt, m) in enumerate(cross):
        sealed = ref_seal(key, nonce, aad, pt, m)
        cases += [("seal", key, m, nonce, aad, pt), ("open", key, m, nonce, aad, sealed)]
        expected += [sealed.hex(), pt.hex()]
        if i < 5:  # every single-bit change refused (slow in Python AES: a few cases)
            cases.append(("flips", key, m, nonce, aad, sealed))
            expected.append([])
    cases.append(("new", os.urandom(32), 8, b"", b"", b""))  # AES-256: refused, never truncated
    expected.append("ValueError")
    got = run_ccm_fallback(tmp_path, cases)
    assert [(cases[i][0], i) for i in range(len(cases)) if got[i] != expected[i]] == []


# --------------------------------------------------------------------------- adverts (virtual board)

ADVERT_PROGRAM = """
import advert, aes, ccm
from dstest import say
say("cipher", "aes.py" if ccm.aes is aes.AES else "cryptolib")
for secret, counter, event, since, mv, flags in ADVERTS:
    s = advert.Signer(bytes.fromhex(secret))
    say("adv", s.build(counter, event, since, mv, flags).hex())
"""


def test_the_fallback_signs_the_same_adverts_as_cryptolib(tmp_path):
    rnd = random.Random(11)
    adverts = [(bytes(range(32)).hex(), 16, 1, 30, 0, 0), (bytes(range(32)).hex(), 74565, 2, 6004, 2400, 1)]
    adverts += [(rnd.randbytes(32).hex(), rnd.randrange(0xFFFFFFFF), rnd.choice((1, 2, 3, 4, 5, 6, 7)),
                 rnd.randrange(0xFFFFFFFF), rnd.randrange(3600), rnd.randrange(4)) for _ in range(40)]
    code = f"ADVERTS = {adverts!r}\n" + ADVERT_PROGRAM
    runs = {}
    for forced in (False, True):
        d = tmp_path / ("forced" if forced else "cryptolib")
        _fw(d, forced=forced)
        runs[forced] = run_main(d, code, quiet(0.1), with_firmware=FIRMWARE)
    assert said(runs[False], "cipher") == [["cryptolib"]]
    assert said(runs[True], "cipher") == [["aes.py"]]
    want = [[protocol.seal(h(s), c, protocol.EVENTS[e], sd, mv, fl).hex()] for s, c, e, sd, mv, fl in adverts]
    assert said(runs[False], "adv") == want
    assert said(runs[True], "adv") == want


@pytest.mark.parametrize("board", ["esp32c3", "picow", "virtual"])
def test_boards_with_cryptolib_keep_it(tmp_path, board):
    run = run_main(tmp_path, "import aes, ccm\nfrom dstest import say\n"
                   "say('cipher', 'aes.py' if ccm.aes is aes.AES else 'cryptolib')\n",
                   quiet(0.5), board=board, with_firmware=FIRMWARE)  # picow boots in 200 ms
    assert said(run, "cipher") == [["cryptolib"]]
