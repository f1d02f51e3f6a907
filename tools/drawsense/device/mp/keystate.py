# drawsense provision, step 2: has the device an identity? Sent with
# `mpremote exec` after firmware/keyfile.py's source (so `load` below is the
# firmware's own reader, and this works on a board with no firmware yet),
# then the host's call line "key_state(PATH)". MicroPython only.
# Prints one line: DSSTATE none | DSSTATE ok <device id hex> | DSSTATE damaged -
# (the device id only; never the secret).


def key_state(path):
    try:
        got = load(path)  # noqa: F821 (firmware/keyfile.py's, sent ahead of this)
    except ValueError:
        print('DSSTATE damaged -')
        return
    if got is None:
        print('DSSTATE none')
        return
    print('DSSTATE ok', ''.join('%02x' % b for b in got[1]))
