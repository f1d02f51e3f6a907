"""What the drawsense commands say on stderr, in one place: a line prefixed
with the command that says it ("drawsense: ...", "drawsense deploy: ..."),
and for an error the exit status to return (2: nothing was done; 1: it failed
part-way or a check failed)."""

from __future__ import annotations

import sys


def say(msg: str, *, prog: str = "drawsense") -> None:
    """One line for the user on stderr, e.g. a problem the command goes on past."""
    print(f"{prog}: {msg}", file=sys.stderr)


def fail(msg: str, code: int = 2, *, prog: str = "drawsense") -> int:
    """Say what is wrong in one line; return the exit status."""
    say(msg, prog=prog)
    return code


def warn(msg: str) -> None:
    say(f"warning: {msg}")


def note(msg: str) -> None:
    """A line for the person at the terminal (progress, where a file went), as it is."""
    print(msg, file=sys.stderr, flush=True)
