# Entry point: MicroPython runs main.py after boot. Hardware is built in
# app.main(), never at import time, and handed to the logic.
import app
import board
import config

app.main(board, config)
