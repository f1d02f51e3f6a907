"""`drawsense deploy`: put the firmware on a board through mpremote, copying
only what changed, and restart it.

Steps (one progress line each on stderr):

1. Probe the device (one `mpremote exec`): sys.implementation (name,
   version, _mpy) and the NAME of the board module it has (its board.py or
   board.mpy on the filesystem, or a frozen one). Refused, exit 2, nothing
   changed: no such port / cannot open it, not MicroPython, a board module
   naming another board (unless --force), a CPU that is not the board's
   MPY_ARCH (unless --force).
2. Build into a temporary folder: firmware/*.py (except main.py) and the
   board's board.py compiled with mpy-cross for the board's MPY_ARCH
   (checks.compile_firmware), main.py as source. board.py goes compiled
   like every other module: it is imported at every boot (no compile time or
   heap spent on it), it is what the freeze manifests do too, and one
   flavour for all modules keeps the stale-file rule below simple.
   --source copies the .py files instead (tracebacks with source lines,
   edit-on-device debugging). Refused, exit 2, when the device cannot load
   the compiled files: its .mpy version (sys.implementation._mpy & 0xff)
   differs from the files' header, or a file holds native code for another
   arch / sub-version.
3. Hash every target file on the device in one exec (hashlib.sha256,
   printed as JSON), together with the other flavour of each module
   (foo.py beside foo.mpy: MicroPython imports foo.py first, so a stale .py
   would shadow a new .mpy).
4. Copy the changed and missing files with one `mpremote cp`, and remove
   the stale other-flavour files in the same mpremote run.
5. Hash again: every target must match and no stale file may be left.
6. `mpremote reset` (machine.reset()): a hard reset runs boot.py and
   main.py, so the new firmware runs. (mpremote's `soft-reset` resets in
   the raw REPL, where main.py does not run.) The reset is done even when
   nothing changed: mpremote stopped the running firmware to talk to it.

ds_key.bin and ds_ctr.bin (identity and counter, owned by `drawsense
provision`) are never read, copied or removed: only the firmware's own
file names are touched, and a guard refuses any plan that names them.
Files of modules that no longer exist in firmware/ are left on the device.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable

from drawsense import boards, firmware, paths
from drawsense.device import checks, mpcode
from drawsense.device.remote import RemoteError, mpremote, reset

# the identity and counter files `drawsense provision` owns (their names are the firmware's)
PROTECTED = frozenset({firmware.KEY_FILE, firmware.CTR_FILE})

# MicroPython's MP_NATIVE_ARCH_* codes (py/persistentcode.h), as mpy-cross -march names.
ARCHS = {1: "x86", 2: "x64", 3: "armv6", 4: "armv6m", 5: "armv7m", 6: "armv7em", 7: "armv7emsp",
         8: "armv7emdp", 9: "xtensa", 10: "xtensawin", 11: "rv32imc", 12: "rv64imc"}

class DeployError(RuntimeError):
    """A one-line failure. code 2: refused, the device was not changed;
    code 1: failed after the device may have changed."""

    def __init__(self, msg: str, code: int = 2):
        super().__init__(msg)
        self.code = code


def _tagged(out: str, tag: str) -> dict | None:
    for line in out.splitlines():
        if line.startswith(tag + " "):
            try:
                return json.loads(line[len(tag) + 1:])
            except ValueError:
                return None
    return None


def probe(port: str) -> dict:
    """What the device is (device/mp/probe.py). Raises DeployError (code 2)."""
    try:
        out = mpremote(port, "exec", mpcode.program("probe", "probe"), timeout=20).stdout
    except RemoteError as e:
        raise DeployError(str(e)) from None
    info = _tagged(out, "DSPROBE")
    if info is None:
        raise DeployError(f"{port}: the device did not answer the probe (not MicroPython?)")
    if info.get("name") != "micropython":
        raise DeployError(f"{port}: the device runs {info.get('name')!r}, not MicroPython")
    return info


def build(board: str, out: Path, *, source: bool = False, firmware: Path | None = None) -> dict[str, Path]:
    """The files to put on the device, by device name (all at the root)."""
    fw = Path(firmware) if firmware is not None else paths.FIRMWARE
    b = boards.load(board)
    main_py = fw / "main.py"
    if not main_py.is_file():
        raise DeployError(f"{main_py} not found")
    out.mkdir(parents=True, exist_ok=True)
    if source:
        checks.compile_firmware(board, out / "_check", firmware=fw)  # syntax errors stop here, not on the board
        files = {p.name: p for p in sorted(fw.glob("*.py")) if p.name != "main.py"}
        files["board.py"] = b.dir / "board.py"
    else:
        files = {p.name: p for p in checks.compile_firmware(board, out, firmware=fw)}
    dst = out / "main.py"
    shutil.copyfile(main_py, dst)
    files["main.py"] = dst
    bad = PROTECTED & set(files)
    if bad:
        raise DeployError(f"firmware must not contain {', '.join(sorted(bad))} (provisioning owns it)")
    return files


def other_flavour(names) -> list[str]:
    """foo.py <-> foo.mpy for each module name (main.py has no other)."""
    res = []
    for n in names:
        if n == "main.py":
            continue
        stem, ext = n.rsplit(".", 1)
        res.append(stem + (".py" if ext == "mpy" else ".mpy"))
    return sorted(res)


def check_board(info: dict, board: str, *, force: bool) -> None:
    """Refuse (DeployError, code 2) when the device is another board."""
    if force:
        return
    name = info.get("board")
    if info.get("board_error"):
        raise DeployError(f"device has a board module that does not load ({info['board_error']}): "
                          f"pass --force to replace it with {board}'s")
    if name is not None and name != board:
        raise DeployError(f"device says it is {name}, not {board}: pass --board {name}, or --force to replace it")
    mpy = info.get("mpy")
    want = boards.load(board)["MPY_ARCH"]
    have = ARCHS.get(mpy >> 10) if isinstance(mpy, int) else None
    if want != "host" and have and have != want:
        raise DeployError(f"device's CPU is {have}, board {board} is {want}: wrong --board? (--force to deploy anyway)")


def check_mpy(info: dict, files: dict[str, Path]) -> None:
    """Refuse (DeployError, code 2) when the device cannot load the .mpy files."""
    compiled = sorted(n for n in files if n.endswith(".mpy"))
    if not compiled:
        return
    mpy = info.get("mpy")
    if not isinstance(mpy, int):
        raise DeployError("device cannot load .mpy files (no sys.implementation._mpy): deploy with --source")
    ver, sub, arch = mpy & 0xFF, (mpy >> 8) & 3, mpy >> 10
    for n in compiled:
        fver, fsub, farch = checks.mpy_header(files[n])
        if fver != ver:
            raise DeployError(f"device loads .mpy version {ver}, mpy-cross made version {fver} ({n}): "
                              "install the mpy-cross that matches the board's MicroPython, or use --source")
        if farch and (farch != arch or fsub != sub):
            raise DeployError(f"{n} holds native code for {ARCHS.get(farch, farch)} (sub-version {fsub}); "
                              f"the device is {ARCHS.get(arch, arch)} (sub-version {sub})")


def device_hashes(port: str, names: list[str]) -> dict[str, str | None]:
    """name -> sha256 hex, or None where the device has no such file
    (device/mp/filehash.py, every name at the root)."""
    out = mpremote(port, "exec", mpcode.program("filehash", "table", sorted(names)), timeout=60).stdout
    got = _tagged(out, "DSHASH")
    if got is None or set(got) != set(names):
        raise RemoteError(f"{port}: the device did not answer the hash request (no hashlib.sha256?)")
    return got


def _sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def deploy(port: str, board: str, *, source: bool = False, force: bool = False, firmware: Path | None = None,
           log: Callable[[str], None] = lambda m: None) -> dict:
    """Deploy and return the summary; raises DeployError."""
    t0 = time.monotonic()
    try:
        boards.load(board)
    except boards.BoardError as e:
        raise DeployError(str(e)) from None
    info = probe(port)
    version = ".".join(str(v) for v in info["version"])
    log(f"board: {info.get('board') or 'none yet'}, MicroPython {version}")
    check_board(info, board, force=force)
    with tempfile.TemporaryDirectory(prefix="drawsense-deploy-") as tmp:
        arch = boards.load(board)["MPY_ARCH"]
        n_mod = len([p for p in (Path(firmware) if firmware else paths.FIRMWARE).glob("*.py") if p.name != "main.py"])
        log(f"checking {n_mod} modules as source" if source else f"compiling {n_mod} modules for {arch}")
        try:
            files = build(board, Path(tmp), source=source, firmware=firmware)
        except (checks.CheckError, paths.RuntimeMissing) as e:
            raise DeployError(str(e)) from None
        check_mpy(info, files)
        local = {n: _sha256(p) for n, p in files.items()}
        others = other_flavour(files)
        names = sorted(set(files) | set(others))
        if PROTECTED & set(names):  # never read, copied or removed here (build() refuses them too)
            raise DeployError(f"refusing to touch {', '.join(sorted(PROTECTED & set(names)))}")
        try:
            dev = device_hashes(port, names)
        except RemoteError as e:
            raise DeployError(str(e)) from None
        changed = sorted(n for n in files if dev[n] != local[n])
        stale = sorted(n for n in others if dev[n] is not None)
        log(f"{len(changed)} of {len(files)} files changed" + (f", {len(stale)} stale to remove" if stale else ""))
        # From here on the device changes: failures are code 1.
        try:
            if changed or stale:
                args: list[str] = []
                if changed:
                    log("copying " + " ".join(changed))
                    args += ["cp", "-f", *(str(files[n]) for n in changed), ":/"]
                if stale:
                    log("removing " + " ".join(stale))
                    args += (["+"] if args else []) + ["rm", *(":/" + n for n in stale)]
                mpremote(port, *args, timeout=120 + 5 * len(changed))
            after = device_hashes(port, names)
        except RemoteError as e:
            raise DeployError(f"copy failed: {e} (run deploy again)", 1) from None
        wrong = sorted(n for n in files if after[n] != local[n]) + sorted(n for n in others if after[n])
        if wrong:
            raise DeployError(f"verification failed for {', '.join(wrong)} (run deploy again)", 1)
        log(f"verified {len(files)} files")
    log("reset")
    try:
        reset(port)
    except RemoteError as e:
        raise DeployError(f"files deployed and verified, but the reset failed: {e} (press the board's reset)",
                          1) from None
    return {
        "ok": True, "port": port, "board": board, "micropython": version,
        "flavour": "source" if source else "mpy", "files": len(files), "changed": changed, "removed": stale,
        "verified": len(files), "reset": True, "seconds": round(time.monotonic() - t0, 2),
    }


def summary_line(s: dict) -> str:
    return (f"deployed {s['board']} firmware ({s['flavour']}) to {s['port']}: {len(s['changed'])} changed, "
            f"{len(s['removed'])} removed, {s['verified']} verified, reset ({s['seconds']:.1f} s)")
