"""Lay out a Triton model repository and serve it with sardonyx-serve.

    python examples/serve_repository.py [--out model_repository]

The repository holds two versions of an exported MLP (``mlp/1``, ``mlp/2``, a config.pbtxt that serves both)
next to a copy of the default repository's ``simple``. The example starts ``sardonyx-serve`` on it, shows what the
server loaded, and stops it; to keep it running, run ``sardonyx-serve --model-repository OUT`` yourself.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import tritonclient.grpc as grpcclient
from local_server import sardonyx_serve

import trainer
from exporter import export
from exporter.triton_config import triton_config
from trainer.zoo import MLP

DEFAULT_REPOSITORY = Path(__file__).resolve().parents[1] / "models"


def build_repository(out: Path) -> None:
    shutil.copytree(DEFAULT_REPOSITORY / "simple", out / "simple", dirs_exist_ok=True)
    for version in (1, 2):
        trainer.manual_seed(version)  # two different sets of weights, as two trainings would give
        path = out / "mlp" / str(version) / "model.onnx"
        path.parent.mkdir(parents=True, exist_ok=True)
        proto = export(MLP(64, (32,), 10).eval(), trainer.randn(1, 64), path, input_names=["x"],
                       output_names=["logits"], dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}})
    # Triton serves only the latest version unless the config asks for more.
    config = triton_config(proto, "mlp", max_batch_size=16) + "version_policy: { all { } }\n"
    (out / "mlp" / "config.pbtxt").write_text(config)


def main(argv: list[str] | None = None) -> dict[str, list[str]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("model_repository"))
    args = parser.parse_args(argv)
    build_repository(args.out)
    with sardonyx_serve(args.out) as server, grpcclient.InferenceServerClient(server.url) as client:
        print(f"sardonyx-serve on {server.url}, ready: {client.is_server_ready()}")
        loaded: dict[str, list[str]] = {}
        for model in client.get_model_repository_index().models:
            print(f"  {model.name} version {model.version}: {model.state}")
            loaded.setdefault(model.name, []).append(model.version)
        config = client.get_model_config("mlp").config
        print(f"  mlp: max_batch_size {config.max_batch_size}, inputs {[i.name for i in config.input]}")
    return loaded


if __name__ == "__main__":
    main()
