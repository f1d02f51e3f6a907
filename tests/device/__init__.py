"""Tests of tools/drawsense/device (a package, so its conftest is device.conftest, not a second "conftest")."""
