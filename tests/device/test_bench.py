"""drawsense bench (device/bench.py), with the real mpremote against the
virtual board served on a pty (tests/device/conftest.py); provisioning first
where a test needs a provisioned board (its own tests: test_provision.py).

Hardware in the loop: `pytest tests/device/test_bench.py --port /dev/ttyACM0` also
runs the bench checks against a real board (deployed and provisioned, its key
in the default key store or $DRAWSENSE_KEYS); without --port those tests are
skipped (docs/bench.md).
"""

from __future__ import annotations

import json

import pytest

from benchhelp import assert_no_key, cli, key_file_of, needs_linux, one_line, row
from drawsense import firmware
from drawsense.device import bench
from drawsense.keystore import KeyStore

import mpremote  # noqa: F401,E402  (the test extra pins it: a missing mpremote is a failure, not a skip)




# ---------------------------------------------------------------- virtual board

@needs_linux
def test_provision_then_bench_all_pass(board, keys, capfd):
    assert cli("provision", "--port", board.pty, "--name", "vb-1", "--keys", str(keys)) == 0
    out, err = capfd.readouterr()
    assert "provisioned vb-1" in out and not err
    name, dev_id, secret, last = row(keys, "vb-1")
    assert (board.root / "ds_key.bin").read_bytes() == key_file_of(keys, "vb-1")
    assert key_file_of(keys, "vb-1").startswith(b"DSK2" + secret + dev_id)
    assert (board.root / "ds_ctr.bin").read_bytes() == bytes(4) + b"\xff" * 4
    assert not [p.name for p in board.root.iterdir() if p.suffix in (".new", ".old")]
    assert cli("bench", "--port", board.pty, "--keys", str(keys), "--json") == 0
    out, err = capfd.readouterr()
    r = json.loads(out)
    assert r["ok"] and all(c["status"] == "PASS" for c in r["checks"]), r
    assert [c["name"] for c in r["checks"]] == ["firmware", "board", "sensor", "battery", "key", "counter",
                                                "free heap", "reset cause", "restart"]
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
    assert row(keys, "vb-2")[3] >= 0  # the receiver raised the replay floor
    # a second run: a new burst with higher counters, verified again (no replay)
    assert cli("bench", "--port", board.pty, "--keys", str(keys), "--trigger", "--listen",
               "--events", str(board.events)) == 0
    out, _ = capfd.readouterr()
    assert "verified test event" in out


@needs_linux
def test_an_exhausted_counter_fails_the_trigger_and_says_re_key(board, keys, capfd):
    assert cli("provision", "--port", board.pty, "--name", "vb-x", "--keys", str(keys)) == 0
    mark = 0xFFFFFFFE  # the next burst would start past the last counter value
    (board.root / firmware.CTR_FILE).write_bytes(firmware.counter_file(mark))
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


def test_missing_port(keys, capfd):
    assert cli("bench") == 2
    assert "no port given" in one_line(capfd.readouterr().err)
    assert cli("provision", "--name", "x", "--keys", str(keys)) == 2
    assert "no port given" in one_line(capfd.readouterr().err)
    assert cli("bench", "--port", "/nonexistent/tty") == 2
    assert "no such port" in one_line(capfd.readouterr().err)
    assert not keys.exists()


@needs_linux
def test_missing_key_store_for_listen(board, tmp_path, capfd):
    missing = tmp_path / "none.sqlite"
    assert cli("bench", "--port", board.pty, "--keys", str(missing), "--trigger", "--listen",
               "--events", str(board.events)) == 2
    assert "no such key store" in one_line(capfd.readouterr().err)
    assert not missing.exists()


@needs_linux
def test_events_that_is_not_a_served_boards_file_is_one_line(board, keys, tmp_path, capfd):
    """--events a folder (or nothing) is refused in one line before the board
    is touched, not a traceback from the trigger half-done."""
    assert cli("provision", "--port", board.pty, "--name", "vb-e", "--keys", str(keys)) == 0
    capfd.readouterr()
    for events, says in ((tmp_path, "is a folder"), (tmp_path / "none.log", "no such file")):
        assert cli("bench", "--port", board.pty, "--keys", str(keys), "--trigger", "--listen",
                   "--events", str(events)) == 2
        err = one_line(capfd.readouterr().err)
        assert f"--events {events}: {says}" in err and "drawsense board serve --events FILE" in err
    assert row(keys, "vb-e")[3] == -1  # nothing was sent, nothing received


@needs_linux
def test_bench_leaves_the_firmware_running(board, keys, capfd):
    """mpremote stops main.py for the checks; the bench resets the board at
    the end, so main.py runs again (here it marks each run in a file)."""
    (board.root / "main.py").write_text("open('runs.txt', 'a').write('x')\n")
    assert cli("provision", "--port", board.pty, "--name", "vb-r", "--keys", str(keys)) == 0
    capfd.readouterr()
    before = (board.root / "runs.txt").read_text() if (board.root / "runs.txt").exists() else ""
    assert cli("bench", "--port", board.pty, "--keys", str(keys), "--json") == 0
    checks = {c["name"]: c for c in json.loads(capfd.readouterr().out)["checks"]}
    assert checks["restart"]["status"] == "PASS"
    assert (board.root / "runs.txt").read_text() == before + "x"


@needs_linux
def test_no_firmware_says_deploy_first(empty_board, keys, capfd):
    assert cli("bench", "--port", empty_board.pty, "--keys", str(keys)) == 2
    line = one_line(capfd.readouterr().err)
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
    secret = row(keys, "vb-10")[2]
    for o in outputs:
        assert_no_key(o.out + o.err, secret)


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
