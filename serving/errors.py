"""The runtime's own error types: every failure a caller can cause is one of these.

They mirror the categories ONNX Runtime reports (invalid model, not implemented, invalid argument,
failure while running) so a caller can catch one family, ``SessionError``, or be specific.
"""


class SessionError(Exception):
    """Base of every error the serving runtime raises on purpose."""


class InvalidModelError(SessionError, ValueError):
    """The model could not be loaded: unreadable, malformed, inconsistent or unsafe."""


class UnsupportedOperatorError(InvalidModelError):
    """The model uses an operator (domain, op_type, opset) the runtime has no kernel or function for."""


class InvalidArgumentError(SessionError, ValueError):
    """``run()`` was called with feeds or output names that do not fit the model."""


class KernelError(SessionError, RuntimeError):
    """A kernel failed while running a node; the message names the node and the operator."""


class RunTerminatedError(SessionError, RuntimeError):
    """A run stopped because its ``RunOptions.terminate`` was set."""
