"""Where simulated air comes from: a file, a pipe or stdin read by a
background thread (a quiet pipe never blocks the event loop or exit), or an
in-memory iterable of lines. Used by the simulated-air backend (receive.air)."""

from __future__ import annotations

import asyncio
import os
import queue
import sys
import threading
from collections.abc import Iterable, Iterator
from typing import Any, Optional, Union


class AirError(ValueError):
    """Simulated air that cannot be read; ``str()`` is ``"<source>:<line>: <what>"``."""


MAX_LINE = 1 << 20
"""Longest line read, in bytes (an advert line of 'drawsense sim --json' is
~300): a longer one is not air, and is reported as OVERLONG, not buffered."""


class Overlong:
    """Stands in the stream for a line longer than MAX_LINE (its bytes were skipped)."""


OVERLONG = Overlong()


class _IterLines:
    """In-memory lines (list, tuple, generator that never blocks)."""

    def __init__(self, it: Iterable[Union[str, bytes]]):
        self._it: Iterator[Union[str, bytes]] = iter(it)

    async def next(self) -> Union[str, bytes, None]:
        return next(self._it, None)

    def close(self) -> None:
        pass


class _ThreadLines:
    """Lines of a blocking file (a pipe, stdin, a file) read by a daemon thread
    into a bounded queue: the first line is delivered as soon as it is written,
    a huge stream never holds more than ``maxsize`` batches, and a read blocked
    on a quiet pipe never holds up the event loop or interpreter exit (the
    default executor would: asyncio.run waits for it).

    A binary buffered file (``read1``) is read in chunks of whatever is
    available, split into lines; anything else line by line (``readline``).
    """

    _EOF = object()
    CHUNK = 1 << 16

    def __init__(self, f: Any, *, close_file: bool, maxsize: int = 16):
        self._f = f
        self._close_file = close_file
        self._q: queue.Queue = queue.Queue(maxsize)
        self._closed = threading.Event()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._wake: Optional[asyncio.Event] = None
        self._waiting = False
        self._thread: Optional[threading.Thread] = None
        self._batch: list = []
        self._pos = 0

    def _start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._thread = threading.Thread(target=self._run, name="drawsense-air-reader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            read1 = getattr(self._f, "read1", None)
            if callable(read1):
                self._chunks(read1)
            else:
                while not self._closed.is_set():
                    line = self._f.readline(MAX_LINE + 1)
                    if not line:
                        break
                    if len(line) > MAX_LINE:
                        self._put([OVERLONG])
                        while line and not line.endswith(("\n", b"\n")):  # skip to its end
                            line = self._f.readline(MAX_LINE)
                        continue
                    self._put([line])
            self._put(self._EOF)
        except BaseException as e:  # handed to the consumer, raised there
            self._put(e)
        finally:
            if self._close_file:
                try:
                    self._f.close()
                except Exception:
                    pass

    def _chunks(self, read1: Any) -> None:
        """Split chunks into lines; a line's pieces are kept in a list and
        joined once (linear in its length), up to MAX_LINE bytes."""
        parts: list[bytes] = []  # the line so far, across chunks
        size = 0
        skipping = False  # in a line past MAX_LINE, already reported
        while not self._closed.is_set():
            chunk = read1(self.CHUNK)
            if not chunk:
                break
            *ended, rest = chunk.split(b"\n")
            out: list = []
            for piece in ended:
                if not skipping:
                    out.append(OVERLONG if size + len(piece) > MAX_LINE else b"".join([*parts, piece]))
                parts, size, skipping = [], 0, False
            if not skipping and size + len(rest) > MAX_LINE:
                out.append(OVERLONG)
                parts, size, skipping = [], 0, True
            elif not skipping and rest:
                parts.append(rest)
                size += len(rest)
            if out:
                self._put(out)
        if parts:
            self._put([b"".join(parts)])

    def _put(self, item: Any) -> None:
        while not self._closed.is_set():
            try:
                self._q.put(item, timeout=0.2)
                break
            except queue.Full:
                continue
        if self._waiting and self._loop is not None and self._wake is not None:
            try:
                self._loop.call_soon_threadsafe(self._wake.set)
            except RuntimeError:  # loop closed: nobody is listening any more
                self._closed.set()

    async def next(self) -> Union[str, bytes, None]:
        if self._pos < len(self._batch):
            self._pos += 1
            return self._batch[self._pos - 1]
        if self._thread is None:
            self._start()
        assert self._wake is not None
        while True:
            try:
                item = self._q.get_nowait()
            except queue.Empty:
                self._wake.clear()
                self._waiting = True  # before the re-check: see _put
                try:
                    if self._q.empty():
                        await self._wake.wait()
                finally:
                    self._waiting = False
                continue
            if item is self._EOF:
                self.close()
                return None
            if isinstance(item, BaseException):
                self.close()
                raise item
            self._batch, self._pos = item, 1
            return item[0]

    def close(self) -> None:
        self._closed.set()
        if self._thread is None and self._close_file:
            self._f.close()  # never started: the reader thread will not close it


class _FdReader:
    def __init__(self, fd: int):
        self._fd = fd

    def read1(self, n: int) -> bytes:
        return os.read(self._fd, n)


def open_source(air: Any) -> tuple[Any, str]:
    """(line source, name for messages)."""
    if isinstance(air, (str, os.PathLike)):
        if isinstance(air, str) and air == "-":
            f = sys.stdin
            if f is None:  # started with stdin closed (<&-)
                raise AirError("--air -: standard input is closed; pipe 'drawsense sim --json' into it, "
                               "or give a file")
            name = getattr(f, "name", None) or "<stdin>"
            try:
                fd = f.fileno()
            except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation too
                fd = None
            # the real stdin: read the file descriptor itself, so a reader
            # blocked on a quiet pipe holds no lock of sys.stdin's (interpreter
            # shutdown after Ctrl-C would abort on it); anything else: its
            # binary layer if it has one, in chunks of whatever is there
            src = _FdReader(fd) if fd is not None else getattr(f, "buffer", f)
            return _ThreadLines(src, close_file=False), str(name)
        path = os.fspath(air)
        try:
            f = open(path, "rb")
        except OSError as e:
            raise AirError(f"{path}: cannot read: {e.strerror or e}") from None
        return _ThreadLines(f, close_file=True), str(path)
    if hasattr(air, "readline"):
        name = getattr(air, "name", None)
        name = f"<fd {name}>" if isinstance(name, int) else (str(name) if name else "<air>")
        return _ThreadLines(air, close_file=False), name
    if isinstance(air, (bytes, bytearray)):
        raise TypeError("air= takes a path, '-', a file object or an iterable of lines, not bytes")
    try:
        return _IterLines(air), "<air>"
    except TypeError:
        raise TypeError(f"air= takes a path, '-', a file object or an iterable of lines, "
                        f"not {type(air).__name__}") from None
