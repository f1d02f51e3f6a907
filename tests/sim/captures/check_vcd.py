"""Check `drawsense sim --vcd` with the real tools (not run by the suite: CI
has neither): sigrok-cli must sample every wire as the run's --json says,
and GTKWave must load the file. Needs Debian's sigrok-cli, gtkwave and xvfb.

Run: python tests/sim/captures/check_vcd.py [SCENARIO [BOARD]]   (default: draw virtual)
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

args = sys.argv[1:]
scen, board = (args[0] if args else "draw"), (args[1] if len(args) > 1 else "virtual")
tmp = Path(tempfile.mkdtemp())
vcd = tmp / "run.vcd"
out = subprocess.run([sys.executable, "-m", "drawsense", "sim", scen, "--board", board, "--json", "--vcd", str(vcd)],
                     capture_output=True, text=True, check=True).stdout
events = [json.loads(line) for line in out.splitlines()]


def us(e):
    return round(e["t_ms"] * 1000)


def edges(initial, pairs):
    """(t, level) from each change on, as a sampled view sees it (the last value at a time wins)."""
    res = [(0, initial)]
    for t, v in pairs:
        if len(res) > 1 and res[-1][0] == t:
            res.pop()
        if res[-1][1] != v:
            res.append((t, v))
    return res[1:]


# sigrok: one CSV row per sample (its time column would be all 0: a file input
# gives the CSV writer the rate only after the header)
p = subprocess.Popen(["sigrok-cli", "-i", str(vcd), "-I", "vcd", "-O", "csv:label=channel"],
                     stdout=subprocess.PIPE, text=True)
names, seen, prev, n = None, {}, None, 0
for line in p.stdout:
    if line[0] in ";M":
        continue
    if names is None:
        names = line.strip().split(",")
        seen = {k: [] for k in names}
        continue
    if line != prev:
        vals = [int(x) for x in line.strip().split(",")]
        old = [int(x) for x in prev.strip().split(",")] if prev else [None] * len(vals)
        for k, v, o in zip(names, vals, old):
            if v != o:
                seen[k].append((n, v))
        prev = line
    n += 1
print(f"sigrok-cli -i {vcd.name} -I vcd -O csv: {n} samples ({n / 1e6:g} s at 1 MHz), channels {', '.join(names)}")
want = {
    "sensor": [(us(e), e["level"]) for e in events if e["type"] == "pin"],
    "debounced_out": [(us(e), int(e["level"] == "out")) for e in events if e["type"] == "level"],
    "radio_on": [(us(e), int(e["on"])) for e in events if e["type"] == "radio"],
    "asleep": [(us(e), int(e["type"] == "sleep")) for e in events if e["type"] in ("sleep", "wake")],
}
for state in ("HOLSTERED", "DRAWN", "FAULT"):
    want[f"state_{state.lower()}"] = [(us(e), int(e["state"] == state)) for e in events
                                      if e["type"] in ("state", "firmware")]
ok = True
for k, w in want.items():
    got = seen[k][1:]
    w = edges(seen[k][0][1], w)
    ok &= got == w
    print(f"  {k}: {len(got)} changes in the samples, {len(w)} from --json: {'same' if got == w else 'DIFFERENT'}")
for k, kind in (("adv", "adv"), ("boot", "boot"), ("brownout", "brownout")):
    pulses = sum(v for _, v in seen[k])
    count = sum(e["type"] == kind for e in events)
    ok &= pulses == count
    print(f"  {k}: {pulses} pulses, {count} {kind} events in --json")

# GTKWave: load it headless and read every wire at the end of the run
tcl = tmp / "load.tcl"
tcl.write_text("""set n [gtkwave::getNumFacs]
set names {}
for {set i 0} {$i < $n} {incr i} { lappend names [gtkwave::getFacName $i] }
gtkwave::addSignalsFromList $names
puts "gtkwave: $n signals, [gtkwave::getMinTime]..[gtkwave::getMaxTime] [gtkwave::getTimeDimension]s: $names"
gtkwave::/File/Quit
""")
r = subprocess.run(["xvfb-run", "-a", "gtkwave", "-S", str(tcl), str(vcd)], capture_output=True, text=True, timeout=120)
line = next((x for x in r.stdout.splitlines() if x.startswith("gtkwave:")), "gtkwave: did not load it\n" + r.stderr)
ok &= f" {len(names)} signals" in line
print(line)
sys.exit(0 if ok else 1)
