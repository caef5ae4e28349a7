"""Every ONNX backend conformance case in the onnx wheel, on NumPy and (marked `cuda`) on CuPy.

A case listed in known_failures.txt is expected to fail (strictly: once it passes, the list must
shrink), so the pass rate can only go up; any other failing case fails the suite.
"""

from pathlib import Path

import pytest

from .harness import collect, run_case

CASES = collect()
KNOWN_FAILURES = {
    line.split("#")[0].strip()
    for line in (Path(__file__).parent / "known_failures.txt").read_text().splitlines()
    if line.split("#")[0].strip()
}


def _params(marks=()):
    return [
        pytest.param(case, id=case.id, marks=[*marks, *(
            [pytest.mark.xfail(reason="listed in known_failures.txt", strict=True)] if case.id in KNOWN_FAILURES else []
        )])
        for case in CASES
    ]


def test_known_failures_name_real_cases():
    assert KNOWN_FAILURES <= {case.id for case in CASES}, KNOWN_FAILURES - {case.id for case in CASES}


@pytest.mark.parametrize("case", _params())
def test_case_on_numpy(case):
    run_case(case)


@pytest.mark.parametrize("case", _params(marks=[pytest.mark.cuda]))
def test_case_on_cupy(case):
    run_case(case, device="cuda")
