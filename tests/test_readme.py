"""What the README says `drawsense sim` shows is what it shows: the sample
timeline line for line (the device id aside: a throwaway key each run) and
the draw scenario's contact bounce in the prose below it."""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import REPO
from drawsense.sim import scenario


def _readme() -> str:
    return (REPO / "README.md").read_text()


def test_the_readme_timeline_is_what_sim_prints():
    block = _readme().split("## What `drawsense sim` shows", 1)[1].split("```", 2)[1]
    shown = [ln for ln in block.strip("\n").splitlines() if "device  id" not in ln]
    out = subprocess.run([sys.executable, "-m", "drawsense", "sim"], capture_output=True, text=True, timeout=120)
    timeline = out.stdout.split("\n\n", 1)[0]
    assert [ln for ln in timeline.splitlines() if "device  id" not in ln] == shown


def test_the_readme_bounce_is_the_draw_scenarios():
    said = re.search(r"leaves the holster at 1000 ms with (\d+(?:\.\d+)?) ms of contact bounce", _readme())
    assert said, "the README no longer says the draw's bounce"
    text = (REPO / "tools/drawsense/sim/scenarios/draw.toml").read_text()
    bounce = re.search(r"^bounce_ms = (\S+)$", text, re.M)
    assert bounce and float(said.group(1)) == float(bounce.group(1))
    assert f"{said.group(1)} ms of contact bounce" in scenario.load("draw").description
