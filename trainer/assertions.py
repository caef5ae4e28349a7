"""``torch._assert``: Python's ``assert`` as a function, which tracing tools can see (a statement they cannot)."""


def _assert(condition, message):
    """Raises ``AssertionError(message)`` when ``condition`` (a bool, a number or a one-element tensor) is false."""
    if not condition:
        raise AssertionError(message)
