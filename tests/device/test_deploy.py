"""drawsense deploy: against the virtual board served on a pty (drawsense
board serve, in-process) and driven by the real mpremote; plus the mip
package.json that must list exactly the firmware modules."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from served import ServedBoard
from drawsense import boards, cli, paths
from drawsense.device import checks, deploy
from drawsense.sim import vboard

import mpremote  # noqa: F401,E402  (the test extra pins it: a missing mpremote is a failure, not a skip)

REPO = Path(__file__).resolve().parents[2]
MODULES = sorted(p.stem for p in paths.FIRMWARE.glob("*.py") if p.name != "main.py")
N_FILES = len(MODULES) + 2  # + board, main.py
KEY = b"DSK1" + bytes(range(32)) + b"testdev1"  # a test identity (not a secret of any device)
CTR = b"\x00" * 8

needs_linux = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                 reason="drawsense board serve is Linux-only (its ^C relay reads /proc)")


class Board(ServedBoard):
    """The served board, plus what the deploy tests look at."""

    def mpremote(self, *args: str, timeout: float = 10) -> str:
        p = subprocess.run([sys.executable, "-m", "mpremote", "connect", self.pty, *args],
                           capture_output=True, text=True, timeout=timeout)
        assert p.returncode == 0, f"rc={p.returncode}\nstdout:{p.stdout}\nstderr:{p.stderr}"
        return p.stdout

    def snapshot(self) -> dict:
        """Every file on the board: bytes and mtime."""
        return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(self.root.iterdir()) if p.is_file()}



@pytest.fixture
def board(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "ds_key.bin").write_bytes(KEY)
    (root / "ds_ctr.bin").write_bytes(CTR)
    b = Board(root, events=tmp_path / "events.log")
    b.events = tmp_path / "events.log"
    yield b
    b.close()
    assert not b.error, b.error


def run(capsys, *argv: str) -> tuple[int, dict | None, str]:
    """drawsense deploy ARGV --json: (exit status, summary or None, stderr)."""
    code = cli.main(["deploy", *argv, "--json"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- on the served board


@needs_linux
def test_deploy_to_empty_board_runs_the_firmware(board, capsys, tmp_path):
    before = board.snapshot()
    code, s, err = run(capsys, "--port", board.pty, "--board", "virtual")
    assert code == 0, err
    want = {f"{m}.mpy" for m in MODULES} | {"board.mpy", "main.py"}
    assert s["changed"] == sorted(want) and s["removed"] == [] and s["files"] == s["verified"] == N_FILES
    assert s["flavour"] == "mpy" and s["reset"] is True
    on_board = {p.name for p in board.root.iterdir()}
    assert on_board == want | {"ds_key.bin", "ds_ctr.bin"}
    # the same bytes as a local build; main.py as source
    build = tmp_path / "build"
    for p in checks.compile_firmware("virtual", build):
        assert sha((board.root / p.name).read_bytes()) == sha(p.read_bytes()), p.name
    assert (board.root / "main.py").read_bytes() == (paths.FIRMWARE / "main.py").read_bytes()
    # identity and counter untouched
    for name in ("ds_key.bin", "ds_ctr.bin"):
        assert board.snapshot()[name] == before[name]
    # one progress line per step
    lines = err.splitlines()
    assert lines[0] == "board: none yet, MicroPython " + s["micropython"]
    assert lines[1] == f"compiling {len(MODULES)} modules for host"
    assert f"{N_FILES} of {N_FILES} files changed" in lines
    assert f"verified {N_FILES} files" in lines and lines[-1] == "reset"
    # after the reset main.py runs the firmware: wait till the virtual board
    # logs its first sleep (the main loop runs), then look (resume: no soft
    # reset, its modules are still loaded)
    end = time.monotonic() + 10
    while time.monotonic() < end and not any(
            e["type"] == "sleep" for e in vboard.parse(board.events.read_text() if board.events.exists() else "")[0]):
        time.sleep(0.02)
    assert board.mpremote("resume", "exec", "import sys; print('app' in sys.modules)").strip() == "True"
    # and the deployed modules work
    rep = json.loads(board.mpremote("exec", "import selftest; selftest.report()").strip().splitlines()[-1])
    assert rep["board"] == "virtual" and rep["key"] == "ok" and rep["device"] == b"testdev1".hex()


@needs_linux
def test_second_deploy_copies_nothing(board, capsys):
    assert run(capsys, "--port", board.pty, "--board", "virtual")[0] == 0
    before = board.snapshot()
    code, s, err = run(capsys, "--port", board.pty, "--board", "virtual")
    assert code == 0, err
    assert s["changed"] == [] and s["removed"] == [] and s["verified"] == N_FILES
    assert f"0 of {N_FILES} files changed" in err.splitlines() and "copying" not in err
    assert board.snapshot() == before  # not even rewritten


@needs_linux
def test_one_changed_module_is_the_only_copy(board, capsys, firmware_copy):
    fw = ["--firmware", str(firmware_copy)]
    assert run(capsys, "--port", board.pty, "--board", "virtual", *fw)[0] == 0
    before = board.snapshot()
    with open(firmware_copy / "selftest.py", "a") as f:
        f.write("\n_DEPLOY_TEST = 1\n")
    code, s, err = run(capsys, "--port", board.pty, "--board", "virtual", *fw)
    assert code == 0, err
    assert s["changed"] == ["selftest.mpy"] and s["removed"] == []
    assert "copying selftest.mpy" in err.splitlines()
    after = board.snapshot()
    assert {n for n in after if after[n] != before[n]} == {"selftest.mpy"}
    assert board.mpremote("exec", "import selftest; print(selftest._DEPLOY_TEST)").strip() == "1"


@needs_linux
def test_source_then_mpy_removes_the_other_flavour(board, capsys):
    code, s, err = run(capsys, "--port", board.pty, "--board", "virtual", "--source")
    assert code == 0, err
    assert {p.name for p in board.root.iterdir()} == \
        {f"{m}.py" for m in MODULES} | {"board.py", "main.py", "ds_key.bin", "ds_ctr.bin"}
    assert (board.root / "board.py").read_bytes() == (boards.load("virtual").dir / "board.py").read_bytes()
    code, s, err = run(capsys, "--port", board.pty, "--board", "virtual")
    assert code == 0, err
    assert s["removed"] == sorted([f"{m}.py" for m in MODULES] + ["board.py"])  # no .py left to shadow a .mpy
    assert {p.name for p in board.root.iterdir()} == \
        {f"{m}.mpy" for m in MODULES} | {"board.mpy", "main.py", "ds_key.bin", "ds_ctr.bin"}
    assert (board.root / "ds_key.bin").read_bytes() == KEY and (board.root / "ds_ctr.bin").read_bytes() == CTR


@needs_linux
def test_wrong_board_is_refused_and_nothing_changes(board, capsys):
    assert run(capsys, "--port", board.pty, "--board", "virtual")[0] == 0
    before = board.snapshot()
    code, s, err = run(capsys, "--port", board.pty, "--board", "picow")
    assert code == 2 and s is None
    assert err.splitlines()[-1] == ("drawsense deploy: device says it is virtual, not picow: "
                                    "pass --board virtual, or --force to replace it")
    assert "compiling" not in err  # refused before building
    assert board.snapshot() == before


@needs_linux
def test_another_boards_file_needs_force(board, capsys):
    shutil.copyfile(paths.BOARDS / "esp32c3" / "board.py", board.root / "board.py")
    before = board.snapshot()
    code, s, err = run(capsys, "--port", board.pty, "--board", "virtual")
    assert code == 2
    assert err.splitlines()[-1] == ("drawsense deploy: device says it is esp32c3, not virtual: "
                                    "pass --board esp32c3, or --force to replace it")
    assert board.snapshot() == before
    code, s, err = run(capsys, "--port", board.pty, "--board", "virtual", "--force")
    assert code == 0, err
    assert "board.py" in s["removed"] and not (board.root / "board.py").exists()
    assert (board.root / "ds_key.bin").read_bytes() == KEY


# --------------------------------------------------------------------------- refusals without a board


def test_missing_port(capsys, tmp_path):
    code, s, err = run(capsys, "--port", str(tmp_path / "nope"), "--board", "virtual")
    assert code == 2 and s is None
    assert err.count("\n") == 1 and err.startswith("drawsense deploy: ") and "no such port" in err


@needs_linux
def test_unopenable_port(capsys):
    code, s, err = run(capsys, "--port", "/dev/pts/99999", "--board", "virtual")
    assert code == 2 and s is None
    assert err.count("\n") == 1 and "cannot open the port" in err


def test_unknown_board(capsys):
    code, s, err = run(capsys, "--port", "/dev/pts/99999", "--board", "nosuch")
    assert code == 2 and err.count("\n") == 1 and "unknown board 'nosuch'" in err


def _fake_device(monkeypatch, answer: str):
    def fake(port, *args, **kw):
        return subprocess.CompletedProcess(["mpremote", *args], 0, answer, "")
    monkeypatch.setattr(deploy, "mpremote", fake)


def test_not_micropython(monkeypatch, capsys):
    _fake_device(monkeypatch, 'DSPROBE {"name": "circuitpython", "version": [9, 0, 0], "mpy": 6}\n')
    code, s, err = run(capsys, "--port", "/dev/fake", "--board", "virtual")
    assert code == 2 and err.strip() == "drawsense deploy: /dev/fake: the device runs 'circuitpython', not MicroPython"
    _fake_device(monkeypatch, "Python 3.11 >>> garbage\n")
    code, s, err = run(capsys, "--port", "/dev/fake", "--board", "virtual")
    assert code == 2 and "did not answer the probe (not MicroPython?)" in err and err.count("\n") == 1


def test_incompatible_mpy_is_refused(tmp_path):
    files = {p.name: p for p in checks.compile_firmware("virtual", tmp_path)}
    ver = checks.mpy_header(files["app.mpy"])[0]
    deploy.check_mpy({"mpy": ver}, files)  # same version, bytecode only: fine
    with pytest.raises(deploy.DeployError, match=rf"device loads .mpy version 5, mpy-cross made version {ver}"):
        deploy.check_mpy({"mpy": 5}, files)
    with pytest.raises(deploy.DeployError, match="deploy with --source"):
        deploy.check_mpy({"mpy": None}, files)
    deploy.check_mpy({"mpy": None}, {"app.py": tmp_path / "app.py"})  # source needs no .mpy support


def test_cpu_of_another_board_is_refused():
    armv6m = 6 | (4 << 10)
    deploy.check_board({"mpy": armv6m, "board": None}, "picow", force=False)
    with pytest.raises(deploy.DeployError, match="device's CPU is armv6m, board esp32c3 is rv32imc"):
        deploy.check_board({"mpy": armv6m, "board": None}, "esp32c3", force=False)
    deploy.check_board({"mpy": armv6m, "board": "picow"}, "esp32c3", force=True)


def test_plan_never_names_identity_files():
    assert "ds_key.bin" not in deploy.other_flavour(["ds_key.mpy"])  # sanity of the twin rule
    assert deploy.other_flavour(["a.mpy", "b.py", "main.py"]) == ["a.py", "b.mpy"]
    assert deploy.PROTECTED == {"ds_key.bin", "ds_ctr.bin"}


def test_help_describes_the_command(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["deploy", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for word in ("--port", "--board", "--source", "--force", "--json", "ds_key.bin", "exit status"):
        assert word in out


# --------------------------------------------------------------------------- mip package


def test_package_json_lists_exactly_the_firmware_modules():
    pkg = json.loads((REPO / "package.json").read_text())
    assert set(pkg) <= {"urls", "version", "deps"}
    assert [dest for dest, _ in pkg["urls"]] == [m + ".py" for m in MODULES]
    for dest, src in pkg["urls"]:
        assert re.fullmatch(r"github:[\w.-]+/[\w.-]+/firmware/" + re.escape(dest), src), src
    # the version the firmware reports
    ver = re.search(r'^VERSION = "([^"]+)"', (paths.FIRMWARE / "selftest.py").read_text(), re.M).group(1)
    assert pkg["version"] == ver
