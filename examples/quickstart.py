"""The whole path in one program: train a digits CNN with trainer, export it to ONNX, run the file in-process with
serving's InferenceSession, serve it with sardonyx-serve and query that over gRPC with tritonclient.

    make demo                                   # = python examples/quickstart.py
    python examples/quickstart.py --epochs 2 --out /tmp/models

Writes OUT/digits/1/model.onnx and OUT/digits/config.pbtxt (OUT defaults to the repository's models/) and prints
the test accuracy and the latency of each path. The server it starts is stopped whatever happens.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import tritonclient.grpc as grpcclient
from local_server import sardonyx_serve
from threadpoolctl import threadpool_limits
from tqdm import tqdm

import trainer
from exporter import export
from exporter.triton_config import triton_config
from serving import InferenceSession
from trainer import nn, optim
from trainer.zoo import MnistCNN, datasets

MODEL = "digits"
MAX_BATCH_SIZE = 64
INPUT, OUTPUT = "image", "log_probs"
INTERRUPTED = 130


def train(epochs: int, seed: int = 0) -> nn.Module:
    """The seed's MNIST CNN on scikit-learn's digits resized to 28x28 (sardonyx-train's cnn-digits recipe)."""
    trainer.manual_seed(seed)
    train_set, _ = datasets.digits_images(28, scale=(-1.0, 1.0))
    loader = trainer.utils.data.DataLoader(train_set, batch_size=16, shuffle=True)
    model = MnistCNN()
    criterion = nn.NLLLoss()  # MnistCNN ends in log_softmax
    optimizer = optim.Adam(model.parameters(), lr=3e-3)
    scheduler = optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=epochs * len(loader))
    model.train()
    for epoch in range(1, epochs + 1):
        bar = tqdm(loader, desc=f"epoch {epoch}/{epochs}", unit="batch", leave=True)
        for images, labels in bar:
            optimizer.zero_grad()
            loss = criterion(model(images), labels)
            loss.backward()
            optimizer.step()
            scheduler.step()
            bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
    return model.eval()


def export_to_repository(model: nn.Module, out: Path) -> tuple[Path, Path]:
    """OUT/digits/1/model.onnx with a dynamic batch axis, and the config.pbtxt that lets the server batch it."""
    path = out / MODEL / "1" / "model.onnx"
    path.parent.mkdir(parents=True, exist_ok=True)
    proto = export(model, trainer.randn(1, 1, 28, 28), path, input_names=[INPUT], output_names=[OUTPUT],
                   dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}})
    config = out / MODEL / "config.pbtxt"
    config.write_text(triton_config(proto, MODEL, max_batch_size=MAX_BATCH_SIZE))
    return path, config


def p50_ms(call, runs: int = 50) -> float:
    """Median wall time of one call, after a warm-up call."""
    call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def batches(images: np.ndarray):
    return (images[i:i + MAX_BATCH_SIZE] for i in range(0, len(images), MAX_BATCH_SIZE))


def trainer_path(model: nn.Module, images: np.ndarray) -> tuple[np.ndarray, float]:
    def predict(batch):
        with trainer.no_grad():
            return model(trainer.from_numpy(batch)).argmax(dim=1).numpy()

    return np.concatenate([predict(b) for b in batches(images)]), p50_ms(lambda: predict(images[:1]))


def session_path(session, images: np.ndarray) -> tuple[np.ndarray, float]:
    """InferenceSession, or ONNX Runtime's: both have the same run()."""
    def predict(batch):
        return session.run([OUTPUT], {INPUT: batch})[0].argmax(axis=1)

    return np.concatenate([predict(b) for b in batches(images)]), p50_ms(lambda: predict(images[:1]))


def server_path(url: str, images: np.ndarray) -> tuple[np.ndarray, float]:
    with grpcclient.InferenceServerClient(url) as client:
        def predict(batch):
            tensor = grpcclient.InferInput(INPUT, list(batch.shape), "FP32")
            tensor.set_data_from_numpy(batch)
            return client.infer(MODEL, [tensor]).as_numpy(OUTPUT).argmax(axis=1)

        return np.concatenate([predict(b) for b in batches(images)]), p50_ms(lambda: predict(images[:1]))


def onnxruntime_session(path: Path):
    """ONNX Runtime's session on the same file, where ONNX Runtime is installed (it is not a dependency)."""
    try:
        import onnxruntime
    except ImportError:
        return None
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def run(epochs: int, out: Path) -> dict:
    """Every step of the path; returns each path's predictions on the test digits and their latency."""
    model = train(epochs)
    _, test_set = datasets.digits_images(28, scale=(-1.0, 1.0))
    images, labels = test_set.tensors[0].numpy(), test_set.tensors[1].numpy()

    path, config = export_to_repository(model, out)
    onnx.checker.check_model(str(path), full_check=True)
    results = {"trainer": trainer_path(model, images),
               "InferenceSession": session_path(InferenceSession(str(path)), images)}
    ort = onnxruntime_session(path)
    if ort is not None:
        results["ONNX Runtime"] = session_path(ort, images)
    with sardonyx_serve(out, "--model-control-mode", "explicit", "--load-model", MODEL) as server:
        print(f"sardonyx-serve (pid {server.process.pid}) serves {out} on {server.url}", flush=True)
        results["sardonyx-serve (gRPC)"] = server_path(server.url, images)
    return {"labels": labels, "results": results, "files": [path, config]}


def report(summary: dict) -> str:
    labels, results = summary["labels"], summary["results"]
    reference = results["trainer"][0]
    lines = [f"{'path':<22} {'accuracy':>9} {'same as trainer':>16} {'p50, 1 image':>13}"]
    for name, (predictions, latency) in results.items():
        accuracy = 100 * float(np.mean(predictions == labels))
        same = int(np.sum(predictions == reference))
        lines.append(f"{name:<22} {accuracy:>8.2f}% {f'{same}/{len(labels)}':>16} {latency:>10.2f} ms")
    shown = [f.relative_to(Path.cwd()) if f.is_relative_to(Path.cwd()) else f for f in summary["files"]]
    lines.append("files: " + ", ".join(str(f) for f in shown))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8,
                        help="training epochs (default 8, as sardonyx-train cnn-digits: about 98%% accuracy)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "models",
                        help="model repository to write digits/ into (default: the repository's models/)")
    args = parser.parse_args(argv)
    # A SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C, so the server is stopped on the way out.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    start = time.perf_counter()
    # One BLAS thread, as sardonyx-serve's default: client, server and other work share the cores, and a
    # multi-threaded BLAS call on busy cores stalls (twice as slow training on a loaded 2-core machine).
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            summary = run(args.epochs, args.out.resolve())
    except KeyboardInterrupt:
        print("\ninterrupted; the server, if it was started, has been stopped", file=sys.stderr)
        return INTERRUPTED
    print(report(summary))
    print(f"whole path in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
