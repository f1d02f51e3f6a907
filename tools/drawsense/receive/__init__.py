"""The camera's side: air -> verify -> event -> action.

    air.py        one bleak code path for a real adapter and for simulated air
                  (a scanner backend that plays `drawsense sim --json` lines),
                  and the advertising-data parser
    receiver.py   verifies each advert (drawsense.protocol) against the key
                  store, rejects forgeries and replays, folds a burst into one
                  event, acts on each draw exactly once
    listen.py     `drawsense listen`: scanning, printing events, --on-draw
    fleet.py      every device's battery and last-heard status, from the
                  readings the receiver stored
"""
