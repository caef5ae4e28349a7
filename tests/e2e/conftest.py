"""The examples are programs, not a package: put examples/ on sys.path so the tests import them by name."""

import sys
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))


@pytest.fixture(autouse=True)
def one_blas_thread():
    """Two xdist workers share two cores: a multi-threaded BLAS call there waits on busy cores (2x slower)."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield
