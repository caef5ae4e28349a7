"""The example programs set process-wide state as real programs do (``torch.backends.cudnn.benchmark = True``, a
first ``torch.compile``, which turns off ``torch.distributions``' argument validation): each test puts that state
back, so that the tests sharing its worker see the defaults they compare against."""

import pytest
import torch

import trainer


@pytest.fixture(autouse=True)
def _process_wide_settings_restored():
    cudnn_flags = ("enabled", "benchmark", "deterministic", "allow_tf32")
    saved = {lib: {flag: getattr(lib.backends.cudnn, flag) for flag in cudnn_flags} for lib in (torch, trainer)}
    validating = {lib: lib.distributions.Distribution._validate_args for lib in (torch, trainer)}
    default_dtypes = {lib: lib.get_default_dtype() for lib in (torch, trainer)}
    yield
    for lib in (torch, trainer):
        for flag, value in saved[lib].items():
            setattr(lib.backends.cudnn, flag, value)
        lib.distributions.Distribution.set_default_validate_args(validating[lib])
        lib.set_default_dtype(default_dtypes[lib])
