"""What the drawsense commands say on stderr, in one place: a line prefixed
with the command that says it ("drawsense: ...", "drawsense deploy: ..."),
and for an error the exit status to return (2: nothing was done; 1: it failed
part-way or a check failed; 130 and 143: stopped by Ctrl-C or SIGTERM)."""

from __future__ import annotations

import signal
import sys

_open_line = [False]  # a progress line drawn with "\r" is on the terminal, without its newline


class Interrupted(KeyboardInterrupt):
    """SIGTERM (a timeout, a supervisor, kill): raised where the program is, as
    Ctrl-C raises KeyboardInterrupt, so both unwind the same way (finally
    blocks and context managers remove temporary folders and half-made files)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def interrupt_status(e: KeyboardInterrupt) -> int:
    """128 + the signal (130 for Ctrl-C, 143 for SIGTERM), the shell's status for it."""
    return 128 + getattr(e, "signum", signal.SIGINT)


def interrupted(e: KeyboardInterrupt, *, prog: str = "drawsense") -> int:
    """Say in one line that the command was stopped; return its exit status."""
    signum = getattr(e, "signum", signal.SIGINT)
    say("interrupted (Ctrl-C)" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}",
        prog=prog)
    return interrupt_status(e)


def progress(line: str) -> None:
    """Redraw the one progress line on stderr (a terminal) in place."""
    _open_line[0] = True  # first: a Ctrl-C in the print below still ends the line
    print(f"\r{line}", end="", file=sys.stderr, flush=True)


def end_progress() -> None:
    """Finish the progress line, if one is open, so the next line starts clean."""
    if _open_line[0]:
        _open_line[0] = False
        sys.stderr.write("\n")
        sys.stderr.flush()


def say(msg: str, *, prog: str = "drawsense") -> None:
    """One line for the user on stderr, e.g. a problem the command goes on past."""
    note(f"{prog}: {msg}")


def fail(msg: str, code: int = 2, *, prog: str = "drawsense") -> int:
    """Say what is wrong in one line; return the exit status."""
    say(msg, prog=prog)
    return code


def warn(msg: str) -> None:
    say(f"warning: {msg}")


def note(msg: str) -> None:
    """A line for the person at the terminal (progress, where a file went), as it is."""
    end_progress()
    sys.stderr.write(f"{msg}\n")  # one write: a Ctrl-C cannot land between the text and its newline
    sys.stderr.flush()
