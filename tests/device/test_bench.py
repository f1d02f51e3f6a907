"""drawsense provision and drawsense bench, with the real mpremote against the
virtual board served on a pty (drawsense.serve), firmware copied into its
root folder (firmware/*.py but main.py, so the board sits at its REPL, and
boards/virtual/board.py).

Hardware in the loop: `pytest tests/test_bench.py --port /dev/ttyACM0` also
runs the bench checks against a real board (deployed and provisioned, its key
in the default key store or $DRAWSENSE_KEYS); without --port those tests are
skipped (docs/bench.md).
"""

from __future__ import annotations

import json
import struct
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest

from drawsense import cli as drawsense_cli
from drawsense.device import bench, provision
from served import ServedBoard
from drawsense.keystore import KeyStore

import mpremote  # noqa: F401,E402  (the test extra pins it: a missing mpremote is a failure, not a skip)

REPO = Path(__file__).resolve().parents[2]

needs_linux = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                 reason="drawsense board serve is Linux-only (its ^C relay reads /proc)")


class Served(ServedBoard):
    """A served board whose "@vb" lines (its air) go to an events file."""

    def __init__(self, root: Path, events: Path):
        super().__init__(root, events=events)
        self.events = events


def _install_firmware(root: Path) -> None:
    for f in (REPO / "firmware").glob("*.py"):
        if f.name != "main.py":
            shutil.copy(f, root / f.name)
    shutil.copy(REPO / "boards" / "virtual" / "board.py", root / "board.py")


def _serve(tmp_path: Path, firmware: bool):
    root = tmp_path / "root"
    root.mkdir()
    if firmware:
        _install_firmware(root)
    b = Served(root, tmp_path / "ev.log")
    yield b
    b.close()
    assert not b.error, b.error


@pytest.fixture
def board(tmp_path):
    yield from _serve(tmp_path, firmware=True)


@pytest.fixture
def empty_board(tmp_path):
    yield from _serve(tmp_path, firmware=False)


@pytest.fixture
def keys(tmp_path):
    return tmp_path / "keys.sqlite"


def cli(*argv: str) -> int:
    """Run `drawsense provision|bench ...` in this process, as the command does."""
    return drawsense_cli.main(list(argv))


def _row(keys: Path, name: str):
    s = KeyStore(keys, create=False)
    try:
        d = s.get(name)
        return None if d is None else (d.name, d.device_id, d.secret, d.last_counter)
    finally:
        s.close()


def _one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    return lines[0]


def _assert_no_key(text: str, secret: bytes) -> None:
    assert secret.hex() not in text.lower()
    assert repr(secret) not in text
    assert repr(secret)[2:-1] not in text  # the bytes' repr without b'...'


# ---------------------------------------------------------------- virtual board

@needs_linux
def test_provision_then_bench_all_pass(board, keys, capfd):
    assert cli("provision", "--port", board.pty, "--name", "vb-1", "--keys", str(keys)) == 0
    out, err = capfd.readouterr()
    assert "provisioned vb-1" in out and not err
    name, dev_id, secret, last = _row(keys, "vb-1")
    assert (board.root / "ds_key.bin").read_bytes() == b"DSK1" + secret + dev_id
    assert (board.root / "ds_ctr.bin").read_bytes() == bytes(4) + b"\xff" * 4
    assert not [p.name for p in board.root.iterdir() if p.suffix in (".new", ".old")]
    assert cli("bench", "--port", board.pty, "--keys", str(keys), "--json") == 0
    out, err = capfd.readouterr()
    r = json.loads(out)
    assert r["ok"] and all(c["status"] == "PASS" for c in r["checks"]), r
    assert [c["name"] for c in r["checks"]] == ["firmware", "board", "sensor", "battery", "key", "counter",
                                                "free heap", "reset cause"]
    assert r["report"]["device"] == dev_id.hex()
    assert cli("bench", "--port", board.pty, "--keys", str(keys)) == 0
    out, _ = capfd.readouterr()
    assert "all checks passed" in out and "FAIL" not in out


@needs_linux
def test_bench_trigger_listen_events_verified_not_a_draw(board, keys, capfd):
    assert cli("provision", "--port", board.pty, "--name", "vb-2", "--keys", str(keys)) == 0
    capfd.readouterr()
    assert cli("bench", "--port", board.pty, "--keys", str(keys), "--trigger", "--listen",
               "--events", str(board.events), "--json") == 0
    out, err = capfd.readouterr()
    r = json.loads(out)
    checks = {c["name"]: c for c in r["checks"]}
    assert checks["trigger"]["status"] == "PASS", checks
    assert checks["listen"]["status"] == "PASS", checks
    assert "verified test event from 'vb-2'" in checks["listen"]["detail"]
    assert "not a draw" in checks["listen"]["detail"]
    assert _row(keys, "vb-2")[3] >= 0  # the receiver raised the replay floor
    # a second run: a new burst with higher counters, verified again (no replay)
    assert cli("bench", "--port", board.pty, "--keys", str(keys), "--trigger", "--listen",
               "--events", str(board.events)) == 0
    out, _ = capfd.readouterr()
    assert "verified test event" in out


@needs_linux
def test_an_exhausted_counter_fails_the_trigger_and_says_re_key(board, keys, capfd):
    assert cli("provision", "--port", board.pty, "--name", "vb-x", "--keys", str(keys)) == 0
    mark = 0xFFFFFFFE  # the next burst would start past the last counter value
    (board.root / "ds_ctr.bin").write_bytes(struct.pack("<II", mark, mark ^ 0xFFFFFFFF))
    capfd.readouterr()
    assert cli("bench", "--port", board.pty, "--keys", str(keys), "--trigger", "--json") != 0
    checks = {c["name"]: c for c in json.loads(capfd.readouterr().out)["checks"]}
    assert checks["trigger"]["status"] == "FAIL"
    assert "counter has run out" in checks["trigger"]["detail"] and "provision --force" in checks["trigger"]["detail"]


def test_a_burst_cut_short_by_the_counter_is_a_failure_too():
    c = bench._trigger_check({"sent": 15, "counters": list(range(15)), "error": "counter exhausted"})
    assert c.status == "FAIL" and "after 15 adverts" in c.detail


@needs_linux
def test_listen_on_a_radio_cannot_hear_the_virtual_board(board, keys, capfd):
    """Without --events --listen scans a real radio (bleak): the burst is sent,
    but no adapter hears a virtual board (or there is no adapter): exit 1."""
    assert cli("provision", "--port", board.pty, "--name", "vb-12", "--keys", str(keys)) == 0
    capfd.readouterr()
    assert cli("bench", "--port", board.pty, "--keys", str(keys), "--trigger", "--listen", "--json") == 1
    checks = {c["name"]: c for c in json.loads(capfd.readouterr().out)["checks"]}
    assert checks["trigger"]["status"] == "PASS"
    assert checks["listen"]["status"] == "FAIL"
    assert ("no Bluetooth adapter" in checks["listen"]["detail"]
            or "no verified test event" in checks["listen"]["detail"])


@needs_linux
def test_listen_sees_a_foreign_key_as_unknown(board, keys, tmp_path, capfd):
    """The check is real: a device whose key is not the store's is not verified."""
    assert cli("provision", "--port", board.pty, "--name", "vb-3", "--keys", str(keys)) == 0
    s = KeyStore(keys)
    s.db.execute("UPDATE devices SET secret = ? WHERE name = 'vb-3'", (bytes(32),))
    s.close()
    capfd.readouterr()
    assert cli("bench", "--port", board.pty, "--keys", str(keys), "--trigger", "--listen",
               "--events", str(board.events), "--json") == 1
    checks = {c["name"]: c for c in json.loads(capfd.readouterr().out)["checks"]}
    assert checks["trigger"]["status"] == "PASS"
    assert checks["listen"]["status"] == "FAIL" and "no verified test event" in checks["listen"]["detail"]


@needs_linux
def test_provision_twice_without_force_is_refused(board, keys, capfd):
    assert cli("provision", "--port", board.pty, "--name", "vb-4", "--keys", str(keys)) == 0
    capfd.readouterr()
    key_before = (board.root / "ds_key.bin").read_bytes()
    ctr_before = (board.root / "ds_ctr.bin").read_bytes()
    row_before = _row(keys, "vb-4")
    for name in ("vb-4", "other"):  # same name, or a new name: the device has an identity
        assert cli("provision", "--port", board.pty, "--name", name, "--keys", str(keys)) == 2
        line = _one_line(capfd.readouterr().err)
        assert "already has an identity" in line and "--force" in line
    assert (board.root / "ds_key.bin").read_bytes() == key_before
    assert (board.root / "ds_ctr.bin").read_bytes() == ctr_before
    assert _row(keys, "vb-4") == row_before
    assert _row(keys, "other") is None


@needs_linux
def test_name_in_store_is_refused(board, keys, capfd):
    s = KeyStore(keys)
    s.add("taken")
    s.close()
    before = keys.read_bytes()
    assert cli("provision", "--port", board.pty, "--name", "taken", "--keys", str(keys)) == 2
    line = _one_line(capfd.readouterr().err)
    assert "'taken' is already in" in line and "--force" in line
    assert not (board.root / "ds_key.bin").exists()
    assert keys.read_bytes() == before


@needs_linux
def test_force_rekeys(board, keys, capfd):
    assert cli("provision", "--port", board.pty, "--name", "vb-5", "--keys", str(keys)) == 0
    assert cli("bench", "--port", board.pty, "--keys", str(keys), "--trigger", "--listen",
               "--events", str(board.events)) == 0
    _, dev_id, old_secret, last = _row(keys, "vb-5")
    assert last >= 0
    capfd.readouterr()
    assert cli("provision", "--port", board.pty, "--name", "vb-5", "--keys", str(keys), "--force") == 0
    out, err = capfd.readouterr()
    assert "re-keyed vb-5" in out
    _, dev_id2, new_secret, last2 = _row(keys, "vb-5")
    assert dev_id2 == dev_id and new_secret != old_secret and last2 == -1
    assert (board.root / "ds_key.bin").read_bytes() == b"DSK1" + new_secret + dev_id
    assert (board.root / "ds_ctr.bin").read_bytes() == bytes(4) + b"\xff" * 4
    assert not [p.name for p in board.root.iterdir() if p.suffix in (".new", ".old")]
    assert cli("bench", "--port", board.pty, "--keys", str(keys), "--trigger", "--listen",
               "--events", str(board.events)) == 0


@needs_linux
def test_store_write_fails_device_rolled_back(board, keys, capfd, monkeypatch):
    """Failure after the device changed: the device is put back as it was."""
    assert cli("provision", "--port", board.pty, "--name", "vb-6", "--keys", str(keys)) == 0
    key_before = (board.root / "ds_key.bin").read_bytes()
    ctr_before = (board.root / "ds_ctr.bin").read_bytes()
    row_before = _row(keys, "vb-6")

    def broken(*a, **k):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(provision, "_store_write", broken)
    capfd.readouterr()
    assert cli("provision", "--port", board.pty, "--name", "vb-6", "--keys", str(keys), "--force") == 2
    line = _one_line(capfd.readouterr().err)
    assert "disk I/O error" in line and "put back as it was" in line
    assert (board.root / "ds_key.bin").read_bytes() == key_before
    assert (board.root / "ds_ctr.bin").read_bytes() == ctr_before
    assert not [p.name for p in board.root.iterdir() if p.suffix in (".new", ".old")]
    assert _row(keys, "vb-6") == row_before
    # a fresh device stays unprovisioned
    (board.root / "ds_key.bin").unlink()
    (board.root / "ds_ctr.bin").unlink()
    assert cli("provision", "--port", board.pty, "--name", "vb-7", "--keys", str(keys)) == 2
    capfd.readouterr()
    assert not (board.root / "ds_key.bin").exists() and not (board.root / "ds_ctr.bin").exists()
    assert _row(keys, "vb-7") is None


@needs_linux
def test_device_write_fails_part_way_store_unchanged(board, keys, capfd, monkeypatch):
    """The copy to the device fails (board gone mid-way): store unchanged,
    the device's live files untouched, nothing staged left behind."""
    real = provision.remote.mpremote

    def flaky(port, *args, **kw):
        if "cp" in args:
            raise provision.RemoteError(f"{port}: the board did not answer within 60 s")
        return real(port, *args, **kw)

    monkeypatch.setattr(provision.remote, "mpremote", flaky)
    assert cli("provision", "--port", board.pty, "--name", "vb-8", "--keys", str(keys)) == 2
    line = _one_line(capfd.readouterr().err)
    assert "did not answer" in line and "key store was not changed" in line
    assert not (board.root / "ds_key.bin").exists()
    assert not [p.name for p in board.root.iterdir() if p.suffix in (".new", ".old")]
    assert _row(keys, "vb-8") is None


@needs_linux
def test_swap_fails_on_the_device_undone(board, keys, capfd):
    """A rename failing on the device half-way through the swap (here: a
    folder where the old counter is set aside) is undone on the device: the
    live key and counter are as before, the staged files gone, the store
    unchanged."""
    assert cli("provision", "--port", board.pty, "--name", "vb-11", "--keys", str(keys)) == 0
    key_before = (board.root / "ds_key.bin").read_bytes()
    ctr_before = (board.root / "ds_ctr.bin").read_bytes()
    row_before = _row(keys, "vb-11")
    (board.root / "ds_ctr.bin.old").mkdir()
    (board.root / "ds_ctr.bin.old" / "x").write_bytes(b"")
    capfd.readouterr()
    assert cli("provision", "--port", board.pty, "--name", "vb-11", "--keys", str(keys), "--force") == 2
    line = _one_line(capfd.readouterr().err)
    assert "key store was not changed" in line
    assert (board.root / "ds_key.bin").read_bytes() == key_before
    assert (board.root / "ds_ctr.bin").read_bytes() == ctr_before
    assert not (board.root / "ds_key.bin.old").exists()
    assert not [p.name for p in board.root.iterdir() if p.suffix == ".new"]
    assert _row(keys, "vb-11") == row_before


def test_device_write_fails_bad_port_store_unchanged(tmp_path, keys, capfd):
    s = KeyStore(keys)
    s.add("existing")
    s.close()
    before = keys.read_bytes()
    assert cli("provision", "--port", str(tmp_path / "nope"), "--name", "new", "--keys", str(keys)) == 2
    line = _one_line(capfd.readouterr().err)
    assert "no such port" in line and "nothing was changed" in line
    assert keys.read_bytes() == before
    # and no store is created by a failed provisioning
    other = tmp_path / "fresh.sqlite"
    assert cli("provision", "--port", str(tmp_path / "nope"), "--name", "new", "--keys", str(other)) == 2
    capfd.readouterr()
    assert not other.exists()


@needs_linux
def test_corrupt_store_device_unchanged(board, keys, capfd):
    keys.write_bytes(b"this is not a key store\n" * 10)
    before = keys.read_bytes()
    assert cli("provision", "--port", board.pty, "--name", "vb-9", "--keys", str(keys)) == 2
    line = _one_line(capfd.readouterr().err)
    assert "not a drawsense key store" in line
    assert keys.read_bytes() == before
    assert not (board.root / "ds_key.bin").exists() and not (board.root / "ds_ctr.bin").exists()
    for extra in ((), ("--trigger", "--listen", "--events", str(board.events))):
        assert cli("bench", "--port", board.pty, "--keys", str(keys), *extra) == 2
        line = _one_line(capfd.readouterr().err)
        assert "not a drawsense key store" in line
    assert keys.read_bytes() == before


def test_missing_port(keys, capfd):
    assert cli("bench") == 2
    assert "no port given" in _one_line(capfd.readouterr().err)
    assert cli("provision", "--name", "x", "--keys", str(keys)) == 2
    assert "no port given" in _one_line(capfd.readouterr().err)
    assert cli("bench", "--port", "/nonexistent/tty") == 2
    assert "no such port" in _one_line(capfd.readouterr().err)
    assert not keys.exists()


@needs_linux
def test_missing_key_store_for_listen(board, tmp_path, capfd):
    missing = tmp_path / "none.sqlite"
    assert cli("bench", "--port", board.pty, "--keys", str(missing), "--trigger", "--listen",
               "--events", str(board.events)) == 2
    assert "no such key store" in _one_line(capfd.readouterr().err)
    assert not missing.exists()


@needs_linux
def test_no_firmware_says_deploy_first(empty_board, keys, capfd):
    assert cli("bench", "--port", empty_board.pty, "--keys", str(keys)) == 2
    line = _one_line(capfd.readouterr().err)
    assert "no drawsense firmware on the device: run drawsense deploy first" in line


@needs_linux
def test_unprovisioned_board_fails_key_and_counter(board, keys, capfd):
    assert cli("bench", "--port", board.pty, "--keys", str(keys), "--trigger") == 1
    out = capfd.readouterr().out
    assert "FAIL  key" in out and "not provisioned" in out
    assert "FAIL  counter" in out and "FAIL  trigger" in out
    assert "PASS  firmware" in out


@needs_linux
def test_key_never_printed(board, keys, capfd):
    outputs = []
    assert cli("provision", "--port", board.pty, "--name", "vb-10", "--keys", str(keys)) == 0
    outputs.append(capfd.readouterr())
    assert cli("provision", "--port", board.pty, "--name", "vb-10", "--keys", str(keys), "--force",
               "--json") == 0
    outputs.append(capfd.readouterr())
    assert cli("provision", "--port", board.pty, "--name", "vb-10", "--keys", str(keys)) == 2
    outputs.append(capfd.readouterr())
    for extra in ((), ("--json",), ("--trigger", "--listen", "--events", str(board.events))):
        assert cli("bench", "--port", board.pty, "--keys", str(keys), *extra) == 0
        outputs.append(capfd.readouterr())
    secret = _row(keys, "vb-10")[2]
    for o in outputs:
        _assert_no_key(o.out + o.err, secret)


def test_key_not_on_any_command_line(tmp_path, keys, monkeypatch):
    """Every mpremote argument provisioning uses, recorded: the secret is in none."""
    seen: list[tuple] = []
    files: dict[str, bytes] = {}

    class P:
        def __init__(self, out):
            self.stdout, self.stderr, self.returncode = out, "", 0

    def fake(port, *args, **kw):
        seen.append(args)
        if "cp" in args:
            for a in args:
                if "\n" not in a and Path(a).is_file():  # (the exec'd code is an argument too)
                    assert Path(a).stat().st_mode & 0o077 == 0, "the temp file must be private"
                    files[Path(a).name] = Path(a).read_bytes()
            import hashlib
            return P("DSHASH " + " ".join(hashlib.sha256(files[n]).hexdigest()
                                          for n in ("ds_key.new", "ds_ctr.new")))
        call = args[-1].rstrip("\n").rsplit("\n", 1)[-1]  # the device/mp function the code ends by calling
        answers = {"key_state": "DSSTATE none", "swap": "DSSWAP ok", "rollback": "DSROLLBACK ok"}
        return P(answers.get(call.split("(")[0], ""))

    monkeypatch.setattr(provision.remote, "mpremote", fake)
    r = provision.provision("/dev/fake", "cmdline", keys)
    secret = _row(keys, "cmdline")[2]
    assert files["ds_key.new"] == b"DSK1" + secret + bytes.fromhex(r["device_id"])
    flat = " ".join(" ".join(a) for a in seen)
    _assert_no_key(flat, secret)
    temp = [a for args in seen for a in args if "drawsense-provision-" in a]
    assert temp and not any(Path(a).exists() for a in temp), "the private temp files are deleted"


# ---------------------------------------------------------------- hardware in the loop

@pytest.fixture
def hw_port(request):
    port = request.config.getoption("--port")
    if not port:
        pytest.skip("hardware in the loop: give --port /dev/ttyACM0 (a deployed, provisioned board)")
    return port


def test_hil_bench(hw_port, capfd):
    """The real board passes the bench checks (battery may warn if not wired)."""
    rc = cli("bench", "--port", hw_port, "--json")
    out, err = capfd.readouterr()
    assert rc == 0, out + err
    assert json.loads(out)["ok"]


def test_hil_trigger_listen(hw_port, capfd):
    """A TEST burst from the real board, heard by this computer's BLE adapter
    and verified with the default key store ($DRAWSENSE_KEYS)."""
    rc = cli("bench", "--port", hw_port, "--trigger", "--listen", "--json")
    out, err = capfd.readouterr()
    assert rc == 0, out + err
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    assert checks["listen"]["status"] == "PASS", checks
