"""Which CUDA devices exist, which one is current, and what each one is: ``torch.cuda``'s device functions.

Without CUDA each function does what PyTorch's CPU-only build does: the ones that only answer a question
(``is_available``, ``device_count``, ``is_initialized``, ``is_bf16_supported``, ...) say "none", and the ones that
need a device raise the exception type PyTorch raises, with the message that says how to install the CUDA extra.
"""

from __future__ import annotations

import dataclasses

from trainer.backend import _cupy, cupy_available, device, get_xp


def require_cuda(error: type[Exception] = AssertionError):
    """CuPy, once it is known to see a CUDA device; otherwise raise ``error`` saying how to get CUDA. The type is
    the one PyTorch's CPU-only build raises for the calling function: mostly AssertionError ("Torch not compiled
    with CUDA enabled")."""
    try:
        _cupy()
        return get_xp(device("cuda", 0))  # raises when CuPy sees no device, and says so
    except RuntimeError as exc:
        raise error(str(exc)) from None


def device_index(spec, optional: bool = True) -> int:
    """The CUDA ordinal ``spec`` names: an int, ``"cuda:1"``, ``device("cuda", 1)``, or (``optional``) ``None`` or
    an unindexed ``"cuda"`` for the current device, as PyTorch's ``_get_device_index``."""
    if isinstance(spec, cuda_device):
        return spec.idx
    if isinstance(spec, int) and not isinstance(spec, bool):
        return spec
    if isinstance(spec, str):
        spec = device(spec)
    if isinstance(spec, device):
        if spec.type != "cuda":
            raise ValueError(f"Expected a cuda device, but got: {spec}")
        if spec.index is not None:
            return spec.index
    elif spec is not None:
        raise TypeError(f"expected a CUDA device as an int, a string such as 'cuda:0' or a trainer.device, "
                        f"got {type(spec).__name__}")
    if not optional:
        raise ValueError(f"Expected a trainer.device with a specified index or an integer, but got:{spec}")
    return current_device()


def is_available() -> bool:
    """True when CuPy is installed and sees at least one CUDA device."""
    return cupy_available()


def device_count() -> int:
    return _cupy().cuda.runtime.getDeviceCount() if cupy_available() else 0


def current_device() -> int:
    return require_cuda().cuda.runtime.getDevice()


def set_device(spec) -> None:
    """Make ``spec`` the current device; a negative index is a no-op, as in PyTorch."""
    index = device_index(spec)
    if index >= 0:
        # PyTorch's CPU-only build fails here on its missing CUDA binding, an AttributeError
        require_cuda(AttributeError).cuda.runtime.setDevice(index)


def synchronize(spec=None) -> None:
    """Wait for all work queued on ``spec`` (the current device by default) to finish."""
    cupy = require_cuda()
    cupy.cuda.Device(device_index(spec)).synchronize()


def is_initialized() -> bool:
    """Whether CUDA has been set up in this thread: a CUDA context is current (CuPy creates it on first use)."""
    return cupy_available() and _cupy().cuda.driver.ctxGetCurrent() != 0


class cuda_device:  # noqa: N801 - exported as trainer.cuda.device, PyTorch's name
    """``with trainer.cuda.device(1):`` makes device 1 current inside the block; a negative index or ``None`` is a
    no-op."""

    def __init__(self, spec):
        self.idx = -1 if spec is None else _index_without_cuda(spec)
        self.prev_idx = -1

    def __enter__(self):
        if self.idx < 0:
            return
        runtime = require_cuda(RuntimeError).cuda.runtime
        self.prev_idx = runtime.getDevice()
        runtime.setDevice(self.idx)

    def __exit__(self, *exc):
        if self.prev_idx >= 0:
            _cupy().cuda.runtime.setDevice(self.prev_idx)
            self.prev_idx = -1
        return False


class device_of(cuda_device):  # noqa: N801 - PyTorch's name
    """``with trainer.cuda.device_of(tensor):`` makes the tensor's device current; a no-op for CPU tensors."""

    def __init__(self, obj):
        super().__init__(obj.get_device() if obj.is_cuda else -1)


def _index_without_cuda(spec) -> int:
    """The ordinal ``spec`` names; without CUDA an unindexed ``"cuda"`` stands for device 0 (the current device
    until one is set), so that entering the block, not building it, reports that CUDA is missing."""
    if not cupy_available() and isinstance(spec, (str, device)) and device(spec).type == "cuda":
        return device(spec).index or 0
    return device_index(spec)


@dataclasses.dataclass(frozen=True)
class CudaDeviceProperties:
    """What ``get_device_properties`` reports, under PyTorch's attribute names."""

    name: str
    major: int
    minor: int
    total_memory: int
    multi_processor_count: int
    is_integrated: bool
    is_multi_gpu_board: bool
    max_threads_per_multi_processor: int
    warp_size: int
    regs_per_multiprocessor: int
    shared_memory_per_block: int
    shared_memory_per_multiprocessor: int
    L2_cache_size: int  # noqa: N815 - PyTorch's name
    uuid: str
    pci_bus_id: int
    pci_device_id: int
    pci_domain_id: int

    def __repr__(self):
        return (f"_CudaDeviceProperties(name='{self.name}', major={self.major}, minor={self.minor}, "
                f"total_memory={self.total_memory // 2**20}MB, multi_processor_count={self.multi_processor_count}, "
                f"uuid={self.uuid}, pci_bus_id={self.pci_bus_id}, pci_device_id={self.pci_device_id}, "
                f"pci_domain_id={self.pci_domain_id}, L2_cache_size={self.L2_cache_size // 2**20}MB)")


def get_device_properties(spec=None) -> CudaDeviceProperties:
    cupy = require_cuda()
    index = device_index(spec)
    count = cupy.cuda.runtime.getDeviceCount()
    if not 0 <= index < count:
        raise AssertionError(f"Invalid device id {index}: {count} CUDA device(s) are visible")
    props = cupy.cuda.runtime.getDeviceProperties(index)
    name = props["name"]
    uuid = props.get("uuid", b"").hex()
    return CudaDeviceProperties(
        name=name.decode() if isinstance(name, bytes) else name, major=props["major"], minor=props["minor"],
        total_memory=props["totalGlobalMem"], multi_processor_count=props["multiProcessorCount"],
        is_integrated=bool(props["integrated"]), is_multi_gpu_board=bool(props["isMultiGpuBoard"]),
        max_threads_per_multi_processor=props["maxThreadsPerMultiProcessor"], warp_size=props["warpSize"],
        regs_per_multiprocessor=props["regsPerMultiprocessor"], shared_memory_per_block=props["sharedMemPerBlock"],
        shared_memory_per_multiprocessor=props["sharedMemPerMultiprocessor"], L2_cache_size=props["l2CacheSize"],
        uuid=f"{uuid[:8]}-{uuid[8:12]}-{uuid[12:16]}-{uuid[16:20]}-{uuid[20:]}", pci_bus_id=props["pciBusID"],
        pci_device_id=props["pciDeviceID"], pci_domain_id=props["pciDomainID"])


def get_device_name(spec=None) -> str:
    return get_device_properties(spec).name


def get_device_capability(spec=None) -> tuple[int, int]:
    props = get_device_properties(spec)
    return props.major, props.minor


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """Whether the current GPU computes in bfloat16 natively (compute capability 8.0 or newer). trainer has no
    emulated bfloat16 on CUDA (CuPy arrays cannot hold it), so ``including_emulation`` changes nothing."""
    return is_available() and get_device_capability()[0] >= 8


def is_tf32_supported() -> bool:
    """Whether the current GPU has TF32 tensor cores (compute capability 8.0 or newer)."""
    return is_bf16_supported(including_emulation=False)


def get_arch_list() -> list[str]:
    """The GPU architectures kernels can be built for. CuPy compiles kernels at run time with NVRTC, so these are
    the architectures NVRTC supports; empty without CUDA, as in PyTorch."""
    if not is_available():
        return []
    from cupy.cuda import nvrtc

    return [f"sm_{arch}" for arch in sorted(nvrtc.getSupportedArchs())]


def utilization(spec=None) -> int:
    """The percentage of time over the last sample period that a kernel ran on the device, from NVML."""
    try:
        import pynvml
    except ImportError:
        raise ModuleNotFoundError("nvidia-ml-py does not seem to be installed or it can't be imported.") from None
    cupy = require_cuda()
    bus_id = cupy.cuda.runtime.deviceGetPCIBusId(device_index(spec))
    pynvml.nvmlInit()
    # by PCI bus id, so the answer is for this device whatever CUDA_VISIBLE_DEVICES renumbered
    handle = pynvml.nvmlDeviceGetHandleByPciBusId(bus_id.encode())
    return pynvml.nvmlDeviceGetUtilizationRates(handle).gpu
