"""ONNX Runtime computes ``x / 0``, ``log(0)`` and float overflow silently (inf, nan), as IEEE arithmetic does;
NumPy warns about each. A model that adds two ``finfo.min`` masks (Hugging Face's attention masks do) is correct
and must not print warnings on every request.

The warnings are silenced where serving's own modules call NumPy, with a warnings filter on them: NumPy's error
state stays as the user set it, the user's own code (and their custom-op kernels) still warns, and a run pays
nothing unless a floating-point error happens.
"""

import warnings

warnings.filterwarnings("ignore", message=r"(divide by zero|invalid value|overflow|underflow) encountered",
                        category=RuntimeWarning, module=r"serving(\.|$)")
