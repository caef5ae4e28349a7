"""The runtime's version, where ONNX Runtime users read theirs (``__version__``, ``get_version_string()``)."""

from importlib import metadata

try:
    __version__ = metadata.version("sardonyx")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"


def get_version_string() -> str:
    return __version__
