"""Ctrl-C (SIGINT) and SIGTERM anywhere in the drawsense command: one line on
stderr, exit 130 / 143 (the shell's 128 + signal), no traceback, nothing left
half-made. The real command in a subprocess; each test sends the signal once
the command has said (on stdout or stderr) that it is at the point to stop."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from served import ServedBoard

LINE = {signal.SIGINT: "interrupted (Ctrl-C)", signal.SIGTERM: "stopped by SIGTERM"}


class Command:
    """`python -m drawsense ARGS`, its stdout and stderr read as they come."""

    def __init__(self, *args: str, stdin=subprocess.DEVNULL, env=None, **kw):
        self.p = subprocess.Popen([sys.executable, "-m", "drawsense", *args], stdin=stdin, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=env, **kw)
        self.out, self.err = self.p.stdout.fileno(), self.p.stderr.fileno()
        self.got = {self.out: b"", self.err: b""}

    def _read(self, timeout: float) -> None:
        ready, _, _ = select.select(list(self.got), [], [], timeout)
        for fd in ready:
            self.got[fd] += os.read(fd, 65536)

    def wait_for(self, text: str, *, on: str = "stderr", timeout: float = 60) -> None:
        fd = self.out if on == "stdout" else self.err
        deadline = time.monotonic() + timeout
        while text.encode() not in self.got[fd]:
            assert self.p.poll() is None, f"ended ({self.p.returncode}) before {text!r}: {self.got}"
            assert time.monotonic() < deadline, f"no {text!r} within {timeout} s: {self.got}"
            self._read(0.5)

    def stop(self, sig: int) -> tuple[int, str, str]:
        """Send `sig`; (exit status, stdout, stderr) once it has ended."""
        self.p.send_signal(sig)
        stdin, self.p.stdin = self.p.stdin, None  # left open: the signal, not the end of input, stops it
        out, err = self.p.communicate(timeout=60)
        if stdin:
            stdin.close()
        return self.p.returncode, (self.got[self.out] + out).decode(), (self.got[self.err] + err).decode()


def assert_stopped(rc: int, err: str, sig: int, prog: str) -> None:
    assert rc == 128 + sig, err
    assert "Traceback" not in err, err
    assert err.replace("\r", "\n").splitlines()[-1] == f"{prog}: {LINE[sig]}", err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_power_stopped_part_way(sig):
    c = Command("power", "--days", "30", "--progress")
    c.wait_for("simulating (with draws)")
    rc, out, err = c.stop(sig)
    assert_stopped(rc, err, sig, "drawsense power")
    assert out == ""
    # the progress line is ended before the message, not run into it
    assert f"\rdrawsense power: {LINE[sig]}" not in err and f"days\ndrawsense power: {LINE[sig]}\n" in err


def test_ctrl_c_at_a_terminal_reaches_the_whole_group():
    # a terminal's Ctrl-C goes to every process of the foreground group: the
    # MicroPython board under the command gets it too, and its death must not
    # turn into "firmware failed"
    c = Command("power", "--days", "30", "--progress", start_new_session=True)
    c.wait_for("simulating (with draws)")
    os.killpg(c.p.pid, signal.SIGINT)
    rc, _, err = c.stop(0)  # signal 0: just collect
    assert_stopped(rc, err, signal.SIGINT, "drawsense power")


def test_sim_on_a_long_capture_leaves_no_device_and_no_half_vcd(tmp_path):
    capture = tmp_path / "long.csv"
    capture.write_text("time,level\n" + "".join(f"{i * 0.05:.2f},{i % 2}\n" for i in range(200_000)))
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    vcd = tmp_path / "out.vcd"
    c = Command("sim", str(capture), "--time-unit", "s", "--vcd", str(vcd), env=dict(os.environ, TMPDIR=str(tmp)))
    c.wait_for("simulating 'long'")
    rc, out, err = c.stop(signal.SIGINT)
    assert_stopped(rc, err, signal.SIGINT, "drawsense sim")
    assert list(tmp.iterdir()) == [], "a temporary folder (with the device's key) was left behind"
    assert not vcd.exists(), "an empty or partial VCD was left behind"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="board serve is Linux-only")
def test_deploy_interrupted_while_copying_then_run_again(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    board = ServedBoard(root, events=tmp_path / "events.log")
    try:
        c = Command("deploy", "--port", board.pty, "--board", "virtual")
        c.wait_for("copying")
        rc, out, err = c.stop(signal.SIGINT)
        assert_stopped(rc, err, signal.SIGINT, "drawsense deploy")
        # what it left on the device is finished by the next deploy
        again = subprocess.run([sys.executable, "-m", "drawsense", "deploy", "--port", board.pty, "--board",
                                "virtual", "--json"], capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["verified"] > 0
    finally:
        board.close()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_listen_keeps_what_it_accepted_and_says_so(tmp_path, sig):
    keys = tmp_path / "k.db"
    sim = subprocess.run([sys.executable, "-m", "drawsense", "sim", "--keys", str(keys), "--json"],
                         capture_output=True, text=True, timeout=120)
    assert sim.returncode == 0, sim.stderr
    c = Command("listen", "--air", "-", "--keys", str(keys), "--json", stdin=subprocess.PIPE)
    c.p.stdin.write(sim.stdout.encode())  # the air, and the pipe stays open: listening goes on
    c.p.stdin.flush()
    c.wait_for('"event": "draw"', on="stdout")
    rc, out, err = c.stop(sig)
    assert rc == 128 + sig and "Traceback" not in err, err
    assert re.fullmatch(r"drawsense listen: \d+ events from \d+ verified adverts .*; interrupted", err.splitlines()[-1])
    # the replay floor of what it accepted is on disk
    listed = subprocess.run([sys.executable, "-m", "drawsense", "keys", "list", "--json", "--keys", str(keys)],
                            capture_output=True, text=True, timeout=60)
    assert json.loads(listed.stdout)["last_counter"] > 0



def test_a_second_sigterm_during_the_cleanup_is_ignored():
    # a supervisor that sends SIGTERM again while the first one unwinds (its
    # finally blocks remove temporary folders) must not turn the one line
    # into a traceback
    from drawsense import cli
    from drawsense.console import Interrupted

    before = signal.getsignal(signal.SIGTERM)
    try:
        with pytest.raises(Interrupted):
            cli._terminated(signal.SIGTERM, None)
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, before)
