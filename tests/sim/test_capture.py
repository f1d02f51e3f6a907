"""Captures as the logic-analyser tools write them (tests/sim/captures/, made
by sigrok-cli 0.7.2; README.md there lists the commands).

Run: pytest tests/sim/test_capture.py -q

The oracle is demo3.sr's raw samples, read here with zipfile alone: every
CSV form sigrok writes of that capture, and the Saleae exports of it, must
give the same edges at the same microseconds.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from drawsense.sim import capture, scenario
from drawsense.sim.scenario import ScenarioError

from test_cli import drawsense

CAPTURES = Path(__file__).parent / "captures"


def demo3_edges(bit: int) -> tuple[bool, list[tuple[int, bool]]]:
    """(initial level, [(us, level)]) of one channel of demo3.sr: 1 kHz, one byte a sample."""
    with zipfile.ZipFile(CAPTURES / "demo3.sr") as z:
        assert "samplerate=1 kHz" in z.read("metadata").decode()
        data = b"".join(z.read(f"logic-1-{i}") for i in range(1, 21))
    assert len(data) == 2000
    levels = [(b >> bit) & 1 for b in data]
    edges = [(i * 1000, bool(v)) for i, v in enumerate(levels) if i and v != levels[i - 1]]
    return bool(levels[0]), edges


def load(name: str, **kw) -> scenario.Scenario:
    return scenario.load(str(CAPTURES / name), **kw)


def error_of(name: str, **kw) -> str:
    with pytest.raises(ScenarioError) as info:
        load(name, **kw)
    assert "\n" not in str(info.value)
    return str(info.value)


# (file, options, the names of its three channels)
FORMS = [
    ("demo3.sr", {}, ["D0", "D1", "D2"]),
    ("demo3.csv", {}, ["D0", "D1", "D2"]),  # sigrok's default: no time column, the rate from the comment
    ("demo3-time.csv", {}, ["D0", "D1", "D2"]),  # milliseconds,logic,logic,logic
    ("demo3-channel.csv", {}, ["D0", "D1", "D2"]),  # Time,D0,D1,D2: the unit from the rate
    ("demo3-off.csv", {}, ["D0", "D1", "D2"]),  # no label row
    ("demo3-noheader.csv", {}, ["0", "1", "2"]),  # no comments: no names
    ("demo3-dedup.csv", {}, ["D0", "D1", "D2"]),  # a row per change
    ("demo3-channel-noheader.csv", {"samplerate": 1000.0}, ["D0", "D1", "D2"]),
    ("demo3-channel-noheader.csv", {"time_unit": "ms"}, ["D0", "D1", "D2"]),
    ("demo3-bare.csv", {"samplerate": 1000.0}, ["0", "1", "2"]),
    ("saleae-logic2.csv", {}, ["Channel 0", "Channel 1", "Channel 2"]),
    ("saleae-logic1.csv", {}, ["Channel 0", "Channel 1", "Channel 2"]),
]


@pytest.mark.parametrize("name, options, names", FORMS, ids=[f"{f[0]}{list(f[1])}" for f in FORMS])
@pytest.mark.parametrize("bit", [0, 1, 2])
def test_every_form_of_one_capture_gives_its_edges(name, options, names, bit):
    initial, edges = demo3_edges(bit)
    s = load(name, channel=names[bit], **options)
    assert s.initial_out is initial and s.edges == edges
    # 2000 samples of 1 ms; a Saleae export (a row per change) ends 1 ms after its last change
    last_change = max(demo3_edges(b)[1][-1][0] for b in range(3))
    assert s.duration_us == (2_000_000 if not name.startswith("saleae") else last_change + 1000)
    assert f"channel {names[bit]} ({bit + 1} of 3)" in s.description
    by_number = load(name, channel=str(bit), **options)
    assert by_number.edges == edges


def test_the_first_channel_is_the_default():
    assert load("demo3-channel.csv").edges == demo3_edges(0)[1]


def test_issue_13_command_is_10_seconds_of_milliseconds_not_10000_seconds():
    # sigrok-cli -d demo --channels D0 -c samplerate=1k --samples 20000 -O csv:time=true
    # (libsigrok 0.5.2 dropped half the samples of the live capture: 10,045 rows)
    s = load("sigrok-1k-time.csv")
    assert s.duration_us == 10_045_000  # rows 1..10045 ms, time 0 at the first, plus the last 1 ms
    assert all(t % 1000 == 0 for t, _ in s.edges) and len(s.edges) > 100
    assert "time in ms" in s.description and "10045 rows" in s.description


def test_microseconds_at_200_khz():
    s = load("sigrok-200k-time.csv")
    assert s.duration_us == 2000 * 5 and "time in us" in s.description
    assert all(t % 5 == 0 for t, _ in s.edges) and len(s.edges) > 100


@pytest.mark.parametrize("name, words", [
    ("demo3-channel-noheader.csv", ["the time column 'Time' has no unit", "--samplerate", "--time-unit"]),
    ("demo3-bare.csv", ["no time column", "--samplerate"]),
])
def test_a_file_that_does_not_say_its_time_scale_is_refused_with_the_option_to_pass(name, words):
    msg = error_of(name)
    assert msg.startswith(str(CAPTURES / name) + ":")
    for w in words:
        assert w in msg, msg


def test_the_options_override_the_file(tmp_path):
    assert load("demo3-time.csv", time_unit="s").duration_us == 1_999_000_000 + 1000
    assert load("demo3.csv", samplerate=2000.0).duration_us == 1_000_000  # 2000 rows at 2 kHz


def test_an_unknown_channel_lists_the_channels():
    msg = error_of("demo3.sr", channel="D7")
    assert "no channel 'D7'" in msg and "D0, D1, D2" in msg and "0 to 2" in msg
    assert "Channel 0, Channel 1, Channel 2" in error_of("saleae-logic2.csv", channel="3")


def write(tmp_path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


@pytest.mark.parametrize("header, rate, unit_us", [
    ("samples,logic", "; Samplerate: 250 Hz", 4000),  # sample numbers need the rate
    ("nanoseconds,logic", "", 0.001),
    ("Time(ms),0", "", 1000),  # DSView
    ("Time [us],D0", "", 1),
    ("Time,D0", "; Samplerate: 2 MHz", 0.001),  # sigrok at 2 MHz: nanoseconds, 500 a period
    ("Time,D0", "; Samplerate: 3 kHz", 1),  # sigrok at 3 kHz: microseconds, 333 a period
])
def test_time_units(tmp_path, header, rate, unit_us):
    path = write(tmp_path, "t.csv", f"{rate}\n{header}\n1000,0\n3000,1\n5000,1\n")
    s = scenario.load_capture(path)
    assert s.edges == [(round(2000 * unit_us), True)]


def test_saleae_documented_example(tmp_path):
    # the digital CSV example of Saleae's "Binary and CSV Export Formats (2025 update)"
    path = write(tmp_path, "logic2.csv", "Time [s],Channel 0 :),Channel 1 :),Ch2\n0.000000000,0,1,X\n"
                 "0.125000000,0,0,X\n0.250000000,1,1,X\n0.500000000,0,0,1\n0.625000000,1,1,0\n"
                 "0.750000000,0,1,0\n0.875000000,1,0,1\n1.000000000,X,X,X\n")
    ch0 = scenario.load_capture(path)
    assert ch0.edges == [(250_000, True), (500_000, False), (625_000, True), (750_000, False), (875_000, True)]
    assert ch0.duration_us == 1_001_000  # the X row is the end of the capture
    assert scenario.load_capture(path, channel="Channel 1 :)").edges[0] == (125_000, False)
    ch2 = scenario.load_capture(path, channel="ch2")
    assert ch2.initial_out is True and ch2.edges == [(625_000, False), (875_000, True)]


def test_saleae_no_data_rows_are_skipped(tmp_path):
    path = write(tmp_path, "x.csv", "Time [s],Channel 0,Channel 1\n0.0,0,X\n0.5,1,X\n1.0,X,X\n1.5,0,1\n")
    s = scenario.load_capture(path)
    assert s.edges == [(500_000, True), (1_500_000, False)]
    assert scenario.load_capture(path, channel="Channel 1").edges == []


def test_tab_separated(tmp_path):
    path = write(tmp_path, "tab.csv", "Time [s]\tChannel 0\n0.0\t0\n0.25\t1\n")
    assert scenario.load_capture(path).edges == [(250_000, True)]


def test_iso_timestamps_say_how_to_export(tmp_path):
    path = write(tmp_path, "iso.csv", "Time [s],Channel 0\n2024-05-01T10:00:00.000000000+00:00,0\n")
    with pytest.raises(ScenarioError, match="ISO 8601 timestamps: export again without them"):
        scenario.load_capture(path)


def test_a_time_column_that_never_advances_is_samples_at_the_given_rate(tmp_path):
    # what sigrok's CSV writer prints when it has no sample rate: period 0
    path = write(tmp_path, "zero.csv", "samples,logic\n0,0\n0,0\n0,1\n0,1\n")
    with pytest.raises(ScenarioError, match="--samplerate"):
        scenario.load_capture(path)
    assert scenario.load_capture(path, samplerate=1000.0).edges == [(2000, True)]


# ---------------------------------------------------------------- .sr


def make_sr(tmp_path, metadata: str, chunks: dict[str, bytes], version: str = "2") -> str:
    p = tmp_path / "s.sr"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("version", version)
        z.writestr("metadata", metadata)
        for name, data in chunks.items():
            z.writestr(name, data)
    return str(p)


META = "[global]\nsigrok version=0.5.2\n\n[device 1]\ncapturefile=logic-1\ntotal probes=16\n{rate}" \
       "total analog=0\nprobe1=D0\nprobe10=CLK\nunitsize=2\n"


def test_sr_two_byte_samples_unchunked_and_a_high_bit(tmp_path):
    # 16 channels: 2 bytes a sample; CLK is bit 9 (probe10), high at samples 3..5
    data = b"".join((0x0200 if 3 <= i < 6 else 0).to_bytes(2, "little") for i in range(10))
    path = make_sr(tmp_path, META.format(rate="samplerate=1 MHz\n"), {"logic-1": data}, version="1")
    s = scenario.load_capture(path, channel="CLK")
    assert s.edges == [(3, True), (6, False)] and s.duration_us == 10
    assert "sigrok session, 1 MHz, channel CLK (2 of 2); 10 samples" in s.description
    # the same samples split into chunks mid-sample
    path = make_sr(tmp_path, META.format(rate="samplerate=1 MHz\n"), {"logic-1-1": data[:7], "logic-1-2": data[7:]})
    assert scenario.load_capture(path, channel="1").edges == [(3, True), (6, False)]


@pytest.mark.parametrize("meta, chunks, words", [
    (META.format(rate=""), {"logic-1": b"\0\0"}, "no sample rate: pass --samplerate"),
    ("[global]\n\n[device 1]\ntotal analog=1\nanalog1=A0\n", {}, "no logic channels"),
    (META.format(rate="samplerate=1 kHz\n"), {}, "no samples"),
    (META.format(rate="samplerate=1 kHz\n").replace("unitsize=2", "unitsize=1"), {"logic-1": b"\0"},
     "do not fit unitsize 1"),
])
def test_sr_refusals(tmp_path, meta, chunks, words):
    with pytest.raises(ScenarioError, match=words):
        scenario.load_capture(make_sr(tmp_path, meta, chunks))


def test_sr_rate_can_be_given(tmp_path):
    path = make_sr(tmp_path, META.format(rate=""), {"logic-1": b"\0\0\1\0\1\0\0\0"})
    assert scenario.load_capture(path, samplerate=1000.0).edges == [(1000, True), (3000, False)]


def test_not_a_session_file(tmp_path):
    path = write(tmp_path, "x.sr", "Time [s],D0\n0,0\n")
    with pytest.raises(ScenarioError, match="not a sigrok/PulseView session file"):
        scenario.load_capture(path)
    with pytest.raises(ScenarioError, match="no such file"):
        scenario.load_capture(str(tmp_path / "gone.sr"))


@pytest.mark.parametrize("text, hz", [("1 kHz", 1e3), ("200 kHz", 2e5), ("1.5 MHz", 1.5e6), ("1k", 1e3),
                                      ("1m", 1e6), ("24M", 24e6), ("12 Hz", 12), ("1000000", 1e6)])
def test_rates_as_sigrok_spells_them(text, hz):
    assert capture.parse_rate(text) == hz


@pytest.mark.parametrize("text", ["", "0", "fast", "1 kbps", "-5"])
def test_not_rates(text):
    with pytest.raises(ValueError):
        capture.parse_rate(text)


# ---------------------------------------------------------------- the CLI


def test_sim_on_the_issue_command_simulates_its_ten_seconds():
    r = drawsense("sim", str(CAPTURES / "sigrok-1k-time.csv"))
    assert r.returncode == 0, r.stderr
    assert "10.045 s simulated" in r.stdout
    assert "CSV, time in ms, channel D0" in r.stderr


def test_sim_refuses_what_it_cannot_time_and_says_which_option():
    r = drawsense("sim", str(CAPTURES / "demo3-bare.csv"))
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and "--samplerate" in r.stderr
    r = drawsense("sim", str(CAPTURES / "demo3-bare.csv"), "--samplerate", "1k", "--channel", "2")
    assert r.returncode == 0, r.stderr
    assert "2.0 s simulated" in r.stdout and "channel 2 (3 of 3)" in r.stderr


def test_sim_capture_options_are_refused_for_a_scenario():
    r = drawsense("sim", "draw", "--channel", "D0")
    assert r.returncode == 2 and "--channel is for a capture file" in r.stderr
    r = drawsense("sim", str(CAPTURES / "demo3.sr"), "--samplerate", "fast")
    assert r.returncode == 2 and "not a sample rate" in r.stderr


def test_longer_than_the_simulator_runs_is_refused(tmp_path):
    # 3000 samples at 1 mHz: 34 days
    path = make_sr(tmp_path, META.format(rate="samplerate=0.001\n"), {"logic-1": bytes(6000)})
    with pytest.raises(ScenarioError, match="sample 3000 is more than 31 days after the start"):
        scenario.load_capture(path)
