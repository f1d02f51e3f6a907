"""Scenarios: what the holster sensor reads over time, for the simulator.

A scenario is the sensor's logical state ("out" = gun drawn) as a list of
edges in microseconds, plus the battery voltage. It comes from a small TOML
file (the built-ins are scenarios/NAME.toml beside this module) or from a
logic-analyser capture (CSV or a sigrok/PulseView .sr file).

TOML format
-----------
::

    name = "draw"              # default: the file name without .toml
    description = "..."        # default: ""
    seed = 1                   # random.Random(seed): the same file gives the same edges
    battery_mv = 3000          # battery at t=0, millivolts (1-10000)
    bounce_ms = 2              # contact bounce of each transition, unless a segment says otherwise
    expect = { draws = 1 }     # what the run must show on every board (see below)

    [[segment]]                # segments follow each other in time
    state = "holstered"        # "holstered" | "drawn" | "chatter"
    duration_ms = 1000         # > 0, may be fractional (resolution 1 us)

    [[segment]]
    state = "drawn"
    duration_ms = 12000
    bounce_ms = 3              # bounce at this segment's start (0 = clean edge)
    vibration = { every_ms = 250, open_ms = [1, 12] }
    battery_mv = 2900          # battery from this segment's start

Segment keys:

``state`` (required)
    "holstered" (reed closed, "in"), "drawn" ("out"), or "chatter".
``duration_ms`` (required)
    Length of the segment in milliseconds, a positive number.
``bounce_ms``
    When the level changes into this segment, the first edge is at the
    segment's start and further toggles follow at random 50-800 us spacing
    until ``bounce_ms`` has passed; the last toggle leaves the segment's level.
    0 is one clean edge. Must be shorter than the segment (the file-wide
    default is cut to fit). Not allowed on a chatter segment (it is all bounce).
``vibration`` (holstered/drawn only)
    ``{ every_ms = E, open_ms = [LO, HI] }`` (or ``open_ms = N``): brief
    excursions to the opposite level starting every E ms (+-30 % jitter,
    first one E ms after the segment has settled), each open for LO-HI ms
    (first opening edge to first closing edge), each edge with its own small
    bounce (< 1 ms, a reed switch's). HI must be less than E. An excursion
    that would not end inside the segment is left out.
``chatter`` (chatter only, optional)
    ``{ min_us = 200, max_us = 3000 }`` (the defaults): random toggles at
    that spacing for the whole segment. Fast, it is a failing sensor; at
    2-20 ms it is a gun eased in or out of the holster (intermittent contact).
    Chatter starts from the level before it (holstered when it comes first);
    the next segment's level is then reached with its normal bounce.
``on_line`` (chatter only, optional)
    ``true``: the toggles are the sensor line's own (a cracked reed capsule,
    a loose wire), not the magnet's, so a board whose front-end samples the
    field (a Hall switch) sees them on the pin as they are. Default false: the
    magnet moves and the front-end passes on what it samples.
``battery_mv``
    Battery voltage from this segment's start, millivolts (1-10000).

``expect`` (top level, optional) is what the run must show, whichever
board runs it: ``draws`` (a draw reported again after a reset, the gun still
out, is the same draw), ``holsters``, ``faults`` and ``brownouts``, each a
count. `drawsense sim` checks it after the run and exits 1, saying what
differed, when the run does not show it (not with ``--inject``, whose fault
changes the run on purpose).

Anything else is an error, reported as ``file:line: message`` with the line
of the offending key (or of its ``[[segment]]`` header).

Captures
--------
A logic-analyser capture of the sensor line (``.csv`` or ``.sr``), as
sigrok-cli, PulseView and Saleae Logic write them: see drawsense/sim/capture.py.
One channel (the first, or the one asked for) is the sensor line; its
electrical level is mapped to "out" with the board's ``holstered_level``.
Time 0 is the first sample.
"""

from __future__ import annotations

import difflib
import math
import random
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

from drawsense import paths
from drawsense.sim import capture

DEFAULT = "draw"
STATES = ("holstered", "drawn", "chatter")

# A scenario is a simulator input; this many edges is already minutes of
# solid chatter. The cap turns a typo (min_us = 0.01) into an error, not a hang.
MAX_EDGES = 1_000_000
# ... and this long is a month: a simulated holstered hour takes ~0.03 s, so
# ~20 s of wall time. Longer is a typo (duration_ms = 1e12) or a job for
# `drawsense power`, which prices days and scales them.
MAX_DURATION_MS = 31 * 86_400_000

_TOP_KEYS = ("name", "description", "seed", "battery_mv", "bounce_ms", "expect", "segment")
EXPECT_KEYS = ("draws", "holsters", "faults", "brownouts")
_SEGMENT_KEYS = ("state", "duration_ms", "bounce_ms", "vibration", "chatter", "on_line", "battery_mv")
_VIBRATION_KEYS = ("every_ms", "open_ms")
_CHATTER_KEYS = ("min_us", "max_us")
_CHATTER_DEFAULT_US = (200, 3000)

# Spacing of contact-bounce toggles, us. Ganssle ("A Guide to Debouncing",
# 18 switches) saw bounce last 1.6 ms on average, 6.2 ms at worst, made of
# pulses from tens to hundreds of microseconds.
_BOUNCE_GAP_US = (50, 800)
# Bounce on each edge of a vibration excursion: reed switches settle in < 1 ms.
_SMALL_BOUNCE_US = 900
# Shortest closed time between two vibration excursions, us.
_MIN_CLOSED_US = 1000
_JITTER = 0.3
_BATTERY_RANGE_MV = (1, 10000)


class ScenarioError(Exception):
    """A scenario that cannot be loaded. str(e) is one line: "path:line: message"
    ("path: message" when no line applies, e.g. a missing file)."""

    def __init__(self, path: str | Path, line: int, message: str):
        self.path = str(path)
        self.line = line
        self.message = " ".join(message.split("\n"))
        super().__init__(f"{self.path}:{self.line}: {self.message}" if line else f"{self.path}: {self.message}")


@dataclass
class Scenario:
    name: str
    description: str
    seed: int
    duration_us: int
    initial_out: bool
    edges: list[tuple[int, bool]]
    battery: list[tuple[int, int]]
    source: str
    # (start_us, end_us) spans in which the edges are the line's own, not
    # the magnet's: a chatter segment is a cracked reed or a loose wire, and
    # a capture was taken on the line. There a board's sampling front-end (a
    # Hall switch) does not stand between the edges and the pin.
    line_spans: list[tuple[int, int]] = field(default_factory=list)
    # what the run must show (EXPECT_KEYS -> count), checked by `drawsense sim`
    expect: dict[str, int] = field(default_factory=dict)


def builtin_names() -> list[str]:
    return sorted(p.stem for p in paths.SCENARIOS.glob("*.toml"))


def load(spec: str, holstered_level: int = 0, **capture_options) -> Scenario:
    """A built-in by name, or a .toml scenario file, or a capture (.csv, .sr):
    capture_options are load_capture's (channel, samplerate, time_unit)."""
    spec = str(spec)
    if spec in builtin_names():
        return _load_toml(paths.SCENARIOS / f"{spec}.toml", source=spec)
    suffix = Path(spec).suffix.lower()
    if suffix == ".toml":
        return _load_toml(Path(spec), source=spec)
    if suffix in CAPTURE_SUFFIXES:
        return load_capture(spec, holstered_level, **capture_options)
    raise ScenarioError(spec, 0, f"not a scenario: give a built-in ({', '.join(builtin_names())}) "
                                 "or a path to a .toml scenario, a .csv capture or a sigrok/PulseView .sr file")


def timeline_json(s: Scenario) -> dict:
    """The scenario as plain JSON data for the virtual board."""
    return {
        "name": s.name,
        "seed": s.seed,
        "duration_us": s.duration_us,
        "initial_out": s.initial_out,
        "edges": [[t, int(out)] for t, out in s.edges],
        "battery": [[t, mv] for t, mv in s.battery],
        "line_spans": [[a, b] for a, b in s.line_spans],
    }


def _read(path: str | Path) -> str:
    try:
        return capture.read_text(path)
    except capture.CaptureError as e:
        raise ScenarioError(e.path, e.line, e.message) from None


# ---------------------------------------------------------------- TOML


class _Lines:
    """Line numbers of keys and [[segment]] headers, found by scanning the text:
    tomllib gives positions for syntax errors only."""

    _HEADER = re.compile(r"""^\s*(\[\[?)\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_.-]+))\s*\]""")
    _KEY = re.compile(r"""^\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*[.=]""")

    def __init__(self, text: str):
        self.top: dict[str, int] = {}
        self.segments: list[tuple[int, dict[str, int]]] = []
        current: dict[str, int] | None = self.top
        in_string = ""  # the delimiter of a multi-line string we are inside
        for n, line in enumerate(text.splitlines(), 1):
            if in_string:
                if line.count(in_string) % 2:
                    in_string = ""
                continue
            header = self._HEADER.match(line)
            if header:
                name = next(g for g in header.groups()[1:] if g is not None)
                if header.group(1) == "[[" and name == "segment":
                    self.segments.append((n, {}))
                    current = self.segments[-1][1]
                else:
                    self.top.setdefault(name.split(".")[0], n)
                    current = None
                continue
            key = self._KEY.match(line)
            if key and current is not None:
                current.setdefault(next(g for g in key.groups() if g is not None), n)
            for delim in ('"""', "'''"):
                if line.count(delim) % 2:
                    in_string = delim
                    break

    def key(self, name: str) -> int:
        return self.top.get(name, 0)

    def segment(self, i: int, key: str | None = None) -> int:
        """Line of key in segment i (0-based), else of its header, else of 'segment'."""
        if i < len(self.segments):
            header, keys = self.segments[i]
            return keys.get(key, header) if key else header
        return self.key("segment")


@dataclass
class _Segment:
    number: int              # 1-based, for messages
    line: int
    state: str
    duration_us: int
    bounce_us: int
    vibration: tuple[int, int, int] | None   # every_us, open_lo_us, open_hi_us
    chatter: tuple[int, int] | None          # min_us, max_us
    battery_mv: int | None
    on_line: bool = False                     # the line's own toggles (a wiring fault), not the magnet's


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_ms(v: object) -> bool:
    """A number of milliseconds from 0 to the longest scenario (a larger one
    would overflow the conversion to whole microseconds)."""
    return _is_number(v) and 0 <= v <= MAX_DURATION_MS


def _unknown(key: str, allowed: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"unknown key '{key}': {hint}allowed: {', '.join(allowed)}"


def _load_toml(path: Path, source: str) -> Scenario:
    text = _read(path)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        msg = str(e)
        m = re.search(r"\s*\(at line (\d+), column (\d+)\)$", msg)
        if m:
            line = int(m.group(1))
            msg = f"{msg[:m.start()]} (column {m.group(2)})"
        else:
            line = len(text.splitlines()) or 1
            msg = re.sub(r"\s*\(at end of document\)$", " (at end of file)", msg)
        raise ScenarioError(path, line, f"TOML syntax error: {msg}") from None
    lines = _Lines(text)

    def fail(line: int, message: str) -> ScenarioError:
        return ScenarioError(path, line, message)

    for key in doc:
        if key not in _TOP_KEYS:
            raise fail(lines.key(key), _unknown(key, _TOP_KEYS))

    name = doc.get("name", path.stem)
    if not isinstance(name, str) or not name.strip():
        raise fail(lines.key("name"), f"name must be a non-empty string, got {name!r}")
    description = doc.get("description", "")
    if not isinstance(description, str):
        raise fail(lines.key("description"), f"description must be a string, got {description!r}")
    seed = doc.get("seed", 1)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise fail(lines.key("seed"), f"seed must be an integer, got {seed!r}")
    battery = _battery(doc.get("battery_mv", 3000), lambda m: fail(lines.key("battery_mv"), m))
    default_bounce = doc.get("bounce_ms", 2)
    if not _is_ms(default_bounce):
        raise fail(lines.key("bounce_ms"), f"bounce_ms must be a number of milliseconds from 0 to "
                                           f"{MAX_DURATION_MS} (31 days), got {default_bounce!r}")

    raw_segments = doc.get("segment")
    if raw_segments is None or raw_segments == []:
        raise fail(lines.key("segment"), "no segments: add at least one [[segment]] with state and duration_ms")
    if not isinstance(raw_segments, list) or not all(isinstance(s, dict) for s in raw_segments):
        raise fail(lines.key("segment"), "segment must be an array of tables: write each one as [[segment]]")
    segments = [_segment(i, raw, default_bounce, lines, fail) for i, raw in enumerate(raw_segments)]
    if sum(seg.duration_us for seg in segments) > MAX_DURATION_MS * 1000:
        raise fail(lines.key("segment"), f"the segments add up to more than 31 days ({MAX_DURATION_MS} ms), "
                                         f"the longest scenario the simulator runs")

    expect = _expect(doc.get("expect", {}), lambda m: fail(lines.key("expect"), m))
    s = _generate(segments, seed, battery, fail)
    s.name, s.description, s.source, s.expect = name, description, source, expect
    return s


def _expect(value: object, fail) -> dict[str, int]:
    usage = "write e.g. expect = { draws = 1, brownouts = 1 }"
    if not isinstance(value, dict):
        raise fail(f"expect must be a table: {usage}")
    for key, n in value.items():
        if key not in EXPECT_KEYS:
            raise fail(f"expect: {_unknown(key, EXPECT_KEYS)}")
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise fail(f"expect: {key} must be a whole number >= 0, got {n!r}")
    return dict(value)


def _battery(value: object, fail) -> int:
    lo, hi = _BATTERY_RANGE_MV
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise fail(f"battery_mv must be an integer number of millivolts, {lo}-{hi}, got {value!r}")
    return value


def _segment(i: int, raw: dict, default_bounce: float, lines: _Lines, fail) -> _Segment:
    where = f"segment {i + 1}"

    def err(key: str | None, message: str) -> ScenarioError:
        return fail(lines.segment(i, key), f"{where}: {message}")

    for key in raw:
        if key not in _SEGMENT_KEYS:
            raise err(key, _unknown(key, _SEGMENT_KEYS))
    if "state" not in raw:
        raise err(None, f"state is missing: use one of {', '.join(STATES)}")
    state = raw["state"]
    if state not in STATES:
        raise err("state", f"unknown state {state!r}: use one of {', '.join(STATES)}")
    if "duration_ms" not in raw:
        raise err(None, "duration_ms is missing: give the segment's length in milliseconds")
    duration = raw["duration_ms"]
    if _is_number(duration) and duration > MAX_DURATION_MS:
        raise err("duration_ms", f"duration_ms must be at most {MAX_DURATION_MS} (31 days), got {duration!r}")
    duration_us = round(duration * 1000) if _is_number(duration) else 0
    if duration_us <= 0:
        raise err("duration_ms", f"duration_ms must be a positive number of milliseconds, got {duration!r}")

    bounce = raw.get("bounce_ms", default_bounce)
    if "bounce_ms" in raw:
        if state == "chatter":
            raise err("bounce_ms", "bounce_ms is not allowed on a chatter segment (it is all bounce); "
                                   "set it on the segment after it")
        if not _is_ms(bounce):
            raise err("bounce_ms", f"bounce_ms must be a number of milliseconds from 0 to {MAX_DURATION_MS} "
                                   f"(31 days), got {bounce!r}")
    bounce_us = round(bounce * 1000)
    if bounce_us >= duration_us:
        if "bounce_ms" in raw:
            raise err("bounce_ms", f"bounce_ms ({bounce:g}) must be shorter than duration_ms ({duration:g})")
        bounce_us = duration_us - 1  # the file-wide default, in a very short segment

    vibration = None
    if "vibration" in raw:
        if state == "chatter":
            raise err("vibration", "vibration is only allowed on holstered or drawn segments, not on chatter")
        vibration = _vibration(raw["vibration"], lambda m: err("vibration", f"vibration: {m}"))

    chatter = None
    if "chatter" in raw and state != "chatter":
        raise err("chatter", f'chatter settings need state = "chatter", this segment is {state!r}')
    if state == "chatter":
        chatter = _chatter(raw.get("chatter", {}), lambda m: err("chatter", f"chatter: {m}"))

    battery = None
    if "battery_mv" in raw:
        battery = _battery(raw["battery_mv"], lambda m: err("battery_mv", m))
    on_line = raw.get("on_line", False)
    if "on_line" in raw:
        if state != "chatter":
            raise err("on_line", f'on_line is only for chatter segments, this segment is {state!r}')
        if not isinstance(on_line, bool):
            raise err("on_line", f"on_line must be true or false, got {on_line!r}")
    return _Segment(i + 1, lines.segment(i), state, duration_us, bounce_us, vibration, chatter, battery, on_line)


def _vibration(v: object, fail) -> tuple[int, int, int]:
    usage = "write vibration = { every_ms = 250, open_ms = [1, 12] }"
    if not isinstance(v, dict):
        raise fail(f"must be a table: {usage}")
    for key in v:
        if key not in _VIBRATION_KEYS:
            raise fail(_unknown(key, _VIBRATION_KEYS))
    if "every_ms" not in v or "open_ms" not in v:
        raise fail(f"needs both every_ms and open_ms: {usage}")
    every = v["every_ms"]
    if not _is_ms(every) or every <= 0:
        raise fail(f"every_ms must be a number of milliseconds, more than 0 and at most {MAX_DURATION_MS} "
                   f"(31 days), got {every!r}")
    opens = v["open_ms"]
    if _is_number(opens):
        opens = [opens, opens]
    if (not isinstance(opens, list) or len(opens) != 2 or not all(_is_number(x) for x in opens)
            or not 0 < opens[0] <= opens[1]):
        raise fail(f"open_ms must be [shortest, longest] in milliseconds with 0 < shortest <= longest, got {v['open_ms']!r}")
    if opens[1] >= every:
        raise fail(f"open_ms ({opens[1]:g}) must be shorter than every_ms ({every:g}): "
                   "excursions would overlap")
    return round(every * 1000), max(1, round(opens[0] * 1000)), max(1, round(opens[1] * 1000))


def _chatter(v: object, fail) -> tuple[int, int]:
    if not isinstance(v, dict):
        raise fail("must be a table: write chatter = { min_us = 200, max_us = 3000 }")
    for key in v:
        if key not in _CHATTER_KEYS:
            raise fail(_unknown(key, _CHATTER_KEYS))
    lo = v.get("min_us", _CHATTER_DEFAULT_US[0])
    hi = v.get("max_us", _CHATTER_DEFAULT_US[1])
    if not (_is_number(lo) and _is_number(hi) and 1 <= lo <= hi):
        raise fail(f"need 1 <= min_us <= max_us (microseconds between toggles), got min_us={lo!r}, max_us={hi!r}")
    return round(lo), round(hi)


# ---------------------------------------------------------------- edges


class _TooMany(Exception):
    pass


def _bounce(rng: random.Random, t: int, span_us: int, odd: bool) -> list[int]:
    """Toggles from t over span_us; an odd count changes the level, an even one leaves it."""
    times = [t]
    x = t + rng.randint(*_BOUNCE_GAP_US)
    while x < t + span_us:
        times.append(x)
        x += rng.randint(*_BOUNCE_GAP_US)
    if (len(times) % 2 == 1) != odd:
        times.pop()
    return times


def _excursions(rng: random.Random, start: int, end: int, vib: tuple[int, int, int], limit: int) -> list[int]:
    every, lo, hi = vib
    times: list[int] = []
    t = free = start
    while True:
        t = max(t + round(every * rng.uniform(1 - _JITTER, 1 + _JITTER)), free)
        open_us = rng.randint(lo, hi)
        # The opening bounce stays in the first third, so the excursion is
        # really open for most of open_us.
        b_open = rng.randint(0, min(_SMALL_BOUNCE_US, open_us // 3))
        b_close = rng.randint(0, _SMALL_BOUNCE_US)
        if t + open_us + b_close >= end:
            return times
        times += _bounce(rng, t, b_open, odd=True)
        times += _bounce(rng, t + open_us, b_close, odd=True)
        free = t + open_us + b_close + _MIN_CLOSED_US
        if len(times) > limit:
            raise _TooMany


def _chatter_toggles(rng: random.Random, start: int, end: int, spacing: tuple[int, int], limit: int) -> list[int]:
    times = []
    x = start + rng.randint(*spacing)
    while x < end:
        times.append(x)
        if len(times) > limit:
            raise _TooMany
        x += rng.randint(*spacing)
    return times


def _generate(segments: list[_Segment], seed: int, battery_mv: int, fail) -> Scenario:
    rng = random.Random(seed)
    initial_out = segments[0].state == "drawn"
    out = initial_out
    toggles: list[int] = []
    battery = [(0, segments[0].battery_mv or battery_mv)]
    t = 0
    after_chatter = False
    spans = []
    for seg in segments:
        start, end = t, t + seg.duration_us
        limit = MAX_EDGES - len(toggles)
        try:
            if seg.chatter:
                new = _chatter_toggles(rng, start, end, seg.chatter, limit)
                if seg.on_line:
                    spans.append((start, end))
            else:
                want = seg.state == "drawn"
                new = []
                if want != out or after_chatter:
                    new = _bounce(rng, start, seg.bounce_us, odd=want != out)
                if seg.vibration:
                    new += _excursions(rng, start + seg.bounce_us, end, seg.vibration, limit - len(new))
        except _TooMany:
            raise fail(seg.line, f"segment {seg.number}: makes more than {MAX_EDGES} edges; "
                                 "lengthen the spacing or shorten duration_ms") from None
        toggles += new
        out ^= len(new) % 2 == 1
        after_chatter = seg.state == "chatter"
        if seg.battery_mv is not None and seg.battery_mv != battery[-1][1]:
            battery.append((start, seg.battery_mv))
        t = end

    edges = []
    level = initial_out
    for x in toggles:
        level = not level
        edges.append((x, level))
    return Scenario("", "", seed, t, initial_out, edges, battery, "", spans)


# ---------------------------------------------------------------- captures

CAPTURE_SUFFIXES = (".csv", ".sr")


def load_capture(path: str, holstered_level: int = 0, *, channel: str | None = None,
                 samplerate: float | None = None, time_unit: str | None = None) -> Scenario:
    """A logic-analyser capture of the sensor line (drawsense/sim/capture.py
    says which): one channel's electrical level, mapped to "out" with the
    board's holstered_level. The options say what the file does not: which
    channel (a name or a number from 0; default the first), the sample rate
    in Hz, the unit of a time column."""
    if holstered_level not in (0, 1):
        raise ValueError(f"holstered_level must be 0 or 1, got {holstered_level!r}")
    try:
        trace = capture.read(path, channel=channel, samplerate=samplerate, time_unit=time_unit,
                             max_us=MAX_DURATION_MS * 1000)
    except capture.CaptureError as e:
        raise ScenarioError(e.path, e.line, e.message) from None
    # Samples at the same microsecond: the last one is the level from then on.
    points: list[tuple[int, int]] = []
    for t, level in trace.points:
        us = round(t)
        if points and points[-1][0] == us:
            points[-1] = (us, level)
        else:
            points.append((us, level))
    level = points[0][1]
    edges = []
    for us, new in points[1:]:
        if new != level:
            level = new
            edges.append((us, level != holstered_level))
    # The last sample lasts a period; 1 ms when the rate is not known (a
    # row per change: the last row is where the export ends).
    end = points[-1][0] + max(1, round(trace.period_us or 1000))
    return Scenario(
        name=Path(path).stem,
        description=f"capture {Path(path).name}: {trace.what}; {trace.rows} {trace.rows_are}, {len(edges)} edges, "
                    f"{end / 1e6:g} s (holstered level {holstered_level})",
        seed=1,
        duration_us=end,
        initial_out=points[0][1] != holstered_level,
        edges=edges,
        battery=[(0, 3000)],
        source=str(path),
        line_spans=[(0, end)],  # recorded on the line itself
    )
