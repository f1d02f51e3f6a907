# Entry point: MicroPython runs main.py after boot. Hardware is built here,
# never at import time, and handed to the logic.
import app
import board
import config
import hw

app.run(hw.Hardware(board), config)
