"""silentscope: audit medical image classifiers for silent failures."""

__version__ = "0.1.0"
