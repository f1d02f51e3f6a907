"""The files provisioning writes and the code the host runs on a board.

* drawsense.firmware.key_file / counter_file make the key and counter files
  with the firmware's own code (keyfile.pack, counter.FileStore), and the
  firmware's readers take them back; the bytes are pinned, so provisioning
  writes what it always wrote.
* The code deploy, provision and bench run on a board (device/mp/*.py, sent
  by drawsense.device.mpcode) does what the host expects, run on the
  MicroPython unix port in a folder that stands for the board; and it all
  compiles with mpy-cross. (The same code against a served board, through
  the real mpremote: test_deploy.py, test_bench.py.) The virtual board's
  own MicroPython code (sim/mp/) compiles with mpy-cross too.

Run: pytest -q tests/device/test_device_code.py
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from drawsense import firmware, paths
from drawsense.device import bench, checks, deploy, mpcode, provision, remote
from drawsense.device.remote import RemoteError
from drawsense.keystore import KeyStore

SECRET = bytes(range(32))  # a test identity (not a secret of any device)
DEVICE_ID = b"testdev1"


# --------------------------------------------------------------------------- the files


def test_key_file_is_the_firmwares_pack_and_its_load_reads_it(tmp_path):
    data = firmware.key_file(SECRET, DEVICE_ID)
    assert data == firmware.module("keyfile").pack(SECRET, DEVICE_ID)
    assert data == b"DSK1" + SECRET + DEVICE_ID  # what provisioning wrote before the event log
    path = tmp_path / firmware.KEY_FILE
    path.write_bytes(data)
    assert firmware.module("keyfile").load(str(path)) == (SECRET, DEVICE_ID, None)  # still read: no log key
    log_key = bytes(range(16))
    data = firmware.key_file(SECRET, DEVICE_ID, log_key)
    assert data == b"DSK2" + SECRET + DEVICE_ID + log_key  # what provisioning writes now
    path.write_bytes(data)
    assert firmware.module("keyfile").load(str(path)) == (SECRET, DEVICE_ID, log_key)
    path.write_bytes(data[:-1])
    with pytest.raises(ValueError, match="damaged"):
        firmware.module("keyfile").load(str(path))


@pytest.mark.parametrize("secret, device_id", [(SECRET[:31], DEVICE_ID), (SECRET, DEVICE_ID + b"x"),
                                                (SECRET[:31] + b"\0" * 2, DEVICE_ID[:7])])
def test_key_file_refuses_other_lengths(secret, device_id):
    with pytest.raises(ValueError, match="32-byte secret, an 8-byte device id and a 16-byte log key"):
        firmware.key_file(secret, device_id)


@pytest.mark.parametrize("mark", [0, 1, 4096, 0xFFFFFFFF])
def test_counter_file_is_what_filestore_writes_and_reads(tmp_path, mark):
    data = firmware.counter_file(mark)
    assert data == struct.pack("<II", mark, mark ^ 0xFFFFFFFF)  # what provisioning has always written
    path = tmp_path / firmware.CTR_FILE
    path.write_bytes(data)
    assert firmware.module("counter").FileStore(str(path)).read() == mark


@pytest.mark.parametrize("mark", [-1, 1 << 32])
def test_counter_file_refuses_a_mark_out_of_range(mark):
    with pytest.raises(ValueError, match="not a 32-bit value"):
        firmware.counter_file(mark)


def test_file_names_are_the_ones_boards_in_the_field_have():
    # renaming them in the firmware would orphan every provisioned device's key
    assert (firmware.KEY_FILE, firmware.CTR_FILE) == ("ds_key.bin", "ds_ctr.bin")


# --------------------------------------------------------------------------- the code run on a board
#
# The host's own calls (deploy.probe, deploy.device_hashes, provision's
# steps, bench.read_report), with `mpremote exec` replaced by the MicroPython
# unix port run in a folder that stands for the board's filesystem: the code
# that runs is exactly what the host would send.


def _unix_port(root: Path):
    """An `exec` that runs code on the unix port with `root` mounted as "/"
    (and as the current folder), nothing else importable; RemoteError as
    mpremote's would be on a traceback."""
    empty = root.parent / "empty"
    empty.mkdir(exist_ok=True)

    def exec_(code: str) -> str:
        prelude = f"import os\nos.umount('/')\nos.mount(os.VfsPosix({str(root)!r}), '/')\nos.chdir('/')\n"
        r = subprocess.run([paths.micropython(), "-c", prelude + code], capture_output=True, text=True,
                           cwd=root, env=dict(os.environ, MICROPYPATH=str(empty)), timeout=60)
        if r.returncode != 0:
            raise RemoteError(f"/dev/fake: {(r.stdout + r.stderr).strip().splitlines()[-1]}")
        return r.stdout

    return exec_


class _Board:
    """The board's folder, and the code the host sent to it."""

    def __init__(self, root: Path, sent: list[str]):
        self.root = root
        self.sent = sent


@pytest.fixture
def board(tmp_path, monkeypatch):
    """A folder for the board's files; the host's device code runs on it."""
    root = tmp_path / "root"
    root.mkdir()
    run = _unix_port(root)
    sent: list[str] = []

    def exec_(port, code, timeout=60.0):
        sent.append(code)
        return run(code)

    def mpremote(port, *args, timeout=60.0, check=True):
        assert args[0] == "exec", args
        sent.append(args[1])
        return subprocess.CompletedProcess(args, 0, run(args[1]), "")

    monkeypatch.setattr(remote, "exec_", exec_)
    monkeypatch.setattr(deploy, "mpremote", mpremote)
    return _Board(root, sent)


def test_probe_answers_what_the_device_is(board):
    info = deploy.probe("/dev/fake")
    assert info["name"] == "micropython" and info["board"] is None and info["board_error"] is None
    assert isinstance(info["mpy"], int) and len(info["version"]) == 3
    (board.root / "board.py").write_text("NAME = 'picow'\n")
    assert deploy.probe("/dev/fake")["board"] == "picow"
    (board.root / "board.py").write_text("NAME = 1 / 0\n")
    assert deploy.probe("/dev/fake")["board_error"] == "ZeroDivisionError: divide by zero"


def test_deploy_hashes_files_at_the_root_and_names_the_missing(board):
    big = bytes(range(256)) * 9  # several 512-byte reads
    (board.root / "app.mpy").write_bytes(big)
    (board.root / "main.py").write_bytes(b"")
    got = deploy.device_hashes("/dev/fake", ["main.py", "app.mpy", "app.py"])
    assert got == {"app.mpy": hashlib.sha256(big).hexdigest(), "main.py": hashlib.sha256(b"").hexdigest(),
                   "app.py": None}


def test_key_state_uses_the_firmwares_reader(board):
    assert provision.device_state("/dev/fake") == ("none", None)
    code = board.sent[-1]
    assert code.startswith(firmware.source("keyfile")), "the firmware's keyfile.py goes first"
    assert "DSK1" not in code[len(firmware.source("keyfile")):], "the format is not restated after it"
    (board.root / firmware.KEY_FILE).write_bytes(firmware.key_file(SECRET, DEVICE_ID))
    assert provision.device_state("/dev/fake") == ("ok", DEVICE_ID.hex())
    assert SECRET.hex() not in remote.exec_("/dev/fake", code)  # the answer never holds the secret


@pytest.mark.parametrize("damage", ["short", "long", "magic", "empty"])
def test_a_damaged_key_file_is_reported(board, damage):
    good = firmware.key_file(SECRET, DEVICE_ID)
    data = {"short": good[:-1], "long": good + b"\0", "magic": b"DSK2" + good[4:], "empty": b""}[damage]
    (board.root / firmware.KEY_FILE).write_bytes(data)
    assert provision.device_state("/dev/fake") == ("damaged", None)
    assert remote.exec_("/dev/fake", board.sent[-1]).strip() == "DSSTATE damaged -"  # the line it always printed


def _provision_files(board, *, old: bool) -> None:
    if old:
        (board.root / firmware.KEY_FILE).write_bytes(b"old key")
        (board.root / firmware.CTR_FILE).write_bytes(b"old ctr")
    (board.root / provision.KEY_NEW).write_bytes(b"new key")
    (board.root / provision.CTR_NEW).write_bytes(b"new ctr")


def _files(board) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(board.root.iterdir())}


@pytest.mark.parametrize("old", [False, True])
def test_swap_then_rollback_then_tidy(board, old):
    _provision_files(board, old=old)
    before = {n: d for n, d in _files(board).items() if not n.endswith(".new")}
    remote.exec_("/dev/fake", provision._swap_step("swap", provision.KEY_FILE, provision.CTR_FILE,
                                                    provision.KEY_NEW, provision.CTR_NEW))
    after = {"ds_key.bin": b"new key", "ds_ctr.bin": b"new ctr"}
    if old:
        after.update({"ds_key.bin.old": b"old key", "ds_ctr.bin.old": b"old ctr"})
    assert _files(board) == after
    out = remote.exec_("/dev/fake", provision._swap_step("rollback", provision.KEY_FILE, provision.CTR_FILE))
    assert out.strip() == "DSROLLBACK ok" and _files(board) == before
    _provision_files(board, old=False)
    remote.exec_("/dev/fake", provision._swap_step("swap", provision.KEY_FILE, provision.CTR_FILE,
                                                    provision.KEY_NEW, provision.CTR_NEW))
    remote.exec_("/dev/fake", provision._swap_step("drop_old", provision.KEY_FILE, provision.CTR_FILE))
    assert _files(board) == {"ds_key.bin": b"new key", "ds_ctr.bin": b"new ctr"}


def test_a_swap_that_fails_part_way_is_undone(board):
    _provision_files(board, old=True)
    (board.root / provision.KEY_NEW).unlink()  # the last rename fails
    with pytest.raises(RemoteError, match="OSError"):
        remote.exec_("/dev/fake", provision._swap_step("swap", provision.KEY_FILE, provision.CTR_FILE,
                                                        provision.KEY_NEW, provision.CTR_NEW))
    assert _files(board) == {"ds_key.bin": b"old key", "ds_ctr.bin": b"old ctr", "ds_ctr.new": b"new ctr"}
    remote.exec_("/dev/fake", provision._swap_step("drop", provision.KEY_NEW, provision.CTR_NEW))
    assert _files(board) == {"ds_key.bin": b"old key", "ds_ctr.bin": b"old ctr"}


def test_provisioning_writes_the_firmwares_files(board, tmp_path, monkeypatch):
    """A whole provision against the unix-port board, `mpremote cp` done by
    copying: the live files are keyfile.pack's and FileStore's bytes, and the
    firmware's readers (under MicroPython) take them back."""
    run = _unix_port(board.root)

    def mpremote(port, *args, timeout=60.0, check=True):
        words = list(args)
        while words[:1] == ["cp"]:
            shutil.copyfile(words[1], board.root / words[2].lstrip(":"))
            words = words[4:]  # cp SRC :DST +
        assert words[0] == "exec", args
        return subprocess.CompletedProcess(args, 0, run(words[1]), "")

    monkeypatch.setattr(remote, "mpremote", mpremote)
    r = provision.provision("/dev/fake", "unix-port", tmp_path / "keys.db")
    store = KeyStore(tmp_path / "keys.db", create=False)
    try:
        secret = store.get("unix-port").secret
        log_key = store.get("unix-port").log_key
    finally:
        store.close()
    device_id = bytes.fromhex(r["device_id"])
    assert _files(board) == {"ds_key.bin": firmware.key_file(secret, device_id, log_key),
                             "ds_ctr.bin": firmware.counter_file(0)}
    for name in ("counter.py", "keyfile.py"):  # the firmware deployed after provisioning
        shutil.copyfile(paths.FIRMWARE / name, board.root / name)
    out = run("import counter, keyfile\nprint(keyfile.load() == (%r, %r, %r), counter.FileStore(counter.PATH).read())"
              % (secret, device_id, log_key))
    assert out.split() == ["True", "0"]


def test_bench_report_says_when_there_is_no_firmware(board):
    with pytest.raises(bench.BenchError, match="no drawsense firmware on the device"):
        bench.read_report("/dev/fake")
    (board.root / "selftest.py").write_text("def report():\n    print('{\"firmware\": \"x\"}')\n")
    assert bench.read_report("/dev/fake") == {"firmware": "x"}


def test_log_dump_reads_the_segments_as_they_are_and_the_clock(board):
    """device/mp/logdump.py after firmware/evlog.py, on a served board: every
    segment file byte for byte, oldest first, and nothing else."""
    from drawsense.device import logread

    segs = {3: b"DSL1" + bytes(range(28)) + b"\x01" * 32, 10: b"DSL1" + bytes(300)}
    for n, data in segs.items():
        (board.root / f"ds_log_{n}.bin").write_bytes(data)
    (board.root / "ds_log.tmp").write_bytes(b"not live")
    assert logread.read_log("/dev/fake") == segs[3] + segs[10]
    rtc, unix, err, name = logread.read_clock("/dev/fake")
    assert rtc > 0 and err < 30 and name == "-"


def test_call_lines_are_literals():
    assert mpcode.program("probe", "probe").endswith("\nprobe()\n")
    assert mpcode.program("filehash", "table", ["a.py", "b'c"]).endswith("\ntable(['a.py', \"b'c\"])\n")
    with pytest.raises(TypeError):
        mpcode.literal(b"bytes")  # a secret must never go inline
    with pytest.raises(TypeError):
        mpcode.literal("é")


# --------------------------------------------------------------------------- mpy-cross


def _device_modules() -> list[Path]:
    return sorted(mpcode.MP.glob("*.py"))


def test_every_device_module_is_exercised_here():
    assert {p.stem for p in _device_modules()} == {"probe", "filehash", "keystate", "keyswap", "report", "logdump"}


@pytest.mark.parametrize("name", [p.stem for p in _device_modules()])
def test_device_code_compiles_with_mpy_cross(name, tmp_path):
    """What the host sends, as mpy-cross (MicroPython's own compiler) takes it:
    each module with a call line, keystate after firmware/keyfile.py."""
    before = {"keystate": ("keyfile",), "logdump": ("evlog",)}.get(name, ())
    src = tmp_path / f"{name}.py"
    src.write_text(mpcode.program(name, "f", before=before))
    r = subprocess.run([paths.mpy_cross(), "-o", str(tmp_path / f"{name}.mpy"), src.name],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert checks.mpy_header(tmp_path / f"{name}.mpy")[0] == 6


@pytest.mark.parametrize("name", sorted(p.name for p in paths.VBOARD_MP.glob("*.py")))
def test_virtual_board_code_compiles_with_mpy_cross(name, tmp_path):
    """The boots (vboot.py, serveboot.py, their shared _bootloop.py) and the
    fakes run on the unix port only, but are MicroPython all the same."""
    r = subprocess.run([paths.mpy_cross(), "-o", str(tmp_path / "out.mpy"), name], capture_output=True, text=True,
                       cwd=paths.VBOARD_MP)
    assert r.returncode == 0, r.stderr


def test_mpy_cross_check_can_fail(tmp_path):
    src = tmp_path / "bad.py"
    src.write_text(mpcode.source("probe") + "match 1:\n    case 1:\n        pass\n")  # CPython 3.10's, not MicroPython's
    r = subprocess.run([paths.mpy_cross(), src.name], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode != 0
