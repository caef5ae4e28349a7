"""Suite-wide hooks: tests marked `cuda` run only where CuPy sees an NVIDIA GPU; process-wide settings are put back
after each test."""

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


@pytest.fixture(autouse=True)
def _process_wide_settings_restored():
    """Tests and the example programs they run set process-wide state as real programs do (cudnn flags, the default
    dtype, and, through PyTorch's first ``torch.compile`` or ``torch.onnx.export``, ``torch.distributions``'
    argument validation, which Dynamo turns off): each test puts it back for the tests sharing its worker."""
    import torch

    import trainer

    cudnn_flags = ("enabled", "benchmark", "deterministic", "allow_tf32")
    libs = (torch, trainer)
    saved = {lib: {flag: getattr(lib.backends.cudnn, flag) for flag in cudnn_flags} for lib in libs}
    validating = {lib: lib.distributions.Distribution._validate_args for lib in libs}
    default_dtypes = {lib: lib.get_default_dtype() for lib in libs}
    yield
    for lib in libs:
        for flag, value in saved[lib].items():
            setattr(lib.backends.cudnn, flag, value)
        lib.distributions.Distribution.set_default_validate_args(validating[lib])
        lib.set_default_dtype(default_dtypes[lib])
