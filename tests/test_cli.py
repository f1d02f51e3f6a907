"""The drawsense command as a user runs it (a subprocess, like a shell)."""

from __future__ import annotations

import json
import subprocess
import sys


def drawsense(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "drawsense.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_sim_json_default_scenario_one_draw_on_air_in_time():
    r = drawsense("sim", "--json")
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert all(isinstance(e["t_ms"], (int, float)) and isinstance(e["type"], str) for e in events)
    pins = [e for e in events if e["type"] == "pin"]
    assert pins and all(e["level"] in (0, 1) for e in pins)
    draws = [e for e in events if e["type"] == "state" and e["event"] == "draw"]
    assert len(draws) == 1 and draws[0]["state"] == "DRAWN"
    advs = [e for e in events if e["type"] == "adv"]
    assert advs and all(bytes.fromhex(a["data"]) and len(a["addr"].split(":")) == 6 for a in advs)
    settled = max(p["t_ms"] for p in pins if p["t_ms"] <= draws[0]["t_ms"])
    first = min(a["t_ms"] for a in advs if a["t_ms"] >= draws[0]["t_ms"])
    assert first - settled <= 30 + 10


def test_sim_text_timeline_tells_the_story():
    r = drawsense("sim", "draw-reholster")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for words in ("settles out", "DRAWN (draw event)", "burst   draw", "first draw advert",
                  "HOLSTERED (holster event)", "1 draw(s), 1 holster(s), 0 fault(s)"):
        assert words in out, out


def test_sim_writes_a_vcd(tmp_path):
    vcd = tmp_path / "run.vcd"
    r = drawsense("sim", "draw", "--vcd", str(vcd))
    assert r.returncode == 0, r.stderr
    text = vcd.read_text()
    assert "$timescale 1us $end" in text and "$enddefinitions $end" in text
    for sig in ("sensor", "debounced_out", "state", "radio_on", "adv_event"):
        assert f" {sig} $end" in text
    stamps = [int(line[1:]) for line in text.splitlines() if line.startswith("#")]
    assert stamps == sorted(stamps) and stamps[-1] == 13_000_000
    assert "b01 #" in text  # the state goes to DRAWN


def test_bad_scenario_file_is_one_line_with_file_and_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n\n[[segment]]\nstate = "holstered"\nduration_ms = -5\n')
    r = drawsense("sim", str(bad))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{bad}:5:" in lines[0] and "duration_ms" in lines[0]
    assert r.stdout == ""


def test_unknown_board_and_scenario_say_what_exists():
    r = drawsense("sim", "--board", "nosuch")
    assert r.returncode == 2 and "esp32c3" in r.stderr and "picow" in r.stderr
    r = drawsense("sim", "nosuch-scenario")
    assert r.returncode == 2 and "draw" in r.stderr


def test_boards_lists_the_supported_boards():
    r = drawsense("boards", "--json")
    assert r.returncode == 0
    rows = {json.loads(line)["name"]: json.loads(line) for line in r.stdout.splitlines()}
    assert {"esp32c3", "picow", "virtual"} <= set(rows)
    assert rows["esp32c3"]["port"] == "esp32" and rows["picow"]["port"] == "rp2"
    text = drawsense("boards").stdout
    assert "ESP32-C3" in text and "Pico W" in text


def test_help_explains_the_commands():
    r = drawsense("--help")
    assert r.returncode == 0 and "sim" in r.stdout and "boards" in r.stdout
    r = drawsense("sim", "--help")
    assert "vibration" in r.stdout and "--vcd" in r.stdout and ".csv" in r.stdout
