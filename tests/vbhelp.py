"""Run a small test program as main.py on the virtual board, and read back
what it says.

The program gets `say` (a module beside main.py): ``from dstest import say``
then ``say("name", value, ...)`` hands the values, as JSON, to the test,
which reads them with ``said(run, "name")`` (one list of values per call)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from drawsense.sim import scenario, vboard
from drawsense.sim.scenario import Scenario


def quiet(seconds: float, out_at_ms: list[int] | None = None) -> Scenario:
    """A scenario: holstered, with the sensor toggling at the given ms."""
    edges = [(int(t * 1000), i % 2 == 0) for i, t in enumerate(out_at_ms or [])]
    return Scenario(name="test", description="", seed=1, duration_us=int(seconds * 1_000_000),
                    initial_out=False, edges=edges, battery=[(0, 3000)], source="test")


# dstest.py on the virtual board: MicroPython, imported by the test program
SAY = '''import json
import time


def say(name, *values):
    print("ds", time.ticks_ms(), "said", name, json.dumps(values))
'''


def run_main(tmp_path: Path, code: str, scen: Scenario | str = "draw", board: str = "esp32c3",
             with_firmware: Path | None = None, **kw) -> vboard.SimResult:
    d = tmp_path / "fw"
    d.mkdir(exist_ok=True)
    (d / "dstest.py").write_text(SAY)
    if with_firmware is not None:
        for f in with_firmware.glob("*.py"):
            if f.name != "main.py":
                (d / f.name).write_text(f.read_text())
    (d / "main.py").write_text(textwrap.dedent(code))
    s = scenario.load(scen) if isinstance(scen, str) else scen
    return vboard.run(s, board, firmware_dir=d, **kw)


def reports(run: vboard.SimResult, word: str) -> list[dict]:
    """The firmware's report lines that start with `word`."""
    return [e for e in run.of("report") if e["words"][0] == word]


def said(run: vboard.SimResult, name: str) -> list[list]:
    """What the program passed to say(name, ...), one list per call."""
    return [json.loads(" ".join(e["words"][2:])) for e in run.of("report")
            if e["words"][:2] == ["said", name]]


def said_at(run: vboard.SimResult, name: str) -> list[float]:
    """When (virtual t_ms) the program said `name`."""
    return [e["t_ms"] for e in run.of("report") if e["words"][:2] == ["said", name]]
