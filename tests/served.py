"""A virtual board served on a pty for the tests: `serve.serve()` in a thread
on its own root folder (shared by test_serve, test_deploy and test_bench)."""

from __future__ import annotations

import threading
from pathlib import Path

from drawsense.sim import serve


class ServedBoard:
    def __init__(self, root: Path, **serve_kwargs):
        self.root = root
        self.stop = threading.Event()
        self.error: list[BaseException] = []
        got: list[str] = []
        ready = threading.Event()

        def on_ready(path: str) -> None:
            got.append(path)
            ready.set()

        def target() -> None:
            try:
                serve.serve(root, ready=on_ready, stop=self.stop, **serve_kwargs)
            except BaseException as e:  # surfaced by the fixtures
                self.error.append(e)
                ready.set()

        self.thread = threading.Thread(target=target, daemon=True)
        self.thread.start()
        assert ready.wait(10), "serve() never became ready"
        assert not self.error, self.error
        self.pty = got[0]

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        assert not self.thread.is_alive()
