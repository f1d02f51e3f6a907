"""Logic-analyser captures of the sensor line, as the tools write them, read
into the level of one channel over time.

Read:

sigrok-cli 0.7 and PulseView CSV
    Both write through libsigrok's CSV output module (src/output/csv.c at
    libsigrok-0.5.2; PulseView: pv/storesession.cpp, output_format->create_output).
    Comment lines start with ``;``: ``; Channels (3/8): D0, D1, D2`` and
    ``; Samplerate: 1 kHz`` (gone with ``header=false``). Then a label row
    (gone with ``label=off``): ``time=true`` puts a time column first, labelled
    with its unit, ``milliseconds`` at 1 kHz, ``microseconds`` at 200 kHz (the
    unit is the largest of s/ms/us/ns... that holds a period; ``samples`` at
    1 Hz or with no rate, when the column is all 0), or ``Time`` with
    ``label=channel``, where the unit is known only from the sample rate.
    ``label=units`` (the default) calls every logic column ``logic``; the
    channel names then come from the Channels comment.
    Without ``time=true`` (the default) there is no time column: one row per
    sample at the sample rate. ``dedup=true`` keeps the rows where a level
    changes. A ``Trigger`` column (``trigger=true``) is left out.
sigrok and PulseView session files (``.sr``)
    A zip (libsigrok src/output/srzip.c, read back by src/session_file.c and
    src/session_driver.c): ``version`` (1 or 2), ``metadata`` (an ini file:
    ``[device 1]`` with ``capturefile=logic-1``, ``samplerate=1 kHz``,
    ``unitsize=1``, ``total probes=8``, ``probeN=NAME`` for each enabled
    channel, bit N-1 of a sample) and the samples, ``unitsize`` bytes each,
    little-endian, in ``logic-1`` or in chunks ``logic-1-1``, ``logic-1-2``, ...
Saleae Logic CSV
    Logic 2's digital export: ``Time [s],Channel 0,Channel 1``, one row per
    change, time in seconds; ``X`` for no data, a last row of X at the end
    (Saleae's support article "Binary and CSV Export Formats (2025 update)",
    saleae/gitbook-docs faq/technical-faq/binary-and-csv-export-formats-2025-update.md).
    Logic 1.x: ``Time[s], Channel 0, Channel 1`` (a space after each comma). Sample numbers instead of times
    need the sample rate; ISO 8601 timestamps are refused (export without them).
Any other CSV
    An optional header row whose first field names the time and its unit
    (``Time [ms]``, ``time (us)``), then ``time,level[,level...]`` rows.

Time 0 is the first sample. A file that does not say its time scale (a
``Time`` column without a unit and no ``; Samplerate:`` comment, or no header
at all) is refused unless the caller gives the sample rate or the time unit.
"""

from __future__ import annotations

import configparser
import math
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

# us per unit of a time column. sigrok's labels are whole words
# (src/output/csv.c, xlabels[]); others put a short unit in brackets.
_UNITS_US = {
    "s": 1e6, "ms": 1e3, "us": 1.0, "µs": 1.0, "ns": 1e-3, "ps": 1e-6,
    "seconds": 1e6, "milliseconds": 1e3, "microseconds": 1.0, "nanoseconds": 1e-3, "picoseconds": 1e-6,
}
UNIT_CHOICES = ("s", "ms", "us", "ns")
_SAMPLES = ("samples", "sample", "sample number", "sample #")
_PREFIX = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9}
_CHUNK = 1 << 22  # bytes of a .sr sample file read at a time

_RATE_HINT = "pass --samplerate, the rate it was captured at (e.g. 1k, 200k, 1M)"


class CaptureError(Exception):
    """A capture that cannot be read: path, line (0: none) and a one-line message."""

    def __init__(self, path: str | Path, line: int, message: str):
        self.path, self.line, self.message = str(path), line, message
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")


@dataclass
class Trace:
    """One channel of a capture: its level from time 0 (the first sample)."""
    points: list[tuple[float, int]]  # (us, level 0/1): the first sample, then each row or change
    rows: int  # data rows (CSV) or samples (.sr) read
    what: str  # where it came from, for the user: "sigrok CSV, ms, channel D0 (1 of 3)"
    period_us: float | None = None  # one sample, when the rate is known
    rows_are: str = "rows"  # what `rows` counts


def parse_rate(text: str) -> float:
    """A sample rate in Hz from sigrok's spelling ("1 kHz", "200 kHz",
    "1.5 MHz"; as sigrok-cli's -c samplerate=: "1k", "1m" is 1 MHz, "1M")
    or a plain number. ValueError if it is not one, or not above 0."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)\s*([kKmMgG]?)\s*(?:[hH][zZ])?\s*", text)
    if not m:
        raise ValueError(f"not a sample rate: {text!r} (give e.g. 1k, 200k, 1M or 1000000)")
    rate = float(m.group(1)) * _PREFIX[m.group(2).lower()]
    if not 0 < rate < 1e13:
        raise ValueError(f"not a sample rate: {text!r} (must be above 0 Hz)")
    return rate


def sigrok_time_unit_us(rate: float) -> float:
    """The unit of sigrok's time column at this rate, in us: the largest of
    1 s, 1 ms, 1 us, ... that holds at least one period (src/output/csv.c,
    gen_header: i = 0, sr = 1; while (sr < samplerate) { i++; sr *= 1000; })."""
    unit, per_s = 1e6, 1.0
    while per_s < rate:
        unit, per_s = unit / 1000, per_s * 1000
    return unit


def read(path: str | Path, *, channel: str | None = None, samplerate: float | None = None,
         time_unit: str | None = None, max_us: float = math.inf) -> Trace:
    """The capture at path (.sr or CSV), one channel of it; refused past
    max_us from its start (at the row that passes it)."""
    if time_unit is not None and time_unit not in _UNITS_US:
        raise ValueError(f"time_unit must be one of {', '.join(UNIT_CHOICES)}, got {time_unit!r}")
    if Path(path).suffix.lower() == ".sr":
        return _read_sr(path, channel, samplerate, max_us)
    return _read_csv(path, channel, samplerate, time_unit, max_us)


def _too_long(path, line: int, what: str, max_us: float) -> CaptureError:
    return CaptureError(path, line, f"{what} is more than {max_us / 86_400e6:g} days after the start, "
                                    f"longer than the simulator runs; is the time scale right?")


def _pick(path, names: list[str], channel: str | None, line: int = 0) -> int:
    """Index of the chosen channel: by name (case-insensitive), else a number
    counts the channels from 0; the first when none is asked for."""
    if channel is None:
        return 0
    by_name = [i for i, n in enumerate(names) if n.lower() == channel.strip().lower()]
    if by_name:
        return by_name[0]
    if channel.strip().isdigit() and int(channel) < len(names):
        return int(channel)
    raise CaptureError(path, line, f"no channel {channel!r}: it has {', '.join(names)} "
                                   f"(give --channel a name, or a number from 0 to {len(names) - 1})")


def _which(names: list[str], i: int) -> str:
    return f"channel {names[i]}" + (f" ({i + 1} of {len(names)})" if len(names) > 1 else "")


# ---------------------------------------------------------------- .sr


def _read_sr(path, channel: str | None, samplerate: float | None, max_us: float) -> Trace:
    try:
        z = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise CaptureError(path, 0, "no such file") from None
    except zipfile.BadZipFile:
        raise CaptureError(path, 0, "not a sigrok/PulseView session file (a .sr is a zip); "
                                    "a CSV export should end in .csv") from None
    except OSError as e:
        raise CaptureError(path, 0, f"cannot read: {e.strerror}") from None
    with z:
        members = set(z.namelist())
        if "version" not in members or "metadata" not in members:
            raise CaptureError(path, 0, "not a sigrok session file: no 'version' and 'metadata' in the zip")
        version = z.read("version").decode("ascii", "replace").strip()
        if version not in ("1", "2"):
            raise CaptureError(path, 0, f"sigrok session file version {version!r}: only 1 and 2 are known")
        ini = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            ini.read_string(z.read("metadata").decode("utf-8"))
        except (configparser.Error, UnicodeDecodeError) as e:
            raise CaptureError(path, 0, f"unreadable metadata: {' '.join(str(e).split())}") from None
        dev = next((ini[s] for s in ini.sections() if ini.has_option(s, "capturefile")), None)
        if dev is None:
            raise CaptureError(path, 0, "no logic channels in this session file (analog only?)")
        probes = sorted((int(k[5:]), v) for k, v in dev.items() if re.fullmatch(r"probe\d+", k) and int(k[5:]) > 0)
        if not dev.get("unitsize", "1").strip().isdigit():
            raise CaptureError(path, 0, f"metadata: unitsize {dev.get('unitsize')!r} is not a number")
        unitsize = int(dev.get("unitsize", "1"))
        rate = samplerate
        if rate is None:
            try:
                rate = parse_rate(dev.get("samplerate", ""))
            except ValueError:
                raise CaptureError(path, 0, f"the metadata gives no sample rate: {_RATE_HINT}") from None
        if not probes or unitsize < 1 or max(b for b, _ in probes) > unitsize * 8:
            raise CaptureError(path, 0, f"metadata: probes {[n for _, n in probes]} do not fit unitsize {unitsize}")
        names = [n for _, n in probes]
        i = _pick(path, names, channel)
        bit = probes[i][0] - 1
        base = dev["capturefile"]
        files = [base] if base in members else []
        while f"{base}-{len(files) + 1}" in members:
            files.append(f"{base}-{len(files) + 1}")
        if not files:
            raise CaptureError(path, 0, f"no samples: no {base} or {base}-1 in the zip")
        levels = _bit_table(bit % 8)
        points: list[tuple[float, int]] = []
        n, level, rest = 0, -1, b""
        for name in files:
            with z.open(name) as f:
                while block := f.read(_CHUNK):
                    block = rest + block
                    whole = len(block) - len(block) % unitsize
                    rest = block[whole:]
                    col = block[bit // 8:whole:unitsize].translate(levels)  # one byte 0/1 per sample
                    if level < 0 and col:
                        level = col[0]
                        points.append((0.0, level))
                    pos = 0
                    while (pos := col.find(b"\x00" if level else b"\x01", pos)) >= 0:
                        level ^= 1
                        points.append(((n + pos) * 1e6 / rate, level))
                    n += len(col)
                    if n * 1e6 / rate > max_us:
                        raise _too_long(path, 0, f"sample {n}", max_us)
    if not n:
        raise CaptureError(path, 0, "no samples in this session file")
    points.append(((n - 1) * 1e6 / rate, level))  # the last sample: the capture's end
    return Trace(points, n, f"sigrok session, {_hz(rate)}, {_which(names, i)}", 1e6 / rate, "samples")


def _bit_table(bit: int) -> bytes:
    """bytes.translate table: a sample byte -> 0 or 1, the given bit of it."""
    return bytes((b >> bit) & 1 for b in range(256))


def _hz(rate: float) -> str:
    for div, unit in ((1e9, "GHz"), (1e6, "MHz"), (1e3, "kHz")):
        if rate >= div:
            return f"{rate / div:g} {unit}"
    return f"{rate:g} Hz"


# ---------------------------------------------------------------- CSV


def _lines(path) -> Iterator[tuple[int, str]]:
    """(line number, line) of a text file, read as it goes (a capture can be
    millions of rows); a one-line CaptureError if it cannot be read."""
    try:
        with open(path, encoding="utf-8-sig") as f:  # -sig: an export with a byte-order mark
            for n, raw in enumerate(f, 1):
                yield n, raw
    except FileNotFoundError:
        raise CaptureError(path, 0, "no such file") from None
    except UnicodeDecodeError:
        raise CaptureError(path, 0, "not UTF-8 text") from None
    except OSError as e:
        raise CaptureError(path, 0, f"cannot read: {e.strerror}") from None


def read_text(path) -> str:
    """The text of a file, or a one-line CaptureError."""
    return "".join(line for _, line in _lines(path))


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _time_label(label: str) -> tuple[bool, float | None, bool]:
    """(is a time column, us per unit or None if it does not say, counts samples)."""
    low = " ".join(label.lower().split())
    if low in _SAMPLES:
        return True, None, True
    if low in _UNITS_US and len(low) > 2:  # sigrok's words: milliseconds, ...
        return True, _UNITS_US[low], False
    m = re.fullmatch(r"time ?[\[(] ?(\w+) ?[\])]", low)  # Time [s], Time[s], Time(s), time (ms)
    if m and m.group(1) in _UNITS_US:
        return True, _UNITS_US[m.group(1)], False
    return low == "time", None, False


# Data rows looked at to tell a time column from a channel when there is no
# label row: sigrok's time column is past 1 by its second row.
_SNIFF_ROWS = 1000


def _read_csv(path, channel: str | None, samplerate: float | None, time_unit: str | None,
              max_us: float) -> Trace:
    rate_said: float | None = None
    comment_names: list[str] = []
    header: list[str] | None = None
    header_line = last_line = 0
    sniffed: list[tuple[int, list[str]]] = []  # the first data rows, while the layout is not known
    sep = ","
    lines = _lines(path)
    for n, raw in lines:
        last_line = n
        line = raw.strip()
        if not line:
            continue
        if line[0] in ";#%":
            m = re.match(r"[;#%]\s*sample\s*rate\s*:\s*(.+)", line, re.I)
            if m:
                try:
                    rate_said = parse_rate(m.group(1))
                except ValueError:
                    raise CaptureError(path, n, f"cannot read the sample rate {m.group(1).strip()!r}") from None
            m = re.match(r"[;#%]\s*channels\s*\(\d+/\d+\)\s*:\s*(.*)", line, re.I)
            if m:
                comment_names = [x.strip() for x in m.group(1).split(",") if x.strip()]
            continue
        if not sniffed and header is None:
            sep = "\t" if "\t" in line and "," not in line else ","
        fields = [f.strip().strip("\"'").strip() for f in line.split(sep)]
        if header is None and not sniffed and _number(fields[0]) is None:
            header, header_line = fields, n
            continue
        sniffed.append((n, fields))
        if len(sniffed) >= _SNIFF_ROWS:
            break
    if not sniffed:
        if not last_line:
            raise CaptureError(path, 1, "empty file: expected a capture (time,level rows or a sigrok/Saleae export)")
        raise CaptureError(path, header_line or last_line, "no data rows")
    rate = samplerate or rate_said

    # Which columns: a time column first? a Trigger column last?
    width = len(sniffed[0][1])
    if header is not None:
        has_time, unit_us, in_samples = _time_label(header[0])
        labels = header[1:] if has_time else header[:]
    else:
        # No label row (sigrok label=off): a time column counts up from one
        # period, so it holds more than 0s and 1s; a channel never does.
        has_time = any(f[0] not in ("0", "1") for _, f in sniffed)
        unit_us, in_samples = None, False
        labels = []
    first = 1 if has_time else 0
    trigger = bool(labels) and labels[-1].lower() == "trigger"
    ncols = width - first - (1 if trigger else 0)
    if ncols < 1:
        raise CaptureError(path, sniffed[0][0], "expected time,level (level 0 or 1)" if has_time
                           else "no channel column")
    if len(labels) >= ncols and not all(x.lower() == "logic" for x in labels[:ncols]):
        names = labels[:ncols]
    elif len(comment_names) == ncols:
        names = comment_names
    else:
        names = [str(i) for i in range(ncols)]
    col = first + _pick(path, names, channel, header_line)

    # The time scale: us per unit of the time column, or of a row.
    if time_unit is not None and has_time:
        unit_us, in_samples = _UNITS_US[time_unit], False
    elif has_time and in_samples:
        if rate is None:
            raise CaptureError(path, header_line, f"the time column counts samples and the file does not give "
                                                  f"the sample rate: {_RATE_HINT}")
        unit_us = 1e6 / rate
    elif has_time and unit_us is None:
        if rate is None:
            where = f"the time column {header[0]!r} has no unit" if header else "no header says the time unit"
            raise CaptureError(path, header_line, f"{where} and the file does not give the sample rate: "
                                                  f"{_RATE_HINT} (sigrok's time unit follows it), "
                                                  f"or --time-unit {'|'.join(UNIT_CHOICES)}")
        unit_us = sigrok_time_unit_us(rate)
    elif not has_time:
        if rate is None:
            raise CaptureError(path, 0, f"no time column and no sample rate in the file (sigrok's header=false "
                                        f"leaves out its '; Samplerate:' comment): {_RATE_HINT}")
        unit_us = 1e6 / rate

    assert unit_us is not None
    # (row, time in file units, level): the first row, then each change
    samples: list[tuple[int, float, int]] = []
    t0 = last_t = None
    level = -1
    rows = 0
    for n, fields in _rows(sniffed, lines, sep):
        if len(fields) != width:
            raise CaptureError(path, n, f"expected {width} columns like the first row, got {len(fields)}")
        t = float(rows)
        if has_time:
            x = _number(fields[0])
            if x is None or not math.isfinite(x):
                if re.match(r"\d{4}-\d\d-\d\dT", fields[0]):
                    raise CaptureError(path, n, "ISO 8601 timestamps: export again without them (Saleae Logic 2: "
                                                "untick 'Use ISO8601 timestamps')")
                raise CaptureError(path, n, f"time must be a number, got {fields[0]!r}")
            t = x
            if last_t is not None and t < last_t:
                raise CaptureError(path, n, f"time {fields[0]} is before the previous row's: "
                                            f"times must be non-decreasing")
            last_t = t
            if t0 is None:
                t0 = t
        if (t - (t0 or 0.0)) * unit_us > max_us:
            raise _too_long(path, n, f"time {fields[0]}" if has_time else f"row {rows + 1}", max_us)
        rows += 1
        v = fields[col]
        if v == "X":  # Saleae Logic 2: no data here
            continue
        if v not in ("0", "1"):
            raise CaptureError(path, n, f"level must be 0 or 1, got {v!r} (channel {names[col - first]})")
        if int(v) != level:
            level = int(v)
            samples.append((rows - 1, t, level))
    if not samples:
        raise CaptureError(path, n, f"no 0/1 levels for channel {names[col - first]}")
    if has_time and rows > 1 and t0 == last_t:
        # sigrok writes a time column of zeros when it has no sample rate:
        # then a row is a sample
        if rate is None:
            raise CaptureError(path, n, f"the time column never advances: {_RATE_HINT}")
        unit_us, has_time = 1e6 / rate, False
    if has_time:
        assert t0 is not None and last_t is not None
        samples.append((rows - 1, last_t, level))  # the last row: where the capture ends
    else:
        t0 = 0.0
        samples = [(i, float(i), lv) for i, _, lv in samples] + [(rows - 1, float(rows - 1), level)]
    points = [((t - t0) * unit_us, lv) for _, t, lv in samples]
    if not has_time:
        scale = f"a row per sample at {_hz(1e6 / unit_us)}"
    else:
        unit = "samples" if in_samples else next((k for k in UNIT_CHOICES if _UNITS_US[k] == unit_us), None)
        scale = f"time in {unit}" if unit else f"time in units of {unit_us:g} us"
    return Trace(points, rows, f"CSV, {scale}, {_which(names, col - first)}", 1e6 / rate if rate else None)


def _rows(sniffed, lines, sep: str) -> Iterator[tuple[int, list[str]]]:
    """The data rows: those already read, then the rest of the file (comment
    and blank lines skipped)."""
    yield from sniffed
    for n, raw in lines:
        line = raw.strip()
        if line and line[0] not in ";#%":
            yield n, [f.strip().strip("\"'").strip() for f in line.split(sep)]
