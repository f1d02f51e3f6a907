# Freeze drawsense into the MicroPython image for this board (ESP32_GENERIC_C3):
#
#   cd micropython/ports/esp32
#   make BOARD=ESP32_GENERIC_C3 FROZEN_MANIFEST=/path/to/drawsense/boards/esp32c3/manifest.py
#
# The port's own manifest first (asyncio, the port's frozen modules), then
# the app: every firmware module as bytecode in flash, plus this board's
# definition. Frozen code is not compiled at boot and its bytecode is not
# copied into the heap, which is what makes a deep-sleep wake fast (~50 ms
# against ~635 ms with .py files on an ESP32-S3, shared/REFERENCE.md) and
# leaves the heap to the firmware (docs/hardware.md, "Freezing").
# main.py stays a 2-line file on the board's filesystem (it imports app).
include("$(PORT_DIR)/boards/manifest.py")

include("../_shared/firmware_manifest.py")
module("board.py")
