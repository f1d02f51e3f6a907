# drawsense provision, steps 5, 7 and 8: put the staged key and counter
# files in place, undo that, and tidy up. Sent with `mpremote exec`, then
# the host's call line naming the files: swap(key, ctr, key_new, ctr_new),
# rollback(key, ctr), drop(path, ...) or drop_old(key, ctr). A live file set
# aside is the same name + '.old'. MicroPython only.
import os


def exists(p):
    try:
        os.stat(p)
        return True
    except OSError:
        return False


def drop(*paths):
    for p in paths:
        if exists(p):
            os.remove(p)


def drop_old(key, ctr):
    drop(key + '.old', ctr + '.old')


def swap(key, ctr, key_new, ctr_new):
    # Old live files aside (key first: a counter alone is harmless), new ones
    # in (counter first: a key alone makes the firmware refuse to send). A
    # failure part-way undoes what was done and raises (the host then drops
    # the staged files). Prints DSSWAP ok.
    aside = []
    new_ctr = False
    try:
        for p in (key, ctr):
            drop(p + '.old')
            if exists(p):
                os.rename(p, p + '.old')
                aside.append(p)
        os.rename(ctr_new, ctr)
        new_ctr = True
        os.rename(key_new, key)
    except Exception:
        if new_ctr:
            os.rename(ctr, ctr_new)
        for p in (ctr, key):
            if p in aside:
                os.rename(p + '.old', p)
        raise
    print('DSSWAP ok')


def rollback(key, ctr):
    # Undo swap(): new files out (key first), old ones back (counter first).
    # Prints DSROLLBACK ok.
    drop(key, ctr)
    for p in (ctr, key):
        if exists(p + '.old'):
            os.rename(p + '.old', p)
    print('DSROLLBACK ok')
