"""`drawsense board serve` (prototype): a virtual board behind a pty.

Unmodified mpremote drives it as it drives a board on a USB serial port:

    serve(root)  ->  prints /dev/pts/N
    mpremote connect /dev/pts/N cp main.py :main.py + soft-reset + exec "..."

Pieces:

* The client pty: mpremote opens its slave (the "/dev/pts/N" path; mpremote
  uses its fast pty mode for such paths). This process keeps the slave open
  too, so mpremote can come and go without hanging up the line.
* The board: the MicroPython unix port on a second pty in raw mode (8-bit
  clean, no echo, no CR/LF mangling, no tty signals), started with a boot
  script (-i sim/mp/serveboot.py) that imports the virtual hardware,
  remounts the board's "/" onto `root` (a VFS that keeps every path inside
  it), runs boot.py and main.py from it as a board does (in the reset loop
  it shares with the simulator's vboot.py), then gives the REPL.
* The relay between them emulates what the unix port does not do:
  - Ctrl-D (soft reset) makes the unix port exit; the relay prints the line
    a board prints ("MPY: soft reboot\r\n") and starts a fresh interpreter
    in the same REPL mode. After a soft reset in the raw REPL the board
    skips main.py and answers "raw REPL; CTRL-B to exit\r\n>" (as pyexec
    does); in the friendly REPL main.py runs, then the banner.
  - Ctrl-C: the tty does not turn ^C into SIGINT (raw mode, so mpremote's
    mount protocol can carry 0x03 bytes); the relay sends SIGINT itself when
    the interpreter has its ^C handler installed (running code with
    kbd_intr(3)), and passes the byte on otherwise (REPL idle: the REPL
    reads it; kbd_intr(-1), e.g. mpremote's mount protocol: data). Linux
    only (reads SigCgt from /proc/<pid>/status). A ^C that comes while an
    interpreter starts, or while a reset replaces it, is held until main.py
    runs and then interrupts it, as a board's line would.
  - machine.reset()/deepsleep() typed at the REPL: the interpreter exits
    with status 0xC0|cause and the relay powers on a fresh one (main.py
    runs, no soft-reboot line). Resets inside main.py stay in-process, as
    under vboot. A board keeps its line across such a reset, so the input
    the old interpreter never read (the relay holds the pty's slave side
    open to find it) goes to the new one, and so does a ^C whose SIGINT
    reached no code that read the line again (it landed as the reset
    unwound): mpremote's next "^C ^A" is never lost in a reset.
  - Output is cooked ("\n" -> "\r\n") in both REPLs as a board's stdout
    is, except inside mpremote's mount-protocol frames.

The virtual hardware (machine, bluetooth, time, esp32 strict fakes from
sim/mp) runs on a holstered timeline of `days` days with no edges; its
"@vb" event lines go to a file, not the console.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import pty
import select
import signal
import subprocess
import sys
import tempfile
import termios
import threading
import time
import tty
from pathlib import Path
from typing import Callable

from drawsense import boards, paths
from drawsense.console import Interrupted
from drawsense.sim import vboard
from drawsense.sim import ports

SOFT_REBOOT = b"MPY: soft reboot\r\n"
RAW_PROMPT = b"raw REPL; CTRL-B to exit\r\n>"
_RAW_MARK = b"raw REPL; CTRL-B to exit\r\n"
_BANNER_END = b'Type "help()" for more information.\r\n'
_UP_MARK = b"\x00ds-up\x00"  # the boot script's (sim/mp/serveboot.py) first output: MicroPython runs it
_READY_MARK = b"\x00ds-ready\x00"  # the boot script's "boot done" in raw boots
_FRIENDLY_PROMPT = b">>> "
_BACKLOG = 1 << 16  # bytes queued either way before the relay stops reading that side
_DEAF_S = 1.0  # no byte taken by the client for this long with a full backlog: no one listens

PWRON_RESET = ports.reset_code("PWRON_RESET")
SOFT_RESET = ports.reset_code("SOFT_RESET")


def _traced(data: bytes) -> str:
    """What the trace shows of bytes on the line: the REPL's control bytes
    and their count, never the contents (a provisioned key crosses this
    line, as do the board's files)."""
    ctrl = "".join(f"\\x{b:02x}" for b in data if b < 0x20 and b not in (0x0A, 0x0D))
    return f"{len(data)} bytes" + (f", control {ctrl}" if ctrl else "")


def _holstered_timeline(days: float, port: str) -> dict:
    return {
        "name": "serve",
        "seed": 1,
        "duration_us": int(days * 86400 * 1_000_000),
        "initial_out": False,  # switch closed: holstered
        "battery": [[0, 3000]],
        "wrap_after_ms": 2000,
        "contract": ports.load(port).compact(),
    }


def _sigint_caught(pid: int) -> bool | None:
    """Whether `pid` has a SIGINT handler (MicroPython running code with
    kbd_intr(3)); None if unknown (no /proc)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    except OSError:
        return None
    return None


class _Board:
    """One run of the interpreter (power-on to soft reset) on its own pty.

    The relay keeps the pty's slave side open too (its own non-blocking open
    of it, so nothing it does changes the interpreter's stdin): what the
    interpreter had not read of its input when it exited stays there for
    `unread()`, so a reset does not lose what was typed during it. (With the
    slave held open the master sees no EIO at exit: the relay watches the
    process instead.)"""

    def __init__(self, cmd: list[str], env: dict, cwd: str):
        master, slave = pty.openpty()
        tty.setraw(slave)
        self.started = time.monotonic()
        try:
            # umask 077: what the board writes into its root (a provisioned
            # key file) is private to the user, as it is on the device
            self.proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd,
                                         start_new_session=True, close_fds=True, umask=0o077)
        except BaseException:
            os.close(master)
            os.close(slave)
            raise
        try:
            self.peek = os.open(os.ttyname(slave), os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        finally:
            os.close(slave)
        os.set_blocking(master, False)
        self.fd = master
        self.written = 0  # bytes written to the interpreter's input so far
        try:  # readable once the process exits (Linux 5.3+), so an exit wakes the relay at once
            self.pidfd: int | None = os.pidfd_open(self.proc.pid)
        except (AttributeError, OSError):
            self.pidfd = None

    def pending_input(self) -> int:
        """Bytes written to the interpreter's input that it has not read."""
        try:
            # polling the slave first waits for bytes still on their way from
            # the master into its queue, so FIONREAD counts every byte written
            select.select([self.peek], [], [], 0)
            return int.from_bytes(fcntl.ioctl(self.peek, termios.FIONREAD, b"\0\0\0\0"), sys.byteorder)
        except OSError:
            return 0

    def unread(self) -> bytes:
        """Once the interpreter has exited: the input it never read."""
        out = bytearray()
        while len(out) < _BACKLOG and self.pending_input():
            try:
                data = os.read(self.peek, 65536)
            except (BlockingIOError, InterruptedError, OSError):
                break
            if not data:
                break
            out += data
        return bytes(out)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for fd in (self.fd, self.peek, self.pidfd):
            if fd is None:
                continue
            try:
                os.close(fd)
            except OSError:
                pass


class _MountFrames:
    """Finds mpremote's mount-protocol requests in the board's output.

    While a local directory is mounted, the board sends 0x18, a command byte
    and the command's arguments (transport_serial.fs_hook_code): binary, to
    be passed on untouched; everything else is console text."""

    # command -> its arguments: b = s8, i = s32, s = s32 length then bytes
    ARGS = {1: "s", 2: "s", 3: "", 4: "ss", 5: "b", 6: "bi", 7: "b", 8: "bs", 9: "bib", 10: "s", 11: "ss",
            12: "s", 13: "s"}
    SIZE = {"b": 1, "i": 4, "s": 4}

    def __init__(self):
        self.state = "text"  # text | cmd (command byte next) | args
        self.todo = ""  # arguments still to come
        self.kind = ""  # the one being read: b, i, s (its length) or d (an s's bytes)
        self.need = 0
        self.length = bytearray()

    def _arg(self) -> None:
        if not self.todo:
            self.state = "text"
            return
        self.kind, self.todo = self.todo[0], self.todo[1:]
        self.need = self.SIZE[self.kind]
        self.length.clear()
        self.state = "args"

    def split(self, data: bytes):
        """Yield (is_text, bytes) pieces of `data`, in order."""
        i, n = 0, len(data)
        while i < n:
            if self.state == "text":
                j = data.find(b"\x18", i)
                if j < 0:
                    yield True, data[i:]
                    return
                if j > i:
                    yield True, data[i:j]
                yield False, data[j:j + 1]
                i = j + 1
                self.state = "cmd"
            elif self.state == "cmd":
                args = self.ARGS.get(data[i])
                yield False, data[i:i + 1]
                i += 1
                if args is None:
                    self.state = "text"  # not a request after all
                else:
                    self.todo = args
                    self._arg()
            else:
                take = min(self.need, n - i)
                yield False, data[i:i + take]
                if self.kind == "s":
                    self.length += data[i:i + take]
                i += take
                self.need -= take
                if self.need:
                    continue
                if self.kind == "s":
                    size = int.from_bytes(self.length, "little", signed=True)
                    if size > 0:
                        self.kind, self.need = "d", size
                        continue
                self._arg()


class Server:
    """The relay; `serve()` is the blocking entry point."""

    def __init__(self, root: Path, board: str = "virtual", *, heapsize: str = "192K", days: float = 10.0,
                 events: Path | None = None, log: Callable[[str], None] | None = None,
                 control: Path | None = None):
        # Everything given is checked before anything is made or announced: a
        # board whose events or control file it cannot write dies at boot, and
        # mpremote would hang on its pty.
        self.board_def = boards.load(board)
        events = _file_option(events, "--events", "ev.log") if events else None
        control = _file_option(control, "--control", "vb.ctl") if control else None
        if events is not None and events == control:
            raise ServeError(f"--events and --control are the same file ({events}): give two files")
        if control is not None and control.exists():
            _control_settings(control)  # a control file, not some other file of the user's
        self.root = _board_root(Path(root))
        self.heapsize = heapsize
        self.days = days
        self.log = log or (lambda msg: None)
        self.trace = bool(os.environ.get("DRAWSENSE_SERVE_TRACE"))
        self._tmp = tempfile.TemporaryDirectory(prefix="drawsense-serve-")
        tmp = Path(self._tmp.name)
        (tmp / "timeline.json").write_text(json.dumps(_holstered_timeline(days, self.board_def["PORT"])))
        (tmp / "edges.bin").write_bytes(b"")
        # runs in the board's interpreter before its REPL (micropython -i BOOT KIND CAUSE)
        self.boot_script = paths.VBOARD_MP / "serveboot.py"
        self.env = dict(os.environ)
        self.env.update({
            "MICROPYPATH": os.pathsep.join([str(self.root), *vboard.port_fakes(self.board_def["PORT"]),
                                            str(paths.VBOARD_MP), str(self.board_def.dir)]),
            "DRAWSENSE_SERVE_ROOT": str(self.root),
            "DRAWSENSE_VB_TIMELINE": str(tmp / "timeline.json"),
            "DRAWSENSE_VB_EDGES": str(tmp / "edges.bin"),
            "DRAWSENSE_VB_FLASH": str(tmp / "flash.img"),
            "DRAWSENSE_VB_FILES": "",
            "DRAWSENSE_VB_HEAP": "0",
            "DRAWSENSE_VB_CUT_AT": "0",
            "DRAWSENSE_VB_ROOT": str(self.root),  # _vb: the board's filesystem is root, no littlefs
            **vboard.heap_cmd(heapsize)[1],
        })
        self.events = events or tmp / "events.txt"
        self.events.touch()  # there from the moment the pty is announced, for `bench --events`
        self.env["DRAWSENSE_VB_EVENTS"] = str(self.events)
        # A served board runs in real time; `drawsense board poke` moves its
        # sensor and sets its battery through this file. A new board starts
        # holstered on a full cell, whatever an earlier one was poked to.
        self.control = control or tmp / "control.json"
        _write_control(self.control, {})
        self.env["DRAWSENSE_VB_REALTIME"] = "1"
        # The RTC keeps counting across the board's resets (every soft reset
        # is a new interpreter here): from this power-on, on the host's clock.
        self.env["DRAWSENSE_VB_RTC0_US"] = str(time.time_ns() // 1000)
        self.env["DRAWSENSE_VB_CONTROL"] = str(self.control)
        self.tmp = tmp
        self.client_fd, self.client_slave = pty.openpty()
        tty.setraw(self.client_slave)
        os.set_blocking(self.client_fd, False)
        self.pty_path = os.ttyname(self.client_slave)
        self.board: _Board | None = None
        self.to_client = bytearray()
        self.to_board = bytearray()
        self.held = bytearray()  # client input while the board boots into the raw REPL
        self.mode = "friendly"  # REPL mode of the running interpreter, from its output
        self.phase = "boot"  # boot (friendly: main.py may run), rawboot (0..2), repl
        self.rawboot_stage = 0
        self.scan = bytearray()  # output not yet matched against the markers
        self.pending_intr = False
        self.last_sigint = 0.0
        self.boots = 0
        self.mounted = False  # mpremote's remote filesystem is mounted (binary protocol on the line)
        self._frames = _MountFrames()
        self.typed = bytearray()  # tail of the client's input, to see mount/umount go by
        # A SIGINT sent to the running interpreter: (bytes written to it
        # before the ^C, bytes it had read then). If it exits having read
        # nothing since, the ^C never reached code (it landed as a reset
        # unwound), and goes to the next boot with the input it did not read.
        self.sigint_at: tuple[int, int] | None = None
        self.last_out = 0  # last byte sent to the client (CR/LF cooking across chunks)
        self.last_drain = 0.0  # when the client's side last took bytes

    # ---------------------------------------------------------------- boards

    def _start(self, kind: str, cause: int) -> None:
        heap_args, _ = vboard.heap_cmd(self.heapsize)
        cmd = [paths.micropython(), *heap_args, "-i", str(self.boot_script), kind, str(cause)]
        self.board = _Board(cmd, self.env, str(self.tmp))
        self.boots += 1
        self.cause = cause
        self.scan.clear()
        self.up = False
        self.prebuf = bytearray()
        self.pending_intr = False
        self.last_sigint = 0.0  # a new process has no SIGINT pending
        self.sigint_at = None
        self.mounted = False
        self._frames = _MountFrames()
        self.to_board.clear()
        if kind == "raw":
            self.phase, self.rawboot_stage = "rawboot", 0
        else:
            self.phase = "boot"
            self.mode = "friendly"
            self.to_board += self.held
            self.held.clear()
        self.log(f"board: boot {self.boots} ({kind}), pid {self.board.proc.pid}")

    def _board_exited(self) -> None:
        b = self.board
        assert b is not None
        lived = time.monotonic() - b.started
        if b.proc.poll() is None:  # its line closed under it (not expected: the relay holds the slave)
            b.proc.kill()
            b.proc.wait()
        queued = bytes(self.to_board)  # client bytes not written yet (draining may queue the relay's own)
        self._drain(b)
        # What a board would still find on its line after a reset: the input
        # the interpreter never read, then what the relay had not written yet.
        left = b.unread()
        unread = left + queued
        if self.sigint_at is not None:
            before, had_read = self.sigint_at
            if b.written - len(left) <= had_read:  # it read nothing after the ^C: the ^C was lost
                at = min(max(before - (b.written - len(left)), 0), len(unread))
                unread = unread[:at] + b"\x03" + unread[at:]
        b.close()
        rc = b.proc.returncode
        self.log(f"board: interpreter exited ({rc}) in {self.mode} mode")
        self.board = None
        if self.prebuf:  # whatever it said before the boot script ran (an error)
            self._to_client(bytes(self.prebuf))
        if self.phase != "repl" and lived < 0.2:
            time.sleep(0.05)  # a boot loop (main.py calling sys.exit) is a board's too; don't spin
        if rc == -signal.SIGINT:
            # Our SIGINT landed as the code it was meant for ended, after the
            # unix port had put SIGINT back to its default action. A board
            # would simply be at its REPL: boot one there, no main.py, the
            # same reset cause, and hand it what it had not read.
            self.log("board: ^C came as the code ended; back to the REPL")
            self._start("raw" if self.mode == "raw" else "repl", self.cause)
            if unread:
                self._from_client(unread, retyped=True)
            return
        cause = rc & 0x0F if rc is not None and rc & 0xF0 == 0xC0 else SOFT_RESET
        if cause != SOFT_RESET:
            # machine.reset()/deepsleep() at the REPL: the chip restarts, main.py runs
            self.log(f"board: hard reset (cause {cause})")
            self._start("main", cause)
            if unread:
                self.log(f"board: {len(unread)} bytes typed during the reset go to the new boot")
                self._from_client(unread, retyped=True)
            return
        self._to_client(SOFT_REBOOT)
        if self.mode == "raw":
            self._start("raw", SOFT_RESET)
        else:
            self._start("main", SOFT_RESET)

    # ---------------------------------------------------------------- relay

    def _from_board(self, data: bytes) -> None:
        if not self.up:
            # Until the boot script announces itself the interpreter is still
            # starting (the CPython wrapper's SIGINT handler is in place).
            self.prebuf += data
            at = self.prebuf.find(_UP_MARK)
            if at < 0:
                return
            data = bytes(self.prebuf[:at] + self.prebuf[at + len(_UP_MARK):])
            self.prebuf.clear()
            self.up = True
            if not data:
                return
        if self.phase == "rawboot":
            self._rawboot(data)
            return
        self._to_client(data)
        self.scan += data
        raw_at = self.scan.rfind(_RAW_MARK)
        friendly_at = self.scan.rfind(_BANNER_END)
        if raw_at > friendly_at:
            self.mode, self.phase = "raw", "repl"
            self.pending_intr = False  # a prompt: boot is over, nothing left to interrupt
            del self.scan[:raw_at + len(_RAW_MARK)]
        elif friendly_at > raw_at:
            self.mode, self.phase = "friendly", "repl"
            self.pending_intr = False  # boot is over: nothing left to interrupt
            del self.scan[:friendly_at + len(_BANNER_END)]
        del self.scan[:-64]

    def _to_client(self, data: bytes) -> None:
        # A board's stdout is cooked (print's "\n" goes out as "\r\n",
        # shared/runtime/sys_stdio_mphal.c: mp_hal_stdout_tx_strn_cooked), in
        # the friendly and the raw REPL alike; the unix port's is not, which
        # staircases `mpremote repl` and fails MicroPython's own
        # tests/run-tests.py, which expects "\r\n" from a board. Cook all
        # text, but never inside mpremote's mount-protocol frames (binary on
        # the line while a local directory is mounted). The raw REPL's own
        # bytes have no "\n" (its raw-paste window, 0x80 0x00, none either).
        if self.mounted:
            out = bytearray()
            for is_text, part in self._frames.split(data):
                out += self._cook(part) if is_text else part
                if part:
                    self.last_out = part[-1]
            data = bytes(out)
        else:
            data = self._cook(data)
        if data:
            self.last_out = data[-1]
            self.to_client += data

    def _cook(self, data: bytes) -> bytes:
        if b"\n" not in data:
            return data
        out = bytearray()
        prev = self.last_out
        for line in data.split(b"\n")[:-1]:
            out += line
            if (line[-1:] or bytes([prev])) != b"\r":
                out += b"\r"
            out += b"\n"
            prev = 0x0A
        out += data[data.rfind(b"\n") + 1:]
        return bytes(out)

    def _rawboot(self, data: bytes) -> None:
        # Soft reset in the raw REPL: boot.py's output goes through, then the
        # unix port's banner is swallowed, ^A sent for it, and its raw prompt
        # handed on as a board gives it after "MPY: soft reboot".
        self.scan += data
        if self.rawboot_stage == 0:
            at = self.scan.find(_READY_MARK)
            if at < 0:
                keep = len(_READY_MARK) - 1
                self._to_client(bytes(self.scan[:-keep]))
                del self.scan[:-keep]
                return
            self._to_client(bytes(self.scan[:at]))
            del self.scan[:at + len(_READY_MARK)]
            self.rawboot_stage = 1
        if self.rawboot_stage == 1:
            at = self.scan.find(_FRIENDLY_PROMPT)
            if at < 0:
                return
            del self.scan[:at + len(_FRIENDLY_PROMPT)]
            self.to_board += b"\x01"
            self.rawboot_stage = 2
        if self.rawboot_stage == 2:
            at = self.scan.find(RAW_PROMPT)
            if at < 0:
                return
            rest = bytes(self.scan[at + len(RAW_PROMPT):])
            self.scan.clear()
            self._to_client(RAW_PROMPT)
            self.mode, self.phase = "raw", "repl"
            self.pending_intr = False
            self.to_board += self.held
            self.held.clear()
            if rest:
                self._from_board(rest)

    def _from_client(self, data: bytes, retyped: bool = False) -> None:
        if not retyped:
            self._see_typed(data)
        if self.board is None or self.phase == "rawboot":
            self.held += data
            return
        chunks = data.split(b"\x03")
        for i, chunk in enumerate(chunks):
            if i:
                self._ctrl_c()
            self.to_board += chunk

    def _see_typed(self, data: bytes) -> None:
        self.typed += data
        if b"__mount()" in self.typed:  # mpremote's fs hook (transport_serial.mount_local)
            self.mounted = True
            self.typed.clear()
        elif b'os.umount("/remote")' in self.typed:  # umount_local
            self.mounted = False
            self.typed.clear()
        del self.typed[:-32]

    def _ctrl_c(self) -> None:
        assert self.board is not None
        pid = self.board.proc.pid
        if not self.up:
            self.pending_intr = True  # still starting: interrupt main.py once it runs
            self.log("board: ^C while the interpreter starts: held")
            return
        caught = _sigint_caught(pid)
        if not caught and self.phase == "boot":
            # Up, but main.py has not started yet (imports, vb.boot()): on a
            # board the ^C interrupts main.py, so hold it until main.py runs
            # (the REPL's banner drops it if there is no main.py to stop).
            self.pending_intr = True
            return
        if caught:
            if time.monotonic() - self.last_sigint > 0.3:
                self._sigint()
            # else: a second SIGINT while one is pending makes the unix port
            # exit(1); a board would just interrupt once, so drop it
        else:
            self.to_board += b"\x03"

    def _sigint(self) -> None:
        b = self.board
        assert b is not None
        self._flush_board()  # bytes before the ^C reach the board first
        # (those a full line left queued are before the ^C all the same)
        self.sigint_at = (b.written + len(self.to_board), b.written - b.pending_input())
        os.kill(b.proc.pid, signal.SIGINT)
        self.last_sigint = time.monotonic()

    def _flush_board(self) -> None:
        b = self.board
        if b is None:
            return
        try:
            while self.to_board:
                n = os.write(b.fd, self.to_board)
                del self.to_board[:n]
                b.written += n
        except (BlockingIOError, OSError):
            pass

    def _drain(self, b: _Board) -> None:
        """Pass on what an exited interpreter wrote before it went (polling
        the master waits for bytes still on their way to it)."""
        taken = 0
        while taken < 4 * _BACKLOG and select.select([b.fd], [], [], 0)[0]:
            try:
                data = os.read(b.fd, 65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                return
            if not data:
                return
            taken += len(data)
            self.log(f"board<  {_traced(data)}") if self.trace else None
            self._from_board(data)

    # ---------------------------------------------------------------- loop

    def run(self, ready: Callable[[str], None] | None = None, stop: threading.Event | None = None) -> None:
        stop = stop or threading.Event()
        self._start("main", PWRON_RESET)
        if ready is not None:
            ready(self.pty_path)
        try:
            while not stop.is_set():
                self._step(0.05)
        finally:
            self.close()

    def _step(self, timeout: float) -> None:
        b = self.board
        if b is not None and b.proc.poll() is not None:
            self._board_exited()  # at once: mpremote waits only 0.1 s for a soft reset's line
            return
        if len(self.to_client) > _BACKLOG and time.monotonic() - self.last_drain > _DEAF_S:
            # No one reads the line (no client connected): a UART drops it.
            del self.to_client[:-_BACKLOG]
        # Back-pressure: a side with a full queue waits (the board blocks on its
        # write, as with a USB-serial line) rather than anything being dropped.
        rfds = [] if len(self.to_board) > _BACKLOG else [self.client_fd]
        if b and len(self.to_client) <= _BACKLOG:
            rfds.append(b.fd)
        if b and b.pidfd is not None:
            rfds.append(b.pidfd)
        wfds = []
        if self.to_client:
            wfds.append(self.client_fd)
        if b and self.to_board:
            wfds.append(b.fd)
        if b and b.pidfd is None:
            timeout = min(timeout, 0.01)  # no pidfd to wake on an exit: look often
        r, w, _ = select.select(rfds, wfds, [], timeout)
        if self.client_fd in r:
            try:
                data = os.read(self.client_fd, 65536)
            except (BlockingIOError, InterruptedError):
                data = None
            except OSError:
                data = None  # no client opened yet / closed: nothing to read
            if data:
                self.log(f"client> {_traced(data)}") if self.trace else None
                self._from_client(data)
        if b and b.fd in r:
            try:
                data = os.read(b.fd, 65536)
            except (BlockingIOError, InterruptedError):
                data = None
            except OSError as e:  # EIO: no slave side left (the relay holds one: not expected)
                if e.errno != errno.EIO:
                    raise
                data = b""
            if data:
                self.log(f"board<  {_traced(data)}") if self.trace else None
                self._from_board(data)
            elif data == b"":
                self._board_exited()
                return
        if b and b.pidfd is not None and b.pidfd in r and b.proc.poll() is not None:
            # the interpreter has exited: _board_exited passes on its last output first
            self._board_exited()
            return
        if self.pending_intr and self.board and self.up and _sigint_caught(self.board.proc.pid):
            self.pending_intr = False
            self.log("board: held ^C delivered")
            self._sigint()
        if self.board and self.to_board:
            self._flush_board()
        if self.to_client:
            try:
                n = os.write(self.client_fd, self.to_client)
                del self.to_client[:n]
                self.last_drain = time.monotonic()
            except (BlockingIOError, InterruptedError):
                pass

    def close(self) -> None:
        if self.board is not None:
            self.board.close()
            self.board = None
        for fd in (self.client_fd, self.client_slave):
            try:
                os.close(fd)
            except OSError:
                pass
        self._tmp.cleanup()


def serve(root: Path, board: str = "virtual", *, ready: Callable[[str], None] | None = None,
          stop: threading.Event | None = None, heapsize: str = "192K", days: float = 10.0,
          events: Path | None = None, log: Callable[[str], None] | None = None,
          control: Path | None = None) -> None:
    """Serve the virtual board, its filesystem rooted at `root`, on a new pty.

    Blocks until SIGTERM/SIGINT (when called from the main thread; the board
    is stopped, then console.Interrupted raised) or until `stop` is set. `ready(path)` is called with the /dev/pts/N path once the
    board is powered on (default: print it). The virtual board's "@vb <json>"
    event lines are appended to `events` (default: a temporary file), not
    printed on the board's console."""
    stop = stop or threading.Event()
    if ready is None:
        def ready(path: str) -> None:
            print(path, flush=True)
    server = Server(root, board, heapsize=heapsize, days=days, events=events, log=log, control=control)
    old, got = {}, []

    def stop_on(signum, frame) -> None:
        got.append(signum)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            old[sig] = signal.signal(sig, stop_on)
    try:
        server.run(ready, stop)
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    if got:  # the board is stopped and its interpreters reaped: now say it was a signal (exit 130 / 143)
        raise Interrupted(got[0])


class PokeError(ValueError):
    """A one-line reason the control file cannot be poked."""


class ServeError(ValueError):
    """A one-line reason the board cannot be served as asked (nothing was started)."""


def _board_root(root: Path) -> Path:
    """The board's filesystem folder, made if it is missing (its parent must exist)."""
    try:
        root.mkdir(exist_ok=True)
    except FileExistsError:
        raise ServeError(f"--root {root}: is a file; give a folder for the board's filesystem") from None
    except FileNotFoundError:
        raise ServeError(f"--root {root}: no folder {root.parent} to make it in") from None
    except OSError as e:
        raise ServeError(f"--root {root}: cannot make the folder ({e.strerror or e})") from None
    return root.resolve()


def _file_option(path: Path, option: str, example: str) -> Path:
    """A file the served board writes: not a folder, in a folder that exists
    and lets us write there (the file itself is made by the board or serve)."""
    path = Path(path)
    if path.is_dir():
        raise ServeError(f"{option} {path}: is a folder; give a file, e.g. {option} {path / example}")
    folder = path.resolve().parent
    if not folder.is_dir():
        raise ServeError(f"{option} {path}: no folder {folder}; make it first, or give a file in an existing one")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ServeError(f"{option} {path}: not writable")
    return path.resolve()


_CONTROL_KEYS = {"sensor", "battery_mv"}


def _control_settings(control: Path) -> dict:
    """What a control file holds; PokeError if it is not one (so a wrong path
    is refused rather than overwritten)."""
    try:
        want = json.loads(control.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise PokeError(f"{control}: not a served board's control file ({e.__class__.__name__})") from None
    if not isinstance(want, dict) or not set(want) <= _CONTROL_KEYS:
        raise PokeError(f"{control}: not a served board's control file (it holds other data)")
    return want


def _write_control(control: Path, want: dict) -> None:
    tmp = control.with_name(control.name + ".tmp")
    try:
        tmp.write_text(json.dumps(want))
        os.replace(tmp, control)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise PokeError(f"{control}: cannot write it ({e.strerror or e})") from None


def poke(control: Path, *, sensor: str | None = None, battery_mv: int | None = None) -> dict:
    """Set the served board's sensor ("in"/"out") and/or battery (mV at rest);
    the board reads the file within 50 ms. Written atomically. A missing file
    is created; an existing file must be a control file (a JSON object of
    these settings)."""
    want = _control_settings(control) if control.exists() else {}
    if sensor is not None:
        want["sensor"] = sensor
    if battery_mv is not None:
        want["battery_mv"] = battery_mv
    _write_control(control, want)
    return want


# A served board reads its control file every 50 ms: a scenario played onto
# it keeps the levels that hold at least that long (what the magnet did) and
# leaves out contact bounce and chatter, which only the simulator's own
# timeline (drawsense sim) can reproduce.
PLAY_MIN_US = 50_000


def settled_steps(scen) -> list[tuple[int, str]]:
    """The scenario's sensor as (t_us, "in"/"out") steps, each level held at
    least PLAY_MIN_US (the first is the level at 0), ending with its length."""
    steps = [(0, "out" if scen.initial_out else "in")]
    edges = scen.edges
    for i, (t, out) in enumerate(edges):
        nxt = edges[i + 1][0] if i + 1 < len(edges) else scen.duration_us
        level = "out" if out else "in"
        if nxt - t >= PLAY_MIN_US and level != steps[-1][1]:
            steps.append((t, level))
    return steps


def play(control: Path, scen, *, say=print, sleep=time.sleep, clock=time.monotonic) -> list[tuple[int, str]]:
    """Move the served board's sensor through the scenario in real time
    (settled_steps), then wait out its length. Returns the steps written."""
    steps = settled_steps(scen)
    t0 = clock()
    for t_us, level in steps:
        wait = t0 + t_us / 1e6 - clock()
        if wait > 0:
            sleep(wait)
        poke(control, sensor=level)
        say(f"{t_us / 1e6:9.3f} s  sensor {level}")
    left = t0 + scen.duration_us / 1e6 - clock()
    if left > 0:
        sleep(left)
    return steps
