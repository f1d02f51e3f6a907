"""The drawsense command as a user runs it (a subprocess, like a shell)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def drawsense(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "drawsense", *args], capture_output=True, text=True,
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
    for sig in ("sensor", "debounced_out", "state_drawn", "radio_on", "adv", "asleep", "boot", "brownout"):
        assert f" {sig} $end" in text
    assert "$var wire 1 $ state_drawn $end" in text
    stamps = [int(line[1:]) for line in text.splitlines() if line.startswith("#")]
    assert stamps == sorted(stamps) and stamps[-1] == 13_000_000
    assert "\n1$\n" in text  # state_drawn goes high: DRAWN
    # one-bit values only: sigrok's importer stops at a vector ("b01 #")
    assert not any(line.startswith("b") for line in text.splitlines())


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


def test_every_verb_in_the_table_is_a_command_with_its_own_help(capsys):
    from drawsense import cli

    top = cli.build_parser().format_help()
    for name, verb in cli.COMMANDS.items():
        assert re.search(rf"^    {name}\b", top, re.M) and verb.HELP in " ".join(top.split())  # listed, with its line
        with pytest.raises(SystemExit) as e:
            cli.main([name, "--help"])
        assert e.value.code == 0
        out = " ".join(capsys.readouterr().out.split())
        assert out.startswith(f"usage: drawsense {name}") and " ".join(verb.DESCRIPTION.split())[:60] in out


@pytest.mark.parametrize("args, says", [
    (["power", "--days", "0"], "argument --days: must be a number more than 0"),
    (["power", "--days", "nan"], "argument --days"),
    (["power", "--drawn-s", "-10"], "argument --drawn-s"),
    (["power", "--draws-per-day", "1000", "--drawn-s", "3600"], "more than a day out of the holster"),
    (["power", "--plot", "/nonexistent/life.png"], "cannot write it: no such folder /nonexistent"),
    (["power", "--days", "1", "--draws-per-day", "20", "--drawn-s", "3600"], "at most 8 h"),
    (["fleet", "--now", "inf"], "argument --now"),
    (["listen", "--window", "99999999999"], "argument --window: must be a whole number from 1"),
    (["listen", "--duration", "-1"], "argument --duration: must be a number more than 0"),
    (["listen", "--duration", "nan"], "argument --duration: must be a number more than 0"),
    (["board", "serve", "--heapsize", "banana"], "argument --heapsize"),
    (["board", "serve", "--days", "nan"], "argument --days"),
])
def test_bad_numbers_are_one_line_usage_errors(args, says):
    r = drawsense(*args)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert says in r.stderr.strip().splitlines()[-1]  # the error is one line (argparse puts its usage first)


def test_a_scenario_longer_than_a_month_is_refused_not_run(tmp_path):
    huge = tmp_path / "huge.toml"
    huge.write_text('name = "x"\n[[segment]]\nstate = "holstered"\nduration_ms = 1e12\n')
    r = drawsense("sim", str(huge))
    assert r.returncode == 2 and r.stderr.strip() == (
        f"drawsense: {huge}:4: segment 1: duration_ms must be at most 2678400000 (31 days), got 1000000000000.0")


@pytest.mark.parametrize("line", ['{"type": "adv", "t_ms": ' + "9" * 400 + ', "addr": "a", "data": "00"}',
                                  "[" * 100_000])
def test_absurd_air_lines_are_one_line_errors(tmp_path, line):
    air = tmp_path / "air.jsonl"
    air.write_text(line + "\n")
    r = drawsense("listen", "--air", str(air), "--keys", str(tmp_path / "k.db"))
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith(f"drawsense: {air}:1: "), r.stderr
    assert "Traceback" not in r.stderr


def test_a_reader_that_stops_early_gets_no_traceback():
    # drawsense sim --json | head -1
    p = subprocess.Popen([sys.executable, "-m", "drawsense", "sim", "--json"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    first = p.stdout.readline()
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait(60) == 1 and json.loads(first)["type"] == "boot"
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_a_capture_longer_than_a_month_is_refused_at_its_row(tmp_path):
    csv = tmp_path / "cap.csv"
    csv.write_text("Time [s],D0\n0,0\n1e9,1\n")
    r = drawsense("sim", str(csv))
    assert r.returncode == 2 and r.stderr.strip().startswith(f"drawsense: {csv}:3: time 1e9 is more than 31 days")


def test_sim_keys_in_a_new_folder_creates_it(tmp_path):
    keys = tmp_path / "new" / "sub" / "k.db"
    r = drawsense("sim", "--keys", str(keys), "--json")
    assert r.returncode == 0, r.stderr
    assert keys.exists() and (tmp_path / "new" / "sub" / "k.db.sim").is_dir()


def test_sigterm_leaves_no_simulated_device_behind(tmp_path):
    # a month holstered takes ~20 s: stop it (timeout, a supervisor) part-way
    long = tmp_path / "month.toml"
    long.write_text('name = "m"\n[[segment]]\nstate = "holstered"\nduration_ms = 2678400000\n')
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(tmp))
    p = subprocess.Popen([sys.executable, "-m", "drawsense", "sim", str(long)], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not list(tmp.glob("drawsense-vb-*/seed")) and time.monotonic() < deadline:
        time.sleep(0.02)  # until the simulated device exists
    assert list(tmp.glob("drawsense-vb-*")), "the simulation never started"
    p.send_signal(signal.SIGTERM)
    assert p.wait(30) == 128 + signal.SIGTERM
    assert list(tmp.iterdir()) == [], "a temporary folder (with the device's key) was left behind"


def test_a_firmware_run_that_fails_is_one_line_and_exit_1():
    # the MicroPython it runs on exits at once: what went wrong is the last line
    for args in (["sim", "--json"], ["power", "--board", "virtual", "--days", "0.01", "--json"]):
        r = subprocess.run([sys.executable, "-m", "drawsense", *args], capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, DRAWSENSE_MICROPYTHON="/bin/false"))
        assert r.returncode == 1 and r.stdout == "", r.stderr
        assert r.stderr.strip().splitlines()[-1] == \
            "drawsense: firmware failed on the virtual board: micropython exited with status 1"


SEGMENT = '[[segment]]\nstate = "holstered"\nduration_ms = 1000\n'


@pytest.mark.parametrize("text, line, says", [
    ("bounce_ms = 1e308\n" + SEGMENT, 1, "bounce_ms must be a number of milliseconds from 0 to 2678400000"),
    (SEGMENT + "bounce_ms = 1e308\n", 4, "segment 1: bounce_ms must be a number of milliseconds from 0"),
    (SEGMENT + "vibration = { every_ms = 1e308, open_ms = [1, 12] }\n", 4,
     "segment 1: vibration: every_ms must be a number of milliseconds"),
])
def test_a_scenario_number_too_large_to_simulate_names_file_and_key(tmp_path, text, line, says):
    f = tmp_path / "big.toml"
    f.write_text(text)
    r = drawsense("sim", str(f))
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.strip().startswith(f"drawsense: {f}:{line}: {says}"), r.stderr


@pytest.mark.parametrize("args, says", [
    (["keys", "add", "a b"], "device name 'a b': use 1-64 letters"),
    (["sim", "--name", ""], "--name: device name '': use 1-64 letters"),
    (["sim", "--unprovisioned"], "--unprovisioned runs the device without a key; --keys provisions it"),
    (["sim", "--vcd", "no/such/folder/run.vcd"], "cannot write no/such/folder/run.vcd: no such folder"),
])
def test_a_refused_command_creates_nothing(tmp_path, args, says):
    # each names a key store: a refusal must not have created it, nor the
    # simulated device's flash beside it
    r = drawsense(*args, "--keys", "k.db", cwd=tmp_path)
    err = r.stderr.strip()
    assert r.returncode == 2 and err.startswith(f"drawsense: {says}") and "\n" not in err, r.stderr
    assert list(tmp_path.iterdir()) == []


def test_board_serve_of_an_unknown_board_leaves_no_folder(tmp_path):
    env = dict(os.environ, TMPDIR=str(tmp_path))
    r = subprocess.run([sys.executable, "-m", "drawsense", "board", "serve", "--board", "nosuch"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stderr.startswith("drawsense board serve: unknown board 'nosuch'"), r.stderr
    assert list(tmp_path.iterdir()) == []


def test_plot_without_matplotlib_is_refused_before_simulating(tmp_path):
    (tmp_path / "matplotlib").mkdir()  # an environment without it: the import fails
    (tmp_path / "matplotlib" / "__init__.py").write_text("raise ImportError('no matplotlib here')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ["PYTHONPATH"]]),
               DRAWSENSE_MICROPYTHON="/bin/false")  # a simulation would fail: it must not start
    r = subprocess.run([sys.executable, "-m", "drawsense", "power", "--plot", str(tmp_path / "life.png")], env=env,
                       capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stderr) == (2, "drawsense: --plot needs matplotlib: pip install 'drawsense[plot]'\n")
    assert not (tmp_path / "life.png").exists()


def test_the_readme_says_how_to_get_matplotlib_where_it_shows_plot():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    for m in re.finditer(r"^    drawsense .*--plot.*$", readme, re.M):
        before = readme[:m.start()].splitlines()[-3:]
        assert any('pip install ".[plot]"' in line for line in before), m.group(0)
