"""Board folders: definitions the firmware and the host both read, and
freeze manifests that cannot go stale."""

from __future__ import annotations


import pytest

from drawsense import boards, paths

FIRMWARE_MODULES = sorted(p.stem for p in paths.FIRMWARE.glob("*.py") if p.name != "main.py")


def _manifest_calls(manifest, calls):
    """Run a freeze manifest as MicroPython's manifestfile does, following its
    include()s of our own files (relative to the including file); the port's
    $(PORT_DIR) manifest is recorded, not read."""
    def include(path, **kw):
        calls["include"].append(((path,), kw))
        if not path.startswith("$("):
            _manifest_calls((manifest.parent / path).resolve(), calls)

    def record(kind):
        return lambda *a, **kw: calls[kind].append((manifest.parent, a, kw))

    ns = {"include": include, "freeze": record("freeze"), "module": record("module"),
          "metadata": record("metadata")}
    exec(compile(manifest.read_text(), str(manifest), "exec"), ns)
    return calls


@pytest.mark.parametrize("name", [n for n in boards.names() if (paths.BOARDS / n / "manifest.py").exists()])
def test_manifest_freezes_every_firmware_module(name):
    manifest = paths.BOARDS / name / "manifest.py"
    calls = _manifest_calls(manifest, {"include": [], "freeze": [], "module": [], "metadata": []})
    assert calls["include"][0] == (("$(PORT_DIR)/boards/manifest.py",), {})  # the port's defaults first
    (base, (path, files), _), = calls["freeze"]
    assert (base / path).resolve() == paths.FIRMWARE.resolve()
    assert sorted(f[:-3] for f in files) == FIRMWARE_MODULES
    assert [(b, a) for b, a, _ in calls["module"]] == [(manifest.parent, ("board.py",))]
    assert (manifest.parent / "board.py").exists()


def test_product_boards_have_manifests():
    assert {"esp32c3", "picow"} <= {n for n in boards.names() if (paths.BOARDS / n / "manifest.py").exists()}


@pytest.mark.parametrize("name", boards.names())
def test_board_definition_is_complete(name):
    b = boards.load(name)
    assert b["HOLSTERED_LEVEL"] in (0, 1) and b["ADV_MIN_INTERVAL_US"] >= 20_000
    assert b["BATTERY_LOW_MV"] < b["BATTERY_CLEAR_MV"]


def test_a_broken_board_file_says_where(tmp_path, monkeypatch):
    d = tmp_path / "broken"
    d.mkdir()
    (d / "board.py").write_text("NAME = 'broken'\nSENSOR_PIN = some_function()\n")
    monkeypatch.setattr(paths, "BOARDS", tmp_path)
    with pytest.raises(boards.BoardError, match=r"board.py:2: SENSOR_PIN must be a literal"):
        boards.load("broken")
