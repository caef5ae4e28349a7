"""The runtime benchmark is where the inference speed targets live; this only keeps the script from rotting."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_runtime_benchmark_runs_and_prints_the_table():
    command = [sys.executable, str(ROOT / "benchmarks" / "runtime.py"), "--models", "mlp", "--seconds", "0.05"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()[1:4]
    assert header.split()[:3] == ["model", "serving", "ms"]
    assert [row.split()[:2] for row in rows] == [["mlp", "b1"], ["mlp", "b64"]]
    assert "geomean serving/ORT" in result.stdout and "worst serving/ORT" in result.stdout
