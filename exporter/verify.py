"""``verify()``: run an exported model in serving and ONNX Runtime and compare with the trainer's eval output."""

from __future__ import annotations

import os

import numpy as np

from exporter.errors import VerificationError
from trainer.autograd import no_grad

DEFAULT_ATOL = 1e-4


def runtimes() -> dict:
    """``{name: session factory}`` for the runtimes that are importable: serving and, when installed, ORT."""
    found = {}
    try:
        from serving import InferenceSession

        found["serving"] = InferenceSession
    except ImportError:
        pass
    try:
        import onnxruntime

        found["onnxruntime"] = lambda path: onnxruntime.InferenceSession(os.fspath(path),
                                                                         providers=["CPUExecutionProvider"])
    except ImportError:
        pass
    return found


def run_exported(runtime: str, path, feeds: dict) -> list[np.ndarray]:
    session = runtimes()[runtime](os.fspath(path))
    return [np.asarray(out) for out in session.run(None, feeds)]


def expected_outputs(model, args) -> list[np.ndarray]:
    """The trainer's eval-mode outputs, flattened as export flattens them; the model's mode is restored."""
    from exporter.export import _as_args, _flatten_outputs

    was_training = model.training
    model.eval()
    try:
        with no_grad():
            result = model(*_as_args(args))
    finally:
        model.train(was_training)
    return [t.numpy(force=True) for t in _flatten_outputs(result)]


def verify(model, args, onnx_path, *, atol: float = DEFAULT_ATOL, raise_on_mismatch: bool = False) -> dict:
    """``{runtime: {output name: max abs difference}}`` for each available runtime; a runtime that fails to load
    or run the model reports ``{"error": message}`` instead. With ``raise_on_mismatch``, a difference above
    ``atol`` or a failure raises ``VerificationError``."""
    import onnx

    from exporter.export import _as_args

    graph = onnx.load(os.fspath(onnx_path), load_external_data=False).graph
    feeds = {i.name: a.numpy(force=True) for i, a in zip(graph.input, _as_args(args))}
    names = [o.name for o in graph.output]
    expected = expected_outputs(model, args)
    report = {}
    for runtime in runtimes():
        try:
            got = run_exported(runtime, onnx_path, feeds)
        except Exception as exc:  # the report names whatever the runtime raised
            report[runtime] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        report[runtime] = {name: max_abs_diff(e, g) for name, e, g in zip(names, expected, got)}
    if raise_on_mismatch:
        problems = [f"{runtime}: {diffs}" for runtime, diffs in report.items()
                    if "error" in diffs or any(d > atol for d in diffs.values())]
        if problems:
            raise VerificationError(f"{onnx_path} does not reproduce the trainer's outputs within {atol}: "
                                    + "; ".join(problems))
    return report


def max_abs_diff(expected: np.ndarray, got: np.ndarray) -> float:
    """The largest elementwise difference; equal values (infinities, NaN against NaN) differ by 0, a NaN against
    a number by infinity, and a shape mismatch is infinitely far."""
    if expected.shape != got.shape:
        return float("inf")
    if expected.size == 0:
        return 0.0
    e, g = np.atleast_1d(expected.astype(np.float64)), np.atleast_1d(got.astype(np.float64))
    with np.errstate(invalid="ignore"):
        diff = np.abs(e - g)
    diff[(e == g) | (np.isnan(e) & np.isnan(g))] = 0.0
    diff[np.isnan(diff)] = np.inf
    return float(diff.max())
