"""``SessionOptions`` and ``RunOptions`` under ONNX Runtime's names, with what each means for this runtime.

What applies here is honoured (optimisation level, threads, profiling, free dimension overrides, initializer
overrides, logging, cancellation); what describes ONNX Runtime's own machinery (memory arenas, an inter-op
thread pool, parallel execution) is kept and reported back, as ONNX Runtime reports it, but changes nothing.
"""

from __future__ import annotations

import enum
import logging

from serving.errors import InvalidArgumentError
from serving.ort_value import OrtValue


class GraphOptimizationLevel(enum.IntEnum):
    """ONNX Runtime's levels. Basic folds constants; extended and above also fuse (Conv+BatchNorm, MatMul+Add,
    Conv+Relu, Conv+MaxPool, in-place Relu): this runtime has no layout-specific rewrites beyond those."""

    ORT_DISABLE_ALL = 0
    ORT_ENABLE_BASIC = 1
    ORT_ENABLE_EXTENDED = 2
    ORT_ENABLE_LAYOUT = 3
    ORT_ENABLE_ALL = 99


class ExecutionMode(enum.IntEnum):
    """Kept for ONNX Runtime's API: this runtime walks its plan in order either way."""

    ORT_SEQUENTIAL = 0
    ORT_PARALLEL = 1


# ONNX Runtime's severities (0 verbose ... 4 fatal) as Python logging levels.
_SEVERITY_LEVELS = {0: logging.DEBUG, 1: logging.INFO, 2: logging.WARNING, 3: logging.ERROR, 4: logging.CRITICAL}


def logging_level(severity: int) -> int:
    """The Python logging level of an ONNX Runtime severity; -1 (unset) means warning, ONNX Runtime's default."""
    return _SEVERITY_LEVELS.get(severity, logging.WARNING)


def _check_int(value, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"must be an int, got {type(value).__name__}")
    if value < minimum:
        raise InvalidArgumentError(f"must be >= {minimum}, got {value}")
    return value


def _check_enum(value, kind: type[enum.IntEnum]):
    if not isinstance(value, kind):
        raise TypeError(f"must be a serving.{kind.__name__} member, got {value!r}")
    return value


def _checked(name: str, check):
    """A ``SessionOptions`` attribute whose assignments ``check`` validates, as ONNX Runtime's typed setters do."""

    def set_value(options, value):
        try:
            options.__dict__[name] = check(value)
        except (TypeError, InvalidArgumentError) as exc:
            raise type(exc)(f"SessionOptions.{name} {exc}") from None

    return property(lambda options: options.__dict__[name], set_value)


class _ConfigEntries:
    """String key/value configuration, as ``add_session_config_entry`` and ``add_run_config_entry`` keep it."""

    def __init__(self, owner: str):
        self._owner, self._entries = owner, {}

    def add(self, key, value) -> None:
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"{self._owner} configuration keys and values are strings, got {key!r}: {value!r}")
        self._entries[key] = value

    def get(self, key: str) -> str:
        if key not in self._entries:
            raise RuntimeError(f"{self._owner} does not have configuration with key: {key}")
        return self._entries[key]


class SessionOptions:
    """How an ``InferenceSession`` is built (ONNX Runtime's ``SessionOptions``).

    - ``graph_optimization_level``: ``ORT_DISABLE_ALL`` runs the graph as written, ``ORT_ENABLE_BASIC`` folds
      constants, higher levels also fuse. ``optimized_model_filepath`` saves the planned graph as ONNX (fused
      nodes in the runtime's own domain, folded values as initializers).
    - ``intra_op_num_threads``: the BLAS thread count during this session's runs (needs threadpoolctl; 0 leaves
      BLAS's own setting). ``inter_op_num_threads`` and ``execution_mode`` change nothing: nodes run one by one.
    - ``enable_profiling``/``profile_file_prefix``: a chrome-trace JSON of every run, written by ``end_profiling``.
    - ``log_severity_level``/``log_verbosity_level``/``logid``: the ``serving`` logger's messages for the session.
    - ``add_free_dimension_override_by_name``, ``add_initializer``: fix symbolic dims, replace initializers.
    """

    def __init__(self):
        self.graph_optimization_level = GraphOptimizationLevel.ORT_ENABLE_ALL
        self.execution_mode = ExecutionMode.ORT_SEQUENTIAL
        self.intra_op_num_threads = 0
        self.inter_op_num_threads = 0
        self.log_severity_level = -1
        self.log_verbosity_level = 0
        self.logid = ""
        self.optimized_model_filepath = ""
        self.enable_profiling = False
        self.profile_file_prefix = "onnxruntime_profile_"
        # ONNX Runtime's memory switches: its arena and memory patterns have no counterpart here.
        self.enable_cpu_mem_arena = True
        self.enable_mem_pattern = True
        self.enable_mem_reuse = True
        self.use_deterministic_compute = False
        self._config = _ConfigEntries("SessionOptions")
        self.free_dimension_overrides: dict[str, int] = {}
        self.initializers: dict[str, object] = {}

    graph_optimization_level = _checked("graph_optimization_level", lambda v: _check_enum(v, GraphOptimizationLevel))
    execution_mode = _checked("execution_mode", lambda v: _check_enum(v, ExecutionMode))
    intra_op_num_threads = _checked("intra_op_num_threads", lambda v: _check_int(v, 0))
    inter_op_num_threads = _checked("inter_op_num_threads", lambda v: _check_int(v, 0))
    log_severity_level = _checked("log_severity_level", lambda v: _check_int(v, -1))
    log_verbosity_level = _checked("log_verbosity_level", lambda v: _check_int(v, 0))

    def add_session_config_entry(self, key: str, value: str) -> None:
        self._config.add(key, value)

    def get_session_config_entry(self, key: str) -> str:
        return self._config.get(key)

    def add_free_dimension_override_by_name(self, dim_name: str, dim_value: int) -> None:
        """Treat the symbolic dimension ``dim_name`` of the graph's inputs as the fixed size ``dim_value``."""
        if not isinstance(dim_name, str):
            raise TypeError(f"dim_name must be a str, got {type(dim_name).__name__}")
        try:
            self.free_dimension_overrides[dim_name] = _check_int(dim_value, 0)
        except (TypeError, InvalidArgumentError) as exc:
            raise type(exc)(f"the override of dimension {dim_name!r} {exc}") from None

    def add_initializer(self, name: str, val) -> None:
        """Use ``val`` (an ``OrtValue``) for the initializer ``name`` instead of the model's value."""
        if not isinstance(val, OrtValue):
            raise RuntimeError(f"add_initializer takes an OrtValue (serving.OrtValue.ortvalue_from_numpy), "
                               f"got {type(val).__name__}")
        self.initializers[name] = val

    def register_custom_ops_library(self, library_path: str) -> None:
        raise InvalidArgumentError(
            f"cannot load {library_path!r}: this runtime runs no native operator libraries; register a Python "
            "kernel for each custom operator with serving.register_custom_op(domain, op_type, fn)")


class RunOptions:
    """Per-run settings (ONNX Runtime's ``RunOptions``). Setting ``terminate`` to True, before or during a run
    (from another thread), stops the run before its next node with ``RunTerminatedError`` (the nodes of an
    If/Loop/Scan body run to the end of their parent node). ``log_severity_level`` and ``logid``, where set,
    replace the session's for the run's own messages."""

    def __init__(self):
        self.logid = ""
        self.log_severity_level = -1
        self.log_verbosity_level = 0
        self.terminate = False
        # Accepted for ONNX Runtime's API; every run here computes the whole plan.
        self.only_execute_path_to_fetches = False
        self._config = _ConfigEntries("RunOptions")

    def add_run_config_entry(self, key: str, value: str) -> None:
        self._config.add(key, value)

    def get_run_config_entry(self, key: str) -> str:
        return self._config.get(key)
