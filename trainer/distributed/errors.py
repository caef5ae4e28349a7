"""The exception types of ``torch.distributed``: all are ``RuntimeError``s, so code that catches those still does."""


class DistError(RuntimeError):
    """A failure in the distributed package."""


class DistBackendError(DistError):
    """A collective or point-to-point operation failed: a peer left, timed out or sent something unexpected."""


class DistStoreError(DistError):
    """A key-value store operation failed or timed out."""


class DistNetworkError(DistError):
    """A connection could not be made or was lost."""
