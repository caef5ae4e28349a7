"""The error ``sardonyx-train`` reports as a one-line message (exit code 2) rather than a traceback."""


class RunError(Exception):
    """A problem with the run's inputs or state that the user fixes: a missing checkpoint, a diverged loss, ..."""
