"""`drawsense log --port` against the served virtual board, each step the real
CLI and the real mpremote on a pty: serve -> deploy -> provision -> reset ->
poke a draw and a re-holster -> log (intact, the draw and the holster with
their wall-clock times) -> --save, and --verify of the saved bytes.

The served board runs in real time (as tests/device/test_bench_flow.py), so
this test waits on the board's own files (deadlines, not fixed sleeps)."""

from __future__ import annotations

import json
import signal
import time

from drawsense.keystore import KeyStore

from .test_bench_flow import drawsense, serve_board


def _records(root) -> int:
    f = root / "ds_log_0.bin"
    return f.stat().st_size // 32 - 1 if f.exists() else 0


def _wait(cond, what: str, s: float = 15.0) -> None:
    end = time.monotonic() + s
    while not cond():
        assert time.monotonic() < end, f"the served board never {what}"
        time.sleep(0.1)


def test_served_board_logs_the_draw_and_holster_and_log_verifies_them(tmp_path):
    root, keys, ctl, saved = tmp_path / "board", tmp_path / "k.db", tmp_path / "ctl.json", tmp_path / "vb.dslog"
    root.mkdir()
    board = serve_board("--root", str(root), "--control", str(ctl))
    try:
        port = board.stdout.readline().strip()
        assert drawsense("provision", "--port", port, "--name", "h1", "--keys", str(keys)).returncode == 0
        s = KeyStore(keys, create=False)
        [c] = s.clocks("h1")  # provisioning read the device's clock against ours (no log yet: seq -1)
        s.close()
        assert c.seq == -1 and c.err_s < 5 and abs(c.unix - time.time()) < 60
        # provisioned, its firmware not started since: no records yet, and
        # the advice is a reset (provision --force would re-key it)
        p = drawsense("log", "--port", port, "--keys", str(keys))
        assert p.returncode == 2 and "no records yet: h1 has a log key" in p.stderr and "reset the board" in p.stderr
        assert "--force" not in p.stderr, p.stderr
        t0 = time.time()
        assert drawsense("deploy", "--port", port, "--board", "virtual").returncode == 0  # resets: firmware runs
        _wait(lambda: _records(root) >= 1, "logged its boot")
        assert drawsense("board", "poke", "--control", str(ctl), "--sensor", "out").returncode == 0
        _wait(lambda: _records(root) >= 2, "logged the draw")
        assert drawsense("board", "poke", "--control", str(ctl), "--sensor", "in").returncode == 0
        _wait(lambda: _records(root) >= 3, "logged the holster")
        t1 = time.time()

        p = drawsense("log", "--port", port, "--keys", str(keys))
        assert p.returncode == 0, p.stdout + p.stderr
        lines = p.stdout.splitlines()
        assert lines[0].startswith("intact: 3 records (seq 0-2) of h1"), lines
        assert [ln.split()[1] for ln in lines[2:]] == ["boot", "draw", "holster"]

        p = drawsense("log", "--port", port, "--keys", str(keys), "--json", "--save", str(saved))
        out = json.loads(p.stdout)
        assert p.returncode == 0 and out["intact"] and out["findings"] == []
        boot, draw, holster = out["records"]
        assert (draw["event"], holster["event"]) == ("draw", "holster")
        # wall-clock times from the clock reading this read took, within its bound
        for r in (draw, holster):
            assert r["wall"] is not None and r["wall_err_s"] < 5
            assert t0 - r["wall_err_s"] <= r["wall"] <= t1 + r["wall_err_s"]
        assert holster["wall"] - draw["wall"] >= 1.0  # the holster confirms after 1 s in
        assert 30 <= draw["since_draw_ms"] < 1000 and holster["since_draw_ms"] >= 1000
        assert saved.read_bytes() == (root / "ds_log_0.bin").read_bytes()  # the bytes as read

        v = drawsense("log", "--verify", str(saved), "--keys", str(keys))
        assert v.returncode == 0 and v.stdout.startswith("intact: 3 records"), v.stdout + v.stderr
        # the saved copy, cut short at a record boundary, falls short of what was read from the device
        saved.write_bytes(saved.read_bytes()[:-32])
        v = drawsense("log", "--verify", str(saved), "--keys", str(keys))
        assert v.returncode == 1 and v.stdout.splitlines()[1].startswith("  truncated: the log ends at seq 1"), v.stdout
    finally:
        board.send_signal(signal.SIGTERM)
        board.wait(timeout=20)
