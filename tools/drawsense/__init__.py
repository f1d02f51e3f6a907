"""drawsense host tools: simulator, virtual board and CLI for the holster draw sensor."""

__version__ = "0.1.0"
