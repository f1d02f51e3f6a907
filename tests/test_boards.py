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


NRF = paths.BOARDS / "nrf52840"


def test_the_nrf52840_build_names_only_files_that_are_here():
    # prj.conf's build command and patch step are what a firmware engineer
    # copies: every /path/to/drawsense/... it names must exist
    import re

    named = re.findall(r"/path/to/drawsense/([^\s\"]+)", (NRF / "prj.conf").read_text())
    assert {"boards/nrf52840/prj.conf", "boards/nrf52840/app.overlay", "boards/nrf52840/manifest.py"} <= set(named)
    assert any(n.startswith("boards/nrf52840/patches/") for n in named)
    for n in named:
        assert (paths.BOARDS / n.removeprefix("boards/")).is_file(), f"prj.conf names {n}, which is not here"


def test_the_advertiser_patch_changes_only_the_non_connectable_start():
    from drawsense.sim import ports

    (patch,) = sorted((NRF / "patches").glob("*.patch"))
    text = patch.read_text()
    # against the commit the zephyr contract was read at
    assert ports.load("zephyr").commit[:12] in text
    files = [ln.split()[-1] for ln in text.splitlines() if ln.startswith("diff --git")]
    assert files == ["b/ports/zephyr/modbluetooth_zephyr.c"]
    removed = [ln[1:].strip() for ln in text.splitlines() if ln.startswith("-") and not ln.startswith("---")]
    added = [ln[1:].strip() for ln in text.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    # the identity option only for a connectable advert; the record only for one
    assert "| BT_LE_ADV_OPT_USE_IDENTITY" in removed
    assert ".options = (connectable ? BT_LE_ADV_OPT_CONN | BT_LE_ADV_OPT_USE_IDENTITY : 0)" in added
    assert "if (connectable) {" in added
    assert not any("USE_IDENTITY" in ln for ln in added if not ln.startswith(("//", ".options")))
    # the virtual board models the patched build for the product
    assert boards.load("nrf52840")["ZEPHYR_ADV_PATCH"] is True
