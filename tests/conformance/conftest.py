"""Prints the conformance pass rate per kind at the end of a run that included the cases."""

from collections import Counter


def pytest_terminal_summary(terminalreporter):
    tally: dict[tuple[str, str], Counter] = {}
    for outcome in ("passed", "failed", "xfailed", "xpassed"):
        for report in terminalreporter.stats.get(outcome, ()):
            if report.when != "call" or "test_case_on_" not in report.nodeid:
                continue
            device = "numpy" if "on_numpy" in report.nodeid else "cupy"
            kind = report.nodeid.split("[", 1)[1].split("/", 1)[0]
            tally.setdefault((device, kind), Counter())[outcome == "passed" or outcome == "xpassed"] += 1
    if not tally:
        return
    terminalreporter.section("ONNX conformance")
    for device in ("numpy", "cupy"):
        rows = {kind: c for (d, kind), c in tally.items() if d == device}
        if not rows:
            continue
        total_ok = sum(c[True] for c in rows.values())
        total = sum(c[True] + c[False] for c in rows.values())
        for kind, c in sorted(rows.items()):
            n = c[True] + c[False]
            terminalreporter.write_line(f"{device:>6} {kind:>18}: {c[True]}/{n} ({100 * c[True] / n:.1f}%)")
        terminalreporter.write_line(f"{device:>6} {'total':>18}: {total_ok}/{total} ({100 * total_ok / total:.1f}%)")
