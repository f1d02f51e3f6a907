"""drawsense board serve (prototype): the real mpremote CLI drives the virtual
board through its pty.

Each test powers on a fresh board (serve() in a thread) on its own root
folder, then runs `python -m mpremote connect /dev/pts/N ...` subprocesses.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import threading
import time
import tty
from pathlib import Path

import pytest

from drawsense import paths, serve

pytest.importorskip("mpremote", reason="pip install mpremote==1.29.0")
if not sys.platform.startswith("linux"):
    pytest.skip("serve's ^C relay reads /proc (Linux)", allow_module_level=True)
try:
    paths.micropython()
except paths.RuntimeMissing as e:
    pytest.skip(str(e), allow_module_level=True)


class Board:
    def __init__(self, root: Path):
        self.root = root
        self.stop = threading.Event()
        self.log: list[str] = []
        got: list[str] = []
        ready = threading.Event()

        def on_ready(path: str) -> None:
            got.append(path)
            ready.set()

        self.error: list[BaseException] = []

        def target() -> None:
            try:
                serve.serve(root, ready=on_ready, stop=self.stop, log=self.log.append)
            except BaseException as e:  # surfaced by the fixture
                self.error.append(e)
                ready.set()

        self.thread = threading.Thread(target=target, daemon=True)
        self.thread.start()
        assert ready.wait(10), "serve() never became ready"
        assert not self.error, self.error
        self.pty = got[0]

    def mpremote(self, *args: str, timeout: float = 10, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "mpremote", "connect", self.pty, *args],
                              capture_output=True, text=True, timeout=timeout, cwd=cwd)

    def talk(self, data: bytes, until: bytes, timeout: float = 5) -> bytes:
        """Write raw bytes to the line (as a terminal would) and read until `until`."""
        fd = os.open(self.pty, os.O_RDWR | os.O_NOCTTY)
        try:
            tty.setraw(fd)
            # drain what the board said before (its power-on), until quiet
            while select.select([fd], [], [], 0.2)[0]:
                os.read(fd, 4096)
            os.write(fd, data)
            got = b""
            end = time.monotonic() + timeout
            while until not in got and time.monotonic() < end:
                r, _, _ = select.select([fd], [], [], 0.05)
                if r:
                    got += os.read(fd, 4096)
            assert until in got, got
            return got
        finally:
            os.close(fd)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        assert not self.thread.is_alive()


@pytest.fixture
def board(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    b = Board(root)
    yield b
    b.close()
    assert not b.error, b.error


def _ok(p: subprocess.CompletedProcess) -> str:
    assert p.returncode == 0, f"rc={p.returncode}\nstdout:{p.stdout}\nstderr:{p.stderr}"
    return p.stdout


def test_pty_is_a_real_pts(board):
    assert board.pty.startswith("/dev/pts/")


def test_soft_reset_then_exec(board):
    t0 = time.perf_counter()
    out = _ok(board.mpremote("soft-reset", "exec", "print(6*7)"))
    assert out.strip() == "42"
    assert time.perf_counter() - t0 < 5
    # the board rebooted (power-on, then mpremote's soft resets), keeping the line
    assert any("soft reboot" in line for line in board.log)


def test_exec_twice_keeps_the_connection(board):
    assert _ok(board.mpremote("exec", "print('a')")).strip() == "a"
    assert _ok(board.mpremote("exec", "print('b')", "+", "exec", "print('c')")).split() == ["b", "c"]


def test_cp_then_ls_lands_in_root(board, tmp_path):
    local = tmp_path / "local.py"
    local.write_text("print('hello from main')\n")
    _ok(board.mpremote("cp", str(local), ":main.py"))
    assert (board.root / "main.py").read_text() == local.read_text()
    out = _ok(board.mpremote("fs", "ls", ":"))
    assert "main.py" in out
    # main.py runs at the next (friendly) soft reset, as on a board
    out = _ok(board.mpremote("exec", "import os; print(sorted(os.listdir('/')))"))
    assert out.strip() == "['main.py']"


def test_absolute_paths_stay_in_root(board, tmp_path):
    (tmp_path / "outside.txt").write_text("secret")
    _ok(board.mpremote("fs", "mkdir", ":/lib"))
    assert (board.root / "lib").is_dir()
    out = _ok(board.mpremote("exec", "import os\n"
                             "print(sorted(os.listdir('/..')), sorted(os.listdir('/../..')))\n"
                             "os.chdir('lib'); print(os.getcwd()); os.chdir('../..'); print(os.getcwd())"))
    assert out.split("\n")[0].strip() == "['lib'] ['lib']"
    assert "/lib" in out and out.split()[-1] == "/"
    p = board.mpremote("cat", ":/../outside.txt")
    assert "secret" not in p.stdout


def test_run_script(board, tmp_path):
    script = tmp_path / "script.py"
    script.write_text("import sys\nprint('ran', sys.platform, 3 * 14)\n")
    assert _ok(board.mpremote("run", str(script))).strip() == "ran linux 42"


def test_exec_raising_shows_traceback_and_fails(board):
    p = board.mpremote("exec", "def f():\n    raise ValueError('boom')\nf()")
    assert p.returncode != 0
    text = p.stdout + p.stderr
    assert "Traceback (most recent call last):" in text
    assert "ValueError: boom" in text
    # the board is still fine afterwards
    assert _ok(board.mpremote("exec", "print(1+1)")).strip() == "2"


def test_friendly_soft_reset_runs_main(board):
    board.talk(b"\r", b">>> ")  # powered on, at the friendly REPL
    (board.root / "main.py").write_text("print('main ran')\n")
    # Ctrl-D at the friendly REPL (as typed in `mpremote repl`): soft reboot
    # line, main.py's output, then the banner and prompt
    got = board.talk(b"\x04", b"information.\r\n>>> ")
    assert got.startswith(b"\r\nMPY: soft reboot\r\nmain ran\r\nMicroPython ")  # cooked like a board
    assert got.index(b"main ran") < got.index(b"MicroPython ") < got.index(b'Type "help()"')


def test_forever_main_is_interrupted(board):
    board.talk(b"\r", b">>> ")  # powered on, at the friendly REPL
    (board.root / "main.py").write_text("n = 0\nwhile True:\n    n += 1\n")
    # a soft reset from the friendly REPL runs main.py, which never returns
    board.talk(b"\x04", b"MPY: soft reboot\r\n")
    time.sleep(0.2)
    t0 = time.perf_counter()
    # mpremote's ^C interrupts the running main.py before it enters the raw REPL
    out = _ok(board.mpremote("resume", "exec", "print('alive', n > 0)"))
    assert out.strip() == "alive True"
    assert time.perf_counter() - t0 < 5


def test_forever_main_at_power_on(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "main.py").write_text("import time\nwhile True:\n    pass\n")
    b = Board(root)
    try:
        time.sleep(0.2)  # main.py is running
        assert _ok(b.mpremote("exec", "print(n if 'n' in globals() else 'interrupted')")).strip() == "interrupted"
    finally:
        b.close()


def test_main_runs_at_soft_reset_in_friendly_repl(board):
    board.talk(b"\r", b">>> ")
    (board.root / "main.py").write_text("booted = 'yes'\n")
    board.talk(b"\x04", b"information.\r\n>>> ")
    # "resume" skips mpremote's own soft reset; the board is in the friendly
    # REPL (from power-on), where main.py's globals are visible
    assert _ok(board.mpremote("resume", "exec", "print(booted)")).strip() == "yes"
    # a soft reset in the raw REPL skips main.py (pyexec does the same)
    assert _ok(board.mpremote("exec", "print('booted' in globals())")).strip() == "False"


def test_virtual_hardware_importable(board):
    out = _ok(board.mpremote("exec", "import machine, board\n"
                             "print(board.NAME, machine.reset_cause() == machine.SOFT_RESET)"))
    assert out.split() == ["virtual", "True"]


def test_mount_local_dir(board, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "helper.py").write_text("VALUE = bytes(range(256))\n")
    (work / "data.bin").write_bytes(bytes(range(256)) * 40)
    out = _ok(board.mpremote("mount", ".", "exec",
                             "import os, helper\n"
                             "print(os.getcwd(), sorted(os.listdir()))\n"
                             "n = ok = 0\n"
                             "with open('data.bin', 'rb') as f:\n"
                             "    while True:\n"
                             "        d = f.read(256)\n"
                             "        if not d:\n"
                             "            break\n"
                             "        n += len(d)\n"
                             "        ok += d == helper.VALUE\n"
                             "print(n, ok)\n"
                             "open('back.txt', 'w').write('from board')",
                             cwd=work))
    assert "/remote ['data.bin', 'helper.py']" in out
    assert "10240 40" in out  # every byte value, 0x03 (^C) and 0x04 (^D) included
    assert (work / "back.txt").read_text() == "from board"
