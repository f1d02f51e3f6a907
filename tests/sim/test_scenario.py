"""Scenario files, CSV captures and the built-in scenarios.

Run: pytest tests/sim/test_scenario.py -q

The thresholds checked against the built-ins are the firmware's defaults:
a draw needs 30 ms continuously "out", a FAULT needs more than 40 raw edges
within 1000 ms.
"""

from __future__ import annotations

import json
import textwrap

import pytest
from hypothesis import given, settings, strategies as st

from drawsense.sim import scenario
from drawsense.sim.scenario import ScenarioError

from conftest import CONFIG

DRAW_CONFIRM_US = CONFIG.DRAW_CONFIRM_MS * 1000
FAULT_EDGES = CONFIG.FAULT_EDGES
WINDOW_US = CONFIG.FAULT_WINDOW_MS * 1000


def runs(s: scenario.Scenario) -> list[tuple[int, int, bool]]:
    """(start_us, length_us, out) for each stretch of constant level."""
    out, t, result = s.initial_out, 0, []
    for x, new in s.edges:
        result.append((t, x - t, out))
        t, out = x, new
    result.append((t, s.duration_us - t, out))
    return result


def max_edges_in_window(s: scenario.Scenario, window_us: int = WINDOW_US) -> int:
    times = [t for t, _ in s.edges]
    first, most = 0, 0
    for i, t in enumerate(times):
        while times[first] <= t - window_us:
            first += 1
        most = max(most, i - first + 1)
    return most


def draws(s: scenario.Scenario) -> list[int]:
    """Start times of the stretches "out" long enough to be a draw."""
    return [t for t, length, out in runs(s) if out and length >= DRAW_CONFIRM_US]


def assert_well_formed(s: scenario.Scenario) -> None:
    times = [t for t, _ in s.edges]
    assert all(0 < t < s.duration_us for t in times)
    assert times == sorted(set(times)), "edge times must be strictly increasing"
    level = s.initial_out
    for _, out in s.edges:
        assert out != level, "each edge must toggle the level"
        level = out
    assert s.battery[0][0] == 0
    assert [t for t, _ in s.battery] == sorted(set(t for t, _ in s.battery))
    assert all(a[1] != b[1] for a, b in zip(s.battery, s.battery[1:]))


def write(tmp_path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text).lstrip("\n"))
    return str(p)


# ---------------------------------------------------------------- built-ins


def test_builtins_are_the_expected_set():
    assert set(scenario.builtin_names()) >= {
        "draw", "vibration", "draw-reholster", "slow-draw", "wiggle-reholster", "chatter"}
    assert scenario.DEFAULT in scenario.builtin_names()


@pytest.mark.parametrize("name", scenario.builtin_names())
def test_every_builtin_loads_and_is_well_formed(name):
    s = scenario.load(name)
    assert s.name == name and s.source == name
    assert s.description
    assert s.edges
    assert_well_formed(s)


@pytest.mark.parametrize("name", scenario.builtin_names())
def test_builtins_are_deterministic(name):
    assert scenario.load(name) == scenario.load(name)


def test_draw_is_one_draw_long_enough_for_the_reminder():
    s = scenario.load("draw")
    assert len(draws(s)) == 1
    start, length, out = runs(s)[-1]
    assert out and length >= 10_000_000 + DRAW_CONFIRM_US
    assert draws(s)[0] < 1_010_000, "the bounce settles within a few ms of 1 s"


def test_vibration_never_looks_like_a_draw_or_a_fault():
    s = scenario.load("vibration")
    assert s.duration_us == 30_000_000
    assert draws(s) == []
    assert max_edges_in_window(s) <= 25
    opens = [length for _, length, out in runs(s) if out]
    assert len(opens) >= 30 * 2, "a few opens per second"
    assert max(opens) <= 12_000


def test_chatter_is_a_fault_then_settles():
    s = scenario.load("chatter")
    assert max_edges_in_window(s) > FAULT_EDGES
    assert len(s.edges) > 300
    assert draws(s) == []
    last_edge = s.edges[-1][0]
    assert s.duration_us - last_edge > 5_000_000 + 1_000_000, "room for the fault to clear"
    assert s.edges[-1][1] is False


def test_slow_draw_flickers_then_one_draw():
    s = scenario.load("slow-draw")
    flicker = [r for r in runs(s) if 1_000_000 <= r[0] < 1_150_000]
    assert len(flicker) >= 6
    assert max(length for _, length, _ in flicker) < DRAW_CONFIRM_US
    assert len(draws(s)) == 1
    assert draws(s)[0] >= 1_150_000, "the draw is the final settle, not the flicker"
    assert max_edges_in_window(s) <= FAULT_EDGES


def test_draw_reholster_is_one_draw_one_holster():
    s = scenario.load("draw-reholster")
    assert len(draws(s)) == 1
    ins = [r for r in runs(s) if not r[2] and r[1] >= 1_000_000]
    assert len(ins) == 2 and ins[-1][0] < 6_010_000
    assert ins[-1][0] + ins[-1][1] == s.duration_us


def test_wiggle_reholster_wiggles_never_make_a_draw():
    s = scenario.load("wiggle-reholster")
    assert len(draws(s)) == 1
    reholster = 5_000_000
    wiggles = [r for r in runs(s) if r[2] and reholster + 10_000 < r[0] < reholster + 2_000_000 and r[1] >= 2_000]
    assert 3 <= len(wiggles) <= 4
    assert all(length < 20_000 for _, length, _ in wiggles)
    start, length, out = runs(s)[-1]
    assert not out and length >= 5_000_000


def test_different_seed_gives_different_vibration(tmp_path):
    text = """
        seed = {seed}
        [[segment]]
        state = "holstered"
        duration_ms = 5000
        vibration = {{ every_ms = 200, open_ms = [1, 5] }}
        """
    a = scenario.load(write(tmp_path, "a.toml", text.format(seed=1)))
    b = scenario.load(write(tmp_path, "b.toml", text.format(seed=2)))
    assert a.edges != b.edges


# ---------------------------------------------------------------- the format


def test_small_file_with_defaults(tmp_path):
    path = write(tmp_path, "mine.toml", """
        [[segment]]
        state = "holstered"
        duration_ms = 10.5

        [[segment]]
        state = "drawn"
        duration_ms = 20
        bounce_ms = 0
        battery_mv = 2700
        """)
    s = scenario.load(path)
    assert s.name == "mine" and s.seed == 1 and s.source == path
    assert s.duration_us == 30_500
    assert s.initial_out is False
    assert s.edges == [(10_500, True)]
    assert s.battery == [(0, 3000), (10_500, 2700)]


def test_bounce_ends_on_the_new_level_within_its_span(tmp_path):
    path = write(tmp_path, "b.toml", """
        [[segment]]
        state = "drawn"
        duration_ms = 100
        [[segment]]
        state = "holstered"
        duration_ms = 100
        bounce_ms = 5
        """)
    s = scenario.load(path)
    assert s.initial_out is True
    assert s.edges[0][0] == 100_000
    assert all(100_000 <= t < 105_000 for t, _ in s.edges)
    assert s.edges[-1][1] is False


_states = st.sampled_from(["holstered", "drawn", "chatter"])


@st.composite
def toml_documents(draw):
    lines = [f"seed = {draw(st.integers(0, 2**32))}", f"bounce_ms = {draw(st.sampled_from([0, 0.5, 2, 6.2]))}"]
    for _ in range(draw(st.integers(1, 6))):
        state = draw(_states)
        lines += ["[[segment]]", f'state = "{state}"',
                  f"duration_ms = {draw(st.floats(0.5, 400, allow_nan=False))}"]
        if state == "chatter":
            lo = draw(st.integers(1, 3000))
            lines.append(f"chatter = {{ min_us = {lo}, max_us = {lo + draw(st.integers(0, 5000))} }}")
        elif draw(st.booleans()):
            every = draw(st.floats(2, 100))
            lines.append(f"vibration = {{ every_ms = {every}, open_ms = [0.01, {every * 0.9}] }}")
        if draw(st.booleans()):
            lines.append(f"battery_mv = {draw(st.integers(2000, 3300))}")
    return "\n".join(lines) + "\n"


@settings(max_examples=60, deadline=None)
@given(toml_documents())
def test_any_valid_file_gives_well_formed_repeatable_edges(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("gen") / "gen.toml"
    path.write_text(text)
    s = scenario.load(str(path))
    assert_well_formed(s)
    assert scenario.load(str(path)).edges == s.edges


# ---------------------------------------------------------------- errors


def error_of(spec: str, **kw) -> str:
    with pytest.raises(ScenarioError) as info:
        scenario.load(spec, **kw)
    text = str(info.value)
    assert "\n" not in text
    return text


def test_syntax_error_names_its_line(tmp_path):
    path = write(tmp_path, "syntax.toml", """
        name = "x"

        [[segment]]
        state = holstered
        duration_ms = 10
        """)
    msg = error_of(path)
    assert msg.startswith(f"{path}:4: ")
    assert "TOML syntax error" in msg


def test_unknown_state_names_its_line_and_the_choices(tmp_path):
    path = write(tmp_path, "state.toml", """
        [[segment]]
        state = "holstered"
        duration_ms = 10

        [[segment]]
        duration_ms = 10
        state = "holsterd"
        """)
    msg = error_of(path)
    assert msg.startswith(f"{path}:7: segment 2: ")
    assert "'holsterd'" in msg and "holstered, drawn, chatter" in msg


def test_negative_duration_in_segment_3(tmp_path):
    path = write(tmp_path, "draw.toml", """
        name = "draw"
        [[segment]]
        state = "holstered"
        duration_ms = 1000
        [[segment]]
        state = "drawn"
        duration_ms = 10
        [[segment]]
        state = "holstered"
        duration_ms = -5
        """)
    assert error_of(path) == (
        f"{path}:10: segment 3: duration_ms must be a positive number of milliseconds, got -5")


def test_unknown_key_in_a_segment_suggests_the_right_one(tmp_path):
    path = write(tmp_path, "key.toml", """
        [[segment]]
        state = "holstered"
        duration_ms = 1000
        bounse_ms = 3
        """)
    msg = error_of(path)
    assert msg.startswith(f"{path}:4: segment 1: unknown key 'bounse_ms'")
    assert "did you mean 'bounce_ms'" in msg


def test_unknown_top_level_table(tmp_path):
    path = write(tmp_path, "top.toml", """
        name = "x"
        [[segments]]
        state = "holstered"
        duration_ms = 1000
        """)
    msg = error_of(path)
    assert msg.startswith(f"{path}:2: unknown key 'segments'")
    assert "did you mean 'segment'" in msg


def test_vibration_on_chatter(tmp_path):
    path = write(tmp_path, "vib.toml", """
        [[segment]]
        state = "holstered"
        duration_ms = 1000

        [[segment]]
        state = "chatter"
        vibration = { every_ms = 250, open_ms = [1, 12] }
        duration_ms = 1000
        """)
    msg = error_of(path)
    assert msg.startswith(f"{path}:7: segment 2: vibration")
    assert "holstered or drawn" in msg


def test_open_longer_than_every(tmp_path):
    path = write(tmp_path, "open.toml", """
        [[segment]]
        state = "holstered"
        duration_ms = 1000
        vibration = { every_ms = 10, open_ms = [1, 12] }
        """)
    msg = error_of(path)
    assert msg.startswith(f"{path}:4: segment 1: vibration: open_ms (12) must be shorter than every_ms (10)")


def test_no_segments(tmp_path):
    path = write(tmp_path, "empty.toml", 'name = "nothing"\n')
    assert "no segments" in error_of(path)


def test_line_numbers_survive_a_multiline_description(tmp_path):
    path = write(tmp_path, "doc.toml", '''
        description = """
        [[segment]]
        state = "not a real segment"
        """
        [[segment]]
        state = "holstered"
        duration_ms = 0
        ''')
    assert error_of(path).startswith(f"{path}:7: segment 1: duration_ms")


def test_missing_file_and_unknown_spec(tmp_path):
    missing = str(tmp_path / "gone.toml")
    assert error_of(missing) == f"{missing}: no such file"
    msg = error_of("drow")
    assert msg.startswith("drow: ") and "draw" in msg and ".toml" in msg and ".csv" in msg


# ---------------------------------------------------------------- CSV


def test_csv_per_sample_rows_collapse_to_changes(tmp_path):
    rows = ["time,level"]
    for us in range(0, 10_000, 10):  # 100 kHz samples for 10 ms
        level = 1 if 2_000 <= us < 5_000 else 0
        rows.append(f"{us / 1e6:.6f},{level}")
    path = write(tmp_path, "cap.csv", "\n".join(rows))
    s = scenario.load(path, time_unit="s")  # dispatches on .csv; "time" names no unit
    assert s.initial_out is False
    assert s.edges == [(2_000, True), (5_000, False)]
    assert s.duration_us == 9_990 + 1_000
    assert s.battery == [(0, 3000)]
    assert s.source == path


def test_csv_pulseview_export_with_comments_header_and_more_channels(tmp_path):
    path = write(tmp_path, "pv.csv", """
        ; CSV, generated by libsigrok 0.5.2 on Mon Nov 24 2025
        ; Samplerate: 1 MHz
        ; Channels (2/8): D0, D1
        Time [s],D0,D1
        0.000100000," 1",0
        0.001100000," 0",1
        0.001100000," 0",0
        0.001350000," 1",1
        """)
    s = scenario.load_capture(path, holstered_level=1)
    assert s.initial_out is False
    assert s.edges == [(1_000, True), (1_250, False)]  # time 0 is the first row
    assert s.duration_us == 1_250 + 1  # the last sample lasts a period (1 MHz)


def test_csv_holstered_level_maps_electrical_to_out(tmp_path):
    path = write(tmp_path, "lvl.csv", "0,1\n0.5,0\n1.0,1\n")
    high = scenario.load_capture(path, holstered_level=1, time_unit="s")
    low = scenario.load_capture(path, holstered_level=0, time_unit="s")
    assert high.initial_out is False and high.edges == [(500_000, True), (1_000_000, False)]
    assert low.initial_out is True and low.edges == [(500_000, False), (1_000_000, True)]


def test_csv_header_unit_is_honoured(tmp_path):
    path = write(tmp_path, "ms.csv", "# ms capture\ntime [ms],level\n0,0\n12.5,1\n")
    assert scenario.load_capture(path).edges == [(12_500, True)]


def test_csv_time_going_backwards_names_the_row(tmp_path):
    path = write(tmp_path, "back.csv", """
        ; comment
        Time [s],D0
        0.0,0
        0.2,1
        0.1,0
        """)
    msg = error_of(path)
    assert msg.startswith(f"{path}:5: ")
    assert "non-decreasing" in msg


@pytest.mark.parametrize("text, line, words", [
    ("", 1, "empty file"),
    ("; only a comment\nTime [s],D0\n", 2, "no data rows"),
    ("Time [s],D0\n0,0\n0.1,x\n", 3, "level must be 0 or 1"),
    ("Time [s],D0\n0,0\nsoon,1\n", 3, "time must be a number"),
    ("Time [s],D0\n0,0\n0.1\n", 3, "expected 2 columns"),
    ("Time [s]\n0\n", 2, "expected time,level"),
])
def test_csv_bad_files(tmp_path, text, line, words):
    path = write(tmp_path, "bad.csv", text)
    msg = error_of(path)
    assert msg.startswith(f"{path}:{line}: ")
    assert words in msg


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(1, 50_000), min_size=0, max_size=30), st.booleans(), st.booleans())
def test_csv_reads_back_the_changes_it_was_written_from(tmp_path_factory, gaps, start_high, per_change):
    times, t = [], 0
    for g in gaps:
        t += g
        times.append(t)
    level = int(start_high)
    rows = [f"0.000000,{level}"]
    for x in times:
        if not per_change:
            rows.append(f"{(x - 1) / 1e6:.6f},{level}")  # a repeated sample just before
        level ^= 1
        rows.append(f"{x / 1e6:.6f},{level}")
    path = tmp_path_factory.mktemp("csv") / "cap.csv"
    path.write_text("Time [s],D0\n" + "\n".join(rows) + "\n")
    s = scenario.load_capture(str(path))
    assert_well_formed(s)
    assert s.initial_out is start_high
    assert [t for t, _ in s.edges] == times


# ---------------------------------------------------------------- JSON


@pytest.mark.parametrize("name", scenario.builtin_names())
def test_timeline_json_round_trips(name):
    s = scenario.load(name)
    j = json.loads(json.dumps(scenario.timeline_json(s)))
    assert set(j) == {"name", "seed", "duration_us", "initial_out", "edges", "battery", "line_spans"}
    # chatter is the line's own (a cracked reed, a loose wire): no front-end between it and the pin
    assert bool(j["line_spans"]) == (name == "chatter")
    assert j["name"] == s.name and j["seed"] == s.seed and j["duration_us"] == s.duration_us
    assert j["initial_out"] is s.initial_out
    assert len(j["edges"]) == len(s.edges) and len(j["battery"]) == len(s.battery)
    assert [(t, bool(v)) for t, v in j["edges"]] == s.edges
    assert {v for _, v in j["edges"]} <= {0, 1}
