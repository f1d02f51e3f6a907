"""Board folders: definitions the firmware and the host both read, and
freeze manifests that cannot go stale."""

from __future__ import annotations


import pytest

from drawsense import boards, paths

FIRMWARE_MODULES = sorted(p.stem for p in paths.FIRMWARE.glob("*.py") if p.name != "main.py")


@pytest.mark.parametrize("name", [n for n in boards.names() if (paths.BOARDS / n / "manifest.py").exists()])
def test_manifest_freezes_every_firmware_module(name):
    calls = {"include": [], "freeze": [], "module": [], "metadata": []}
    ns = {k: (lambda *a, _k=k, **kw: calls[_k].append((a, kw))) for k in calls}
    manifest = paths.BOARDS / name / "manifest.py"
    exec(compile(manifest.read_text(), str(manifest), "exec"), ns)
    assert calls["include"] == [(("$(PORT_DIR)/boards/manifest.py",), {})]  # the port's defaults first
    (path, files), = [c[0] for c in calls["freeze"]]
    assert (manifest.parent / path).resolve() == paths.FIRMWARE.resolve()
    assert sorted(f[:-3] for f in files) == FIRMWARE_MODULES
    assert calls["module"] == [(("board.py",), {})] and (manifest.parent / "board.py").exists()


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
