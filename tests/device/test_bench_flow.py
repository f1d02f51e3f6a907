"""The bench flow a firmware engineer runs, end to end, each step the real
CLI and the real mpremote against the virtual board on a pty:
serve -> provision -> deploy -> bench --trigger --listen."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import time

from drawsense import protocol
from drawsense.sim import vboard
from drawsense.keystore import KeyStore
from drawsense.receive.receiver import Receiver
from benchhelp import ENV


def drawsense(*args, timeout=120):
    """The CLI, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "drawsense", *args], capture_output=True, text=True, env=ENV,
                          timeout=timeout)


def serve_board(*args):
    """`drawsense board serve ARGS` in the background; its first line is the pty."""
    return subprocess.Popen([sys.executable, "-m", "drawsense", "board", "serve", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)


def test_serve_provision_deploy_bench(tmp_path):
    root, events, keys = tmp_path / "board", tmp_path / "air.log", tmp_path / "k.db"
    root.mkdir()
    board = serve_board("--root", str(root), "--events", str(events))
    try:
        port = board.stdout.readline().strip()
        assert port.startswith("/dev/pts/"), board.stderr.read()

        p = drawsense("provision", "--port", port, "--name", "holster-7", "--keys", str(keys))
        assert p.returncode == 0, p.stderr
        row = json.loads(drawsense("keys", "--keys", str(keys), "list", "--json").stdout)
        assert row["name"] == "holster-7"

        d = drawsense("deploy", "--port", port, "--board", "virtual", "--json")
        assert d.returncode == 0, d.stderr
        assert (root / "main.py").exists() and (root / "ds_key.bin").exists()
        # the served board's files are the user's alone, as the key is on a device
        assert (root / "ds_key.bin").stat().st_mode & 0o777 == 0o600

        b = drawsense("bench", "--port", port, "--trigger", "--listen", "--events", str(events), "--keys", str(keys),
                      "--json")
        assert b.returncode == 0, b.stdout + b.stderr
        out = json.loads(b.stdout)
        status = {c["name"]: c["status"] for c in out["checks"]}
        assert out["ok"] is True and "FAIL" not in status.values(), status
        assert out["report"]["board"] == "virtual" and out["report"]["key"] == "ok"
        assert {"trigger", "listen"} <= {n.split()[0] for n in status}, status  # the burst went out and was verified
        # the fleet view now knows the sensor: heard just now, its cell at rest
        # (the TEST burst carries the resting voltage, as every advert does)
        f = drawsense("fleet", "--keys", str(keys), "--json")
        [dev] = [json.loads(x) for x in f.stdout.splitlines()]
        assert (dev["name"], dev["battery_mv"], dev["flags"]) == ("holster-7", out["report"]["battery_mv"], [])
        # the device that answered is the one provisioned, and the key never showed
        key = (root / "ds_key.bin").read_bytes()[4:36]
        for text in (p.stdout + p.stderr, d.stdout + d.stderr, b.stdout + b.stderr):
            assert key.hex() not in text
    finally:
        board.send_signal(signal.SIGTERM)
        board.wait(timeout=20)


def test_poke_a_draw_into_a_running_served_board(tmp_path):
    """The firmware runs on the served board in real time; poking the sensor
    "out" is a draw it detects and signs, as the receiver verifies."""
    root, events, keys, ctl = tmp_path / "board", tmp_path / "air.log", tmp_path / "k.db", tmp_path / "ctl.json"
    root.mkdir()
    board = serve_board("--root", str(root), "--events", str(events), "--control", str(ctl))
    try:
        port = board.stdout.readline().strip()
        assert drawsense("provision", "--port", port, "--name", "h1", "--keys", str(keys)).returncode == 0
        assert drawsense("deploy", "--port", port, "--board", "virtual").returncode == 0  # resets: firmware runs
        time.sleep(1.0)  # boot and settle, in real time
        assert drawsense("board", "poke", "--control", str(ctl), "--sensor", "out").returncode == 0
        rx = Receiver(KeyStore(keys))
        draws = []
        deadline = time.monotonic() + 10
        while not draws and time.monotonic() < deadline:
            time.sleep(0.2)
            for e in vboard.parse(events.read_text())[0]:
                if e["type"] == "adv":
                    ev = rx.feed(protocol.mfr_of(bytes.fromhex(e["data"])) or b"", t_ms=e["t_ms"])
                    if ev is not None and ev.event == "draw":
                        draws.append(ev)
        # a served board's clock runs while code runs, so the first advert
        # says the draw was the 30 ms confirm ago, plus what the code took
        assert draws and draws[0].device == "h1" and 30 <= draws[0].since_draw_ms < 250
    finally:
        board.send_signal(signal.SIGTERM)
        board.wait(timeout=20)
