# SHA-256 of files on the device, for drawsense deploy and drawsense
# provision (one routine for both). Sent with `mpremote exec`, then the
# host's call line: table([...]) or line(...). MicroPython only.
import binascii
import hashlib


def sha256(f):
    # hex digest of an open file, read 512 bytes at a time (a module may be
    # larger than the heap has free in one piece)
    h = hashlib.sha256()
    while True:
        b = f.read(512)
        if not b:
            break
        h.update(b)
    return binascii.hexlify(h.digest()).decode()


def table(names):
    # deploy: DSHASH {"name": hex, or null for a file that is not there},
    # every name a file at the root of the filesystem
    import json
    r = {}
    for n in names:
        try:
            f = open('/' + n, 'rb')
        except OSError:
            r[n] = None
            continue
        with f:
            r[n] = sha256(f)
    print('DSHASH', json.dumps(r))


def line(*paths):
    # provision: DSHASH hex hex ... in the order given; a missing file is an
    # error (OSError), as the host has just copied it there
    out = []
    for p in paths:
        with open(p, 'rb') as f:
            out.append(sha256(f))
    print('DSHASH', *out)
