"""Every ```python block of README.md runs, so the README cannot drift from the code.

The blocks run in order, in one namespace each but one shared temporary directory, as a reader pasting them one
after another would (the serving block opens the ``cnn.onnx`` the exporter block wrote). A block that talks to
``localhost:8001`` gets a server the test starts in-process on a free port, serving the repository's own
``models/`` (where the README's ``simple`` model lives): the address is the only thing rewritten.
"""

import re
from pathlib import Path

import pytest

from serving.server import InferenceServer, ServerOptions

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
ADDRESS = "localhost:8001"


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, code) of each fenced ```python block."""
    return [(text.count("\n", 0, match.start()) + 2, match.group(1))
            for match in re.finditer(r"^```python\n(.*?)^```$", text, re.DOTALL | re.MULTILINE)]


@pytest.fixture
def server():
    server = InferenceServer(ServerOptions(model_repository=str(ROOT / "models"), grpc_address="127.0.0.1",
                                           grpc_port=0, metrics_port=None, shutdown_timeout=5.0))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_every_python_block_runs(tmp_path, monkeypatch, server):
    blocks = python_blocks(README.read_text())
    assert len(blocks) >= 3, "README.md has lost its python examples"
    monkeypatch.chdir(tmp_path)
    for line, code in blocks:
        code = code.replace(ADDRESS, f"127.0.0.1:{server.grpc_port}")
        try:  # padded with blank lines so a traceback's line numbers are the README's
            exec(compile("\n" * (line - 1) + code, str(README), "exec"), {"__name__": "__readme__"})
        except Exception as exc:
            raise AssertionError(f"README.md's python block at line {line} failed: {exc!r}") from exc
