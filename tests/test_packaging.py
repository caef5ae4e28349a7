"""The dependency direction between the packages, as DESIGN.md fixes it."""

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _run_python(code: str) -> None:
    # A fresh interpreter: modules other tests imported into this one would hide a forbidden import.
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_serving_needs_nothing_of_the_training_side():
    _run_python(
        "import serving, sys\n"
        "loaded = sorted({'trainer', 'exporter'} & set(sys.modules))\n"
        "assert not loaded, f'importing serving imported {loaded}'\n"
    )


def test_trainer_knows_nothing_of_onnx():
    _run_python("import trainer, sys\nassert 'onnx' not in sys.modules, 'importing trainer imported onnx'\n")
