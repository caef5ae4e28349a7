"""Every ONNX backend conformance case in the onnx wheel, on NumPy and (marked `cuda`) on CuPy.

A case listed in known_failures.txt is expected to fail (strictly: once it passes, the list must
shrink, except for cases whose outcome is random), so the pass rate can only go up; any other failing
case fails the suite.
"""

from pathlib import Path

import pytest

from .harness import collect, run_case

CASES = collect()

def _known_failures() -> dict[str, str]:
    """{case id: reason} from known_failures.txt."""
    entries = {}
    for line in (Path(__file__).parent / "known_failures.txt").read_text().splitlines():
        case_id, _, reason = line.partition("#")
        if case_id.strip():
            entries[case_id.strip()] = reason.strip()
    return entries


KNOWN_FAILURES = _known_failures()


def _params(marks=()):
    params = []
    for case in CASES:
        reason = KNOWN_FAILURES.get(case.id)
        expected = [] if reason is None else [pytest.mark.xfail(reason=reason, strict=not reason.startswith("random:"))]
        params.append(pytest.param(case, id=case.id, marks=[*marks, *expected]))
    return params


def test_known_failures_name_real_cases():
    assert set(KNOWN_FAILURES) <= {case.id for case in CASES}, set(KNOWN_FAILURES) - {case.id for case in CASES}


@pytest.mark.parametrize("case", _params())
def test_case_on_numpy(case):
    run_case(case)


@pytest.mark.parametrize("case", _params(marks=[pytest.mark.cuda]))
def test_case_on_cupy(case):
    run_case(case, device="cuda")
