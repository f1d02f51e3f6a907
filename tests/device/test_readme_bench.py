"""The README's "On the bench" commands, run as written, in order, in a fresh
empty folder: the real CLI and the real mpremote against the board that
`drawsense board serve` puts on a pty (its printed /dev/pts/N stands in for
the README's). The poke must be a draw the firmware signs and the key store
verifies (the bench before it leaves the firmware running), and the log read
after it must be intact and hold that draw, also from the saved copy."""

from __future__ import annotations

import re
import shlex
import signal
import subprocess
import sys
import time

from benchhelp import ENV, needs_linux
from conftest import REPO
from drawsense import protocol
from drawsense.keystore import KeyStore
from drawsense.receive.receiver import Receiver
from drawsense.sim import vboard


def readme_bench_commands() -> list[list[str]]:
    text = (REPO / "README.md").read_text()
    section = text.split("## On the bench", 1)[1].split("\n## ", 1)[0]
    return [shlex.split(line, comments=True) for line in section.splitlines()
            if re.match(r"    drawsense ", line)]


def test_the_readme_lists_the_bench_flow():
    verbs = [c[1] for c in readme_bench_commands()]
    assert verbs == ["board", "deploy", "provision", "bench", "board", "log", "log"], verbs


@needs_linux
def test_readme_bench_commands_as_written_in_a_fresh_folder(tmp_path):
    serve, *rest = readme_bench_commands()
    run = [sys.executable, "-m", "drawsense"]
    board = subprocess.Popen(run + serve[1:], cwd=tmp_path, env=ENV, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        pty = board.stdout.readline().strip()
        assert pty.startswith("/dev/pts/"), board.stderr.read()
        events = tmp_path / "ev.log"

        def heard_draws() -> list:
            rx = Receiver(KeyStore(tmp_path / "k.db", create=False))
            out = []
            for e in vboard.parse(events.read_text())[0]:
                if e["type"] == "adv":
                    ev = rx.feed(protocol.mfr_of(bytes.fromhex(e["data"])) or b"", t_ms=e["t_ms"])
                    if ev is not None and ev.event == "draw":
                        out.append(ev)
            return out

        said = {}
        for cmd in rest:
            args = [pty if a == "/dev/pts/N" else a for a in cmd[1:]]
            p = subprocess.run(run + args, cwd=tmp_path, env=ENV, text=True, capture_output=True, timeout=120)
            assert p.returncode == 0, (cmd, p.stdout, p.stderr)
            said[" ".join(args[:2])] = p.stdout
            if args[:2] == ["board", "poke"]:
                # the poke was a draw: signed adverts in the events file,
                # verified with the README's key store (then the log has it)
                draws: list = []
                deadline = time.monotonic() + 10
                while not draws and time.monotonic() < deadline:
                    time.sleep(0.2)
                    draws = heard_draws()
                assert draws and draws[0].device == "holster-7"
        for how in ("log --port", "log --verify"):
            out = said[how]
            assert out.startswith("intact"), out
            assert any(line.split()[1:2] == ["draw"] for line in out.splitlines()[1:]), out
    finally:
        board.send_signal(signal.SIGTERM)
        board.wait(timeout=20)
