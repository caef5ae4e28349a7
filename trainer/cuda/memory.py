"""GPU memory figures and the allocator cache, as ``torch.cuda``'s memory functions, read from CuPy's default
memory pool: "allocated" is what live arrays hold (``used_bytes``), "reserved" is what the pool holds from the
driver (``total_bytes``), per device.

Without CUDA the figures are 0 and the stats empty, as in PyTorch's CPU-only build (which reports an
uninitialised allocator). CuPy keeps no peak counter, so the peak functions (``max_memory_*``,
``reset_peak_memory_stats``) cannot be exact on CUDA and are refused there rather than approximated.
"""

from __future__ import annotations

import collections

from trainer.backend import _cupy
from trainer.cuda.device_management import device_count, device_index, is_available, require_cuda


class OutOfMemoryError(RuntimeError):
    """``torch.cuda.OutOfMemoryError``: raised when a device allocation fails."""


def _pool_bytes(spec, figure: str) -> int:
    """``used_bytes`` or ``total_bytes`` of the default pool's share on one device; 0 without CUDA."""
    if not is_available():
        return 0
    cupy = _cupy()
    with cupy.cuda.Device(device_index(spec)):
        return getattr(cupy.get_default_memory_pool(), figure)()


def memory_allocated(device=None) -> int:  # noqa: A002 - PyTorch's parameter name
    """Bytes held by live CUDA arrays on ``device`` (the current device by default)."""
    return _pool_bytes(device, "used_bytes")


def memory_reserved(device=None) -> int:  # noqa: A002
    """Bytes the memory pool holds on ``device``: allocated plus cached for reuse."""
    return _pool_bytes(device, "total_bytes")


def _refuse_peak(name: str) -> None:
    raise NotImplementedError(f"trainer.cuda.{name} is not available on CUDA: CuPy's memory pool keeps no peak "
                              "counter, so an exact peak cannot be reported. Sample trainer.cuda.memory_allocated() "
                              "or memory_reserved() where the peak is expected instead.")


def max_memory_allocated(device=None) -> int:  # noqa: A002
    """0 without CUDA, as in PyTorch's CPU-only build; refused on CUDA (see the module's docstring)."""
    if is_available():
        _refuse_peak("max_memory_allocated")
    return 0


def max_memory_reserved(device=None) -> int:  # noqa: A002
    """0 without CUDA, as in PyTorch's CPU-only build; refused on CUDA (see the module's docstring)."""
    if is_available():
        _refuse_peak("max_memory_reserved")
    return 0


def reset_peak_memory_stats(device=None) -> None:  # noqa: A002
    """Refused on CUDA (see the module's docstring); without CUDA PyTorch's CPU-only build fails here on its missing
    CUDA binding (an AttributeError), and so does this."""
    require_cuda(AttributeError)
    _refuse_peak("reset_peak_memory_stats")


def memory_stats(device=None) -> collections.OrderedDict:  # noqa: A002
    """The exact figures CuPy has, under PyTorch's keys: current allocated and reserved bytes (PyTorch's peak and
    count keys have no exact CuPy source and are absent). Empty without CUDA, as in PyTorch's CPU-only build."""
    if not is_available():
        return collections.OrderedDict()
    return collections.OrderedDict([("allocated_bytes.all.current", memory_allocated(device)),
                                    ("reserved_bytes.all.current", memory_reserved(device))])


def memory_summary(device=None, abbreviated: bool = False) -> str:  # noqa: A002
    """A short table of the device's memory pool. ``abbreviated`` is accepted for PyTorch's signature; the table
    is short either way. Without CUDA PyTorch's CPU-only build fails on its empty stats (a KeyError), as does this."""
    require_cuda(KeyError)
    cupy = _cupy()
    index = device_index(device)
    with cupy.cuda.Device(index):
        pool = cupy.get_default_memory_pool()
        used, total, blocks = pool.used_bytes(), pool.total_bytes(), pool.n_free_blocks()
    rows = [("Allocated memory", _format_bytes(used)), ("Reserved memory", _format_bytes(total)),
            ("Cached, free memory", _format_bytes(total - used)), ("Cached, free blocks", str(blocks))]
    rule = "=" * 60
    lines = [rule, f" trainer.cuda memory summary, device ID {index} (CuPy default memory pool)", rule]
    lines += [f" {label:<30}|{value:>27} " for label, value in rows]
    return "\n".join([*lines, rule]) + "\n"


def _format_bytes(count: int) -> str:
    power = 0
    while power < 3 and count >= 1024 ** (power + 1):
        power += 1
    return f"{count} B" if power == 0 else f"{count / 1024**power:.2f} {('KiB', 'MiB', 'GiB')[power - 1]}"


def empty_cache() -> None:
    """Return the memory pool's cached, unused blocks on every device to the driver; a no-op without CUDA."""
    if not is_available():
        return
    cupy = _cupy()
    pool = cupy.get_default_memory_pool()
    for index in range(device_count()):
        with cupy.cuda.Device(index):
            pool.free_all_blocks()


def mem_get_info(device=None) -> tuple[int, int]:  # noqa: A002
    """``(free, total)`` bytes of device memory as the driver reports them."""
    cupy = require_cuda()
    with cupy.cuda.Device(device_index(device)):
        return cupy.cuda.runtime.memGetInfo()
