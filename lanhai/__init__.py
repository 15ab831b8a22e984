"""Lanhai: the lakehouse of the blue-ocean operating plan."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lanhai")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"
