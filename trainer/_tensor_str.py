"""How tensors print, as PyTorch prints them (``torch._tensor_str``): ``set_printoptions`` and the formatter
behind ``repr``.

One formatter serves a whole tensor: it looks at the (summarised) values once to choose integer, fixed or
scientific notation and a common width, so the columns line up. Tensors with more than ``threshold``
elements show ``edgeitems`` items at each end of every dim, with ``...`` between.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from trainer import dtypes
from trainer.backend import xp_of
from trainer.meta_tensor_str import meta_suffixes


@dataclasses.dataclass
class _PrintOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


PRINT_OPTS = _PrintOptions()

_PROFILES = {
    "default": {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80},
    "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80},
    "full": {"precision": 4, "threshold": math.inf, "edgeitems": 3, "linewidth": 80},
}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None):
    """Set how tensors print: digits after the point (``precision``), the element count above which a tensor is
    summarised (``threshold``), the items kept at each end when summarising (``edgeitems``), the characters per
    line (``linewidth``), a ``profile`` (``"default"``, ``"short"``, ``"full"``) the other arguments override, and
    ``sci_mode`` (True or False forces scientific notation on or off; None chooses per tensor)."""
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions(): unknown profile {profile!r}; expected one of {list(_PROFILES)}")
        for name, value in _PROFILES[profile].items():
            setattr(PRINT_OPTS, name, value)
    for name, value in (("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems),
                        ("linewidth", linewidth)):
        if value is not None:
            setattr(PRINT_OPTS, name, value)
    PRINT_OPTS.sci_mode = sci_mode


class _Formatter:
    """Chooses the notation and the common width from the values that will be shown."""

    def __init__(self, values: np.ndarray):
        self.floating = values.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        if not self.floating:
            self.max_width = max((len(str(v)) for v in values.reshape(-1).tolist()), default=1)
            return
        shown = values[np.isfinite(values) & (values != 0)]
        if not shown.size:
            return
        size = np.abs(shown.astype(np.float64))
        smallest, largest = size.min(), size.max()
        self.int_mode = bool((shown == np.ceil(shown)).all())
        if PRINT_OPTS.sci_mode is None:
            self.sci_mode = bool(largest / smallest > 1000.0 or largest > 1.0e8 or smallest < 1.0e-4)
        else:
            self.sci_mode = PRINT_OPTS.sci_mode
        if self.sci_mode:
            spec, extra = f".{PRINT_OPTS.precision}e", 0
        elif self.int_mode:
            spec, extra = ".0f", 1  # room for the "." that marks a whole-valued float
        else:
            spec, extra = f".{PRINT_OPTS.precision}f", 0
        self.max_width = max(len(format(v, spec)) + extra for v in shown.tolist())

    def format(self, value) -> str:
        if not self.floating:
            text = str(value)
        elif self.sci_mode:
            text = format(value, f"{self.max_width}.{PRINT_OPTS.precision}e")
        elif self.int_mode:
            text = format(value, ".0f") + ("" if math.isinf(value) or math.isnan(value) else ".")
        else:
            text = format(value, f".{PRINT_OPTS.precision}f")
        return " " * (self.max_width - len(text)) + text


class _ComplexFormatter:
    """PyTorch's complex notation: the real parts and the imaginary parts each get their own formatter."""

    def __init__(self, values: np.ndarray):
        self.real, self.imag = _Formatter(values.real), _Formatter(values.imag)
        self.max_width = self.real.max_width + self.imag.max_width + 2

    def format(self, value) -> str:
        imag = (self.imag.format(value.imag) + "j").lstrip()
        return self.real.format(value.real) + ("" if imag[0] in "+-" else "+") + imag


def _formatter(values: np.ndarray):
    return _ComplexFormatter(values) if values.dtype.kind == "c" else _Formatter(values)


def _summarized(values: np.ndarray) -> np.ndarray:
    """Only the items that a summarised print shows: ``edgeitems`` at each end of every dim."""
    edge = PRINT_OPTS.edgeitems
    if values.ndim == 0:
        return values
    if values.ndim == 1:
        return np.concatenate([values[:edge], values[-edge:]]) if values.shape[0] > 2 * edge else values
    if not edge:
        return values[(slice(0, 0),) * values.ndim]
    rows = list(values[:edge]) + list(values[-edge:]) if values.shape[0] > 2 * edge else list(values)
    return np.stack([_summarized(row) for row in rows])


def _vector_str(values, indent, summarize, formatter) -> str:
    element_length = formatter.max_width + 2
    per_line = max(1, math.floor((PRINT_OPTS.linewidth - indent) / element_length))
    edge = PRINT_OPTS.edgeitems
    if summarize and not edge:
        data = ["..."]
    elif summarize and values.shape[0] > 2 * edge:
        data = ([formatter.format(v) for v in values[:edge].tolist()] + [" ..."]
                + [formatter.format(v) for v in values[-edge:].tolist()])
    else:
        data = [formatter.format(v) for v in values.tolist()]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _body(values, indent, summarize, formatter) -> str:
    if values.ndim == 0:
        return formatter.format(values.item())
    if values.ndim == 1:
        return _vector_str(values, indent, summarize, formatter)
    edge = PRINT_OPTS.edgeitems
    if summarize and values.shape[0] > 2 * edge:
        slices = ([_body(values[i], indent + 1, summarize, formatter) for i in range(edge)] + ["..."]
                  + [_body(values[i], indent + 1, summarize, formatter)
                     for i in range(values.shape[0] - edge, values.shape[0])])
    else:
        slices = [_body(row, indent + 1, summarize, formatter) for row in values]
    return "[" + ("," + "\n" * (values.ndim - 1) + " " * (indent + 1)).join(slices) + "]"


def _add_suffixes(text, suffixes, indent) -> str:
    parts = [text]
    last_line_len = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if last_line_len + len(suffix) + 2 > PRINT_OPTS.linewidth:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line_len += len(suffix) + 2
    return "".join(parts) + ")"


def tensor_repr(t) -> str:
    """``repr(t)``: ``tensor(<values>, <suffixes>)`` with the device, a dtype other than the defaults, and the
    autograd state as suffixes, laid out as PyTorch lays them out."""
    if t.device.type == "meta":
        return _add_suffixes("tensor(..., device='meta'", meta_suffixes(t), len("tensor("))
    array = t._data if xp_of(t._data) is np else t._data.get()
    prefix = "tensor("
    indent = len(prefix)
    suffixes = []
    if t.device.type != "cpu":
        suffixes.append(f"device='{t.device}'")
    dtype = dtypes.from_numpy(array.dtype)
    if dtype is dtypes.bfloat16:  # NumPy cannot format ml_dtypes' bfloat16; float32 holds each value exactly
        array = array.astype(np.float32)
    default_float = dtypes.get_default_dtype()
    if array.size == 0:
        if array.ndim != 1:
            suffixes.append(f"size={tuple(array.shape)}")
        if dtype is not default_float:
            suffixes.append(f"dtype={dtype!r}")
        body = "[]"
    else:
        if not PRINT_OPTS.edgeitems:
            suffixes.append(f"size={tuple(array.shape)}")
        if dtype not in (default_float, default_float.to_complex(), dtypes.int64, dtypes.bool):
            suffixes.append(f"dtype={dtype!r}")
        summarize = array.size > PRINT_OPTS.threshold
        formatter = _formatter(_summarized(array) if summarize else array)
        body = _body(array, indent, summarize, formatter)
    if t._grad_fn is not None:
        suffixes.append(f"grad_fn=<{t._grad_fn.name()}>")
    elif t._requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, indent)
