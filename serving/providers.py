"""Execution providers as ONNX Runtime names them, and which of them this machine can run.

``CPUExecutionProvider`` computes with NumPy, ``CUDAExecutionProvider`` with CuPy (its ``device_id`` option picks
the GPU). A provider list that names CUDA before the CPU falls back to the CPU, with ONNX Runtime's warning,
where CUDA is unavailable; a list that names only CUDA fails instead, saying how to install it.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping, Sequence

from serving.errors import InvalidArgumentError

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
_ALL = (CUDA, CPU)  # in ONNX Runtime's order of precedence


def get_all_providers() -> list[str]:
    """Every provider this runtime implements, available on this machine or not."""
    return list(_ALL)


@functools.cache
def _cuda_available() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no CuPy, no driver, no device: all mean no CUDA here
        return False


def get_available_providers() -> list[str]:
    """The providers that can run here: CUDA when CuPy sees a device, and always the CPU."""
    return [CUDA, CPU] if _cuda_available() else [CPU]


def get_device() -> str:
    """``"GPU"`` where CUDA can run, else ``"CPU"``, as ``onnxruntime.get_device()`` reports the build's target."""
    return "GPU" if _cuda_available() else "CPU"


def normalized(providers, provider_options) -> tuple[list[str], list[dict[str, str]]]:
    """ONNX Runtime's ``providers``/``provider_options`` arguments as (names, options with string values)."""
    if providers is None:
        return [CPU], [{}]
    if isinstance(providers, str) or not isinstance(providers, Sequence):
        raise InvalidArgumentError(f"providers must be a list of provider names, got {providers!r}")
    if provider_options is not None:
        if not isinstance(provider_options, Sequence) or len(provider_options) != len(providers):
            raise InvalidArgumentError(
                "'providers' and 'provider_options' should be the same length if both are given.")
        pairs = list(zip(providers, provider_options))
    else:
        pairs = [(p, {}) if isinstance(p, str) else p for p in providers]
    names, options = [], []
    for pair in pairs:
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str)
                and isinstance(pair[1], Mapping)):
            raise InvalidArgumentError(
                f"'providers' values must be either strings or (string, dict) tuples, got {pair!r}")
        name, opts = pair
        if name not in _ALL:
            raise InvalidArgumentError(f"unknown provider {name!r}; expected one of {sorted(_ALL)}")
        if name in names:
            warnings.warn(f"Duplicate provider '{name}' encountered, ignoring.", stacklevel=3)
            continue
        names.append(name)
        options.append({str(k): str(v) for k, v in opts.items()})
    return names or [CPU], options or [{}]


def select(names: list[str], options: list[dict[str, str]], fallback: bool) -> tuple[str, str, dict[str, str]]:
    """The provider a session runs on, its device in PyTorch's spelling, and its options. Providers that cannot
    run here are skipped with ONNX Runtime's warning; with none left, the CPU takes over when ``fallback`` allows,
    else the session fails saying how to make CUDA available."""
    usable = [(n, o) for n, o in zip(names, options) if n != CUDA or _cuda_available()]
    if not usable and not fallback:
        return names[0], f"cuda:{_device_id(options[0])}", options[0]
    for name in names:
        if name not in {u for u, _ in usable}:
            warnings.warn(f"Specified provider '{name}' is not in available provider names.Available providers: "
                          f"'{', '.join(get_available_providers())}'", stacklevel=3)
    name, opts = usable[0] if usable else (CPU, {})
    return (name, "cpu", opts) if name == CPU else (name, f"cuda:{_device_id(opts)}", opts)


def _device_id(options: dict[str, str]) -> int:
    device_id = options.get("device_id", "0")
    if not device_id.isdigit():
        raise InvalidArgumentError(f"CUDAExecutionProvider's device_id must be a device index, got {device_id!r}")
    return int(device_id)
