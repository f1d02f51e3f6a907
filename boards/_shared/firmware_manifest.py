# The drawsense firmware for a frozen image: every firmware module as
# bytecode in flash, included by each board's manifest.py after the port's
# own manifest (include() and freeze() paths are relative to this file).
# aes.py is here for every board, used only where the port has no cryptolib
# (zephyr); on the others it costs flash, never RAM.
metadata(version="0.1.0", description="drawsense holster draw sensor firmware")

freeze("../../firmware", tuple(m + ".py" for m in (
    "advert", "aes", "app", "battery", "burst", "ccm", "config", "counter", "debounce", "detect", "edges",
    "events", "evlog", "hw", "keyfile", "rtcstate", "selftest",
)))
