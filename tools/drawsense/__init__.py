"""drawsense host tools for the holster draw sensor.

Grouped by what flows through them; each folder's __init__ says what is in it:

    sim/        pin -> firmware -> radio, on the virtual board in virtual time
    receive/    air -> verify -> event -> action (the camera's side, bleak)
    device/     real boards through mpremote: deploy, provision, bench
    model/      battery life from the simulated timeline
    cli/        the `drawsense` command: one module per verb

and, shared by all of them:

    paths.py     where the firmware, board definitions and MicroPython are
    boards.py    the board definitions (boards/NAME/board.py)
    firmware.py  the firmware's own modules, read on the host (file formats)
    protocol.py  the advert format and its crypto, independent of the firmware
    keystore.py  devices, their secrets and replay floors (SQLite)
"""

__version__ = "0.1.0"
