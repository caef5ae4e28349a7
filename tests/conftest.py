"""Suite-wide hooks: tests marked `cuda` run only where CuPy sees an NVIDIA GPU."""

import functools

import pytest


@functools.cache
def _cuda_available() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no CuPy, no driver, or a broken install all mean: no usable GPU
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    cuda_items = [item for item in items if item.get_closest_marker("cuda")]
    # Probe only when needed: importing CuPy is slow and most runs select no GPU test.
    if not cuda_items or _cuda_available():
        return
    skip = pytest.mark.skip(reason="needs an NVIDIA GPU with CuPy: install the extra sardonyx[cuda12] or [cuda13]")
    for item in cuda_items:
        item.add_marker(skip)
