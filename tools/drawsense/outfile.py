"""Files a command writes for the user (a VCD, a plot): checked before the
work starts, and written whole or not at all.

A file is written under a temporary name in the same folder and renamed over
the target when complete (rename is atomic within a filesystem), so Ctrl-C,
SIGTERM or a full disk leaves either the old file or the new one, never half
of one, and never an empty file from a run that did not finish."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def problem(path: str | os.PathLike) -> str | None:
    """Why `path` cannot be written, in words for the user, or None."""
    p = Path(path)
    folder = p.parent
    if p.is_dir():
        return "is a folder"
    if not folder.is_dir():
        return f"no such folder {folder}"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"the folder {folder} is not writable"
    if p.exists() and not os.access(p, os.W_OK):
        return "is not writable"
    return None


@contextlib.contextmanager
def atomic(path: str | os.PathLike):
    """Yield a temporary path beside `path` (same suffix, so a writer that
    goes by the suffix still can) to write; on success it becomes `path`, on
    any exception (KeyboardInterrupt too) it is removed."""
    p = Path(path)
    tmp = p.with_name(f".{p.stem}.{os.getpid()}.part{p.suffix}")
    try:
        yield tmp
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
