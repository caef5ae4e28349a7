"""``trainer.backends.cudnn``: PyTorch's cuDNN switches.

The flags are plain module attributes, set and read as in PyTorch. trainer's convolutions run on NumPy or on
CuPy's own kernels, not through cuDNN's algorithm search, so ``benchmark``, ``deterministic``, ``enabled`` and
``allow_tf32`` change nothing in how trainer computes; they are kept so that scripts setting them run unchanged.
"""

from trainer.backend import cupy_available

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def _cudnn():
    """CuPy's cuDNN binding, or None when CuPy, a CUDA device or the cuDNN library is missing."""
    if not cupy_available():
        return None
    try:
        from cupy.cuda import cudnn
    except ImportError:
        return None
    return cudnn


def is_available() -> bool:
    """True only when CuPy sees a CUDA device and can load cuDNN."""
    return _cudnn() is not None


def version() -> int | None:
    """cuDNN's version number (e.g. ``90100``), or None when cuDNN is not available."""
    cudnn = _cudnn()
    return None if cudnn is None else int(cudnn.getVersion())
