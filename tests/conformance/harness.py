"""The ONNX backend conformance cases that ship inside the onnx wheel, run against InferenceSession.

Usable on its own: ``python -m tests.conformance.harness [-k REGEX] [--kind KIND] [-v] [--device cuda]``
runs the matching cases and prints each failure and the pass rate per kind and in total.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import os
import re
import sys
import time
import traceback
import warnings

import numpy as np
import onnx
from onnx.backend.test import loader

from serving import InferenceSession
from serving.runtime.values import proto_to_value, strings

KINDS = ("node", "simple", "pytorch-converted", "pytorch-operator", "real")
_ONNX_ROOT = os.path.dirname(os.path.dirname(onnx.__file__))


@dataclasses.dataclass
class Case:
    kind: str
    name: str
    rtol: float
    atol: float
    test: loader.TestCase

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.name}"

    def model(self) -> onnx.ModelProto | str:
        if self.test.model is not None:
            return self.test.model
        if self.test.model_dir is not None:
            return os.path.join(self.test.model_dir, "model.onnx")
        return os.path.join(_ONNX_ROOT, self.test.url)

    def data_sets(self, model: onnx.ModelProto) -> list[tuple[list, list]]:
        """(inputs, expected outputs) pairs, in the order of the graph's inputs and outputs."""
        if self.test.data_sets is not None:
            return [([_value(v) for v in inputs], [_value(v) for v in outputs])
                    for inputs, outputs in self.test.data_sets]
        initializers = {t.name for t in model.graph.initializer}
        inputs = [i for i in model.graph.input if i.name not in initializers]
        if self.test.model_dir is not None:
            sets = []
            for folder in sorted(glob.glob(os.path.join(self.test.model_dir, "test_data_set_*"))):
                feeds = [_read(os.path.join(folder, f"input_{i}.pb"), v.type) for i, v in enumerate(inputs)]
                expected = [_read(os.path.join(folder, f"output_{i}.pb"), v.type)
                            for i, v in enumerate(model.graph.output)]
                sets.append((feeds, expected))
            return sets
        # A light model: inputs as onnx's runner makes them, outputs stored beside the model.
        prefix = os.path.splitext(self.model())[0]
        feeds = [_dummy_input(v) for v in inputs]
        expected = [_read(f"{prefix}_output_{i}.pb", v.type) for i, v in enumerate(model.graph.output)]
        return [(feeds, expected)]


def collect(kinds=KINDS) -> list[Case]:
    cases = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the case generators overflow casts on purpose
        for kind in kinds:
            for test in loader.load_model_tests(kind=kind):
                cases.append(Case(kind, test.name, test.rtol, test.atol, test))
    return sorted(cases, key=lambda c: c.id)


def _value(value):
    """Node cases store some values as protos (e.g. float8 tensors NumPy cannot hold losslessly)."""
    return proto_to_value(value) if isinstance(value, (onnx.TensorProto, onnx.SequenceProto, onnx.OptionalProto)) \
        else value


def _read(path: str, type_proto: onnx.TypeProto):
    with open(path, "rb") as f:
        data = f.read()
    kind = type_proto.WhichOneof("value")
    proto = {"sequence_type": onnx.SequenceProto, "optional_type": onnx.OptionalProto}.get(kind, onnx.TensorProto)()
    proto.ParseFromString(data)
    return proto_to_value(proto)


def _dummy_input(value_info: onnx.ValueInfoProto) -> np.ndarray:
    shape = tuple(d.dim_value if d.HasField("dim_value") else 1 for d in value_info.type.tensor_type.shape.dim)
    n = int(np.prod(shape))
    return (np.arange(n).reshape(shape) / n).astype(np.float32)


def run_case(case: Case, device: str = "cpu") -> None:
    """Raise AssertionError (or the runtime's error) unless every data set matches its expected outputs."""
    model = case.model()
    proto = onnx.load(model) if isinstance(model, str) else model
    session = InferenceSession(model, device=device)
    names = [arg.name for arg in session.get_inputs()]
    for inputs, expected in case.data_sets(proto):
        feeds = dict(zip(names, inputs))
        with np.errstate(all="ignore"):
            outputs = session.run(None, feeds)
        assert_similar(expected, outputs, case.rtol, case.atol)


def assert_similar(expected, actual, rtol: float, atol: float, where: str = "output") -> None:
    """onnx's runner's comparison: same structure, shapes and dtypes, values within rtol/atol."""
    assert len(actual) == len(expected), f"{where}: {len(actual)} values, expected {len(expected)}"
    for i, (ref, out) in enumerate(zip(expected, actual)):
        label = f"{where} {i}"
        if isinstance(ref, (list, tuple)):
            assert isinstance(out, (list, tuple)), f"{label}: expected a sequence, got {type(out).__name__}"
            assert_similar(ref, out, rtol, atol, where=label)
            continue
        if ref is None:
            assert out is None, f"{label}: expected an empty optional, got {type(out).__name__}"
            continue
        assert out is not None, f"{label}: got None, expected an array of shape {ref.shape}"
        out = np.asarray(out)
        assert out.shape == ref.shape, f"{label}: shape {out.shape}, expected {ref.shape}"
        if ref.dtype == object:
            np.testing.assert_array_equal(strings(out), strings(ref), err_msg=label)
            continue
        assert out.dtype == ref.dtype, f"{label}: dtype {out.dtype}, expected {ref.dtype}"
        tolerance = rtol
        if out.dtype.name == "bfloat16":
            tolerance, out, ref = max(rtol, 2**-6), out.astype(np.float32), ref.astype(np.float32)
        elif out.dtype.kind == "V" or out.dtype.name.startswith(("float8", "float4", "int4", "uint4", "int2", "uint2")):
            out, ref = out.astype(np.float32), ref.astype(np.float32)
        np.testing.assert_allclose(out, ref, rtol=tolerance, atol=atol, err_msg=label)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-k", dest="pattern", help="only cases whose name matches this regular expression")
    parser.add_argument("--kind", action="append", choices=KINDS, help="only these kinds (repeatable)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each failure's traceback")
    parser.add_argument("--failures", help="write the ids of failing cases to this file")
    args = parser.parse_args(argv)
    pattern = re.compile(args.pattern) if args.pattern else None
    cases = [c for c in collect(tuple(args.kind or KINDS)) if pattern is None or pattern.search(c.name)]
    passed: dict[str, list[int]] = {}
    failed = []
    start = time.perf_counter()
    for case in cases:
        tally = passed.setdefault(case.kind, [0, 0])
        tally[1] += 1
        try:
            run_case(case, args.device)
        except Exception as exc:
            failed.append(case.id)
            message = f"{type(exc).__name__}: {exc}".strip().splitlines()
            print(f"FAIL {case.id}: {' '.join(message)[:300]}")
            if args.verbose:
                traceback.print_exc()
        else:
            tally[0] += 1
    for kind, (ok, total) in passed.items():
        print(f"{kind:>18}: {ok}/{total} passed ({100 * ok / max(total, 1):.1f}%)")
    ok = sum(t[0] for t in passed.values())
    total = sum(t[1] for t in passed.values())
    elapsed = time.perf_counter() - start
    print(f"{'total':>18}: {ok}/{total} passed ({100 * ok / max(total, 1):.1f}%) in {elapsed:.1f} s")
    if args.failures:
        with open(args.failures, "w") as f:
            f.write("".join(f"{case_id}\n" for case_id in failed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
