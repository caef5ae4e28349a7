"""``trainer.cuda``: PyTorch's ``torch.cuda`` on CuPy. Devices and their properties, memory figures, seeding and RNG
state, streams and events, and the legacy CUDA tensor types.

Without CuPy or a GPU every function behaves as in PyTorch's CPU-only build: queries answer "no CUDA" (False, 0,
empty), seeding is a no-op, and calls that need a device raise the exception type PyTorch raises there, saying how
to install the CUDA extra.
"""

from trainer.amp import cuda_amp as amp  # noqa: F401 - torch.cuda.amp
from trainer.cuda.device_management import (
    CudaDeviceProperties,
    current_device,
    device_count,
    device_of,
    get_arch_list,
    get_device_capability,
    get_device_name,
    get_device_properties,
    is_available,
    is_bf16_supported,
    is_initialized,
    is_tf32_supported,
    set_device,
    synchronize,
    utilization,
)
from trainer.cuda.device_management import cuda_device as device
from trainer.cuda.legacy_tensor_types import (
    BoolTensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
)
from trainer.cuda.memory import (
    OutOfMemoryError,
    empty_cache,
    max_memory_allocated,
    max_memory_reserved,
    mem_get_info,
    memory_allocated,
    memory_reserved,
    memory_stats,
    memory_summary,
    reset_peak_memory_stats,
)
from trainer.cuda.random import (
    get_rng_state,
    get_rng_state_all,
    initial_seed,
    manual_seed,
    manual_seed_all,
    seed,
    seed_all,
    set_rng_state,
    set_rng_state_all,
)
from trainer.cuda.streams import Event, Stream, StreamContext, current_stream, default_stream, stream

__all__ = [
    "BoolTensor", "ByteTensor", "CharTensor", "CudaDeviceProperties", "DoubleTensor", "Event", "FloatTensor",
    "HalfTensor", "IntTensor", "LongTensor", "OutOfMemoryError", "ShortTensor", "Stream", "StreamContext",
    "current_device", "current_stream", "default_stream", "device", "device_count", "device_of", "empty_cache",
    "get_arch_list", "get_device_capability", "get_device_name", "get_device_properties", "get_rng_state",
    "get_rng_state_all", "initial_seed", "is_available", "is_bf16_supported", "is_initialized", "is_tf32_supported",
    "manual_seed", "manual_seed_all", "max_memory_allocated", "max_memory_reserved", "mem_get_info",
    "memory_allocated", "memory_reserved", "memory_stats", "memory_summary", "reset_peak_memory_stats",
    "seed", "seed_all", "set_device", "set_rng_state", "set_rng_state_all", "stream", "synchronize", "utilization",
]
