"""Inference latency of serving vs ONNX Runtime vs onnx's ReferenceEvaluator on PyTorch-exported models, in one run.

    .venv/bin/python benchmarks/runtime.py [--models mlp,cnn,rnn,lstm,transformer,resnet18] [--seconds 2]
                                           [--threads N]

Each model of benchmarks/onnx_models.py is exported once by PyTorch and run by all three runtimes on the same
input. Prints each runtime's median latency per batch, the ratio serving/ORT and serving's speed-up over the
reference, then the geometric means and the worst ratio against the targets (with ORT's own speed-up over the
reference beside serving's), and ResNet-18's session-creation time. Both serving and ORT get the same thread
count: NumPy's BLAS threads (threadpoolctl, else os.cpu_count()), or --threads. Missed targets are printed; the
exit status stays 0, since this is a measurement.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import onnxruntime  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402
from onnx_models import MODELS, benchmark_set, onnx_bytes  # noqa: E402

import serving  # noqa: E402

try:
    import threadpoolctl
except ImportError:  # an optional dependency (scikit-learn brings it); without it BLAS keeps its own count
    threadpoolctl = None

TARGET_GEOMEAN_RATIO = 2.0  # serving/ORT
TARGET_WORST_RATIO = 4.0
TARGET_REFERENCE_SPEEDUP = 20.0  # geometric mean of reference/serving
TARGET_RESNET18_CREATION_S = 2.0
ROUNDS = 4  # serving and ORT take turns, so that machine noise hits both alike
MIN_REFERENCE_RUNS = 3


def blas_kernel() -> str:
    """Which BLAS library and CPU kernel NumPy runs (OPENBLAS_CORETYPE can pin an older, slower one)."""
    if threadpoolctl is None:
        return "BLAS unknown (no threadpoolctl)"
    pools = [pool for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"]
    return ", ".join(f"{pool['internal_api']} {pool.get('architecture') or ''}".strip() for pool in pools) or "no BLAS"


def blas_threads() -> int:
    """The thread count NumPy's BLAS uses (threadpoolctl's view), else the CPU count."""
    if threadpoolctl is not None:
        counts = [pool["num_threads"] for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"]
        if counts:
            return max(counts)
    return os.cpu_count() or 1


def ort_session(model: bytes, threads: int) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = threads
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def latencies(run, seconds: float, min_runs: int = 1) -> list[float]:
    """Seconds per call of ``run``, for as many calls as fit in ``seconds`` (at least ``min_runs``)."""
    samples, start = [], time.perf_counter()
    while len(samples) < min_runs or time.perf_counter() - start < seconds:
        began = time.perf_counter()
        run()
        samples.append(time.perf_counter() - began)
    return samples


def median_creation_s(create, model: bytes, times: int = 3) -> float:
    samples = []
    for _ in range(times):
        began = time.perf_counter()
        create(model)
        samples.append(time.perf_counter() - began)
    return statistics.median(samples)


def measure(entry, seconds: float, threads: int) -> dict[str, float]:
    """Median ms per run of serving, ORT and the reference on one entry of the benchmark set."""
    runs = {
        "serving": serving.InferenceSession(entry.onnx).run,
        "ort": ort_session(entry.onnx, threads).run,
    }
    for run in runs.values():
        latencies(lambda run=run: run(None, entry.feeds), seconds / 10, min_runs=2)  # warm caches and thread pools
    samples = {name: [] for name in runs}
    for _ in range(ROUNDS):
        for name, run in runs.items():
            samples[name] += latencies(lambda run=run: run(None, entry.feeds), seconds / ROUNDS)
    reference = ReferenceEvaluator(entry.onnx)
    samples["reference"] = latencies(lambda: reference.run(None, entry.feeds), seconds / 4, MIN_REFERENCE_RUNS)
    return {name: statistics.median(s) * 1e3 for name, s in samples.items()}


def geomean(values: list[float]) -> float:
    return math.exp(statistics.fmean(math.log(v) for v in values))


def verdict(met: bool) -> str:
    return "meets" if met else "MISSES"


def report(rows: dict[str, dict[str, float]]) -> list[str]:
    """Print the table and the summary against the targets; return the targets missed."""
    print(f"{'model':16s} {'serving ms':>11s} {'ORT ms':>9s} {'serving/ORT':>12s} {'reference ms':>13s}"
          f" {'speed-up vs ref':>16s}")
    for name, ms in rows.items():
        print(f"{name:16s} {ms['serving']:11.3f} {ms['ort']:9.3f} {ms['serving'] / ms['ort']:11.2f}x"
              f" {ms['reference']:13.3f} {ms['reference'] / ms['serving']:15.1f}x")
    ratios = {name: ms["serving"] / ms["ort"] for name, ms in rows.items()}
    ratio_geomean = geomean(list(ratios.values()))
    worst = max(ratios, key=ratios.get)
    speedup_geomean = geomean([ms["reference"] / ms["serving"] for ms in rows.values()])
    # The peer's figure for the same target: how far ahead of the reference ONNX Runtime itself gets.
    ort_speedup_geomean = geomean([ms["reference"] / ms["ort"] for ms in rows.values()])
    checks = {
        f"geomean serving/ORT <= {TARGET_GEOMEAN_RATIO}x": ratio_geomean <= TARGET_GEOMEAN_RATIO,
        f"worst serving/ORT <= {TARGET_WORST_RATIO}x": ratios[worst] <= TARGET_WORST_RATIO,
        f"geomean speed-up over the reference >= {TARGET_REFERENCE_SPEEDUP}x": speedup_geomean
        >= TARGET_REFERENCE_SPEEDUP,
    }
    figures = [f"{ratio_geomean:.2f}x", f"{ratios[worst]:.2f}x ({worst})",
               f"{speedup_geomean:.1f}x (ORT {ort_speedup_geomean:.1f}x)"]
    for (target, met), figure in zip(checks.items(), figures):
        print(f"{target:48s} {figure:22s} {verdict(met)}")
    return [target for target, met in checks.items() if not met]


def report_resnet18_creation(model: bytes, threads: int) -> list[str]:
    """Print serving's and ORT's ResNet-18 session-creation time; return the target if serving misses it."""
    serving_s = median_creation_s(serving.InferenceSession, model)
    ort_s = median_creation_s(lambda m: ort_session(m, threads), model)
    target = f"ResNet-18 session creation < {TARGET_RESNET18_CREATION_S} s"
    met = serving_s < TARGET_RESNET18_CREATION_S
    print(f"{target:48s} {f'{serving_s:.3f} s (ORT {ort_s:.3f} s)':22s} {verdict(met)}")
    return [] if met else [target]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated: " + ", ".join(MODELS))
    parser.add_argument("--seconds", type=float, default=2.0,
                        help="time budget per entry for serving and for ORT (the reference gets a quarter)")
    parser.add_argument("--threads", type=int, default=None, help="threads for ORT and NumPy's BLAS")
    args = parser.parse_args()
    selected = args.models.split(",")
    unknown = [name for name in selected if name not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {', '.join(MODELS)}")
    threads = args.threads or blas_threads()
    limit = contextlib.nullcontext()
    if threadpoolctl is not None:
        limit = threadpoolctl.threadpool_limits(threads, user_api="blas")
    elif args.threads:
        print(f"threadpoolctl is not installed: NumPy's BLAS keeps its own thread count, ORT gets {threads}")
    print(f"inference latency, median of runs; {threads} threads; numpy {np.__version__} ({blas_kernel()}), "
          f"onnxruntime {onnxruntime.__version__}")
    with limit:
        rows = {entry.name: measure(entry, args.seconds, threads) for entry in benchmark_set(selected)}
        missed = report(rows)
        if "resnet18" in selected:
            missed += report_resnet18_creation(onnx_bytes("resnet18"), threads)
    print(("targets missed: " + "; ".join(missed)) if missed else "all targets met")


if __name__ == "__main__":
    main()
