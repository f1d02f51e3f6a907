# The zephyr port has no cryptolib (MICROPY_PY_CRYPTOLIB follows
# MICROPY_PY_SSL, 0 there: py/mpconfig.h; zephyr.toml api.cryptolib): this
# directory is on MICROPYPATH only for zephyr boards, ahead of the unix
# port's own (extensible) cryptolib, so `from cryptolib import aes` fails as
# on the board and the firmware takes firmware/aes.py.
raise ImportError("no module named 'cryptolib'")
