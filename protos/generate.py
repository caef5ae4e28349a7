"""Generate serving/server/protocol/ from protos/*.proto with grpcio-tools.

    python protos/generate.py           # write the modules
    python protos/generate.py --check   # exit 1 if the committed modules differ from fresh output

protoc's Python output imports its siblings as top-level modules and registers every message in
protobuf's default descriptor pool. Both are rewritten: imports become package-relative, and the
messages go into a pool of our own, because `tritonclient` registers the same `inference.*` names
in the default pool and a process that imports both (a test, a client beside an embedded server)
would otherwise fail with "duplicate symbol".
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
PACKAGE = "serving.server.protocol"
OUT = ROOT / "serving" / "server" / "protocol"
SOURCES = ["model_config.proto", "grpc_service.proto"]
GENERATED = ["model_config_pb2.py", "grpc_service_pb2.py", "grpc_service_pb2_grpc.py"]


def _rewrite(text: str, module: str) -> str:
    text = re.sub(r"^import (\w+_pb2) as (\w+)$", rf"from {PACKAGE} import \1 as \2", text, flags=re.M)
    text = text.replace(
        "from google.protobuf import descriptor_pool as _descriptor_pool",
        f"from {PACKAGE}._pool import POOL as _POOL",
    )
    text = text.replace("_descriptor_pool.Default()", "_POOL")
    return text.replace(f"'{module}'", f"'{PACKAGE}.{module}'")


def generate() -> dict[str, str]:
    """Run protoc and return {file name: rewritten source}."""
    from grpc_tools import protoc

    with tempfile.TemporaryDirectory() as tmp:
        args = ["protoc", f"-I{PROTOS}", f"--python_out={tmp}", f"--grpc_python_out={tmp}"]
        if protoc.main(args + [str(PROTOS / name) for name in SOURCES]) != 0:
            raise SystemExit("protoc failed on protos/*.proto")
        return {name: _rewrite((Path(tmp) / name).read_text(), name[:-3]) for name in GENERATED}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed modules, write nothing")
    args = parser.parse_args(argv)
    fresh = generate()
    if args.check:
        stale = [name for name, text in fresh.items() if not (OUT / name).exists() or (OUT / name).read_text() != text]
        if stale:
            print(f"out of date: {', '.join(stale)}; run python protos/generate.py", file=sys.stderr)
            return 1
        return 0
    for name, text in fresh.items():
        (OUT / name).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
