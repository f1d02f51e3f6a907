"""The camera's side: air -> verify -> event -> action.

    lines.py      where simulated air comes from (a file, a pipe, stdin, a list)
    adparse.py    advertising data parsed as bleak's platform backends give it
    air.py        one bleak code path for a real adapter and for simulated air:
                  SimulatedAirScanner (a bleak scanner backend playing
                  `drawsense sim --json` lines) and scan(), the entry point
    receiver.py   verifies each advert (drawsense.protocol) against the key
                  store, rejects forgeries and replays, folds a burst into one
                  event, acts on each draw exactly once
    listen.py     `drawsense listen`: scanning, printing events, --on-draw
    fleet.py      every device's battery and last-heard status, from the
                  readings the receiver stored
"""
