"""The exporter's exceptions: each message says what was wrong, where, and what was expected."""


class ExportError(RuntimeError):
    """A model or argument that cannot be exported as given."""


class UnsupportedOpError(ExportError):
    """A trainer op that has no ONNX lowering."""


class OpsetError(ExportError):
    """An opset outside the supported range, or too low for an op the model uses."""


class VerificationError(ExportError):
    """An exported graph whose outputs differ from the trainer's beyond the tolerance."""
