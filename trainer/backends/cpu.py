"""``trainer.backends.cpu``: ``get_cpu_capability()``, the vector instruction set trainer's CPU kernels run with,
in PyTorch's words.

trainer's CPU arithmetic is NumPy's, whose kernels dispatch at run time on the CPU features NumPy detects; this
reports those features as PyTorch names its kernel levels (x86: "AVX512", "AVX2" or "NO AVX"; POWER: "VSX";
s390x: "Z VECTOR"; others "DEFAULT")."""

from __future__ import annotations

try:
    from numpy._core._multiarray_umath import __cpu_features__ as _numpy_cpu_features
except ImportError:  # NumPy 1.x
    from numpy.core._multiarray_umath import __cpu_features__ as _numpy_cpu_features

__all__ = ["get_cpu_capability"]

# what PyTorch's dispatcher asks of the CPU before it picks each kernel level
_AVX512 = ("AVX512F", "AVX512BW", "AVX512VL", "AVX512DQ", "FMA3")
_AVX2 = ("AVX2", "FMA3")


def get_cpu_capability() -> str:
    def has(*features):
        return all(_numpy_cpu_features.get(f, False) for f in features)

    if "AVX" in _numpy_cpu_features:  # an x86 CPU
        if has(*_AVX512):
            return "AVX512"
        return "AVX2" if has(*_AVX2) else "NO AVX"
    if has("VSX"):
        return "VSX"
    if has("VX"):
        return "Z VECTOR"
    return "DEFAULT"
