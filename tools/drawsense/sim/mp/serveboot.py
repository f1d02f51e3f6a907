# The boot of a served board (`drawsense board serve`): the relay starts the
# MicroPython unix port as `micropython -i serveboot.py KIND CAUSE` (KIND:
# main, repl or raw; CAUSE: the machine reset cause). Before the REPL it
# imports the virtual hardware, remounts the board's "/" onto the served
# root, and runs boot.py and main.py there as a board does, through the
# reset loop vboot.py uses too (_bootloop). It runs as __main__, whose
# globals the REPL then uses: everything is kept inside one function that
# deletes itself, so the REPL starts as empty as a board's.


def _ds_boot(g):
    import sys, os, micropython
    # ^C (SIGINT from serve) only while boot.py/main.py run: this script must
    # not be cut short. Then say that MicroPython is up (serve leaves ^C alone
    # before: the CPython wrapper's own SIGINT handler is in place till now).
    micropython.kbd_intr(-1)
    sys.stdout.write("\x00ds-up\x00")
    kind, cause = sys.argv[1], int(sys.argv[2])
    # The virtual hardware, from the host paths on MICROPYPATH, before "/"
    # moves (esp32 exists on esp32-port boards only).
    for name in ("machine", "bluetooth", "time", "esp32"):
        try:
            __import__(name)
        except ImportError:
            pass
    vb = sys.modules.get("_vb")  # its event lines go to DRAWSENSE_VB_EVENTS
    if vb is not None:
        import _bootloop
        vb.give_heap()  # the fakes' share of the heap is theirs, not main.py's
    keep = set(sys.modules)

    class RootFS:
        # The board's "/" is the host directory `root`: every path is made
        # absolute and normalised (".." stops at "/") before VfsPosix(root)
        # sees it, so no path leaves root.
        def __init__(self, host):
            self.v = os.VfsPosix(host)
            self.host = host.rstrip("/")
            self.cwd = "/"

        def p(self, path):
            if not path.startswith("/"):
                path = self.cwd + "/" + path
            parts = []
            for s in path.split("/"):
                if s == "..":
                    if parts:
                        parts.pop()
                elif s and s != ".":
                    parts.append(s)
            return "/" + "/".join(parts)

        def __repr__(self):
            return "<RootFS>"

        def mount(self, readonly, mkfs):
            pass

        def umount(self):
            pass

        def chdir(self, path):
            path = self.p(path)
            if not self.v.stat(path)[0] & 0x4000:
                raise OSError(20)  # ENOTDIR
            self.cwd = path

        def getcwd(self):
            return self.cwd

        def ilistdir(self, path):
            return self.v.ilistdir(self.p(path))

        def stat(self, path):
            return self.v.stat(self.p(path))

        def statvfs(self, path):
            return self.v.statvfs(self.p(path))

        def open(self, path, mode):
            return self.v.open(self.p(path), mode)

        def mkdir(self, path):
            self.v.mkdir(self.p(path))

        def rmdir(self, path):
            self.v.rmdir(self.p(path))

        def remove(self, path):
            self.v.remove(self.p(path))

        def rename(self, old, new):
            # Not self.v.rename: VfsPosix(root) builds both paths in one
            # shared buffer, so rename(a, b) would become rename(b, b) and a
            # firmware's atomic write-and-rename would silently do nothing.
            os.VfsPosix().rename(self.host + self.p(old), self.host + self.p(new))

    os.umount("/")
    os.mount(RootFS(os.getenv("DRAWSENSE_SERVE_ROOT")), "/")
    os.chdir("/")
    sys.path[:] = ["", ".frozen", "/lib"]
    sys.argv[:] = []
    g.pop("__file__", None)

    def run(name):
        try:
            os.stat(name)
        except OSError:
            return
        with open(name) as f:
            code = compile(f.read(), name, "exec")
        g["__file__"] = name
        micropython.kbd_intr(3)
        try:
            exec(code, g)
        finally:
            micropython.kbd_intr(-1)

    booting = [True]
    if vb is not None:
        vb.reset_cause = cause
        # Under this boot loop a reset unwinds to it (as in vboot). From the
        # REPL nothing would catch it: the interpreter exits instead with
        # status 0xC0 | cause, and serve boots a fresh one.
        machine = sys.modules["machine"]

        def at_repl(fn):
            def call(*args):
                try:
                    return fn(*args)
                except vb.Reset as r:
                    if booting[0]:
                        raise
                    raise SystemExit(0xC0 | r.cause)
            return call

        for name in ("reset", "soft_reset", "deepsleep"):  # (zephyr has no deepsleep)
            if hasattr(machine, name):
                setattr(machine, name, at_repl(getattr(machine, name)))
    raw = kind == "raw"
    todo = [kind]  # what this boot runs: a hard reset runs main.py again

    def once():
        # (no virtual boot time here: a served board runs in real time, and
        # its boot takes what the interpreter's start takes)
        run("boot.py")
        if todo[0] == "main":
            run("main.py")

    def forget():
        # a reset empties RAM: the firmware's modules and main.py's globals go
        for name in list(g):
            if name not in ("__name__", "_ds_boot"):
                del g[name]
        _bootloop.forget_modules(keep)
        todo[0] = "main"

    try:
        if vb is not None:
            _bootloop.run(once, forget)
        else:
            once()
    except SystemExit:
        raise  # a board soft-resets; here the interpreter exits, serve restarts it
    except (KeyboardInterrupt, Exception) as e:
        sys.print_exception(e)  # as pyexec does for main.py; the REPL follows
    except BaseException as e:
        # The end of the virtual board's timeline; anything else is reported
        # and the REPL follows.
        if vb is not None and isinstance(e, vb.Stop):
            vb.finish()
            print("virtual board: end of the timeline; REPL only")
        else:
            sys.print_exception(e)
    booting[0] = False
    if vb is not None:
        vb.repl = True  # from here a reset unwinds to nothing: the interpreter exits
    if raw:
        sys.stdout.write("\x00ds-ready\x00")


if __name__ == "__main__":
    _ds_boot(globals())
    globals().pop("_ds_boot", None)
