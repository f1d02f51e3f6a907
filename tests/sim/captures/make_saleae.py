"""Writes saleae-logic2.csv and saleae-logic1.csv: demo3.sr's three channels
as Saleae Logic exports them. No Saleae software runs here, so these are
written to Saleae's documented format, not by the tool:

- Logic 2 digital CSV: "Time [s],Channel 0,Channel 1,...", a row at time 0
  and one per change, seconds with 9 decimals (support.saleae.com, "Binary and
  CSV Export Formats (2025 update)"; saleae/gitbook-docs
  faq/technical-faq/binary-and-csv-export-formats-2025-update.md).
- Logic 1.x: "Time[s], Channel 0, ..." with ", " between fields and 15
  decimals, as Logic 1.x exports are seen in the field.

Run: python tests/sim/captures/make_saleae.py (reads demo3.sr beside it).
"""

import configparser
import zipfile
from pathlib import Path

HERE = Path(__file__).parent

with zipfile.ZipFile(HERE / "demo3.sr") as z:
    meta = configparser.ConfigParser(interpolation=None)
    meta.read_string(z.read("metadata").decode())
    dev = meta["device 1"]
    assert dev["samplerate"] == "1 kHz" and dev["unitsize"] == "1"
    chunks = sorted((n for n in z.namelist() if n.startswith("logic-1-")), key=lambda n: int(n.rsplit("-", 1)[1]))
    data = b"".join(z.read(n) for n in chunks)
bits = [int(k[5:]) - 1 for k in dev if k.startswith("probe")]

rows, last = [], None
for i, byte in enumerate(data):
    levels = tuple((byte >> b) & 1 for b in bits)
    if levels != last:
        rows.append((i / 1000, levels))
        last = levels
names = [f"Channel {b}" for b in bits]
(HERE / "saleae-logic2.csv").write_text(
    "Time [s]," + ",".join(names) + "\n"
    + "".join(f"{t:.9f}," + ",".join(map(str, lv)) + "\n" for t, lv in rows))
(HERE / "saleae-logic1.csv").write_text(
    "Time[s], " + ", ".join(names) + "\n"
    + "".join(f"{t:.15f}, " + ", ".join(map(str, lv)) + "\n" for t, lv in rows))
